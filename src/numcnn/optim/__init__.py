"""numcnn.optim: optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam,
Rprop, ASGD, LBFGS) and learning-rate schedulers."""

from numcnn.optim import lr_scheduler
from numcnn.optim.adadelta import Adadelta
from numcnn.optim.adagrad import Adagrad
from numcnn.optim.adam import Adam, AdamW
from numcnn.optim.adamax import Adamax
from numcnn.optim.asgd import ASGD
from numcnn.optim.lbfgs import LBFGS
from numcnn.optim.nadam import NAdam
from numcnn.optim.optimizer import Optimizer
from numcnn.optim.radam import RAdam
from numcnn.optim.rmsprop import RMSprop
from numcnn.optim.rprop import Rprop
from numcnn.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "NAdam", "RAdam", "Rprop", "ASGD", "LBFGS", "lr_scheduler"]
