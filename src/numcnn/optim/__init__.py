"""numcnn.optim: optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam)
and learning-rate schedulers."""

from numcnn.optim import lr_scheduler
from numcnn.optim.adadelta import Adadelta
from numcnn.optim.adagrad import Adagrad
from numcnn.optim.adam import Adam, AdamW
from numcnn.optim.adamax import Adamax
from numcnn.optim.nadam import NAdam
from numcnn.optim.optimizer import Optimizer
from numcnn.optim.radam import RAdam
from numcnn.optim.rmsprop import RMSprop
from numcnn.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "NAdam", "RAdam", "lr_scheduler"]
