"""docs/compat.md's generated table is what scripts/compat_table.py writes from torch and numcnn.

When this fails after adding (or renaming) an API, run `python scripts/compat_table.py` and
commit docs/compat.md with the change.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("compat_table", ROOT / "scripts" / "compat_table.py")
assert _spec is not None and _spec.loader is not None
compat_table = importlib.util.module_from_spec(_spec)
sys.modules["compat_table"] = compat_table
_spec.loader.exec_module(compat_table)


@pytest.fixture(scope="module")
def block() -> str:
    return compat_table.generate()


def test_docs_compat_md_is_up_to_date(block):
    text = (ROOT / "docs" / "compat.md").read_text()
    assert compat_table.splice(text, block) == text, (
        "docs/compat.md is out of date: run python scripts/compat_table.py")


def test_hand_written_sections_are_kept():
    doc = "# Title\n\n## Deliberate differences\n\n- one\n"
    first = compat_table.splice(doc, f"{compat_table.BEGIN}\nold\n{compat_table.END}\n")
    assert first.startswith("# Title\n\n" + compat_table.BEGIN)
    assert first.endswith("## Deliberate differences\n\n- one\n")
    again = compat_table.splice(first, f"{compat_table.BEGIN}\nnew\n{compat_table.END}\n")
    assert "old" not in again and "\nnew\n" in again
    assert again.endswith("## Deliberate differences\n\n- one\n")
    assert again.count(compat_table.BEGIN) == 1


def _section(block: str, namespace: str) -> dict[str, list[str]]:
    """{name: [kind, numcnn, parameters]} of one namespace's table."""
    lines = block.split(f"### `{namespace}` ->", 1)[1].split("\n### ", 1)[0].splitlines()
    rows = {}
    for line in lines:
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_rules_keep_what_cnn_code_uses(block):
    torch_rows = _section(block, "torch")
    for name in ("cat", "zeros", "no_grad", "manual_seed", "float32", "argmax", "sigmoid"):
        assert name in torch_rows, name
    # counted under torch.nn.functional, not twice
    assert "conv2d" not in torch_rows and "conv2d" in _section(block, "torch.nn.functional")
    tensor_rows = _section(block, "torch.Tensor")
    for name in ("backward", "view", "__iadd__", "__getitem__", "grad", "requires_grad_"):
        assert name in tensor_rows, name
    nn_rows = _section(block, "torch.nn")
    assert {"Conv2d", "BatchNorm2d", "Sequential", "Module"} <= set(nn_rows)
    assert "Optional" not in _section(block, "torch.nn.functional")     # an import, not an API


def test_rules_drop_families_private_and_deprecated(block):
    torch_rows = _section(block, "torch")
    for name in ("sparse_coo_tensor", "quantize_per_tensor", "view_as_complex", "cudnn_convolution",
                 "FloatTensor", "svd", "lgamma", "stft", "lstm", "float8_e4m3fn", "abs_",
                 "range", "norm", "diagonal_copy", "batch_norm_elemt"):
        assert name not in torch_rows, name
    assert not any(n.startswith("_") for n in torch_rows)
    init_rows = _section(block, "torch.nn.init")
    assert "normal_" in init_rows and "normal" not in init_rows       # deprecated spelling
    nn_rows = _section(block, "torch.nn")
    assert "LSTM" not in nn_rows and "Transformer" not in nn_rows
    tensor_rows = _section(block, "torch.Tensor")
    assert "__class__" not in tensor_rows and "is_sparse" not in tensor_rows
    assert compat_table.excluded_family("to_sparse") == "sparse tensors"
    assert compat_table.excluded_family("conv2d") is None


def test_counts_at_the_top_add_up(block):
    head = block.split("\n### ", 1)[0]
    total = 0
    for namespace, _ in compat_table.NAMESPACES:
        row = next(line for line in head.splitlines() if line.startswith(f"| `{namespace}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        listed, present = int(cells[2]), int(cells[3])
        section = _section(block, namespace)
        assert listed == len(section)
        assert present == sum(v[1] == "yes" for v in section.values())
        total += listed
    assert f"| all | | {total} |" in head


def test_signature_check_reads_both_sides():
    import torch

    import numcnn

    # torch's conv2d is a built-in: its names come from the docstring, checked by the schema
    assert compat_table.compare(torch.nn.functional.conv2d, numcnn.nn.functional.conv2d,
                                "conv2d", False) == "same"

    def conv2d(input, weight, bias=None, stride=1):   # a numcnn lacking padding/dilation/groups
        return input

    assert compat_table.compare(torch.nn.functional.conv2d, conv2d, "conv2d", False) == (
        "differs: lacks `dilation`, `groups`, `padding`")
    # the docstring says Tensor.div(value, ...); torch's schema (and torch itself) say `other`:
    # a name the docstring gives loosely is left out rather than reported as lacking
    names, _ = compat_table.torch_parameters(torch.Tensor.div, "div", True)
    assert names == {"rounding_mode"}
    assert compat_table.compare(torch.nn.Conv2d, numcnn.nn.Conv2d, "Conv2d", False) == "same"


def test_check_mode_reports_a_stale_file(tmp_path, block, capsys):
    stale = tmp_path / "compat.md"
    stale.write_text("# numcnn and PyTorch's API\n\n## Deliberate differences\n")
    assert compat_table.main(["--check", "--path", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert compat_table.main(["--path", str(stale)]) == 0
    assert compat_table.main(["--check", "--path", str(stale)]) == 0
    text = stale.read_text()
    assert block in text and text.endswith("## Deliberate differences\n")
