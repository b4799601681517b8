"""`numcnn.backends.mps`: Apple's Metal backend, which numcnn does not have."""

from __future__ import annotations


def is_available() -> bool:
    """False: numcnn runs on the CPU only."""
    return False


def is_built() -> bool:
    """False: numcnn has no MPS backend."""
    return False
