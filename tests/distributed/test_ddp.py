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
