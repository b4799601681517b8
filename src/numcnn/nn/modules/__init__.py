"""Layers mirroring torch.nn, one file per family."""

from numcnn.nn.modules.activation import *  # noqa: F401,F403
from numcnn.nn.modules.conv import *  # noqa: F401,F403
from numcnn.nn.modules.distance import *  # noqa: F401,F403
from numcnn.nn.modules.dropout import *  # noqa: F401,F403
from numcnn.nn.modules.lazy import *  # noqa: F401,F403
from numcnn.nn.modules.linear import *  # noqa: F401,F403
from numcnn.nn.modules.loss import *  # noqa: F401,F403
from numcnn.nn.modules.misc import *  # noqa: F401,F403
from numcnn.nn.modules.norm import *  # noqa: F401,F403
from numcnn.nn.modules.padding import *  # noqa: F401,F403
from numcnn.nn.modules.pool import *  # noqa: F401,F403
from numcnn.nn.modules.syncbn import *  # noqa: F401,F403
