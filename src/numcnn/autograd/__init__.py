"""Autograd: the `Function` base class, the backward engine, grad mode and `gradcheck`."""

from numcnn.autograd.function import Context, Function, Node
from numcnn.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from numcnn.autograd.gradcheck import GradcheckError, gradcheck

__all__ = ["Context", "Function", "Node", "GradcheckError", "enable_grad", "gradcheck",
           "is_grad_enabled", "no_grad", "set_grad_enabled"]
