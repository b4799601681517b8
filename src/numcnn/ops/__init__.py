"""Kernels: one module per family, each a set of `Function`s on raw ndarrays."""
