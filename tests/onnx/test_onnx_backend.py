"""ONNX's own conformance tests (onnx.backend.test) run on numcnn's ONNX backend.

Included: every node test whose graph uses only operators numcnn implements (numcnn.onnx._ops
.OPS, default domain), and all of the pytorch-converted, pytorch-operator and simple model
tests.  Each case loads the model with numcnn.onnx.load, runs it and compares every output
with the reference outputs stored by ONNX (rtol 1e-3, atol 1e-7, ONNX's own tolerances).
The CPU variants only (numcnn runs on NumPy).  Excluded, each for the reason written next to
it below: tensor types numcnn does not hold, random training-mode dropout, two Resize modes no
CNN exporter emits, opset-1 models, sequences, strings and the training domain.
"""

from __future__ import annotations

import re
import warnings

import pytest

pytest.importorskip("onnx")

import onnx  # noqa: E402
import onnx.backend.test  # noqa: E402
from onnx.backend.test.loader import load_model_tests  # noqa: E402

from numcnn.onnx import _ops  # noqa: E402
from numcnn.onnx.backend import NumcnnBackend  # noqa: E402
from numcnn.onnx.load import _CONTROL_FLOW, _walk_nodes  # noqa: E402

OURS = set(_ops.OPS) | set(_CONTROL_FLOW)       # every op_type numcnn.onnx.load runs

# tensor types numcnn holds (float32/64, int8/16/32/64, uint8, bool)
_SUPPORTED_TYPES = set(_ops.DTYPES)

# name pattern -> why it is out of scope
EXCLUDED = {
    r"^test_training_dropout": "training-mode Dropout draws a random mask: ONNX's expected "
        "values come from numpy's global RNG, numcnn draws from its own generator (eval-mode "
        "Dropout and its mask output are checked)",
    r"^test_resize_.*antialias": "Resize antialias=1 (an anti-aliasing filter for "
        "downsampling) is not implemented; torch.onnx never emits it for F.interpolate",
    r"^test_resize_tf_crop_and_resize": "Resize coordinate_transformation_mode "
        "'tf_crop_and_resize' is TensorFlow's crop-and-resize, not emitted for CNNs by torch",
    r"^test_not_[234]d": "an opset-1 model: numcnn runs default-domain opsets 6 to 28",
    r"^test_sequence_model": "sequence types (ONNX sequences), which numcnn does not hold",
    r"^test_strnorm_": "string tensors (StringNormalizer), which numcnn does not hold",
    r"^test_gradient_of_add": "the training domain's Gradient operator "
        "(ai.onnx.preview.training)",
}


_nodes = _walk_nodes     # every node, those of subgraphs included


def _tensor_types(model: onnx.ModelProto) -> set[int]:
    """Element types used by the model; 0 (UNDEFINED) for a value that is not a tensor
    (a sequence, an optional)."""
    g = model.graph
    types = {v.type.tensor_type.elem_type if v.type.HasField("tensor_type") else 0
             for v in [*g.input, *g.output]}
    types |= {t.data_type for t in g.initializer}
    for node in _nodes(g):
        for attr in node.attribute:
            if attr.HasField("t"):
                types.add(attr.t.data_type)
            if node.op_type == "Cast" and attr.name == "to":
                types.add(attr.i)
    return types


def _runs_only_our_ops(model: onnx.ModelProto) -> bool:
    return all(n.domain in ("", "ai.onnx") and n.op_type in OURS for n in _nodes(model.graph))


def _node_cases() -> tuple[list[str], dict[str, str]]:
    """Node tests using only our operators; those among them with unsupported tensor types
    are returned as exclusions with the types named."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    names, excluded = [], {}
    for case in cases:
        if not _runs_only_our_ops(case.model):
            continue
        names.append(case.name)
        bad = _tensor_types(case.model) - _SUPPORTED_TYPES
        if bad:
            kinds = ", ".join(sorted(onnx.TensorProto.DataType.Name(t) if t else
                                     "sequence/optional" for t in bad))
            excluded[f"^{re.escape(case.name)}_"] = (f"type {kinds}: numcnn holds tensors of "
                                                     "float32/64, int8/16/32/64, uint8, bool")
    return names, excluded


NODE_TESTS, TYPE_EXCLUDED = _node_cases()
MODEL_TESTS = [c.name for kind in ("pytorch-converted", "pytorch-operator", "simple")
               for c in load_model_tests(kind=kind)]

backend_test = onnx.backend.test.BackendTest(NumcnnBackend, __name__)
for _name in NODE_TESTS + MODEL_TESTS:
    backend_test.include(f"^{re.escape(_name)}_cpu$")
for _pattern in {**EXCLUDED, **TYPE_EXCLUDED}:
    backend_test.exclude(_pattern)


def _collected_cases() -> dict[str, type]:
    """The generated unittest classes, keeping only the included CPU cases (the skipped
    variants for other operators and devices would only be noise in pytest's count)."""
    classes = backend_test.test_cases
    for cls in classes.values():
        for attr in [a for a in vars(cls) if a.startswith("test_")]:
            func = getattr(cls, attr)
            why = getattr(func, "__unittest_skip_why__", "")
            if not attr.endswith("_cpu") or why == "no matched include pattern":
                delattr(cls, attr)
    return classes


globals().update(_collected_cases())


def test_every_operator_has_conformance_cases() -> None:
    """Each operator of the table is exercised by some included node test, so no op escapes
    the conformance run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = {c.name: c for c in load_model_tests(kind="node")}
    used = {n.op_type for name in NODE_TESTS for n in _nodes(cases[name].model.graph)}
    # ONNX ships no node test for GlobalLpPool: test_onnx_load.py checks it against ORT
    assert OURS - used == {"GlobalLpPool"}


def test_exclusions_have_reasons() -> None:
    """Every exclusion pattern says why, and matches some real case."""
    all_names = NODE_TESTS + MODEL_TESTS
    for pattern, why in EXCLUDED.items():
        assert len(why) > 20
        assert any(re.search(pattern, n + "_cpu") for n in all_names), pattern
