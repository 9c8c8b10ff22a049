"""onnx's protobuf message classes (``ModelProto`` …) without importing the ``onnx`` package.

``import onnx`` costs 0.6–1 s of a CLI command that otherwise takes a few tenths: its helpers
import numpy and ml_dtypes (ml_dtypes alone ~0.5 s). Describing a model needs only the message
classes, but ``import onnx.onnx_ml_pb2`` runs ``onnx/__init__`` first, as any submodule import
runs its package. So this module executes onnx's own generated ``onnx_ml_pb2.py`` (the installed
file, found without importing the package) under a private name.

The classes are onnx's, not copies: the file adds onnx's serialized descriptor to protobuf's
default pool under onnx's file name, and protobuf's upb backend keeps one class per descriptor,
so when onnx is imported later its ``onnx.ModelProto`` *is* this ``ModelProto`` (a test checks
it). Where that does not hold — another protobuf backend — or where onnx is already imported,
onnx's module is used as usual.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING


def _onnx_ml_pb2() -> ModuleType:
    from google.protobuf.internal import api_implementation

    if "onnx" in sys.modules or api_implementation.Type() != "upb":
        import onnx.onnx_ml_pb2

        return onnx.onnx_ml_pb2
    spec = importlib.util.find_spec("onnx")  # locates the package; executes nothing
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("onnx is not installed", name="onnx")
    path = Path(next(iter(spec.submodule_search_locations))) / "onnx_ml_pb2.py"
    file_spec = importlib.util.spec_from_file_location("inspector.model._onnx_ml_pb2", path)
    if file_spec is None or file_spec.loader is None:  # pragma: no cover - a broken install
        raise ModuleNotFoundError(f"cannot load {path}", name="onnx.onnx_ml_pb2")
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:  # the same classes, typed as onnx's stubs type them
    from onnx import (
        AttributeProto,
        FunctionProto,
        GraphProto,
        ModelProto,
        NodeProto,
        TensorProto,
        TensorShapeProto,
        TypeProto,
        ValueInfoProto,
    )
else:
    _pb2 = _onnx_ml_pb2()
    AttributeProto = _pb2.AttributeProto
    FunctionProto = _pb2.FunctionProto
    GraphProto = _pb2.GraphProto
    ModelProto = _pb2.ModelProto
    NodeProto = _pb2.NodeProto
    TensorProto = _pb2.TensorProto
    TensorShapeProto = _pb2.TensorShapeProto
    TypeProto = _pb2.TypeProto
    ValueInfoProto = _pb2.ValueInfoProto

__all__ = [
    "AttributeProto",
    "FunctionProto",
    "GraphProto",
    "ModelProto",
    "NodeProto",
    "TensorProto",
    "TensorShapeProto",
    "TypeProto",
    "ValueInfoProto",
]
