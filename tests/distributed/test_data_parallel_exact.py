"""Issue 17's definition of data parallelism being right, under `mpirun -n 2`: two ranks with
a batch of 64 each, DistributedDataParallel and SyncBatchNorm, give after several Adam steps
the same weights (float64, rtol 1e-10) as one process with the whole batch of 128; without
SyncBatchNorm the difference is only in the batch-norm statistics: the two ranks then equal
one process whose batch norm normalises each half of the batch on its own ("ghost" batches of
64), and that differs from the whole-batch run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

_SCRIPT = r'''
import sys
import numpy as np
import numcnn
import numcnn.nn as nn
import numcnn.distributed as dist
from numcnn.nn.parallel import DistributedDataParallel

dist.init()
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2
numcnn.set_default_dtype(numcnn.float64)
rng = np.random.default_rng(7)
X = rng.standard_normal((3, 128, 3, 8, 8))            # 3 steps of a global batch of 128
Y = rng.integers(0, 5, size=(3, 128))


def make():
    numcnn.manual_seed(11)
    # no conv bias before a batch norm: its gradient is 0 up to rounding, which Adam would
    # blow up to steps of size lr (sign of the rounding), so it could not be compared
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, bias=False), nn.BatchNorm2d(8),
                         nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 2 * 2, 5))


class Ghost(nn.Module):
    """BatchNorm2d over each half of the batch on its own (the statistics a rank sees)."""

    def __init__(self, bn):
        super().__init__()
        self.bn = bn

    def forward(self, x):
        halves = [self.bn(x[:64]), self.bn(x[64:])]
        return numcnn.cat(halves, 0)


def train(model, xs, ys):
    opt = numcnn.optim.Adam(model.parameters(), lr=0.01)
    for x, y in zip(xs, ys):
        opt.zero_grad()
        nn.functional.cross_entropy(model(numcnn.tensor(x)), numcnn.tensor(y)).backward()
        opt.step()
    return model


mine = slice(64 * rank, 64 * (rank + 1))
out = {}
for sync in (True, False):
    net = make()
    if sync:
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    ddp = train(DistributedDataParallel(net), X[:, mine], Y[:, mine])
    state = ddp.module.state_dict()
    for k, v in state.items():
        out[f"{sync}_{k}"] = v.numpy().copy()

if rank == 0:
    whole = train(make(), X, Y).state_dict()
    for k, v in whole.items():
        out[f"whole_{k}"] = v.numpy().copy()
    ghost_net = make()
    ghost_net[1], ghost_net[5] = Ghost(ghost_net[1]), Ghost(ghost_net[5])
    ghost = train(ghost_net, X, Y).state_dict()
    for k, v in ghost.items():
        out[f"ghost_{k.replace('.bn.', '.')}"] = v.numpy().copy()
from mpi4py import MPI
every = MPI.COMM_WORLD.gather(out, root=0)
if rank == 0:
    np.savez(sys.argv[1], **{f"r{r}_{k}": v for r, d in enumerate(every) for k, v in d.items()})
'''


def test_two_ranks_of_64_with_syncbn_equal_one_process_of_128(tmp_path: Path,
                                                              run_ranks: Any) -> None:
    result = tmp_path / "out.npz"
    run_ranks(_SCRIPT, str(result), timeout=180)
    r = dict(np.load(result))
    keys = sorted(k[len("r0_whole_"):] for k in r if k.startswith("r0_whole_"))
    params = [k for k in keys if not k.endswith(("running_mean", "running_var",
                                                "num_batches_tracked"))]
    stats = [k for k in keys if k.endswith(("running_mean", "running_var"))]
    assert len(params) == 8 and len(stats) == 4
    for k in keys:
        # SyncBatchNorm: both ranks hold the same weights AND statistics as one process on 128
        np.testing.assert_array_equal(r[f"r0_True_{k}"], r[f"r1_True_{k}"])
        np.testing.assert_allclose(r[f"r0_True_{k}"], r[f"r0_whole_{k}"], rtol=1e-10,
                                   atol=1e-12, err_msg=k)
    for k in params:
        # without it the weights stay equal across ranks (DDP averages the gradients) and
        # equal a process normalising each half on its own ...
        np.testing.assert_array_equal(r[f"r0_False_{k}"], r[f"r1_False_{k}"])
        np.testing.assert_allclose(r[f"r0_False_{k}"], r[f"r0_ghost_{k}"], rtol=1e-10,
                                   atol=1e-12, err_msg=k)
    # ... which is not the whole-batch run: the difference is the batch-norm statistics
    moved = max(float(np.max(np.abs(r[f"r0_False_{k}"] - r[f"r0_whole_{k}"]))) for k in params)
    assert moved > 1e-6
    # each rank's running statistics are those of its own half (rank 0's equal the ghost
    # run's, which saw the first half last; rank 1's differ)
    for k in stats:
        assert not np.allclose(r[f"r0_False_{k}"], r[f"r1_False_{k}"])
