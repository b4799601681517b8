"""The README's Python examples run as written, and its test command is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _blocks(lang: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_python_examples_run() -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for code in blocks:  # later blocks use names from earlier ones, as a reader would
        exec(compile(code, "README.md", "exec"), namespace)
    loss = namespace["loss"]
    assert 0.0 < loss.item() < 10.0  # a finite cross-entropy over 10 classes


def test_readme_network_examples_compile() -> None:
    """The ```py blocks need the network (pretrained weights): they are compiled, not run."""
    for code in _blocks("py"):
        compile(code, "README.md", "exec")


def _quick_start() -> list[str]:
    lines = [ln.strip() for ln in _blocks("bash")[0].splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def test_readme_quick_start_is_two_commands() -> None:
    assert len(_quick_start()) == 2


def test_readme_first_command_installs_and_trains_the_default_job() -> None:
    from numcnn.train.cli import build_parser

    first = _quick_start()[0]
    steps = [step.strip() for step in first.split("&&")]
    assert "pip install -e ." in steps
    train = steps[-1].split()
    assert train[:2] == ["numcnn", "train"]
    args = build_parser().parse_args(train[1:])   # options that exist, no others
    assert args.command == "train" and args.download
    # nothing but --download: the default job is what the README describes
    assert train[2:] == ["--download"]


def test_readme_test_command_is_what_ci_runs() -> None:
    second = _quick_start()[1]
    assert "pip install -e '.[test]'" in second
    command = second.split("&&")[-1].strip()
    assert command.startswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines()


def test_readme_model_zoo_table_lists_every_model() -> None:
    import numcnn.models

    text = (ROOT / "README.md").read_text()
    zoo = text.split("## Model zoo", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (\d+)x(\d+)x(\d+) \| ([\d,]+) \|", zoo, flags=re.M)
    assert sorted(name for name, *_ in rows) == numcnn.models.list_models()
    counts = {name: int(n.replace(",", "")) for name, _, _, _, n in rows}
    # spot checks against the torchvision table and the lectures
    assert counts["resnet50"] == 25_557_032 and counts["vgg16"] == 138_357_544
    assert counts["fmnist_cnn"] == 1_677_674 and counts["dogs_vs_cats_cnn"] == 23_214_017
