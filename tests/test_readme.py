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


def test_readme_test_command_is_what_ci_runs() -> None:
    quick = _blocks("bash")[0]
    command = quick.strip().split("&&")[-1].strip()
    assert command.startswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines()
