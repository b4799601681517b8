"""numcnn.nn.SyncBatchNorm: one process against torch's BatchNorm and numcnn's BatchNorm2d;
the synchronised kernel with two ranks simulated by threads (an allreduce over a barrier),
and under `mpirun -n 2` with MPI (test_syncbn_mpirun below), against one process's batch norm
on the whole batch.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import numcnn
from numcnn import nn
from numcnn.autograd.function import Context
from numcnn.nn.modules import syncbn
from numcnn.nn.modules.syncbn import SyncBatchNorm, SyncBatchNormFunction

torch = pytest.importorskip("torch")

RTOL = 1e-10


def _close(a, b, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _torch_bn(shape, c, momentum, affine, track):
    cls = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d,
           5: torch.nn.BatchNorm3d}[len(shape)]
    return cls(c, momentum=momentum, affine=affine, track_running_stats=track,
               dtype=torch.float64)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 5, 6), (2, 3, 2, 3, 4)])
@pytest.mark.parametrize("momentum,affine,track", [(0.1, True, True), (None, True, True),
                                                   (0.3, False, True), (0.1, True, False)])
def test_one_process_equals_torch_batchnorm(shape, momentum, affine, track):
    rng = np.random.default_rng(0)
    c = shape[1]
    m = SyncBatchNorm(c, momentum=momentum, affine=affine, track_running_stats=track,
                      dtype=np.float64)
    t = _torch_bn(shape, c, momentum, affine, track)
    if affine:
        w, b = rng.normal(size=c), rng.normal(size=c)
        m.weight.array[...] = w
        m.bias.array[...] = b
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(w))
            t.bias.copy_(torch.from_numpy(b))
    for _ in range(3):                                      # running stats over 3 batches
        x = rng.normal(2.0, 3.0, size=shape)
        gy = rng.normal(size=shape)
        xn = numcnn.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        yn, yt = m(xn), t(xt)
        _close(yn.detach().numpy(), yt.detach().numpy())
        yn.backward(numcnn.tensor(gy))
        yt.backward(torch.from_numpy(gy))
        _close(xn.grad.numpy(), xt.grad.numpy())
        if affine:
            _close(m.weight.grad.numpy(), t.weight.grad.numpy())
            _close(m.bias.grad.numpy(), t.bias.grad.numpy())
            m.weight.grad = None
            t.weight.grad = None
            m.bias.grad = None
            t.bias.grad = None
    if track:
        _close(m.running_mean.numpy(), t.running_mean.numpy())
        _close(m.running_var.numpy(), t.running_var.numpy())
        assert int(m.num_batches_tracked.item()) == int(t.num_batches_tracked.item()) == 3
        m.eval()
        t.eval()
        x = rng.normal(size=shape)
        _close(m(numcnn.tensor(x)).detach().numpy(), t(torch.from_numpy(x)).detach().numpy())


def test_one_process_is_batchnorm2d_bit_for_bit():
    rng = np.random.default_rng(1)
    sync, plain = SyncBatchNorm(4, dtype=np.float64), nn.BatchNorm2d(4, dtype=np.float64)
    x = rng.normal(size=(3, 4, 5, 5))
    xs, xp = numcnn.tensor(x, requires_grad=True), numcnn.tensor(x, requires_grad=True)
    ys, yp = sync(xs), plain(xp)
    np.testing.assert_array_equal(ys.detach().numpy(), yp.detach().numpy())
    gy = numcnn.tensor(rng.normal(size=x.shape))
    ys.backward(gy)
    yp.backward(gy)
    np.testing.assert_array_equal(xs.grad.numpy(), xp.grad.numpy())
    np.testing.assert_array_equal(sync.running_var.numpy(), plain.running_var.numpy())
    assert sync.state_dict().keys() == plain.state_dict().keys()


def test_module_surface_like_torch():
    m = SyncBatchNorm(5, eps=1e-3, momentum=0.2, process_group=None)
    t = torch.nn.SyncBatchNorm(5, eps=1e-3, momentum=0.2)
    assert repr(m) == repr(t)
    assert list(m.state_dict()) == list(t.state_dict())
    assert m.process_group is None
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        m(numcnn.zeros(5))
    with pytest.raises(ValueError, match="number of input channels should be non-zero"):
        SyncBatchNorm(0)(numcnn.zeros(2, 0, 3))


# ------------------------------------------------------------------ the kernel, on two threads
def _batch_norm_oracle(x, w, b, gy, eps):
    """One process's batch norm of the whole batch in torch (float64): y, gx, gw, gb, and the
    running statistics after one update from zeros/ones with momentum 0.1."""
    c = x.shape[1]
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    rm, rv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    y = torch.nn.functional.batch_norm(xt, rm, rv, wt, bt, True, 0.1, eps)
    y.backward(torch.from_numpy(gy))
    return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(),
            rm.numpy(), rv.numpy())


def _run_ranks(parts, w, b, gys, eps, monkeypatch):
    """Run SyncBatchNormFunction's forward and backward on len(parts) threads that reduce
    through a shared buffer and a barrier (an allreduce of sums, like MPI's)."""
    p = len(parts)
    barrier = threading.Barrier(p)
    slots: list = [None] * p
    local = threading.local()

    def fake_allreduce(a, group):
        slots[local.rank] = a.copy()
        barrier.wait()
        total = np.sum(slots, axis=0)
        barrier.wait()                                    # nobody overwrites a slot too early
        return total

    monkeypatch.setattr(syncbn, "_allreduce_sum", fake_allreduce)
    c = w.shape[0]
    out: list = [None] * p
    errors: list = []

    def rank(r):
        try:
            local.rank = r
            rm, rv = np.zeros(c), np.ones(c)
            ctx = Context((True, True, True))
            y = SyncBatchNormFunction.forward(ctx, parts[r], w, b, running_mean=rm,
                                              running_var=rv, momentum=0.1, eps=eps)
            gx, gw, gb = SyncBatchNormFunction.backward(ctx, gys[r])
            out[r] = (y, gx, gw, gb, rm, rv)
        except BaseException as e:                        # surface it in the main thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(p)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]
    return out


@pytest.mark.parametrize("shape,splits", [((8, 3, 4, 5), [4]), ((7, 2, 3), [2, 5]),
                                          ((5, 4), [0, 3])])   # unequal and empty shards
def test_kernel_over_threads_equals_one_process_on_the_whole_batch(shape, splits,
                                                                  monkeypatch):
    rng = np.random.default_rng(2)
    c, eps = shape[1], 1e-5
    x = rng.normal(1.5, 2.0, size=shape)
    gy = rng.normal(size=shape)
    w, b = rng.normal(size=c), rng.normal(size=c)
    parts, gys = np.split(x, splits), np.split(gy, splits)
    y, gx, gw, gb, rm, rv = _batch_norm_oracle(x, w, b, gy, eps)
    ranks = _run_ranks(parts, w, b, gys, eps, monkeypatch)
    _close(np.concatenate([r[0] for r in ranks]), y)
    _close(np.concatenate([r[1] for r in ranks]), gx)
    _close(sum(r[2] for r in ranks), gw)                  # local shares sum to the whole
    _close(sum(r[3] for r in ranks), gb)
    for r in ranks:                                       # every rank: the global statistics
        _close(r[4], rm)
        _close(r[5], rv)
    if splits == [4]:                                     # the shares really are local
        xh = (parts[0] - x.mean((0, 2, 3), keepdims=True)) / np.sqrt(
            x.var((0, 2, 3), keepdims=True) + eps)
        _close(ranks[0][2], (gys[0] * xh).sum((0, 2, 3)))
        _close(ranks[0][3], gys[0].sum((0, 2, 3)))


def test_kernel_without_affine_over_threads(monkeypatch):
    rng = np.random.default_rng(3)
    x, gy = rng.normal(size=(6, 2, 3)), rng.normal(size=(6, 2, 3))
    parts, gys = np.split(x, [2]), np.split(gy, [2])
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.batch_norm(xt, None, None, None, None, True, 0.1, 1e-5)
    yt.backward(torch.from_numpy(gy))
    p = len(parts)
    barrier, slots, local = threading.Barrier(p), [None] * p, threading.local()

    def fake_allreduce(a, group):
        slots[local.rank] = a.copy()
        barrier.wait()
        total = np.sum(slots, axis=0)
        barrier.wait()
        return total

    monkeypatch.setattr(syncbn, "_allreduce_sum", fake_allreduce)
    out: list = [None] * p

    def rank(r):
        local.rank = r
        ctx = Context((True, False, False))
        y = SyncBatchNormFunction.forward(ctx, parts[r], None, None, eps=1e-5)
        out[r] = (y, SyncBatchNormFunction.backward(ctx, gys[r]))

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(p)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    _close(np.concatenate([o[0] for o in out]), yt.detach().numpy())
    _close(np.concatenate([o[1][0] for o in out]), xt.grad.numpy())
    assert all(o[1][1] is None and o[1][2] is None for o in out)


# ------------------------------------------------------------------ convert_sync_batchnorm
def _model(lib):
    return lib.nn.Sequential(
        lib.nn.Conv2d(2, 4, 3), lib.nn.BatchNorm2d(4), lib.nn.ReLU(),
        lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(16, 5), lib.nn.BatchNorm1d(5)),
        lib.nn.BatchNorm1d(5, affine=False, momentum=None),
    )


