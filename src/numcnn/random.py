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


def generator() -> np.random.Generator:
    """The global generator every random op draws from."""
    return _state["gen"]


def get_rng_state() -> dict[str, Any]:
    """A JSON-serialisable snapshot of the global generator's state."""
    return _state["gen"].bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by `get_rng_state`."""
    _state["gen"].bit_generator.state = state
