"""The public surface of numcnn.nn against torch 2.13.0, checked systematically.

1. Signatures: every functional op of issue 3, every module class's `__init__` and the public
   `Module` methods have torch's parameter names, order, kinds and defaults.
2. Structure: for every module case, `named_parameters` / `named_buffers` (names, shapes, dtypes,
   order), the `state_dict` keys and the `repr` equal torch's; the default initialisation of
   every parameter has torch's distribution (two-sample Kolmogorov-Smirnov, mean and variance
   tests on large layers; never exact values, the two libraries' random streams differ).
3. Numerics: torch's state is loaded into the numcnn module, and the forward value, the
   gradient of every input and of every parameter, and the buffers after the step equal torch's,
   in float64 and float32, in train and eval mode.  One table of (module, inputs) drives 1-3.
"""

from __future__ import annotations

import ast
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import numcnn
import numcnn.nn as NN
import numcnn.nn.functional as NF

TN = torch.nn
TF = torch.nn.functional

# ================================================================== 1. signatures

FUNCTIONAL = """
conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d unfold fold pad
max_pool1d max_pool2d max_pool3d max_unpool1d max_unpool2d max_unpool3d
avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d
adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d lp_pool1d lp_pool2d lp_pool3d
batch_norm layer_norm group_norm instance_norm local_response_norm
relu relu6 leaky_relu elu selu celu gelu sigmoid tanh softplus silu mish hardswish hardsigmoid
hardtanh threshold logsigmoid prelu softmax log_softmax softmin
dropout alpha_dropout feature_alpha_dropout dropout1d dropout2d dropout3d linear bilinear
channel_shuffle pixel_shuffle pixel_unshuffle interpolate upsample
cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss huber_loss binary_cross_entropy
binary_cross_entropy_with_logits kl_div
""".split()

# torch's `boolean_dispatch` wrappers show (*args, **kwargs); their `_with_indices` twin carries
# the documented signature (the same parameters, return_indices included).
_DISPATCHED = {"max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d",
               "adaptive_max_pool2d", "adaptive_max_pool3d"}

Param = tuple[str, Any, Any]     # (name, kind, default)


def _params(sig: inspect.Signature, drop: tuple[str, ...] = ()) -> list[Param]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name not in drop]


def _docstring_signature(fn: Any, name: str) -> list[Param]:
    """The signature documented on the first line of a torch builtin's docstring, e.g.
    `conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor`."""
    doc = inspect.getdoc(fn) or ""
    head = next(line for line in doc.splitlines() if line.startswith(name + "("))
    head = head.split(" -> ")[0]
    tree = ast.parse(f"def {head}: pass")
    fdef = tree.body[0]
    assert isinstance(fdef, ast.FunctionDef)
    a = fdef.args
    pos = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(pos) - len(a.defaults)) + [
        ast.literal_eval(d) for d in a.defaults]
    out: list[Param] = [(p.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, d)
                        for p, d in zip(pos, defaults)]
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((p.arg, inspect.Parameter.KEYWORD_ONLY,
                    inspect.Parameter.empty if d is None else ast.literal_eval(d)))
    return out


def _torch_functional_params(name: str) -> list[Param]:
    fn = getattr(TF, name + "_with_indices") if name in _DISPATCHED else getattr(TF, name)
    try:
        return _params(inspect.signature(fn))
    except ValueError:               # a C++ builtin: no Python signature
        return _docstring_signature(fn, name)


def _same(ours: list[Param], theirs: list[Param]) -> bool:
    """Equal names, kinds and defaults; defaults compare by value and type family (1 == 1.0,
    but True is not 1)."""
    if [p[:2] for p in ours] != [p[:2] for p in theirs]:
        return False
    for (_, _, a), (_, _, b) in zip(ours, theirs):
        if (a is inspect.Parameter.empty) != (b is inspect.Parameter.empty):
            return False
        if isinstance(a, bool) != isinstance(b, bool) or a != b:
            return False
    return True


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_signature(name: str) -> None:
    assert hasattr(NF, name), f"numcnn.nn.functional.{name} is missing"
    ours = _params(inspect.signature(getattr(NF, name)))
    theirs = _torch_functional_params(name)
    assert _same(ours, theirs), f"{name}: numcnn {ours}\n torch {theirs}"


def test_flatten_signature() -> None:
    """numcnn.flatten and Tensor.flatten as torch.flatten(input, start_dim=0, end_dim=-1)."""
    ours = _params(inspect.signature(numcnn.flatten))
    assert _same(ours, _docstring_signature(torch.flatten, "flatten"))
    x = numcnn.zeros(2, 3, 4)
    assert numcnn.flatten(x).shape == (24,) and x.flatten(1).shape == (2, 12)


MODULE_CLASSES = """
Module Sequential ModuleList ModuleDict ParameterList ParameterDict Identity Flatten Unflatten
Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d Fold Unfold
ZeroPad1d ZeroPad2d ZeroPad3d ConstantPad1d ConstantPad2d ConstantPad3d
ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d
ReplicationPad3d CircularPad1d CircularPad2d CircularPad3d
MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d AvgPool1d AvgPool2d AvgPool3d
AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d
AdaptiveMaxPool3d LPPool1d LPPool2d LPPool3d
BatchNorm1d BatchNorm2d BatchNorm3d LayerNorm GroupNorm InstanceNorm1d InstanceNorm2d
InstanceNorm3d LocalResponseNorm
ReLU ReLU6 LeakyReLU ELU SELU CELU GELU Sigmoid Tanh Softplus SiLU Mish Hardswish Hardsigmoid
Hardtanh Threshold LogSigmoid PReLU Softmax LogSoftmax Softmin
Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout
Linear Bilinear ChannelShuffle PixelShuffle PixelUnshuffle Upsample UpsamplingNearest2d
UpsamplingBilinear2d
CrossEntropyLoss NLLLoss MSELoss L1Loss SmoothL1Loss HuberLoss BCELoss BCEWithLogitsLoss
KLDivLoss
""".split()