def test_convert_sync_batchnorm_keeps_keys_values_and_flags():
    numcnn.manual_seed(0)
    model = _model(numcnn).train()
    x = np.random.default_rng(4).normal(size=(3, 2, 4, 4)).astype(np.float32)
    model(numcnn.tensor(x))                               # non-trivial running statistics
    model[3][2].eval()                                    # one BN left in eval mode
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    bn2d, bn1d, bn_plain = model[1], model[3][2], model[4]
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model                             # a container is changed in place
    assert type(converted[1]) is SyncBatchNorm and type(converted[3][2]) is SyncBatchNorm
    assert type(converted[4]) is SyncBatchNorm and type(converted[0]) is nn.Conv2d
    # keys in torch's order for the same architecture, converted by torch
    tkeys = list(torch.nn.SyncBatchNorm.convert_sync_batchnorm(_model(torch)).state_dict())
    assert list(converted.state_dict()) == tkeys == list(before)
    for k, v in converted.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), before[k])
    assert converted[1].weight is bn2d.weight and converted[1].running_mean is bn2d.running_mean
    assert converted[3][2].bias is bn1d.bias
    assert converted[4].weight is None and converted[4].momentum is None
    assert converted[4].affine is False and bn_plain.affine is False
    assert converted[3][2].training is False and converted[1].training is True
    assert (converted[1].eps, converted[1].momentum) == (bn2d.eps, bn2d.momentum)
    one = SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(3))
    assert type(one) is SyncBatchNorm and one.num_features == 3


