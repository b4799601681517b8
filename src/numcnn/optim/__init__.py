"""numcnn.optim: optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) and learning-rate schedulers."""

from numcnn.optim import lr_scheduler
from numcnn.optim.adagrad import Adagrad
from numcnn.optim.adam import Adam, AdamW
from numcnn.optim.optimizer import Optimizer
from numcnn.optim.rmsprop import RMSprop
from numcnn.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
