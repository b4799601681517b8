"""`numcnn.backends`: the switches PyTorch scripts set (`backends.cudnn.benchmark = True`),
accepted and kept, though no numcnn computation reads them (there is no cuDNN or MPS)."""

from numcnn.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
