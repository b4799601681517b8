"""`numcnn.backends`: the switches PyTorch scripts set (`backends.cudnn.benchmark = True`),
accepted and kept, though no numcnn computation reads them (there is no cuDNN or MPS); and
`backends.conv`, numcnn's own switches for how it computes convolutions."""

from numcnn.backends import conv, cudnn, mps

__all__ = ["conv", "cudnn", "mps"]
