"""nn.parallel.DistributedDataParallel.

Oracles: the plain model trained the same way (world size 1: bit for bit), PyTorch's own bucket
assignment (`torch.distributed._compute_bucket_assignment_by_size`), torch's unused-parameter
rule, and, under `mpirun -n 2`, one process training on the whole batch in the same script.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.distributed as tdist

import numcnn
import numcnn.nn as nn
import numcnn.nn.functional as F
from numcnn.nn.parallel import DistributedDataParallel as DDP
from numcnn.nn.parallel.distributed import _assign_buckets


def _cnn(bn: bool = True) -> nn.Module:
    numcnn.manual_seed(0)
    layers = [nn.Conv2d(2, 4, 3, padding=1)]
    layers += [nn.BatchNorm2d(4)] if bn else []
    layers += [nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2), nn.ReLU(), nn.Flatten(),
               nn.Linear(6 * 3 * 3, 5)]
    return nn.Sequential(*layers).double()


def _batch(n: int = 16, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = numcnn.tensor(rng.standard_normal((n, 2, 8, 8)))
    y = numcnn.tensor(rng.integers(0, 5, n))
    return x, y


def _grads(model):
    return {n: (None if p.grad is None else p.grad.numpy().copy())
            for n, p in model.named_parameters()}


def test_world_of_one_is_the_plain_model_bit_for_bit():
    plain = _cnn()
    ddp = DDP(copy.deepcopy(plain), bucket_cap_mb=0.0005)
    assert len(ddp._buckets) > 2
    assert list(ddp.state_dict()) == ["module." + k for k in plain.state_dict()]
    assert ddp.device_ids is None and ddp.output_device is None
    opts = [numcnn.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (plain, ddp)]
    for step in range(3):
        x, y = _batch(seed=step)
        outs = []
        for model, opt in zip((plain, ddp), opts):
            opt.zero_grad()
            out = model(x)
            F.cross_entropy(out, y).backward()
            opt.step()
            outs.append(out.detach().numpy())
        np.testing.assert_array_equal(outs[0], outs[1])
    for (k, v), (k2, v2) in zip(plain.state_dict().items(), ddp.state_dict().items()):
        assert k2 == "module." + k
        np.testing.assert_array_equal(v.numpy(), v2.numpy())
    # a checkpoint of the wrapper loads into the bare module (the usual idiom)
    bare = _cnn()
    bare.load_state_dict({k[len("module."):]: v for k, v in ddp.state_dict().items()})
    x, _ = _batch(seed=9)
    np.testing.assert_array_equal(bare.eval()(x).detach().numpy(),
                                  ddp.eval()(x).detach().numpy())


@pytest.mark.parametrize("cap_mb", [None, 0.0002, 0.0005, 0.002, 1.0])
def test_bucket_assignment_is_torchs(cap_mb):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 1), nn.Linear(20, 30),
                          nn.Linear(30, 2)).double()
    model.extra = nn.Linear(4, 4)           # a float32 layer: a separate bucket
    params = list(model.parameters())
    tparams = [torch.zeros(p.shape, dtype=getattr(torch, str(p.dtype).split(".")[-1]))
               for p in params]
    cap = 25 * 2**20 if cap_mb is None else int(cap_mb * 2**20)
    first = 2**20 if cap_mb is None else cap
    expected, _ = tdist._compute_bucket_assignment_by_size(tparams, [first, cap],
                                                           [False] * len(params))
    assert _assign_buckets(params, [first, cap]) == list(reversed(expected))
    ddp = DDP(model, bucket_cap_mb=cap_mb)
    assert [b.indices for b in ddp._buckets] == list(reversed(expected))


def test_first_bucket_starts_before_the_backward_pass_ends():
    ddp = DDP(_cnn(), bucket_cap_mb=0.0005)
    n_buckets = len(ddp._buckets)
    names = dict((id(p), n) for n, p in ddp.module.named_parameters())
    seen: list[tuple[str, list[int]]] = []
    for p in ddp.module.parameters():       # registered after DDP's: runs after its hook
        p.register_post_accumulate_grad_hook(
            lambda p: seen.append((names[id(p)], list(ddp.launched))))
    x, y = _batch()
    F.cross_entropy(ddp(x), y).backward()
    # the last layer is ready first; its bucket started while conv 0 had no gradient yet
    first_launch = next(k for k, (_, launched) in enumerate(seen) if launched)
    assert seen[first_launch][1] == [0]
    later = [n for n, _ in seen[first_launch + 1:]]
    assert "0.weight" in later and len(later) >= 2
    assert seen[-1][1] == list(range(n_buckets))
    assert ddp.launched == list(range(n_buckets))


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.head = nn.Linear(4, 2)
        self.spare = nn.Linear(4, 2)        # never used in forward

    def forward(self, x):
        return self.head(self.body(x).relu())


def test_unused_parameters_error_names_them_unless_found():
    numcnn.manual_seed(0)
    ddp = DDP(_TwoHeads().double())
    x = numcnn.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    with pytest.raises(RuntimeError, match=r"spare\.weight, spare\.bias.*find_unused_parameters"):
        ddp(x).sum().backward()

    numcnn.manual_seed(0)
    plain = _TwoHeads().double()
    ddp = DDP(copy.deepcopy(plain), find_unused_parameters=True)
    assert ddp._search_unused(ddp(x)) == [4, 5]
    for m in (plain, ddp):
        m(x).sum().backward()
    for (n, g), (_, g2) in zip(_grads(plain).items(), _grads(ddp.module).items()):
        if g is None:
            assert n.startswith("spare") and g2 is None
        else:
            np.testing.assert_array_equal(g, g2)


def test_no_sync_accumulates_then_syncs_the_sum():
    plain, ddp = _cnn(bn=False), DDP(_cnn(bn=False), bucket_cap_mb=0.0005)
    x, y = _batch(24)
    for m in (plain, ddp):
        F.cross_entropy(m(x[:8]), y[:8]).backward()
    with ddp.no_sync():
        assert not ddp.require_backward_grad_sync
        F.cross_entropy(ddp(x[8:16]), y[8:16]).backward()
        assert ddp.launched == []           # nothing reduced inside no_sync
    F.cross_entropy(plain(x[8:16]), y[8:16]).backward()
    assert ddp.require_backward_grad_sync
    for m in (plain, ddp):
        F.cross_entropy(m(x[16:]), y[16:]).backward()
    assert ddp.launched == list(range(len(ddp._buckets)))
    for g, g2 in zip(_grads(plain).values(), _grads(ddp.module).values()):
        np.testing.assert_array_equal(g, g2)


def test_refusals():
    with pytest.raises(TypeError, match="nn.Module"):
        DDP(lambda x: x)
    with pytest.raises(ValueError, match="device_ids"):
        DDP(nn.Linear(2, 2), device_ids=[0, 1])
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires"):
        DDP(frozen)
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DDP(nn.Linear(2, 2), bucket_cap_mb=0)


# ------------------------------------------------------------------ two ranks under mpirun
_TWO_RANKS = r'''
import copy, sys
import numpy as np
import numcnn, numcnn.nn as nn, numcnn.nn.functional as F
import numcnn.distributed as dist
from mpi4py import MPI
from numcnn.nn.parallel import DistributedDataParallel as DDP

dist.init()
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2
comm = MPI.COMM_WORLD
out = {}


def cnn(bn=False):
    numcnn.manual_seed(100 + rank)          # different on each rank: the wrap must broadcast
    layers = [nn.Conv2d(2, 4, 3, padding=1)] + ([nn.BatchNorm2d(4)] if bn else [])
    layers += [nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2), nn.ReLU(), nn.Flatten(),
               nn.Linear(54, 5)]
    return nn.Sequential(*layers).double()


def batch(step):
    rng = np.random.default_rng(step)
    return (numcnn.tensor(rng.standard_normal((16, 2, 8, 8))),
            numcnn.tensor(rng.integers(0, 5, 16)))


def weights(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def train(case, make_opt, accumulate=False):
    local = cnn()
    ref = copy.deepcopy(local)              # rank 0's copy is the single-process oracle
    ddp = DDP(local, bucket_cap_mb=0.0005)
    out[case + "_init"] = np.concatenate([w.ravel() for w in weights(ddp.module)])
    opt, ref_opt = make_opt(ddp.parameters()), make_opt(ref.parameters())
    mine = slice(8 * rank, 8 * rank + 8)
    for step in range(3):
        x, y = batch(step)
        opt.zero_grad()
        xs, ys = x[mine], y[mine]
        if accumulate:                      # two micro-batches of 4, the first without sync
            with ddp.no_sync():
                (F.cross_entropy(ddp(xs[:4]), ys[:4]) / 2).backward()
            (F.cross_entropy(ddp(xs[4:]), ys[4:]) / 2).backward()
        else:
            F.cross_entropy(ddp(xs), ys).backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(ref(x), y).backward()   # the whole batch in one process
        ref_opt.step()
    for k, (w, r) in enumerate(zip(weights(ddp.module), weights(ref))):
        out[f"{case}_ddp{k}"], out[f"{case}_ref{k}"] = w, r


train("sgd", lambda ps: numcnn.optim.SGD(ps, lr=0.1, momentum=0.9))
train("adam", lambda ps: numcnn.optim.Adam(ps, lr=0.01))
train("nosync", lambda ps: numcnn.optim.SGD(ps, lr=0.1))

# overlap: hooks registered after DDP's see which buckets had started when each parameter
# became ready; a real non-blocking request is in flight
ddp = DDP(cnn(), bucket_cap_mb=0.0005)
names = {id(p): n for n, p in ddp.module.named_parameters()}
seen = []
for p in ddp.module.parameters():
    p.register_post_accumulate_grad_hook(lambda p: seen.append(
        (names[id(p)], len(ddp.launched),
         type(ddp._buckets[0].work).__name__ if ddp._buckets[0].work is not None else "")))
x, y = batch(7)
F.cross_entropy(ddp(x[8 * rank:8 * rank + 8]), y[8 * rank:8 * rank + 8]).backward()
out["n_buckets"] = np.array(len(ddp._buckets))
out["seen_launched"] = np.array([k for _, k, _ in seen])
out["seen_names"] = np.array([n for n, _, _ in seen])
out["work_type"] = np.array(seen[-1][2])

# BatchNorm buffers: after a forward that broadcast them, every rank holds rank 0's
bn = DDP(cnn(bn=True))
for step in range(2):
    x, y = batch(step)
    F.cross_entropy(bn(x[8 * rank:8 * rank + 8]), y[8 * rank:8 * rank + 8]).backward()
before = bn.module[1].running_mean.numpy().copy()
bn.eval()
bn(x[:2])
out["bn_before"] = before
out["bn_after"] = bn.module[1].running_mean.numpy().copy()

# find_unused_parameters: rank 0 uses head a, rank 1 head b, no rank uses "spare"
class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.a, self.b, self.spare = (nn.Linear(6, 4), nn.Linear(4, 3),
                                                 nn.Linear(4, 3), nn.Linear(4, 3))

    def forward(self, x, which):
        return getattr(self, which)(self.body(x).tanh())


numcnn.manual_seed(5)
heads = Heads().double()
ref = copy.deepcopy(heads)
ddp = DDP(heads, find_unused_parameters=True)
xs = [numcnn.tensor(np.random.default_rng(40 + r).standard_normal((5, 6))) for r in (0, 1)]
(ddp(xs[rank], "ab"[rank]) ** 2).mean().backward()
((ref(xs[0], "a") ** 2).mean() / 2 + (ref(xs[1], "b") ** 2).mean() / 2).backward()
for n, p in ddp.module.named_parameters():
    out["unused_ddp_" + n] = np.array(np.nan) if p.grad is None else p.grad.numpy().copy()
for n, p in ref.named_parameters():
    out["unused_ref_" + n] = np.array(np.nan) if p.grad is None else p.grad.numpy().copy()

gathered = comm.gather(out, root=0)
if rank == 0:
    np.savez(sys.argv[1], **{f"r{r}_{k}": v for r, d in enumerate(gathered) for k, v in d.items()})
'''


def test_two_ranks_train_exactly_as_one_process_on_the_whole_batch(tmp_path, run_ranks):
    result = tmp_path / "out.npz"
    run_ranks(_TWO_RANKS, str(result))
    r = dict(np.load(result))
    # the wrap broadcast rank 0's parameters (the ranks were seeded differently)
    for case in ("sgd", "adam", "nosync"):
        np.testing.assert_array_equal(r[f"r0_{case}_init"], r[f"r1_{case}_init"])
        for k in range(6):
            # both ranks identical, and equal to one process on the batch of 16
            np.testing.assert_array_equal(r[f"r0_{case}_ddp{k}"], r[f"r1_{case}_ddp{k}"])
            np.testing.assert_allclose(r[f"r0_{case}_ddp{k}"], r[f"r0_{case}_ref{k}"],
                                       rtol=1e-10, atol=1e-13)
        # and the steps moved every weight (the comparison is not of untouched values)
        trained = np.concatenate([r[f"r0_{case}_ddp{k}"].ravel() for k in range(6)])
        assert np.all(trained != r[f"r0_{case}_init"])
    # several buckets; the first was started (a real MPI request) while later parameters
    # were not yet ready, and every bucket by the time the last one was
    n = int(r["r0_n_buckets"])
    assert n > 2
    for rank in (0, 1):
        launched, names = r[f"r{rank}_seen_launched"], list(r[f"r{rank}_seen_names"])
        first = int(np.argmax(launched > 0))
        assert launched[first] == 1 and names.index("0.weight") > first
        assert launched[-1] == n
        assert str(r[f"r{rank}_work_type"]) == "Work"
    # find_unused_parameters: each head's gradient is the average of the rank that used it
    # and a zero, on both ranks (also where this rank did not use it); "spare" stays None
    for n in ("body.weight", "body.bias", "a.weight", "a.bias", "b.weight", "b.bias"):
        for rank in (0, 1):
            np.testing.assert_allclose(r[f"r{rank}_unused_ddp_{n}"], r[f"r0_unused_ref_{n}"],
                                       rtol=1e-10, atol=1e-14)
    for n in ("spare.weight", "spare.bias"):
        assert np.isnan(r[f"r0_unused_ref_{n}"]) and np.isnan(r[f"r0_unused_ddp_{n}"])
        assert np.isnan(r[f"r1_unused_ddp_{n}"])
    # BN running statistics: different per rank after training, rank 0's on both after a
    # forward that broadcast them
    assert not np.allclose(r["r0_bn_before"], r["r1_bn_before"])
    np.testing.assert_array_equal(r["r1_bn_after"], r["r0_bn_before"])
    np.testing.assert_array_equal(r["r0_bn_after"], r["r0_bn_before"])


def test_an_interrupted_backward_is_reported_at_the_next_forward():
    class Boom(numcnn.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            return input * 1.0

        @staticmethod
        def backward(ctx, grad_output):
            raise ValueError("boom")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.last = nn.Linear(3, 3), nn.Linear(3, 2)

        def forward(self, x):
            return self.last(Boom.apply(self.first(x)))

    ddp = DDP(Net(), bucket_cap_mb=1e-5)    # one bucket per parameter
    x = numcnn.randn(4, 3)
    with pytest.raises(ValueError, match="boom"):
        ddp(x).sum().backward()
    assert ddp.launched == [0, 1]           # "last" reduced, "first" never got its gradient
    with pytest.raises(RuntimeError, match="Expected to have finished reduction"):
        ddp(x)
    out = ddp(x)                            # reported once: the next forward goes on
    assert tuple(out.shape) == (4, 2) and ddp.launched == []