_MODULE_INIT = _params(inspect.signature(TN.Module.__init__))


@pytest.mark.parametrize("name", MODULE_CLASSES)
def test_module_init_signature(name: str) -> None:
    """__init__ as torch's; `device`/`dtype` wherever torch has them (numcnn accepts `device`
    and ignores it: there is only the CPU)."""
    assert hasattr(NN, name), f"numcnn.nn.{name} is missing"
    ours = _params(inspect.signature(getattr(NN, name).__init__))
    tcls = getattr(TN, name)
    theirs = _params(inspect.signature(tcls.__init__))
    if tcls.__init__ is TN.Module.__init__:
        # torch.nn.Module.__init__(self, *args, **kwargs) takes *args/**kwargs only to raise a
        # TypeError naming them (for cooperative multiple inheritance); numcnn's takes none
        theirs = theirs[:1]
        with pytest.raises(TypeError):
            tcls(1)
    assert _same(ours, theirs), f"{name}: numcnn {ours}\n torch {theirs}"


def test_parameter_signature() -> None:
    """torch.nn.Parameter is built by __new__(cls, data=None, requires_grad=True)."""
    ours = _params(inspect.signature(NN.Parameter.__init__))[1:]
    theirs = _params(inspect.signature(TN.Parameter.__new__))[1:]
    assert _same(ours, theirs), (ours, theirs)


MODULE_METHODS = """
add_module apply buffers children cpu double eval extra_repr float get_buffer get_parameter
get_submodule half load_state_dict modules named_buffers named_children named_modules
named_parameters parameters register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_module register_parameter requires_grad_ set_submodule
state_dict to train zero_grad forward
""".split()

# What numcnn leaves out on purpose: accelerators and compilation (NumPy runs on the CPU only),
# bfloat16 (no NumPy dtype), shared memory and meta-device materialisation, and the
# deprecated non-"full" backward hook; state-dict hooks and extra state are not provided.
MODULE_METHODS_ABSENT = """
cuda ipu xpu mtia compile bfloat16 share_memory to_empty type register_backward_hook
register_full_backward_pre_hook register_state_dict_pre_hook register_state_dict_post_hook
register_load_state_dict_pre_hook register_load_state_dict_post_hook get_extra_state
set_extra_state
""".split()


def test_module_methods_cover_torch() -> None:
    """Every public method of torch.nn.Module is either compared below or listed as absent."""
    public = {m for m in dir(TN.Module) if not m.startswith("_") and callable(
        getattr(TN.Module, m))}
    assert public == set(MODULE_METHODS) | set(MODULE_METHODS_ABSENT), (
        sorted(public - set(MODULE_METHODS) - set(MODULE_METHODS_ABSENT)))


@pytest.mark.parametrize("name", MODULE_METHODS)
def test_module_method_signature(name: str) -> None:
    ours = _params(inspect.signature(getattr(NN.Module, name)))
    theirs = _params(inspect.signature(getattr(TN.Module, name)))
    if name == "to":     # torch's overloads collapse to (*args, **kwargs): numcnn's too
        assert [p[1] for p in ours] == [p[1] for p in theirs]
        return
    if name == "forward":
        # torch's placeholder is (self, *input) and raises NotImplementedError; numcnn's is
        # (self, *args, **kwargs) and raises the same; subclasses define their own signature
        with pytest.raises(NotImplementedError):
            NN.Module().forward()
        return
    assert _same(ours, theirs), f"Module.{name}: numcnn {ours}\n torch {theirs}"


# ================================================================== the case table


@dataclass(frozen=True)
class Int:
    """An int64 label array with values in [0, high)."""
    shape: tuple[int, ...]
    high: int


@dataclass(frozen=True)
class Prob:
    """A float array uniform on (0.05, 0.95): probabilities (BCE inputs and targets)."""
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Simplex:
    """A float array whose rows along dim 1 sum to 1 (soft cross-entropy targets)."""
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Pooled:
    """Values and indices of torch's max_pool{nd}(x, kernel, stride, padding) on a random x
    (MaxUnpool inputs; the unpooling layer takes the same geometry)."""
    shape: tuple[int, ...]
    kernel: Any
    stride: Any = None
    padding: Any = 0


@dataclass(frozen=True)
class Arr:
    """A constant float array for a constructor argument (loss weights); seeded by `seed`."""
    shape: tuple[int, ...]
    seed: int = 0
    positive: bool = True


@dataclass
class Case:
    cls: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    inputs: list[Any]
    modes: tuple[str, ...] = ("train", "eval")
    dtypes: tuple[Any, ...] = (np.float64, np.float32)
    id: str = field(default="")

    def build(self, nn: Any, tensor: Callable[[np.ndarray], Any], dtype: Any) -> Any:
        def conv(v: Any) -> Any:
            if isinstance(v, Arr):
                rng = np.random.default_rng(v.seed)
                a = rng.uniform(0.5, 2.0, v.shape) if v.positive else rng.standard_normal(
                    v.shape)
                return tensor(a.astype(dtype))
            if isinstance(v, ModuleSpec):
                return v.build(nn)
            return v
        args = [conv(a) for a in self.args]
        kwargs = {k: conv(v) for k, v in self.kwargs.items()}
        return getattr(nn, self.cls)(*args, **kwargs)


@dataclass(frozen=True)
class ModuleSpec:
    """A submodule inside a container case: built with the same arguments in both libraries."""
    cls: str
    args: tuple[Any, ...] = ()

    def build(self, nn: Any) -> Any:
        return getattr(nn, self.cls)(*(a.build(nn) if isinstance(a, ModuleSpec) else a
                                       for a in self.args))


