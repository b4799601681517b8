"""The one source of randomness: a NumPy `Generator` that `manual_seed` resets.

Every random op in numcnn (randn, dropout, init, shuffling) draws from `generator()`, so equal
seeds give equal runs, bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# PyTorch's default seed, so an unseeded program is still reproducible from run to run.
DEFAULT_SEED = 67280421310721

_state: dict[str, Any] = {
    "seed": DEFAULT_SEED,
    "gen": np.random.Generator(np.random.PCG64(DEFAULT_SEED)),
}


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the global generator to `seed` and return it."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expected an int seed, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"manual_seed expected a non-negative seed, got {seed}")
    _state["seed"] = seed
    _state["gen"] = np.random.Generator(np.random.PCG64(seed))
    return _state["gen"]


def seed() -> int:
    """Seed the generator from the OS's entropy and return the seed used."""
    entropy = np.random.SeedSequence().entropy
    s = int(entropy) % (2**63)  # type: ignore[arg-type]
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed the generator was last reset with."""
    return int(_state["seed"])


def generator(gen: Any = None, name: str = "generator") -> np.random.Generator:
    """The NumPy generator a random op draws from: the global one, or, given a
    `numcnn.Generator` (an op's `generator=` argument), that one's.

    Raises:
        TypeError: for a `gen` that is not a numcnn.Generator (as torch's message).
    """
    if gen is None:
        return _state["gen"]
    if not isinstance(gen, Generator):
        raise TypeError(f"{name}(): argument 'generator' must be numcnn.Generator, not "
                        f"{type(gen).__name__}")
    return gen.numpy_generator


class Generator:
    """A random generator of its own, as `torch.Generator`: ops given `generator=g` draw
    from g and leave the global generator (numcnn.manual_seed) untouched.  It wraps a NumPy
    `Generator` (PCG64), `numpy_generator`.

    Args:
        device: "cpu" (numcnn runs on the CPU only).
    """

    def __init__(self, device: Any = "cpu") -> None:
        from numcnn.devices import check_device
        check_device(device)
        self.device = device
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Reset to `seed`; returns self (as torch)."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"manual_seed expected an int seed, got {type(seed).__name__}")
        if seed < 0:
            raise ValueError(f"manual_seed expected a non-negative seed, got {seed}")
        self._seed = int(seed)
        self.numpy_generator = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from the OS's entropy; returns the seed."""
        s = int(np.random.SeedSequence().entropy) % (2**63)  # type: ignore[arg-type]
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed it was last reset with."""
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of its state (not torch's byte tensor)."""
        return dict(self.numpy_generator.bit_generator.state)

    def set_state(self, new_state: dict[str, Any]) -> Generator:
        """Restore a snapshot taken by `get_state`; returns self."""
        self.numpy_generator.bit_generator.state = new_state
        return self


def get_rng_state() -> dict[str, Any]:
    """A JSON-serialisable snapshot of the global generator's state."""
    return _state["gen"].bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by `get_rng_state`."""
    _state["gen"].bit_generator.state = state