# ------------------------------------------------------------------ mpirun -n 2
RANK_SCRIPT = r'''
import sys
import numpy as np
import numcnn
import numcnn.distributed as dist
from numcnn import nn
from numcnn.nn.modules.syncbn import SyncBatchNorm

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
out = sys.argv[1]
rng = np.random.default_rng(0)                  # every rank draws the same full batches
w, b = rng.normal(size=3), rng.normal(size=3)
bn = SyncBatchNorm(3, momentum=0.3, dtype=np.float64)
bn.weight.array[...] = w
bn.bias.array[...] = b
res = {}
for step in range(2):
    x, gy = rng.normal(1.0, 2.0, size=(8, 3, 4, 5)), rng.normal(size=(8, 3, 4, 5))
    half = slice(4 * rank, 4 * rank + 4)
    xr = numcnn.tensor(x[half], requires_grad=True)
    y = bn(xr)
    y.backward(numcnn.tensor(gy[half]))
    res[f"y{step}"], res[f"gx{step}"] = y.detach().numpy(), xr.grad.numpy()
    res[f"gw{step}"], res[f"gb{step}"] = bn.weight.grad.numpy(), bn.bias.grad.numpy()
    bn.weight.grad = bn.bias.grad = None
res["running_mean"], res["running_var"] = bn.running_mean.numpy(), bn.running_var.numpy()
res["tracked"] = bn.num_batches_tracked.numpy()
bn.eval()
x = rng.normal(size=(2, 3, 4, 5))
res["y_eval"] = bn(numcnn.tensor(x)).detach().numpy()   # eval: the running statistics, no sync
# a small model converted by convert_sync_batchnorm, trained on halves of one batch
numcnn.manual_seed(1)
model = nn.Sequential(nn.Conv2d(2, 3, 3, dtype=np.float64), nn.BatchNorm2d(3, dtype=np.float64),
                      nn.ReLU(), nn.Flatten(), nn.Linear(12, 4, dtype=np.float64),
                      nn.BatchNorm1d(4, dtype=np.float64))
model = SyncBatchNorm.convert_sync_batchnorm(model)
xm = rng.normal(size=(6, 2, 4, 4))
ym = model(numcnn.tensor(xm[3 * rank: 3 * rank + 3]))
(ym * ym).sum().backward()                      # loss = sum of y^2 over this rank's rows
for name, p in model.named_parameters():
    res["model_grad." + name] = p.grad.numpy()
for name, t in model.state_dict().items():
    res["model_state." + name] = t.numpy()
res["model_y"] = ym.detach().numpy()
# DistributedSampler with its defaults from the process group
from numcnn.data.distributed import DistributedSampler
sampler = DistributedSampler(range(11), seed=3)
sampler.set_epoch(1)
res["sampler"] = np.array(list(sampler))
res["sampler_rank_world"] = np.array([sampler.rank, sampler.num_replicas])
np.savez(f"{out}/rank{rank}.npz", **res)
'''