def C(cls: str, *args: Any, inputs: list[Any], **kwargs: Any) -> Case:
    modes = kwargs.pop("_modes", ("train", "eval"))
    dts = kwargs.pop("_dtypes", (np.float64, np.float32))
    shown = [repr(a) if not isinstance(a, (Arr, ModuleSpec)) else type(a).__name__
             for a in args] + [f"{k}={v!r}" if not isinstance(v, Arr) else f"{k}=Arr"
                               for k, v in kwargs.items()]
    return Case(cls, args, kwargs, inputs, modes, dts, f"{cls}({','.join(shown)})")


X1, X2, X3 = (2, 3, 7), (2, 3, 7, 5), (2, 3, 5, 4, 3)
ONE = ("train",)        # stateless: train and eval compute the same thing

CASES = [
    # containers and reshaping
    C("Identity", inputs=[X2], _modes=ONE),
    C("Identity", 54, unused="x", inputs=[X1], _modes=ONE),
    C("Flatten", inputs=[X2], _modes=ONE),
    C("Flatten", 0, 2, inputs=[X2], _modes=ONE),
    C("Unflatten", 1, (1, 3), inputs=[X1], _modes=ONE),
    C("Unflatten", -1, (5, 1), inputs=[X2], _modes=ONE),
    C("Sequential", ModuleSpec("Conv2d", (3, 4, 3)), ModuleSpec("BatchNorm2d", (4,)),
      ModuleSpec("ReLU"), ModuleSpec("Flatten"), inputs=[(3, 3, 7, 6)]),
    C("Sequential", ModuleSpec("Linear", (5, 4)), ModuleSpec("Sequential", (
        ModuleSpec("Tanh"), ModuleSpec("Linear", (4, 2)))), inputs=[(3, 5)]),
    # convolutions
    C("Conv1d", 3, 4, 3, inputs=[X1]),
    C("Conv1d", 4, 6, 3, stride=2, padding=2, dilation=2, groups=2, bias=False,
      inputs=[(2, 4, 9)], _modes=ONE),
    C("Conv1d", 3, 4, 4, padding="same", padding_mode="reflect", inputs=[X1], _modes=ONE),
    C("Conv1d", 3, 2, 2, padding="valid", inputs=[(3, 7)], _modes=ONE),
    C("Conv2d", 3, 4, 3, inputs=[X2], _modes=ONE),
    C("Conv2d", 4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
      inputs=[(2, 4, 7, 6)], _modes=ONE),
    C("Conv2d", 3, 3, 3, padding=1, padding_mode="circular", groups=3, inputs=[X2], _modes=ONE),
    C("Conv2d", 3, 5, 2, padding="same", padding_mode="replicate", dilation=2, inputs=[X2],
      _modes=ONE),
    C("Conv2d", 3, 4, 3, padding=1, inputs=[(3, 7, 5)], _modes=ONE),
    C("Conv1d", 3, 2, 3, stride=2, inputs=[(3, 8)], _modes=ONE),
    C("Conv3d", 3, 4, 2, inputs=[X3], _modes=ONE),
    C("Conv3d", 4, 2, (2, 3, 1), stride=(1, 2, 1), padding=(1, 0, 1), groups=2, bias=False,
      inputs=[(1, 4, 4, 5, 3)], _modes=ONE),
    C("ConvTranspose1d", 3, 4, 3, inputs=[X1], _modes=ONE),
    C("ConvTranspose1d", 4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
      dilation=2, bias=False, inputs=[(2, 4, 5)], _modes=ONE),
    C("ConvTranspose2d", 3, 4, 3, inputs=[X2], _modes=ONE),
    C("ConvTranspose2d", 4, 2, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
      groups=2, inputs=[(2, 4, 4, 3)], _modes=ONE),
    C("ConvTranspose2d", 3, 4, 3, stride=2, inputs=[(3, 4, 3)], _modes=ONE),
    C("ConvTranspose3d", 3, 2, 2, inputs=[X3], _modes=ONE),
    C("ConvTranspose3d", 2, 4, (2, 3, 2), stride=2, padding=1, dilation=(1, 1, 2),
      groups=2, inputs=[(1, 2, 3, 4, 3)], _modes=ONE),
    C("Unfold", 2, inputs=[X2], _modes=ONE),
    C("Unfold", (2, 3), dilation=(1, 2), padding=1, stride=(2, 1), inputs=[X2], _modes=ONE),
    C("Fold", (4, 5), 2, inputs=[(2, 12, 12)], _modes=ONE),
    C("Fold", (5, 4), (2, 3), dilation=(2, 1), padding=(1, 0), stride=(1, 2),
      inputs=[(2, 12, 5)], _modes=ONE),
    # padding
    C("ZeroPad1d", 2, inputs=[X1], _modes=ONE),
    C("ZeroPad2d", (1, 0, 2, 3), inputs=[X2], _modes=ONE),
    C("ZeroPad2d", 1, inputs=[(3, 4, 5)], _modes=ONE),
    C("ZeroPad3d", (1, 0, 2, 1, 0, 1), inputs=[X3], _modes=ONE),
    C("ConstantPad1d", (2, 1), 3.5, inputs=[X1], _modes=ONE),
    C("ConstantPad2d", 2, -1.0, inputs=[X2], _modes=ONE),
    C("ConstantPad3d", (1, 2, 0, 1, 2, 0), 0.5, inputs=[X3], _modes=ONE),
    C("ReflectionPad1d", (2, 3), inputs=[X1], _modes=ONE),
    C("ReflectionPad2d", (1, 2, 3, 0), inputs=[X2], _modes=ONE),
    C("ReflectionPad3d", 1, inputs=[X3], _modes=ONE),
    C("ReplicationPad1d", 3, inputs=[X1], _modes=ONE),
    C("ReplicationPad2d", (2, 0, 1, 3), inputs=[X2], _modes=ONE),
    C("ReplicationPad3d", (1, 0, 2, 1, 0, 2), inputs=[X3], _modes=ONE),
    C("CircularPad1d", (1, 2), inputs=[X1], _modes=ONE),
    C("CircularPad2d", 1, inputs=[X2], _modes=ONE),
    C("CircularPad3d", (1, 0, 0, 1, 1, 1), inputs=[X3], _modes=ONE),
    # pooling
    C("MaxPool1d", 3, inputs=[X1], _modes=ONE),
    C("MaxPool1d", 3, stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True,
      inputs=[X1], _modes=ONE),
    C("MaxPool2d", 2, inputs=[X2], _modes=ONE),
    C("MaxPool2d", (3, 2), stride=(2, 1), padding=1, ceil_mode=True, inputs=[X2], _modes=ONE),
    C("MaxPool2d", 2, dilation=2, return_indices=True, inputs=[(3, 7, 6)], _modes=ONE),
    C("MaxPool3d", 2, inputs=[X3], _modes=ONE),
    C("MaxPool3d", (2, 3, 2), stride=1, padding=(1, 1, 0), return_indices=True, inputs=[X3],
      _modes=ONE),
    C("MaxUnpool1d", 2, inputs=[Pooled(X1, 2)], _modes=ONE),
    C("MaxUnpool2d", 2, inputs=[Pooled((2, 3, 6, 4), 2)], _modes=ONE),
    C("MaxUnpool2d", (3, 2), stride=(2, 1), padding=(1, 0),
      inputs=[Pooled((2, 3, 5, 4), (3, 2), (2, 1), (1, 0))], _modes=ONE),
    C("MaxUnpool3d", 2, inputs=[Pooled((2, 3, 4, 6, 2), 2)], _modes=ONE),
    C("AvgPool1d", 3, inputs=[X1], _modes=ONE),
    C("AvgPool1d", 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False,
      inputs=[X1], _modes=ONE),
    C("AvgPool2d", 2, inputs=[X2], _modes=ONE),
    C("AvgPool2d", 2, inputs=[(3, 5, 7)], _modes=ONE),
    C("AvgPool1d", 2, inputs=[(3, 7)], _modes=ONE),
    C("AvgPool2d", (3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True, inputs=[X2],
      _modes=ONE),
    C("AvgPool2d", 3, padding=1, count_include_pad=False, divisor_override=2, inputs=[X2],
      _modes=ONE),
    C("AvgPool3d", 2, inputs=[X3], _modes=ONE),
    C("AvgPool3d", (2, 3, 2), stride=1, padding=1, count_include_pad=False, inputs=[X3],
      _modes=ONE),
    C("AdaptiveAvgPool1d", 3, inputs=[X1], _modes=ONE),
    C("AdaptiveAvgPool2d", (3, 2), inputs=[X2], _modes=ONE),
    C("AdaptiveAvgPool2d", (None, 3), inputs=[X2], _modes=ONE),
    C("AdaptiveAvgPool3d", 2, inputs=[X3], _modes=ONE),
    C("AdaptiveMaxPool1d", 3, inputs=[X1], _modes=ONE),
    C("AdaptiveMaxPool1d", 4, return_indices=True, inputs=[X1], _modes=ONE),
    C("AdaptiveMaxPool2d", (3, 2), inputs=[X2], _modes=ONE),
    C("AdaptiveMaxPool2d", 3, return_indices=True, inputs=[X2], _modes=ONE),
    C("AdaptiveMaxPool3d", (2, 3, 2), inputs=[X3], _modes=ONE),
    C("AdaptiveMaxPool2d", (2, 4), inputs=[(3, 5, 7)], _modes=ONE),
    C("AdaptiveAvgPool1d", 2, inputs=[(3, 7)], _modes=ONE),
    C("LPPool1d", 2, 3, inputs=[X1], _modes=ONE),
    C("LPPool2d", 2, 2, inputs=[X2], _modes=ONE),
    C("LPPool2d", 3.0, (3, 2), stride=(1, 2), ceil_mode=True, inputs=[X2], _modes=ONE),
    C("LPPool3d", 2, 2, inputs=[X3], _modes=ONE),
    # normalisation
    C("BatchNorm1d", 3, inputs=[(5, 3)]),
    C("BatchNorm1d", 3, inputs=[X1]),
    C("BatchNorm1d", 3, eps=1e-3, momentum=None, affine=False, inputs=[X1]),
    C("BatchNorm2d", 3, inputs=[X2]),
    C("BatchNorm2d", 3, momentum=0.5, track_running_stats=False, inputs=[X2]),
    C("BatchNorm3d", 3, inputs=[X3]),
    C("LayerNorm", 5, inputs=[X2]),
    C("LayerNorm", (7, 5), eps=1e-3, elementwise_affine=False, inputs=[X2]),
    C("LayerNorm", [3, 7], bias=False, inputs=[X1]),
    C("GroupNorm", 3, 6, inputs=[(2, 6, 5)]),
    C("GroupNorm", 2, 4, eps=1e-3, affine=False, inputs=[(2, 4, 3, 5)]),
    C("GroupNorm", 1, 3, inputs=[X3]),
    C("InstanceNorm1d", 3, inputs=[X1]),
    C("InstanceNorm1d", 3, affine=True, track_running_stats=True, inputs=[X1]),
    C("InstanceNorm2d", 3, inputs=[X2]),
    C("InstanceNorm2d", 3, momentum=None, affine=True, track_running_stats=True,
      inputs=[X2]),
    C("InstanceNorm3d", 3, affine=True, inputs=[X3]),
    C("InstanceNorm1d", 3, affine=True, track_running_stats=True, inputs=[(3, 7)]),
    C("LayerNorm", (5, 4, 3), elementwise_affine=True, bias=False, inputs=[X3]),
    C("BatchNorm1d", 3, inputs=[(1, 3, 4)]),
    C("LocalResponseNorm", 2, inputs=[X2], _modes=ONE),
    C("LocalResponseNorm", 3, alpha=1e-2, beta=0.5, k=2.0, inputs=[(2, 5, 7)], _modes=ONE),
    C("LocalResponseNorm", 4, alpha=0.1, inputs=[(2, 5, 3, 2, 3)], _modes=ONE),
    # activations
    C("ReLU", inputs=[X2], _modes=ONE),
    C("ReLU6", inputs=[X2], _modes=ONE),
    C("LeakyReLU", inputs=[X2], _modes=ONE),
    C("LeakyReLU", 0.2, inputs=[X1], _modes=ONE),
    C("ELU", inputs=[X2], _modes=ONE),
    C("ELU", alpha=0.5, inputs=[X1], _modes=ONE),
    C("SELU", inputs=[X2], _modes=ONE),
    C("CELU", inputs=[X2], _modes=ONE),
    C("CELU", alpha=2.0, inputs=[X1], _modes=ONE),
    C("GELU", inputs=[X2], _modes=ONE),
    C("GELU", approximate="tanh", inputs=[X2], _modes=ONE),
    C("Sigmoid", inputs=[X2], _modes=ONE),
    C("Tanh", inputs=[X2], _modes=ONE),
    C("Softplus", inputs=[X2], _modes=ONE),
    C("Softplus", beta=2.0, threshold=1.0, inputs=[X2], _modes=ONE),
    C("SiLU", inputs=[X2], _modes=ONE),
    C("Mish", inputs=[X2], _modes=ONE),
    C("Hardswish", inputs=[X2], _modes=ONE),
    C("Hardsigmoid", inputs=[X2], _modes=ONE),
    C("Hardtanh", inputs=[X2], _modes=ONE),
    C("Hardtanh", -0.5, 2.0, inputs=[X2], _modes=ONE),
    C("Threshold", 0.1, 20.0, inputs=[X2], _modes=ONE),
    C("LogSigmoid", inputs=[X2], _modes=ONE),
    C("PReLU", inputs=[X2], _modes=ONE),
    C("PReLU", 3, 0.1, inputs=[X2], _modes=ONE),
    C("PReLU", 3, inputs=[X1], _modes=ONE),
    C("PReLU", inputs=[(4, 5)], _modes=ONE),
    C("Softmax", 1, inputs=[X2], _modes=ONE),
    C("Softmax", dim=-1, inputs=[X1], _modes=ONE),
    C("LogSoftmax", 1, inputs=[X2], _modes=ONE),
    C("LogSoftmax", dim=0, inputs=[X1], _modes=ONE),
    C("Softmin", 1, inputs=[X2], _modes=ONE),
    C("Softmax", inputs=[X1], _modes=ONE),           # dim=None: torch's legacy implicit dim
    C("LogSoftmax", inputs=[X2], _modes=ONE),
    # dropout: exact comparison only where no mask is drawn (eval, or p=0 in training)
    C("Dropout", inputs=[X2], _modes=("eval",)),
    C("Dropout", 0.0, inputs=[X2], _modes=("train",)),
    C("Dropout1d", inputs=[X1], _modes=("eval",)),
    C("Dropout1d", p=0.0, inputs=[X1], _modes=("train",)),
    C("Dropout2d", inputs=[X2], _modes=("eval",)),
    C("Dropout2d", 0.0, inputs=[X2], _modes=("train",)),
    C("Dropout3d", inputs=[X3], _modes=("eval",)),
    C("Dropout3d", 0.0, inputs=[X3], _modes=("train",)),
    C("AlphaDropout", inputs=[X2], _modes=("eval",)),
    C("AlphaDropout", 0.0, inputs=[X2], _modes=("train",)),
    C("FeatureAlphaDropout", inputs=[X2], _modes=("eval",)),
    # dense and shuffles
    C("Linear", 5, 4, inputs=[(3, 5)], _modes=ONE),
    C("Linear", 5, 3, bias=False, inputs=[(2, 3, 5)], _modes=ONE),
    C("Linear", 5, 2, inputs=[(5,)], _modes=ONE),
    C("Bilinear", 3, 4, 2, inputs=[(5, 3), (5, 4)], _modes=ONE),
    C("Bilinear", 3, 2, 3, bias=False, inputs=[(2, 3, 3), (2, 3, 2)], _modes=ONE),
    C("ChannelShuffle", 3, inputs=[(2, 6, 3, 5)], _modes=ONE),
    C("ChannelShuffle", 2, inputs=[(2, 4, 5)], _modes=ONE),
    C("PixelShuffle", 2, inputs=[(2, 8, 3, 5)], _modes=ONE),
    C("PixelShuffle", 3, inputs=[(2, 2, 9, 3, 2)], _modes=ONE),
    C("PixelUnshuffle", 2, inputs=[(2, 3, 6, 4)], _modes=ONE),
    C("Upsample", scale_factor=2, inputs=[X2], _modes=ONE),
    C("Upsample", size=(5, 9), mode="bilinear", inputs=[X2], _modes=ONE),
    C("Upsample", scale_factor=(1.5, 2.5), mode="bilinear", align_corners=True,
      inputs=[X2], _modes=ONE),
    C("Upsample", size=11, mode="linear", inputs=[X1], _modes=ONE),
    C("Upsample", scale_factor=2, mode="trilinear", inputs=[X3], _modes=ONE),
    C("Upsample", size=(6, 3, 4), mode="nearest-exact", inputs=[X3], _modes=ONE),
    C("Upsample", scale_factor=1.7, mode="bilinear", recompute_scale_factor=True,
      inputs=[X2], _modes=ONE),
    C("Upsample", size=(3, 2), mode="area", inputs=[X2], _modes=ONE),
    C("Upsample", scale_factor=1.5, mode="area", inputs=[X1], _modes=ONE),
    C("Upsample", size=(2, 3, 5), mode="area", inputs=[X3], _modes=ONE),
    C("UpsamplingNearest2d", scale_factor=3, inputs=[X2], _modes=ONE),
    C("UpsamplingBilinear2d", (4, 9), inputs=[X2], _modes=ONE),
    # losses
    C("CrossEntropyLoss", inputs=[(5, 4), Int((5,), 4)], _modes=ONE),
    C("CrossEntropyLoss", weight=Arr((4,)), ignore_index=1, reduction="sum",
      label_smoothing=0.1, inputs=[(3, 4, 5), Int((3, 5), 4)], _modes=ONE),
    C("CrossEntropyLoss", reduction="none", inputs=[(3, 4, 2, 3), Simplex((3, 4, 2, 3))],
      _modes=ONE),
    C("NLLLoss", inputs=[(5, 4), Int((5,), 4)], _modes=ONE),
    C("NLLLoss", weight=Arr((3,)), ignore_index=0, reduction="none",
      inputs=[(2, 3, 3, 2), Int((2, 3, 2), 3)], _modes=ONE),
    C("MSELoss", inputs=[X2, X2], _modes=ONE),
    C("MSELoss", reduction="sum", inputs=[X1, X1], _modes=ONE),
    C("L1Loss", inputs=[X2, X2], _modes=ONE),
    C("L1Loss", reduction="none", inputs=[X1, X1], _modes=ONE),
    C("SmoothL1Loss", inputs=[X2, X2], _modes=ONE),
    C("SmoothL1Loss", reduction="sum", beta=0.5, inputs=[X1, X1], _modes=ONE),
    C("HuberLoss", inputs=[X2, X2], _modes=ONE),
    C("HuberLoss", reduction="none", delta=0.5, inputs=[X1, X1], _modes=ONE),
    C("BCELoss", inputs=[Prob(X2), Prob(X2)], _modes=ONE),
    C("BCELoss", weight=Arr((7,)), reduction="sum", inputs=[Prob(X1), Prob(X1)], _modes=ONE),
    C("BCEWithLogitsLoss", inputs=[X2, Prob(X2)], _modes=ONE),
    C("BCEWithLogitsLoss", weight=Arr((5,)), pos_weight=Arr((5,), seed=1), reduction="none",
      inputs=[X2, Prob(X2)], _modes=ONE),
    C("KLDivLoss", inputs=[X2, Prob(X2)], _modes=ONE),
    C("KLDivLoss", reduction="batchmean", log_target=True, inputs=[X2, X2], _modes=ONE),
]


def _case_id(c: Case) -> str:
    return c.id


def _make_inputs(case: Case, dtype: Any, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for spec in case.inputs:
        if isinstance(spec, tuple):
            out.append(rng.standard_normal(spec).astype(dtype))
        elif isinstance(spec, Int):
            out.append(rng.integers(0, spec.high, spec.shape).astype(np.int64))
        elif isinstance(spec, Prob):
            out.append(rng.uniform(0.05, 0.95, spec.shape).astype(dtype))
        elif isinstance(spec, Simplex):
            p = rng.uniform(0.1, 1.0, spec.shape)
            out.append((p / p.sum(axis=1, keepdims=True)).astype(dtype))
        elif isinstance(spec, Pooled):
            x = torch.tensor(rng.standard_normal(spec.shape).astype(dtype))
            pool = getattr(TF, f"max_pool{len(spec.shape) - 2}d")
            v, i = pool(x, spec.kernel, spec.stride, spec.padding, return_indices=True)
            out += [v.numpy(), i.numpy()]
        else:
            raise TypeError(spec)
    return out


def _pair(case: Case, dtype: Any) -> tuple[Any, Any]:
    """The module built in both libraries from the same arguments, torch's state loaded into
    numcnn's (as plain arrays, as a user would)."""
    torch.manual_seed(0)
    numcnn.manual_seed(0)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tm = case.build(TN, torch.tensor, dtype).to(tdt)
    nm = case.build(NN, numcnn.tensor, dtype).to(numcnn.float64 if dtype == np.float64
                                                 else numcnn.float32)
    with torch.no_grad():           # non-trivial affine parameters: 1 and 0 would hide mistakes
        rng = np.random.default_rng(1)
        for name, p in tm.named_parameters():
            if name.endswith(("weight", "bias")) and ("norm" in type(tm).__name__.lower()
                                                     or isinstance(tm, TN.Sequential)):
                p.add_(torch.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape)), dtype=tdt))
    nm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return nm, tm


