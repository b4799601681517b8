"""numcnn.nn.utils.prune against torch.nn.utils.prune 2.13.0.

The same weights are pruned in numcnn and torch with the same calls; the masks must be equal
entry for entry, and the pruned modules' outputs (and one SGD step) equal within DESIGN.md's
tolerances.  Weights come from a continuous distribution, so there are no ties in |w| or in
the channel norms (torch leaves the order of ties unspecified); ties and the random methods
are checked against counts and plain-loop oracles instead.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
import torch
from tests.helpers import assert_close
from torch.nn.utils import prune as tprune

import numcnn
from numcnn.nn.utils import prune

DTYPES = [np.float64, np.float32]


def _pair(kind: str, dtype: Any = np.float64, seed: int = 0) -> tuple[Any, Any]:
    """A numcnn and a torch module with the same weights (drawn from N(0, 1))."""
    if kind == "conv":
        n, t = numcnn.nn.Conv2d(4, 6, 3), torch.nn.Conv2d(4, 6, 3)
    elif kind == "conv1d":
        n, t = numcnn.nn.Conv1d(3, 5, 2), torch.nn.Conv1d(3, 5, 2)
    else:
        n, t = numcnn.nn.Linear(7, 5), torch.nn.Linear(7, 5)
    if dtype == np.float64:
        n, t = n.double(), t.double()
    rng = np.random.default_rng(seed)
    state = {k: rng.standard_normal(tuple(v.shape)).astype(dtype)
             for k, v in t.state_dict().items()}
    t.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    n.load_state_dict({k: numcnn.tensor(v) for k, v in state.items()})
    return n, t


def _input(kind: str, dtype: Any, seed: int = 1) -> np.ndarray:
    shape = {"conv": (2, 4, 6, 6), "conv1d": (2, 3, 8), "linear": (3, 7)}[kind]
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _same(n: Any, t: Any, kind: str, dtype: Any = np.float64, name: str = "weight") -> None:
    """Equal masks, equal pruned tensors, equal outputs, equal state_dict keys."""
    np.testing.assert_array_equal(getattr(n, name + "_mask").detach().numpy(),
                                  getattr(t, name + "_mask").detach().numpy())
    assert getattr(n, name + "_mask").detach().numpy().dtype == np.dtype(dtype)
    assert_close(getattr(n, name), getattr(t, name), what=name)
    x = _input(kind, dtype)
    assert_close(n(numcnn.tensor(x)), t(torch.tensor(x)), what="output")
    assert list(n.state_dict()) == list(t.state_dict())


# ---------------------------------------------------------------- one method at a time

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["conv", "linear", "conv1d"])
@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 1.0, 0, 7, 15])
def test_l1_unstructured_matches_torch(kind: str, amount: Any, dtype: Any) -> None:
    n, t = _pair(kind, dtype)
    assert prune.l1_unstructured(n, "weight", amount=amount) is n
    tprune.l1_unstructured(t, "weight", amount=amount)
    _same(n, t, kind, dtype)
    size = n.weight_orig.numel()
    k = amount if isinstance(amount, int) else round(amount * size)
    assert int((n.weight_mask.detach().numpy() == 0).sum()) == k


def test_l1_unstructured_prunes_the_smallest_magnitudes_plain_oracle() -> None:
    n, _ = _pair("linear")
    w = n.weight.detach().numpy().copy()
    prune.l1_unstructured(n, "weight", amount=12)
    # oracle: the 12th smallest |w| is the threshold; everything up to it goes
    threshold = sorted(abs(float(v)) for v in w.ravel())[11]
    np.testing.assert_array_equal(n.weight_mask.detach().numpy(),
                                  (np.abs(w) > threshold).astype(w.dtype))


def test_l1_unstructured_ties_prune_the_first_positions() -> None:
    m = numcnn.nn.Linear(4, 3)
    with numcnn.no_grad():
        m.weight.copy_(numcnn.tensor(np.array([[1, -1, 2, 1], [2, 1, 1, -2], [1, 3, 1, 1]],
                                              dtype=np.float32)))
    prune.l1_unstructured(m, "weight", amount=4)   # eight entries tie at |w| = 1
    expected = np.array([[0, 0, 1, 0], [1, 0, 1, 1], [1, 1, 1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(m.weight_mask.detach().numpy(), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_", [1, 2, math.inf, -math.inf, 3, 0.5])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_ln_structured_matches_torch(n_: Any, dim: int, dtype: Any) -> None:
    n, t = _pair("conv", dtype)
    prune.ln_structured(n, "weight", amount=0.5, n=n_, dim=dim)
    tprune.ln_structured(t, "weight", amount=0.5, n=n_, dim=dim)
    _same(n, t, "conv", dtype)


@pytest.mark.parametrize("kind,n_,dim", [("linear", "fro", 0), ("linear", "fro", 1),
                                         ("linear", 1, -1), ("linear", math.inf, 0),
                                         ("conv1d", "nuc", 0), ("conv1d", "nuc", 2),
                                         ("conv1d", 2, 1)])
def test_ln_structured_fro_nuc_matches_torch(kind: str, n_: Any, dim: int) -> None:
    n, t = _pair(kind)
    prune.ln_structured(n, "weight", amount=2, n=n_, dim=dim)
    tprune.ln_structured(t, "weight", amount=2, n=n_, dim=dim)
    _same(n, t, kind)


@pytest.mark.parametrize("amount", [0, 1, 3, 0.2, 1.0])
def test_ln_structured_zeroes_whole_channels(amount: Any) -> None:
    n, t = _pair("conv")
    prune.ln_structured(n, "weight", amount=amount, n=1, dim=0)
    tprune.ln_structured(t, "weight", amount=amount, n=1, dim=0)
    _same(n, t, "conv")
    w = n.weight_orig.detach().numpy()
    k = amount if isinstance(amount, int) else round(amount * 6)
    # plain-loop oracle: the k filters of smallest sum |w| are all zero, the others all one
    l1 = [float(np.abs(w[o]).sum()) for o in range(6)]
    pruned = sorted(range(6), key=lambda o: l1[o])[:k]
    for o in range(6):
        assert (n.weight_mask.detach().numpy()[o] == (0 if o in pruned else 1)).all()


def test_ln_structured_importance_scores_and_linear_matches_torch() -> None:
    n, t = _pair("linear")
    scores = np.random.default_rng(5).standard_normal((5, 7))
    prune.ln_structured(n, "weight", 2, n=2, dim=1, importance_scores=numcnn.tensor(scores))
    tprune.ln_structured(t, "weight", 2, n=2, dim=1, importance_scores=torch.tensor(scores))
    _same(n, t, "linear")


def test_l1_unstructured_importance_scores_matches_torch() -> None:
    n, t = _pair("conv")
    scores = np.random.default_rng(3).standard_normal((6, 4, 3, 3))
    prune.l1_unstructured(n, "weight", 0.4, importance_scores=numcnn.tensor(scores))
    tprune.l1_unstructured(t, "weight", 0.4, importance_scores=torch.tensor(scores))
    _same(n, t, "conv")


def test_identity_and_custom_from_mask_match_torch() -> None:
    n, t = _pair("linear")
    prune.identity(n, "weight")
    tprune.identity(t, "weight")
    _same(n, t, "linear")
    assert (n.weight_mask.detach().numpy() == 1).all()
    bias_mask = np.array([0, 1, 0, 1, 1])                  # an int mask becomes float
    prune.custom_from_mask(n, "bias", mask=numcnn.tensor(bias_mask))
    tprune.custom_from_mask(t, "bias", mask=torch.tensor(bias_mask))
    _same(n, t, "linear", name="bias")


# ---------------------------------------------------------------- compositions

Step = Callable[[Any, Any], None]


def _l1(amount: Any) -> Step:
    return lambda P, m: P.l1_unstructured(m, "weight", amount=amount)


def _ln(amount: Any, n_: Any, dim: int) -> Step:
    return lambda P, m: P.ln_structured(m, "weight", amount=amount, n=n_, dim=dim)


def _mask(seed: int) -> Step:
    def step(P: Any, m: Any) -> None:
        arr = (np.random.default_rng(seed).random((6, 4, 3, 3)) > 0.3).astype(np.float64)
        P.custom_from_mask(m, "weight", mask=(numcnn.tensor if P is prune else torch.tensor)(arr))
    return step


COMPOSITIONS = {
    "l1-l1": [_l1(0.3), _l1(0.5)],
    "l1-l1int-l1": [_l1(20), _l1(0.25), _l1(10)],
    "l1-ln0": [_l1(0.4), _ln(2, 2, 0)],
    "ln0-l1-ln1": [_ln(0.5, 1, 0), _l1(0.2), _ln(1, math.inf, 1)],
    "ln1-ln0-ln-1": [_ln(0.25, 2, 1), _ln(0.5, 1, 0), _ln(0.34, 2, -1)],
    "mask-l1-ln0": [_mask(0), _l1(0.5), _ln(1, 2, 0)],
    "ln0-ln0": [_ln(2, 1, 0), _ln(0.5, 1, 0)],
}


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_successive_prunings_compose_as_torch(name: str) -> None:
    n, t = _pair("conv")
    for step in COMPOSITIONS[name]:
        step(prune, n)
        step(tprune, t)
        _same(n, t, "conv")
    hooks = list(n._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer)
    assert len(hooks[0]) == len(COMPOSITIONS[name])
    assert [type(m).__name__ for m in hooks[0]] == \
        [type(m).__name__ for m in next(iter(t._forward_pre_hooks.values()))]


def test_structured_after_structured_counts_from_the_remaining_channels() -> None:
    n, _ = _pair("conv")
    prune.ln_structured(n, "weight", amount=2, n=1, dim=0)
    prune.ln_structured(n, "weight", amount=0.5, n=1, dim=0)   # half of the 4 left: 2 more
    alive = [bool(n.weight_mask.detach().numpy()[o].any()) for o in range(6)]
    assert sum(alive) == 2


def test_failed_prune_leaves_the_module_as_it_was() -> None:
    n, _ = _pair("linear")
    prune.l1_unstructured(n, "weight", amount=30)
    mask = n.weight_mask.detach().numpy().copy()
    hooks = dict(n._forward_pre_hooks)
    with pytest.raises(ValueError, match="amount=6 should be smaller"):
        prune.l1_unstructured(n, "weight", amount=6)          # only 5 entries left
    np.testing.assert_array_equal(n.weight_mask.detach().numpy(), mask)
    assert dict(n._forward_pre_hooks) == hooks
    m = numcnn.nn.Linear(2, 2)
    with pytest.raises(ValueError):
        prune.l1_unstructured(m, "weight", amount=5)
    assert list(m.state_dict()) == ["weight", "bias"] and not prune.is_pruned(m)


# ---------------------------------------------------------------- global pruning

def _net_pair(dtype: Any = np.float64) -> tuple[Any, Any]:
    c, tc = _pair("conv", dtype, seed=0)
    c2, tc2 = _pair("conv", dtype, seed=2)
    lin, tlin = _pair("linear", dtype, seed=4)
    return [c, c2, lin], [tc, tc2, tlin]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amount", [0.2, 0.7, 100, 0])
def test_global_unstructured_matches_torch(amount: Any, dtype: Any) -> None:
    ns, ts = _net_pair(dtype)
    names = ["weight", "weight", "bias"]
    prune.global_unstructured(zip(ns, names), pruning_method=prune.L1Unstructured,
                              amount=amount)
    tprune.global_unstructured(list(zip(ts, names)), pruning_method=tprune.L1Unstructured,
                               amount=amount)
    for n, t, name, kind in zip(ns, ts, names, ["conv", "conv", "linear"]):
        _same(n, t, kind, dtype, name=name)
    total = sum(int((getattr(n, nm + "_mask").detach().numpy() == 0).sum())
                for n, nm in zip(ns, names))
    assert total == (amount if isinstance(amount, int) else round(amount * (216 * 2 + 5)))


def test_global_unstructured_composes_and_takes_importance_scores() -> None:
    ns, ts = _net_pair()
    prune.l1_unstructured(ns[0], "weight", 0.5)
    tprune.l1_unstructured(ts[0], "weight", 0.5)
    scores = np.random.default_rng(9).standard_normal((5, 7))
    prune.global_unstructured([(m, "weight") for m in ns], prune.L1Unstructured, amount=0.3,
                              importance_scores={(ns[2], "weight"): numcnn.tensor(scores)})
    tprune.global_unstructured([(m, "weight") for m in ts], tprune.L1Unstructured, amount=0.3,
                               importance_scores={(ts[2], "weight"): torch.tensor(scores)})
    for n, t, kind in zip(ns, ts, ["conv", "conv", "linear"]):
        _same(n, t, kind)


# ---------------------------------------------------------------- remove, is_pruned, state

def test_remove_makes_pruning_permanent_as_torch() -> None:
    n, t = _pair("conv")
    for P, m in ((prune, n), (tprune, t)):
        P.l1_unstructured(m, "weight", 0.5)
        P.l1_unstructured(m, "bias", 2)
        assert P.is_pruned(m)
    orig = n.weight_orig
    prune.remove(n, "weight")
    tprune.remove(t, "weight")
    assert n.weight is orig and isinstance(n.weight, numcnn.nn.Parameter)
    assert list(n.state_dict()) == list(t.state_dict()) == ["bias_orig", "weight", "bias_mask"]
    assert [k for k, _ in n.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert_close(n.weight, t.weight)
    assert prune.is_pruned(n)
    prune.remove(n, "bias")
    tprune.remove(t, "bias")
    assert not prune.is_pruned(n) and not n._forward_pre_hooks
    x = _input("conv", np.float64)
    assert_close(n(numcnn.tensor(x)), t(torch.tensor(x)))
    with pytest.raises(ValueError, match="Parameter 'weight' of module .* has to be pruned"):
        prune.remove(n, "weight")


def test_is_pruned_looks_into_submodules() -> None:
    net = numcnn.nn.Sequential(numcnn.nn.Linear(3, 3), numcnn.nn.ReLU(), numcnn.nn.Linear(3, 2))
    assert not prune.is_pruned(net)
    prune.random_unstructured(net[2], "weight", amount=1)
    assert prune.is_pruned(net) and not prune.is_pruned(net[0])


def test_pruned_state_dict_from_torch_loads_and_runs() -> None:
    n, t = _pair("conv")
    tprune.l1_unstructured(t, "weight", 0.6)
    prune.identity(n, "weight")                 # same re-parameterisation, keys match
    n.load_state_dict({k: numcnn.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = _input("conv", np.float64)
    assert_close(n(numcnn.tensor(x)), t(torch.tensor(x)))


def test_prune_method_on_a_tensor() -> None:
    w = np.random.default_rng(0).standard_normal((4, 5))
    got = prune.L1Unstructured(amount=0.5).prune(numcnn.tensor(w))
    want = tprune.L1Unstructured(amount=0.5).prune(torch.tensor(w))
    assert_close(got, want)


# ---------------------------------------------------------------- training

@pytest.mark.parametrize("dtype", DTYPES)
def test_one_sgd_step_matches_torch_and_masked_gradients_are_zero(dtype: Any) -> None:
    n, t = _pair("conv", dtype)
    prune.l1_unstructured(n, "weight", 0.5)
    prune.ln_structured(n, "weight", 1, n=2, dim=0)
    tprune.l1_unstructured(t, "weight", 0.5)
    tprune.ln_structured(t, "weight", 1, n=2, dim=0)
    on = numcnn.optim.SGD(n.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    ot = torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x = _input("conv", dtype)
    for _ in range(2):
        on.zero_grad()
        ot.zero_grad()
        (n(numcnn.tensor(x)) ** 2).mean().backward()
        (t(torch.tensor(x)) ** 2).mean().backward()
        assert_close(n.weight_orig.grad, t.weight_orig.grad, what="grad")
        mask = n.weight_mask.detach().numpy()
        assert (n.weight_orig.grad.detach().numpy()[mask == 0] == 0).all()
        on.step()
        ot.step()
        assert_close(n.weight_orig, t.weight_orig, what="after step")
    out = n(numcnn.tensor(x))                  # the pre-hook re-applies the mask
    assert_close(out, t(torch.tensor(x)))
    assert (n.weight.detach().numpy()[n.weight_mask.detach().numpy() == 0] == 0).all()


# ---------------------------------------------------------------- random methods

@pytest.mark.parametrize("amount", [0.3, 10])
def test_random_unstructured_counts_and_seeds(amount: Any) -> None:
    masks = []
    for seed in (0, 0, 1):
        numcnn.manual_seed(seed)
        m = numcnn.nn.Conv2d(4, 6, 3)
        prune.random_unstructured(m, "weight", amount=amount)
        masks.append(m.weight_mask.detach().numpy())
        assert int((masks[-1] == 0).sum()) == (amount if isinstance(amount, int)
                                               else round(amount * 216))
        assert (m.weight.detach().numpy()[masks[-1] == 0] == 0).all()
    np.testing.assert_array_equal(masks[0], masks[1])
    assert (masks[0] != masks[2]).any()


def test_random_unstructured_acts_only_on_unpruned_entries() -> None:
    m = numcnn.nn.Linear(10, 10)
    prune.l1_unstructured(m, "weight", 50)
    before = m.weight_mask.detach().numpy().copy()
    prune.random_unstructured(m, "weight", 0.5)          # half of the 50 left
    after = m.weight_mask.detach().numpy()
    assert int((after == 0).sum()) == 75 and (after[before == 0] == 0).all()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_random_structured_zeroes_whole_channels(dim: int) -> None:
    numcnn.manual_seed(3)
    m = numcnn.nn.Conv2d(4, 6, 3)
    prune.random_structured(m, "weight", amount=0.5, dim=dim)
    mask = np.moveaxis(m.weight_mask.detach().numpy(), dim, 0)
    per_channel = mask.reshape(mask.shape[0], -1)
    assert set(per_channel.min(axis=1)) <= {0.0, 1.0}
    assert (per_channel.min(axis=1) == per_channel.max(axis=1)).all()     # whole channels
    assert int((per_channel[:, 0] == 0).sum()) == round(0.5 * mask.shape[0])
    prune.random_structured(m, "weight", amount=1, dim=dim)
    per_channel = np.moveaxis(m.weight_mask.detach().numpy(), dim, 0).reshape(mask.shape[0], -1)
    assert int((per_channel[:, 0] == 0).sum()) == round(0.5 * mask.shape[0]) + 1


# ---------------------------------------------------------------- errors, as torch's

def _error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> BaseException:
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    return info.value


@pytest.mark.parametrize("amount", [-1, 1.5, -0.1, "a", None, 100])
def test_bad_amounts_raise_torch_errors(amount: Any) -> None:
    n, t = _pair("linear")
    for name in ("l1_unstructured", "random_unstructured"):
        en = _error(getattr(prune, name), n, "weight", amount=amount)
        et = _error(getattr(tprune, name), t, "weight", amount=amount)
        assert type(en) is type(et) and str(en) == str(et)
    en = _error(lambda: prune.ln_structured(n, "weight", amount=amount, n=2, dim=0))
    et = _error(lambda: tprune.ln_structured(t, "weight", amount=amount, n=2, dim=0))
    assert type(en) is type(et) and str(en) == str(et)
    assert not prune.is_pruned(n) and list(n.state_dict()) == ["weight", "bias"]


def test_structured_errors_as_torch() -> None:
    n, t = _pair("conv")
    cases = [lambda P, m: P.ln_structured(m, "bias", 1, n=2, dim=0),      # 1-D: ValueError
             lambda P, m: P.ln_structured(m, "weight", 1, n=2, dim=4),    # IndexError
             lambda P, m: P.random_structured(m, "weight", 1, dim=7)]
    for case in cases:
        en, et = _error(case, prune, n), _error(case, tprune, t)
        assert type(en) is type(et) and str(en) == str(et).replace("torch.Size", "numcnn.Size")


def test_other_misuse_errors() -> None:
    n, _ = _pair("conv")
    with pytest.raises(AssertionError, match="importance_scores should have the same shape"):
        prune.l1_unstructured(n, "weight", 1, importance_scores=numcnn.zeros(3))
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE'):
        prune.global_unstructured([(n, "weight")], prune.LnStructured, amount=1, n=2, dim=0)
    with pytest.raises(TypeError, match="parameters is not an Iterable"):
        prune.global_unstructured(n, prune.L1Unstructured, amount=1)   # type: ignore[arg-type]
    with pytest.raises(TypeError, match="importance_scores must be of type dict"):
        prune.global_unstructured([(n, "weight")], prune.L1Unstructured,
                                  importance_scores=[1], amount=1)     # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        prune.l1_unstructured(n, "nothing", 1)
    with pytest.raises(ValueError, match="n must be a number"):
        prune.ln_structured(n, "weight", 1, n="max", dim=0)
    with pytest.raises(ValueError, match="Can only add pruning methods acting on"):
        c = prune.PruningContainer(prune.L1Unstructured(1))
        other = prune.L1Unstructured(1)
        other._tensor_name = "bias"
        c.add_pruning_method(other)
    assert not prune.is_pruned(n)