def test_syncbn_mpirun_two_ranks_equal_one_process_on_the_whole_batch(tmp_path, run_ranks):
    run_ranks(RANK_SCRIPT, str(tmp_path))
    r0, r1 = (dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2))

    # the oracle: torch's BatchNorm2d on the whole batch, in one process
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=3), rng.normal(size=3)
    t = torch.nn.BatchNorm2d(3, momentum=0.3, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
        t.bias.copy_(torch.from_numpy(b))
    for step in range(2):
        x, gy = rng.normal(1.0, 2.0, size=(8, 3, 4, 5)), rng.normal(size=(8, 3, 4, 5))
        xt = torch.tensor(x, requires_grad=True)
        yt = t(xt)
        yt.backward(torch.from_numpy(gy))
        _close(np.concatenate([r0[f"y{step}"], r1[f"y{step}"]]), yt.detach().numpy())
        _close(np.concatenate([r0[f"gx{step}"], r1[f"gx{step}"]]), xt.grad.numpy())
        # each rank holds its own share of dw, db (DDP would average them): they sum to it
        _close(r0[f"gw{step}"] + r1[f"gw{step}"], t.weight.grad.numpy())
        _close(r0[f"gb{step}"] + r1[f"gb{step}"], t.bias.grad.numpy())
        assert not np.allclose(r0[f"gw{step}"], t.weight.grad.numpy() / 2)
        t.weight.grad = t.bias.grad = None
    for r in (r0, r1):                          # the same running statistics on both ranks
        _close(r["running_mean"], t.running_mean.numpy())
        _close(r["running_var"], t.running_var.numpy())
        assert int(r["tracked"]) == 2
    t.eval()
    x = rng.normal(size=(2, 3, 4, 5))
    y_eval = t(torch.from_numpy(x)).detach().numpy()
    _close(r0["y_eval"], y_eval)
    _close(r1["y_eval"], y_eval)

    # the converted model: torch's original model on the whole batch, the same weights
    keys = [k[len("model_state."):] for k in r0 if k.startswith("model_state.")]
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(12, 4), torch.nn.BatchNorm1d(4)).double()
    assert keys == list(tm.state_dict())
    numcnn.manual_seed(1)                       # the weights the ranks started from
    init = nn.Sequential(nn.Conv2d(2, 3, 3, dtype=np.float64), nn.BatchNorm2d(3, dtype=np.float64),
                         nn.ReLU(), nn.Flatten(), nn.Linear(12, 4, dtype=np.float64),
                         nn.BatchNorm1d(4, dtype=np.float64))
    tm.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy())
                        for k, v in init.state_dict().items()})
    xm = rng.normal(size=(6, 2, 4, 4))
    ym = tm(torch.from_numpy(xm))
    (ym * ym).sum().backward()
    _close(np.concatenate([r0["model_y"], r1["model_y"]]), ym.detach().numpy())
    for name, p in tm.named_parameters():
        _close(r0["model_grad." + name] + r1["model_grad." + name], p.grad.numpy())
    for name, v in tm.state_dict().items():     # running statistics after one step
        _close(r0["model_state." + name], v.numpy())
        _close(r1["model_state." + name], v.numpy())

    # DistributedSampler's defaults are the group's rank and size: the two shards of 11 items
    from numcnn.data.distributed import DistributedSampler

    assert r0["sampler_rank_world"].tolist() == [0, 2]
    assert r1["sampler_rank_world"].tolist() == [1, 2]
    for r, got in enumerate((r0["sampler"], r1["sampler"])):
        s = DistributedSampler(range(11), num_replicas=2, rank=r, seed=3)
        s.set_epoch(1)
        assert got.tolist() == list(s) and len(got) == 6
    both = r0["sampler"].tolist() + r1["sampler"].tolist()
    assert sorted(set(both)) == list(range(11)) and len(both) == 12


@pytest.mark.parametrize("affine", [True, False])
def test_sync_function_gradcheck_in_one_process(affine):
    """The hand-derived backward of SyncBatchNormFunction against central differences (one
    process: the allreduces are identities, the formulas are the global ones), for x, weight
    and bias, on a (N, C, H, W) and a (N, C) input."""
    from numcnn.autograd import gradcheck

    rng = np.random.default_rng(5)
    for shape in ((3, 2, 4, 3), (6, 3)):
        c = shape[1]
        x = numcnn.tensor(rng.standard_normal(shape), dtype=numcnn.float64, requires_grad=True)
        inputs = [x]
        if affine:
            w = numcnn.tensor(rng.uniform(0.5, 1.5, c), dtype=numcnn.float64, requires_grad=True)
            b = numcnn.tensor(rng.standard_normal(c), dtype=numcnn.float64, requires_grad=True)
            inputs += [w, b]

        def f(*args):
            weight, bias = (args[1], args[2]) if affine else (None, None)
            return SyncBatchNormFunction.apply(args[0], weight, bias, eps=1e-3)

        assert gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)
