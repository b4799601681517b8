"""Padding layers mirroring torch.nn: Zero/Constant/Reflection/Replication/CircularPad{1,2,3}d.

`padding` is an int (the same on every side) or PyTorch's flat tuple, last dim first:
(left, right[, top, bottom[, front, back]]).  Every layer calls `numcnn.nn.functional.pad`.
"""

from __future__ import annotations

from typing import Any

from numcnn.nn import functional as F
from numcnn.nn.module import Module
from numcnn.tensor import Tensor

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
    "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d",
]


def _expand(padding: Any, n: int) -> tuple[Any, ...]:
    """int -> (p,) * 2n; a sequence is kept as given (F.pad checks it)."""
    if isinstance(padding, (tuple, list)):
        return tuple(padding)
    return (padding,) * (2 * n)


class _PadNd(Module):
    _nd = 0
    _mode = "constant"

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _expand(padding, self._nd)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with a constant: (left, right).

    Shape:
        (N, C, W) or (C, W) -> (N, C, W + left + right)
    """

    _nd = 1

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with a constant: (left, right, top, bottom).

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H + top + bottom, W + left + right)
    """

    _nd = 2

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with a constant: (left, right, top, bottom, front, back).

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D + front + back, H + top + bottom,
        W + left + right)
    """

    _nd = 3

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros: (left, right).

    Shape:
        (N, C, W) or (C, W) -> (N, C, W + left + right)
    """

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last 2 dims with zeros: (left, right, top, bottom).

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H + top + bottom, W + left + right)
    """

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last 3 dims with zeros: (left, right, top, bottom, front, back).

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D + front + back, H + top + bottom,
        W + left + right)
    """

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its mirror image, edge not repeated: [1 2 3] -(2, 2)-> [3 2 1 2 3 2 1].

    Shape:
        (N, C, W) or (C, W) -> (N, C, W + left + right), every pad < W
    """

    _nd = 1
    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last 2 dims with their mirror image (edge not repeated).

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H + top + bottom, W + left + right), pads < sizes
    """

    _nd = 2
    _mode = "reflect"


class ReflectionPad3d(_PadNd):
    """Pad the last 3 dims with their mirror image (edge not repeated).

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D + front + back, H + top + bottom,
        W + left + right), pads < sizes
    """

    _nd = 3
    _mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating its edge values: [1 2 3] -(2, 2)-> [1 1 1 2 3 3 3].

    Shape:
        (N, C, W) or (C, W) -> (N, C, W + left + right)
    """

    _nd = 1
    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last 2 dims by repeating their edge values.

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H + top + bottom, W + left + right)
    """

    _nd = 2
    _mode = "replicate"


class ReplicationPad3d(_PadNd):
    """Pad the last 3 dims by repeating their edge values.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D + front + back, H + top + bottom,
        W + left + right)
    """

    _nd = 3
    _mode = "replicate"


class CircularPad1d(_PadNd):
    """Pad the last dim by wrapping around: [1 2 3] -(2, 2)-> [2 3 1 2 3 1 2].

    Shape:
        (N, C, W) or (C, W) -> (N, C, W + left + right), every pad <= W
    """

    _nd = 1
    _mode = "circular"


class CircularPad2d(_PadNd):
    """Pad the last 2 dims by wrapping around (a torus).

    Shape:
        (N, C, H, W) or (C, H, W) -> (N, C, H + top + bottom, W + left + right), pads <= sizes
    """

    _nd = 2
    _mode = "circular"


class CircularPad3d(_PadNd):
    """Pad the last 3 dims by wrapping around.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D + front + back, H + top + bottom,
        W + left + right), pads <= sizes
    """

    _nd = 3
    _mode = "circular"
