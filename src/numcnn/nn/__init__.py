"""numcnn.nn: modules, parameters, containers, functional ops and initialisers."""

from numcnn.nn import functional, init, parallel, parameter, utils
from numcnn.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from numcnn.nn.module import Module
from numcnn.nn.modules import *  # noqa: F401,F403
from numcnn.nn.parallel import DataParallel, DistributedDataParallel
from numcnn.nn.parameter import Parameter, UninitializedBuffer, UninitializedParameter
