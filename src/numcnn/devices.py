"""`numcnn.device`, where a tensor lives, as `torch.device`; numcnn has only the CPU.

Any device PyTorch knows can be *named* (`device("cuda")`, `device("mps")`), so that the usual
line `device = torch.device("cuda" if torch.cuda.is_available() else "cpu")` runs unchanged;
putting a tensor or a module on anything but the CPU raises RuntimeError.  `check_device` is
the one place that decides, for `Tensor.to`, the factory functions' `device=` and modules.
"""

from __future__ import annotations

import builtins
from typing import Any, Union

# the device types PyTorch accepts in a device string (names only: numcnn runs none but "cpu")
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")

NO_DEVICE = ("numcnn runs on the CPU only: device '{}' is not available (use 'cpu'; "
             "numcnn.cuda.is_available() is False)")


class device:  # noqa: N801  (PyTorch's name)
    """A device: a type ("cpu", "cuda", ...) and an optional index.

    Constructed as `device("cpu")`, `device("cuda:1")`, `device("cuda", 1)`,
    `device(type="cpu", index=0)` or `device(other_device)` (also a `torch.device`).  Two
    devices are equal when type and index are (so `device("cpu") != device("cpu:0")`), and, as
    in PyTorch, a device never equals a string: compare `x.device.type == "cpu"` or
    `str(x.device) == "cpu"`.

    Attributes:
        type: the device type, e.g. "cpu".
        index: the device index, or None.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: Any, index: builtins.int | None = None) -> None:  # noqa: A002
        if isinstance(type, device) or isinstance(getattr(type, "type", None), str):
            # a numcnn device, or one of another library's (e.g. a torch.device)
            if index is not None:
                raise TypeError("device(): an index cannot be given with a device object")
            type, index = type.type, getattr(type, "index", None)
        if isinstance(type, builtins.int) and not isinstance(type, builtins.bool):
            # PyTorch: a bare index means the current accelerator, and numcnn has none
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if not isinstance(type, str):
            raise TypeError(f"device() expects a device string such as 'cpu' or 'cuda:0', or "
                            f"(str type, int index), got {builtins.type(type).__name__}")
        kind, sep, tail = type.partition(":")
        if kind not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {type}")
        if sep:
            if not tail.isdigit() or (len(tail) > 1 and tail[0] == "0"):
                raise RuntimeError(f"Invalid device string: '{type}'")
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = builtins.int(tail)
        if index is not None:
            if not isinstance(index, builtins.int) or isinstance(index, builtins.bool):
                raise TypeError(f"device(): index must be an int, got "
                                f"{builtins.type(index).__name__}")
            if index < 0:
                raise RuntimeError("Device index must not be negative")
        self._type, self._index = kind, index

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> builtins.int | None:
        return self._index

    def __eq__(self, other: object) -> builtins.bool:
        if not isinstance(other, device):
            return False                  # as PyTorch: device("cpu") != "cpu"
        return (self._type, self._index) == (other._type, other._index)

    def __ne__(self, other: object) -> builtins.bool:
        return not self == other

    def __hash__(self) -> builtins.int:
        return hash((self._type, self._index))

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (self._type, self._index))

    def __enter__(self) -> device:
        """`with numcnn.device("cpu"):` is accepted (every tensor is made on the CPU anyway)."""
        check_device(self)
        return self

    def __exit__(self, *exc: object) -> None:
        return None


DeviceLike = Union[device, str, builtins.int, None]

CPU = device("cpu")


def is_device(dev: Any) -> bool:
    """Whether `dev` names a device as an argument of `to`: a string, a `device` (or an object
    with a string `.type`, such as a `torch.device`) or an index."""
    if isinstance(dev, builtins.bool):
        return False
    return (isinstance(dev, (str, builtins.int, device))
            or isinstance(getattr(dev, "type", None), str))


def check_device(dev: Any) -> device:
    """The `device` named by `dev` (None, a string, a `device`, an index), which must be the
    CPU: `"cpu"`, `"cpu:0"` and `device("cpu")` pass; "cuda", "mps", an accelerator index, ...
    raise RuntimeError saying that numcnn runs on the CPU only.  None gives the CPU.

    Raises:
        RuntimeError: for a device other than the CPU, or a malformed device string.
        TypeError: for something that does not name a device.
    """
    if dev is None:
        return CPU
    if isinstance(dev, builtins.int) and not isinstance(dev, builtins.bool):
        raise RuntimeError(NO_DEVICE.format(f"index {dev}"))
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        raise RuntimeError(NO_DEVICE.format(d))
    return CPU
