"""numcnn.nn.functional: the public, validated ops with torch.nn.functional's names.

Each family lives in its own file; this package re-exports them all, so
`import numcnn.nn.functional as F` gives `F.conv2d`, `F.max_pool2d`, `F.cross_entropy` ...
No family file is named after a function it exports (dropout lives in `stochastic.py`, linear in
`dense.py`), so `F.dropout` and `F.linear` are always the functions.
"""

from numcnn.nn.functional.activation import *  # noqa: F401,F403
from numcnn.nn.functional.conv import *  # noqa: F401,F403
from numcnn.nn.functional.dense import *  # noqa: F401,F403
from numcnn.nn.functional.distance import *  # noqa: F401,F403
from numcnn.nn.functional.loss import *  # noqa: F401,F403
from numcnn.nn.functional.misc import *  # noqa: F401,F403
from numcnn.nn.functional.norm import *  # noqa: F401,F403
from numcnn.nn.functional.padding import *  # noqa: F401,F403
from numcnn.nn.functional.pool import *  # noqa: F401,F403
from numcnn.nn.functional.stochastic import *  # noqa: F401,F403
from numcnn.nn.functional.vision import *  # noqa: F401,F403
