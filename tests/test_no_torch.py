"""numcnn must run without PyTorch: PyTorch is a test oracle, never a runtime dependency."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"

SCRIPT = textwrap.dedent("""
    import sys

    class BlockTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockTorch())
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        del sys.modules[name]

    import numcnn
    import numcnn.nn as nn
    import numcnn.nn.functional
    from numcnn.nn import init

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = nn.Parameter(numcnn.empty(8, 4))
            self.w2 = nn.Parameter(numcnn.empty(3, 8))
            init.kaiming_uniform_(self.w1)
            init.xavier_normal_(self.w2)
            self.body = nn.Sequential()

        def forward(self, x):
            h = (x @ self.w1.T).clamp(min=0)
            return self.body(h) @ self.w2.T

    numcnn.manual_seed(0)
    net = Net()
    loss = (net(numcnn.randn(5, 4)) ** 2).mean()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    loaded = [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
    assert not loaded, loaded
    print("OK", float(loss))
""")


def test_numcnn_runs_with_torch_blocked() -> None:
    env_path = str(SRC)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK")


def test_source_never_imports_torch() -> None:
    pattern = re.compile(r"^\s*(import torch|from torch[\s.])", re.MULTILINE)
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
