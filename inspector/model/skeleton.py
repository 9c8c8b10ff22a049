"""A copy of a model without large tensor payloads, for shape inference and the checker.

onnx's shape inference and checker serialize the whole model to C++; with hundreds of MB of
weights that doubles memory and time, and with external data the checker resolves file names
against the current working directory (it stats the file — never give it a model with
``external_data`` entries). The skeleton keeps every tensor's name, type and dims, keeps
small payloads (shape tensors feed data propagation), and drops the rest.
"""

from __future__ import annotations

from inspector.model.proto import ModelProto, TensorProto
from inspector.model.walk import iter_tensors


def make_skeleton(model: ModelProto, max_inline_bytes: int) -> ModelProto:
    """Copy of ``model`` where every tensor over ``max_inline_bytes`` (and every external one)
    has no values. Shapes, types and names are unchanged. The input is not modified."""
    skeleton = ModelProto()
    # Copy everything but the main graph's initializers (which hold nearly all weights), then
    # add those back without large payloads.
    for field, value in model.ListFields():
        if field.name == "graph":
            continue
        if field.is_repeated:
            getattr(skeleton, field.name).extend(value)
        elif field.message_type:
            getattr(skeleton, field.name).CopyFrom(value)
        else:
            setattr(skeleton, field.name, value)
    graph = skeleton.graph
    for field, value in model.graph.ListFields():
        if field.name == "initializer":
            continue
        if field.is_repeated:
            getattr(graph, field.name).extend(value)
        else:
            setattr(graph, field.name, value)
    for t in model.graph.initializer:
        target = graph.initializer.add()
        if t.data_location == TensorProto.EXTERNAL or t.ByteSize() > max_inline_bytes:
            _copy_meta(t, target)
        else:
            target.CopyFrom(t)
    # Nested graphs, Constant nodes and functions were copied whole: strip what is large there.
    for t in iter_tensors(skeleton):
        if t.data_location == TensorProto.EXTERNAL or t.ByteSize() > max_inline_bytes:
            meta = TensorProto()
            _copy_meta(t, meta)
            t.CopyFrom(meta)
    return skeleton


#: The doc string of every tensor the skeleton left without values (readable in Netron, and how
#: the checker's copy tells a stripped tensor from one that really has no data).
STRIPPED = "(values left out by ONNX Inspector)"


def _copy_meta(src: TensorProto, dst: TensorProto) -> None:
    dst.name = src.name
    dst.data_type = src.data_type
    dst.dims.extend(src.dims)
    dst.doc_string = STRIPPED
