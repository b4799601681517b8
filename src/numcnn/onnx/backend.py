"""numcnn as an ONNX backend (`onnx.backend.base.Backend`), so ONNX's own conformance tests
(`onnx.backend.test.BackendTest(numcnn.onnx.backend.NumcnnBackend, __name__)`) run on numcnn.

This module cannot exist without the onnx package, so it imports it at the top.

    rep = NumcnnBackend.prepare(model)          # an onnx.ModelProto (or path / bytes)
    outputs = rep.run([x])                      # numpy arrays, in graph-output order
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

import numcnn
from numcnn.onnx.load import OnnxModule, load

__all__ = ["NumcnnBackend", "NumcnnRep", "prepare", "run_model", "run_node", "supports_device"]


class NumcnnRep(BackendRep):
    """A prepared model: run(inputs) gives its outputs as numpy arrays."""

    def __init__(self, module: OnnxModule) -> None:
        self.module = module

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Run the graph on `inputs` (one array, a list in graph-input order, or a dict by
        input name) and return every graph output as an ndarray, in order."""
        if isinstance(inputs, dict):
            inputs = [inputs[name] for name in self.module.input_names]
        elif isinstance(inputs, np.ndarray):
            inputs = [inputs]
        with numcnn.no_grad():
            out = self.module(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        names = self.module.output_names
        return namedtuple("Outputs", names, rename=True)(*[np.asarray(o.array) for o in outs])


class NumcnnBackend(Backend):
    """numcnn's ONNX backend: the CPU only."""

    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> NumcnnRep:
        """Load `model` (an onnx.ModelProto, a path or bytes) into an OnnxModule in eval mode."""
        cls._check_device(device)
        return NumcnnRep(load(model))

    @classmethod
    def run_model(cls, model: Any, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> tuple[np.ndarray, ...]:
        """prepare(model).run(inputs)."""
        return cls.prepare(model, device).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence[tuple[Any, Any]] | None = None,
                 **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Run one node on `inputs` (arrays in the node's input order) by wrapping it in a
        one-node graph at the newest opset."""
        cls._check_device(device)
        arrays = [np.asarray(v) for v in inputs]
        graph_inputs = [onnx.helper.make_tensor_value_info(
            name, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for name, a in zip(node.input, arrays) if name]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(name)
                         for name in node.output if name]
        graph = onnx.helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("",
                                                                                      opset)])
        module = OnnxModule(model)
        with numcnn.no_grad():
            out = module(*[a for name, a in zip(node.input, arrays) if name])
        outs = out if isinstance(out, tuple) else (out,)
        return tuple(np.asarray(o.array) for o in outs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        """Only "CPU" (numcnn runs on NumPy)."""
        return bool(Device(device).type == DeviceType.CPU)

    @classmethod
    def _check_device(cls, device: str) -> None:
        if not cls.supports_device(device):
            raise ValueError(f"numcnn's ONNX backend: device must be 'CPU', got {device!r}")


prepare = NumcnnBackend.prepare
run_model = NumcnnBackend.run_model
run_node = NumcnnBackend.run_node
supports_device = NumcnnBackend.supports_device