# ================================================================== 2. structure and init


def _structure(m: Any) -> dict[str, list[tuple[str, tuple[int, ...], str]]]:
    def rows(items: Any) -> list[tuple[str, tuple[int, ...], str]]:
        return [(k, tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in items]
    return {"parameters": rows(m.named_parameters()), "buffers": rows(m.named_buffers()),
            "state_dict": rows(m.state_dict().items())}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_structure_and_repr(case: Case) -> None:
    """Parameter and buffer names, shapes, dtypes and order; state_dict keys; repr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = case.build(TN, torch.tensor, np.float32)
        nm = case.build(NN, numcnn.tensor, np.float32)
    assert _structure(nm) == _structure(tm)
    assert repr(nm) == repr(tm)
    assert _attributes(nm) == _attributes(tm)
    for k, v in nm.named_parameters():
        assert isinstance(v, NN.Parameter) and v.requires_grad, k
    assert nm.training and not nm.eval().training
    # device= (accepted, CPU only) and dtype= wherever torch takes them
    if "device" in inspect.signature(getattr(TN, case.cls).__init__).parameters:
        case64 = Case(case.cls, case.args, {**case.kwargs, "device": "cpu"}, case.inputs)
        t64 = case64.build(TN, torch.tensor, np.float32)
        n64 = case64.build(NN, numcnn.tensor, np.float32)
        assert _structure(n64) == _structure(t64)
        if "dtype" in inspect.signature(getattr(TN, case.cls).__init__).parameters:
            t64 = getattr(TN, case.cls)(*case.args, **case.kwargs, dtype=torch.float64)
            n64 = getattr(NN, case.cls)(*case.args, **case.kwargs, dtype=numcnn.float64)
            assert _structure(n64) == _structure(t64)


def _attributes(m: Any) -> dict[str, Any]:
    """Public plain attributes (kernel_size, padding, eps, ...) with their Python types."""
    return {k: (type(v).__name__, v) for k, v in vars(m).items()
            if not k.startswith("_") and not isinstance(v, (torch.Tensor, numcnn.Tensor))}


def test_container_structure_and_repr() -> None:
    """ModuleList / ModuleDict / ParameterList / ParameterDict (no forward of their own)."""
    def build(nn: Any, tensor: Callable[..., Any]) -> Any:
        root = nn.Module()
        root.blocks = nn.ModuleList([nn.Conv2d(2, 3, 1), nn.ReLU()])
        root.heads = nn.ModuleDict({"b": nn.Linear(3, 2), "a": nn.BatchNorm1d(2)})
        root.plist = nn.ParameterList([nn.Parameter(tensor(np.ones((2, 3), np.float32)))])
        root.pdict = nn.ParameterDict(
            {"s": nn.Parameter(tensor(np.zeros(4, np.float32)))})
        root.register_buffer("mask", tensor(np.ones(3, np.float32)), persistent=False)
        root.register_buffer("count", tensor(np.zeros((), np.int64)))
        return root
    tm, nm = build(TN, torch.tensor), build(NN, numcnn.tensor)
    assert _structure(nm) == _structure(tm)
    assert repr(nm.blocks) == repr(tm.blocks) and repr(nm.heads) == repr(tm.heads)


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D = sup |F_a - F_b| over the pooled sample."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


INIT_CASES = [  # large layers: every parameter has >= 2000 entries unless noted
    ("Conv1d", (8, 4096, 3), {}),
    ("Conv2d", (64, 32, 5), {}),
    ("Conv2d", (64, 2048, 3), {"groups": 16}),
    ("Conv3d", (16, 2048, 2), {}),
    ("ConvTranspose1d", (8, 4096, 3), {}),
    ("ConvTranspose2d", (16, 2048, (3, 2)), {"groups": 4}),
    ("ConvTranspose3d", (8, 2048, 2), {}),
    ("Linear", (256, 4096), {}),
    ("Linear", (16, 8192), {}),
    ("Bilinear", (20, 30, 400), {}),                 # bias: 400 entries
    ("PReLU", (), {}),
    ("PReLU", (3000, 0.1), {}),
    ("BatchNorm2d", (3000,), {}),
    ("LayerNorm", ((40, 60),), {}),
    ("GroupNorm", (10, 3000), {}),
    ("InstanceNorm2d", (3000,), {"affine": True}),
]


@pytest.mark.parametrize("cls,args,kwargs", INIT_CASES, ids=lambda v: str(v))
def test_default_init_distribution(cls: str, args: tuple[Any, ...],
                                   kwargs: dict[str, Any]) -> None:
    """Each parameter of a fresh layer has torch's initial distribution.

    With n and m samples, tests at a false-alarm rate of about 1e-6 each:
    - two-sample KS: D <= 2.69 sqrt((n + m) / (n m))   (c(alpha) = sqrt(-ln(alpha/2) / 2));
    - mean: |mean_a - mean_b| <= 5 sqrt(var_a / n + var_b / m);
    - variance: |var_a - var_b| <= 5 sqrt((m4_a - var_a^2) / n + (m4_b - var_b^2) / m);
    - support (uniform inits): each end of the sample range within (20 / n) * width of
      torch's, since P(no sample within a fraction f of an end) = (1 - f)^n = e^-20.
    Constant inits (ones, zeros, 0.25) pass only with identical values (all spreads are 0).
    """
    torch.manual_seed(0)
    numcnn.manual_seed(0)
    tm = getattr(TN, cls)(*args, **kwargs)
    nm = getattr(NN, cls)(*args, **kwargs)
    tparams = dict(tm.named_parameters())
    nparams = dict(nm.named_parameters())
    assert list(nparams) == list(tparams)
    for name, tp in tparams.items():
        a = np.asarray(nparams[name].array, dtype=np.float64).ravel()
        b = tp.detach().numpy().astype(np.float64).ravel()
        n, m = a.size, b.size
        assert n == m
        d = _ks_statistic(a, b)
        assert d <= 2.69 * np.sqrt((n + m) / (n * m)) + 1e-12, f"{name}: KS D={d:.4f}"
        va, vb = a.var(), b.var()
        assert abs(a.mean() - b.mean()) <= 5 * np.sqrt(va / n + vb / m) + 1e-12, name
        m4a, m4b = ((a - a.mean()) ** 4).mean(), ((b - b.mean()) ** 4).mean()
        assert abs(va - vb) <= 5 * np.sqrt((m4a - va ** 2) / n + (m4b - vb ** 2) / m) + 1e-12, (
            f"{name}: var {va:.3g} vs torch {vb:.3g}")
        width = b.max() - b.min()
        tol = 20 / n * width + 1e-12
        assert abs(a.min() - b.min()) <= tol and abs(a.max() - b.max()) <= tol, (
            f"{name}: range [{a.min():.4g}, {a.max():.4g}] vs torch [{b.min():.4g}, "
            f"{b.max():.4g}]")
        assert nparams[name].dtype == np.float32


# ================================================================== 3. numerics


def _run_params(case: Case) -> list[Any]:
    return [pytest.param(case, dt, mode, id=f"{case.id}-{np.dtype(dt).name}-{mode}")
            for dt in case.dtypes for mode in case.modes]


NUMERIC = [p for c in CASES for p in _run_params(c)]


@pytest.mark.parametrize("case,dtype,mode", NUMERIC)
def test_forward_and_gradients(case: Case, dtype: Any, mode: str) -> None:
    """Forward, every input gradient, every parameter gradient and the buffers after one step
    equal torch's (float64 rtol 1e-7; float32 rtol 1e-4 atol 1e-5, DESIGN.md), and the forward
    warns as torch's does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nm, tm = _pair(case, dtype)
    nm.train(mode == "train")
    tm.train(mode == "train")
    arrays = _make_inputs(case, dtype)
    n_in = [numcnn.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    t_in = [torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    with warnings.catch_warnings(record=True) as n_warned:
        warnings.simplefilter("always")
        n_out = nm(*n_in)
    with warnings.catch_warnings(record=True) as t_warned:
        warnings.simplefilter("always")
        t_out = tm(*t_in)
    # the same warnings (deprecated implicit softmax dim, kl_div's 'mean'), by category
    assert [w.category for w in n_warned] == [w.category for w in t_warned], (
        [str(w.message) for w in n_warned], [str(w.message) for w in t_warned])
    n_list = list(n_out) if isinstance(n_out, tuple) else [n_out]
    t_list = list(t_out) if isinstance(t_out, tuple) else [t_out]
    assert len(n_list) == len(t_list)
    for i, (a, b) in enumerate(zip(n_list, t_list)):
        assert_close(a, b, what=f"output {i}")
    # backpropagate the same random upstream gradient through the first (differentiable) output
    g = np.random.default_rng(2).standard_normal(t_list[0].shape).astype(dtype)
    n_list[0].backward(numcnn.tensor(g))
    t_list[0].backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(n_in, t_in)):
        if b.grad is not None:
            assert a.grad is not None, f"input {i}: numcnn computed no gradient"
            assert_close(a.grad, b.grad, what=f"grad of input {i}")
    n_params = dict(nm.named_parameters())
    for name, tp in tm.named_parameters():
        assert tp.grad is not None, name
        assert n_params[name].grad is not None, f"{name}: numcnn computed no gradient"
        assert_close(n_params[name].grad, tp.grad, what=f"grad of {name}")
    n_buffers = dict(nm.named_buffers())
    for name, tb in tm.named_buffers():
        assert_close(n_buffers[name], tb, what=f"buffer {name} after the step")


# ================================================================== Module methods, behaviour


def _scale_module(nn: Any) -> Any:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.shared = self.lin
            self.register_buffer("steps", None)
            self.register_buffer("offset", _lib_tensor(nn)(np.zeros(3)))

        def forward(self, x: Any, scale: float = 1.0) -> Any:
            if scale < 0:
                raise ValueError("negative scale")
            return self.lin(x) * scale
    return Scale()


def _lib_tensor(nn: Any) -> Callable[..., Any]:
    return torch.tensor if nn is TN else numcnn.tensor


def _hook_log(nn: Any) -> list[Any]:
    """Register hooks with every option on a module, run it, and log what the hooks see."""
    log: list[Any] = []
    m = _scale_module(nn)
    tensor = _lib_tensor(nn)
    m.register_forward_pre_hook(lambda mod, args: log.append("pre-a"))
    m.register_forward_pre_hook(lambda mod, args: log.append("pre-b"), prepend=True)

    def pre_kw(mod: Any, args: Any, kwargs: Any) -> Any:
        log.append(("pre-kw", sorted(kwargs.items())))
        return args, {"scale": 2.0}
    m.register_forward_pre_hook(pre_kw, with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append("fwd-a"))
    m.register_forward_hook(lambda mod, args, kw, out: log.append(("fwd-kw", sorted(kw.items()))),
                            with_kwargs=True, prepend=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("always", out is None)),
                            always_call=True)
    m.register_full_backward_hook(lambda mod, gi, go: log.append("bwd-a"))
    m.register_full_backward_hook(lambda mod, gi, go: log.append("bwd-b"), prepend=True)
    x = tensor(np.ones((2, 3)), requires_grad=True)
    y = m(x.float(), scale=1.0)
    y.sum().backward()
    log.append(("y", np.round(np.asarray(y.detach().numpy()) / np.asarray(
        m.lin(x.float()).detach().numpy()), 6).tolist()))
    # forward raises: the always_call hook still runs (with output None), then the error
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": -1.0}),
                                with_kwargs=True)
    with pytest.raises(ValueError):
        m(x.float())
    return log


