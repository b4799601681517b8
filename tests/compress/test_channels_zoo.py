"""prune_channels on every classification model of numcnn.models (slow: -m slow).

The oracle is test_channels.py's: the pruned model's eval output equals the original's with
the removed channels' weights zeroed.  float64, rtol 1e-7, except the models of more than
100M weights (VGG: float64 copies of them take gigabytes), which run in float32 at
rtol 1e-4, atol 1e-5 (the pruned model sums fewer terms, so rounding differs).
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.compress.test_channels import n_params, randomise_norms, run, zeroed

import numcnn
import numcnn.models as M
from numcnn.compress import channels as C

NAMES = [n for n in M.list_models() if n != "unet"]
# ShuffleNet v1 with grouped pointwise convolutions (g > 1): see prune_channels' docstring
GROUPED_EVERYWHERE = {"shufflenet_v1", "shufflenet_v1_g2", "shufflenet_v1_g3",
                      "shufflenet_v1_g4", "shufflenet_v1_g8"}


def spatial(name: str) -> int:
    """A small input the model accepts (its own where it has no adaptive pooling)."""
    _, h, _ = M.input_size(name)
    if name in ("alexnet_original", "zfnet", "dogs_vs_cats_cnn") or h <= 64:
        return h
    return 75 if name == "inception_v3" else 64


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_zoo_model_prunes_to_the_zeroed_original(name):
    numcnn.manual_seed(0)
    model = M.get_model(name)
    big = n_params(model) > 100_000_000
    if not big:
        model.double()
    randomise_norms(model)
    model.eval()
    c = M.input_size(name)[0]
    s = spatial(name)
    x = np.random.default_rng(1).standard_normal((1, c, s, s))
    x = x.astype(np.float32 if big else np.float64)
    plan = C.channel_plan(model, x, 0.3)
    small = C.apply_channel_plan(model, plan)
    if name in GROUPED_EVERYWHERE:
        # every channel meets a grouped convolution, and those are left out: nothing goes
        assert sum(plan.removed) == 0 and n_params(small) == n_params(model)
        assert all(any("grouped convolution" in r for r in g.reasons) for g in plan.groups
                   if "model output" not in g.reasons)
    else:
        assert sum(plan.removed) > 0 and n_params(small) < n_params(model)
    rtol, atol = (1e-4, 1e-5) if big else (1e-7, 1e-10)
    np.testing.assert_allclose(run(small, x), run(zeroed(model, plan), x), rtol=rtol,
                               atol=atol)
