"""Autograd: the `Function` base class, the backward engine, grad mode, anomaly detection and
`gradcheck`."""

from numcnn.autograd.anomaly_mode import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from numcnn.autograd.api import Variable, backward, grad
from numcnn.autograd.engine import queue_callback
from numcnn.autograd.function import Context, Function, Node
from numcnn.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from numcnn.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Context", "Function", "Node", "GradcheckError", "enable_grad", "gradcheck",
           "gradgradcheck", "is_grad_enabled", "no_grad", "set_grad_enabled",
           "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "backward", "grad",
           "Variable", "inference_mode", "is_inference_mode_enabled", "queue_callback"]