def test_module_hook_options_match_torch() -> None:
    """prepend, with_kwargs and always_call behave as torch's (order and arguments)."""
    assert _hook_log(NN) == _hook_log(TN)


def test_module_methods_match_torch() -> None:
    """state_dict's deprecated positional form, get_buffer, set_submodule,
    modules(remove_duplicate) give torch's results."""
    out = {}
    for nn in (NN, TN):
        m = _scale_module(nn)
        with pytest.warns(FutureWarning):
            sd = m.state_dict(None, "p.")
        log: list[Any] = [list(sd)]
        log.append(tuple(m.get_buffer("offset").shape))
        for bad in ("steps_x", "lin.weight"):
            with pytest.raises(AttributeError):
                m.get_buffer(bad)
        log.append(len(list(m.modules())))
        log.append(len(list(m.modules(remove_duplicate=False))))
        m.set_submodule("lin", nn.Identity())
        m.set_submodule("extra", nn.ReLU())
        with pytest.raises(AttributeError):
            m.set_submodule("other", nn.ReLU(), strict=True)
        with pytest.raises(ValueError):
            m.set_submodule("", nn.ReLU())
        log.append(repr(m))
        log.append(list(m.state_dict(keep_vars=True)))
        out[nn] = log
    assert out[NN] == out[TN]


def test_parameter_dict_and_hardtanh_keywords() -> None:
    """The renamed ParameterDict argument and Hardtanh's deprecated keywords work as torch's."""
    pd = NN.ParameterDict(parameters={"a": NN.Parameter(numcnn.zeros(2))})
    assert list(pd.keys()) == ["a"]
    with pytest.warns(FutureWarning):
        h = NN.Hardtanh(min_value=-2.0, max_value=3.0)
    with pytest.warns(FutureWarning):
        th = TN.Hardtanh(min_value=-2.0, max_value=3.0)
    assert repr(h) == repr(th)
