"""Saving and loading: checkpoints in the safetensors format (`save`, `load`, `load_into`)."""

from numcnn.io.checkpoint import load, load_into, save

__all__ = ["load", "load_into", "save"]
