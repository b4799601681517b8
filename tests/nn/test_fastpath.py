"""The eval-mode inference fast path (numcnn.nn.fastpath): folded batch norms, in-place
activations and chunked execution must give what the layers give one by one, and what PyTorch
gives, and must step aside wherever a user could tell the difference (hooks, training mode,
grad mode, changed weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
import numcnn.nn as nn
from numcnn import models
from numcnn.nn import fastpath


def seed_cnn(lib):
    """Seed 004's block CNN (BN after ReLU, before the pooling and the next padded conv)."""
    def block(c_in, c_out):
        return [lib.Conv2d(c_in, c_out, 3, padding=1), lib.ReLU(), lib.BatchNorm2d(c_out),
                lib.Conv2d(c_out, c_out, 3, padding=1), lib.ReLU(), lib.BatchNorm2d(c_out),
                lib.MaxPool2d(2), lib.Dropout(0.25)]
    return lib.Sequential(*block(1, 8), *block(8, 16), lib.Flatten(),
                          lib.Linear(16 * 7 * 7, 32), lib.ReLU(), lib.BatchNorm1d(32),
                          lib.Dropout(0.5), lib.Linear(32, 10))


def randomise_bn(model, seed=1, negative=False):
    """Non-trivial running statistics and affine parameters (a fresh BN is the identity)."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            C = m.num_features
            m.running_mean.array[:] = rng.normal(size=C)
            m.running_var.array[:] = rng.uniform(0.3, 2.0, C)
            lo = -1.5 if negative else 0.5
            m.weight.array[:] = rng.uniform(lo, 1.5, C)
            m.bias.array[:] = rng.normal(size=C)


def eval_seed_cnn():
    """The seed CNN in eval mode with trained-looking batch norms (seed 0)."""
    numcnn.manual_seed(0)
    model = seed_cnn(nn)
    randomise_bn(model)
    return model.eval()


def torch_twin(model, tmodel):
    tmodel.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in model.state_dict().items()})
    return tmodel.eval()


def run(model, x, fast=True):
    with numcnn.no_grad():
        if fast:
            out = model(numcnn.from_numpy(x))
        else:
            with fastpath.disabled():
                out = model(numcnn.from_numpy(x))
    return out.numpy()


@pytest.fixture
def bn_calls(monkeypatch):
    """Counts BatchNorm forward calls (a class patch, not a hook, so fusion is still allowed)."""
    calls = []
    orig = nn.BatchNorm2d.forward

    def counted(self, input):
        calls.append(self)
        return orig(self, input)

    monkeypatch.setattr(nn.BatchNorm2d, "forward", counted)
    return calls


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-4), (np.float64, 1e-10)])
def test_seed_cnn_agrees_with_the_layer_path_and_torch(dtype, rtol):
    numcnn.manual_seed(0)
    model = seed_cnn(nn).to(numcnn.float64 if dtype == np.float64 else numcnn.float32)
    randomise_bn(model)
    model.eval()
    tmodel = torch_twin(model, seed_cnn(torch.nn).to(torch.float64 if dtype == np.float64
                                                     else torch.float32))
    x = np.random.default_rng(0).standard_normal((37, 1, 28, 28)).astype(dtype)
    fast, slow = run(model, x), run(model, x, fast=False)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    scale = np.abs(ref).max()
    np.testing.assert_allclose(fast, ref, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(slow, ref, rtol=0, atol=rtol * scale)


def test_batch_norms_are_folded_not_run(bn_calls):
    numcnn.manual_seed(0)
    model = seed_cnn(nn).eval()
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    run(model, x)
    assert bn_calls == []
    run(model, x, fast=False)
    assert len(bn_calls) == 4


def test_chunks_give_the_same_result(monkeypatch):
    model = eval_seed_cnn()
    x = np.random.default_rng(2).standard_normal((50, 1, 28, 28)).astype(np.float32)
    whole = run(model, x)
    monkeypatch.setattr(fastpath, "CHUNK_BYTES", 1)          # one image per chunk
    one_by_one = run(model, x)
    np.testing.assert_allclose(one_by_one, whole, rtol=1e-5, atol=1e-5)
    for i in (0, 17, 49):                                      # and each image on its own
        np.testing.assert_allclose(run(model, x[i:i + 1])[0], whole[i], rtol=1e-5, atol=1e-5)


def test_forward_hooks_see_every_layer_unfused():
    model = eval_seed_cnn()
    tmodel = torch_twin(model, seed_cnn(torch.nn))
    x = np.random.default_rng(3).standard_normal((3, 1, 28, 28)).astype(np.float32)
    seen, tseen = {}, {}

    def keep(store, key, value):
        store[key] = value.numpy().copy()              # returns None: the value is not replaced

    model[2].register_forward_hook(lambda m, a, out: keep(seen, "bn", out))
    model[0].register_forward_pre_hook(lambda m, a: keep(seen, "pre", a[0]))
    tmodel[2].register_forward_hook(lambda m, a, out: keep(tseen, "bn", out))
    out = run(model, x)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(seen["bn"], tseen["bn"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(seen["pre"], x)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_grad_mode_and_training_mode_take_the_ordinary_path():
    numcnn.manual_seed(0)
    model = seed_cnn(nn).eval()
    x = numcnn.from_numpy(np.random.default_rng(4).random((2, 1, 28, 28), dtype=np.float32))
    out = model(x)                                             # grad mode on: a graph
    assert out.grad_fn is not None
    out.sum().backward()
    assert model[0].weight.grad is not None
    model.train()                                              # training under no_grad:
    before = model[2].running_mean.numpy().copy()              # BN still updates its stats
    with numcnn.no_grad():
        model(x)
    assert not np.allclose(model[2].running_mean.numpy(), before)
    assert int(model[2].num_batches_tracked.item()) == 1


def test_changed_weights_are_seen_on_the_next_call():
    model = eval_seed_cnn()
    x = np.random.default_rng(5).standard_normal((4, 1, 28, 28)).astype(np.float32)
    first = run(model, x)
    model[0].weight.array *= 2.0                               # a raw in-place write
    model[2].running_var.array += 1.0
    np.testing.assert_allclose(run(model, x), run(model, x, fast=False), rtol=1e-5, atol=1e-5)
    assert not np.allclose(run(model, x), first)
    opt = numcnn.optim.SGD(model.parameters(), lr=0.1)         # an optimizer step in between
    model.train()
    numcnn.nn.functional.cross_entropy(model(numcnn.from_numpy(x)),
                                       numcnn.tensor([1, 2, 3, 4])).backward()
    opt.step()
    model.eval()
    np.testing.assert_allclose(run(model, x), run(model, x, fast=False), rtol=1e-5, atol=1e-5)


def test_the_callers_input_is_never_written():
    model = nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3), nn.LeakyReLU(0.1)).eval()
    randomise_bn(model)
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 5)).astype(np.float32)
    keep = x.copy()
    out = run(model, x)
    np.testing.assert_array_equal(x, keep)
    bn = {k: torch.from_numpy(v.numpy()) for k, v in model[1].state_dict().items()}
    ref = torch.nn.functional.leaky_relu(torch.nn.functional.batch_norm(
        torch.relu(torch.from_numpy(keep)), bn["running_mean"], bn["running_var"],
        bn["weight"], bn["bias"]), 0.1).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("negative", [False, True])
@pytest.mark.parametrize("pool", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=3, stride=2, ceil_mode=True),
                                  dict(kernel_size=(2, 3), stride=(1, 2))])
def test_pooling_and_activations_against_torch(pool, negative):
    def build(lib):
        return lib.Sequential(lib.Conv2d(3, 6, 3, padding=1, bias=False), lib.ReLU6(),
                              lib.BatchNorm2d(6), lib.MaxPool2d(**pool),
                              lib.Conv2d(6, 5, 1), lib.BatchNorm2d(5), lib.Hardtanh(-0.5, 0.7),
                              lib.Conv2d(5, 4, 3, stride=2, padding="valid" if negative else 0),
                              lib.LeakyReLU(0.2), lib.AdaptiveAvgPool2d(1), lib.Flatten(),
                              lib.Linear(4, 7), lib.BatchNorm1d(7), lib.ReLU(),
                              lib.BatchNorm1d(7), lib.Linear(7, 3))
    numcnn.manual_seed(1)
    model = build(nn)
    randomise_bn(model, seed=7, negative=negative)
    model.eval()
    tmodel = torch_twin(model, build(torch.nn))
    x = np.random.default_rng(8).standard_normal((5, 3, 13, 11)).astype(np.float64)
    model.double()
    tmodel.double()
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run(model, x), ref, rtol=1e-9, atol=1e-12)


def test_modules_the_fast_path_does_not_know_run_as_themselves():
    class Twice(nn.Module):
        def forward(self, x):
            return x * 2

    class Pair(nn.Module):
        def forward(self, x):
            return x, x.sum()

    numcnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), Twice(), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
                          nn.BatchNorm2d(4), nn.Flatten(), Pair())
    randomise_bn(model)
    model.eval()
    x = np.random.default_rng(9).standard_normal((3, 2, 8, 8)).astype(np.float32)
    with numcnn.no_grad():
        fast = model(numcnn.from_numpy(x))
        with fastpath.disabled():
            slow = model(numcnn.from_numpy(x))
    np.testing.assert_allclose(fast[0].numpy(), slow[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast[1].item(), slow[1].item(), rtol=1e-4)


def test_bad_input_gets_the_layers_own_error():
    model = seed_cnn(nn).eval()
    with numcnn.no_grad(), pytest.raises(RuntimeError, match="expected input"):
        model(numcnn.zeros(2, 3, 28, 28))


@pytest.mark.parametrize("name, size", [("resnet18", 64), ("resnet50", 64),
                                        ("mobilenet_v2", 64), ("googlenet", 64),
                                        ("resnet20", 32), ("shufflenet_v2_x0_5", 64),
                                        ("densenet121", 64)])
def test_zoo_models_agree_with_the_layer_path(name, size):
    numcnn.manual_seed(0)
    model = models.get_model(name)
    randomise_bn(model, seed=3)
    for m in model.modules():                     # keep deep nets' activations in range
        if isinstance(m, nn.BatchNorm2d):
            m.weight.array[:] *= 0.5
    model.eval()
    C = models.input_size(name)[0]
    x = np.random.default_rng(10).standard_normal((2, C, size, size)).astype(np.float32)
    fast, slow = run(model, x), run(model, x, fast=False)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-4 * np.abs(slow).max())


def test_a_kept_plan_is_reused_and_never_stale(monkeypatch):
    builds = []
    orig = fastpath._build

    def counted(*args):
        builds.append(1)
        return orig(*args)

    monkeypatch.setattr(fastpath, "_build", counted)
    fastpath.clear_cache()
    model = eval_seed_cnn()
    x = np.random.default_rng(11).standard_normal((3, 1, 28, 28)).astype(np.float32)
    first = run(model, x)
    n = len(builds)
    np.testing.assert_array_equal(run(model, x), first)
    assert len(builds) == n                                    # the same plan, not rebuilt
    model[3].weight.array[0, 0, 0, 0] += 1.0                   # an in-place write ...
    model[5].running_mean.array[1] -= 0.5                      # ... to a folded buffer
    np.testing.assert_allclose(run(model, x), run(model, x, fast=False), rtol=1e-5, atol=1e-5)
    model[3].padding = (2, 2)                                  # changed layer settings
    model[3].dilation = (2, 2)
    model[6] = nn.MaxPool2d(3, stride=2, padding=1)
    np.testing.assert_allclose(run(model, x), run(model, x, fast=False), rtol=1e-5, atol=1e-5)
    seen = []                                                  # a hook added afterwards
    model[2].register_forward_hook(lambda m, a, out: seen.append(out.shape))
    run(model, x)
    assert seen == [(3, 8, 28, 28)]
