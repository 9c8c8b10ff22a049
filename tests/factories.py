"""Test models built in code. Every factory sets ``ir_version`` and opsets explicitly:
onnx ≥ 1.23's defaults (IR 14, opset 28) are newer than many runtimes accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR = 10
OPSET = 21


def model(
    nodes, inputs, outputs, initializers=(), *, ir=IR, opsets=None, functions=(), name="g", **kw
) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    m = helper.make_model(
        graph,
        opset_imports=opsets or [helper.make_opsetid("", OPSET)],
        functions=list(functions),
        **kw,
    )
    m.ir_version = ir
    return m


def vi(name, elem=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def linear(n_in=4, n_out=3, *, seed=0) -> onnx.ModelProto:
    """y = x @ W + b with a symbolic batch dim."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((n_in, n_out)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(n_out).astype(np.float32), "b")
    return model(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
            helper.make_node("Add", ["xw", "b"], ["y"], name="add"),
        ],
        [vi("x", shape=["batch", n_in])],
        [vi("y", shape=["batch", n_out])],
        [w, b],
        producer_name="tests",
        doc_string="a linear layer",
    )


def with_external(
    m: onnx.ModelProto,
    folder: Path,
    tensor: str,
    location: str = "w.bin",
    *,
    offset: int = 0,
    length: int | None = -1,
    pad: int = 0,
    extra: dict[str, str] | None = None,
    write: bool = True,
) -> Path:
    """Move ``tensor`` of ``m`` into ``folder/location`` by hand and save the model there.

    ``length=-1`` writes the true length; ``None`` omits the key; ``pad`` appends bytes;
    ``write=False`` writes no data file."""
    folder.mkdir(parents=True, exist_ok=True)
    t = next(t for t in m.graph.initializer if t.name == tensor)
    data = t.raw_data or numpy_helper.to_array(t).tobytes()
    if write and location and location.isprintable() and not set(location) & set("/\\:"):
        (folder / location).write_bytes(b"\0" * offset + data + b"\0" * pad)
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    entries = {"location": location, "offset": str(offset)}
    if length is not None:
        entries["length"] = str(len(data) if length == -1 else length)
    entries.update(extra or {})
    for k, v in entries.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    path = folder / "model.onnx"
    path.write_bytes(m.SerializeToString())
    return path


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""
    out, n = bytearray([number << 3 | 2]), len(payload)
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + payload


def nested_if(depth: int) -> bytes:
    """A model of ``depth`` nested If nodes (each then-branch holds the next If), as bytes.

    Built at the wire level: onnx.helper copies attributes through protobuf, which refuses
    to copy anything nested deeper than protobuf's own limit."""
    leaf = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"], name="leaf")], "leaf", [], [vi("y", shape=[1])]
    ).SerializeToString()
    graph = leaf
    for i in range(depth):
        attr = helper.make_attribute(
            "else_branch",
            helper.make_graph(
                [helper.make_node("Identity", ["x"], ["y"], name="e")],
                "e",
                [],
                [vi("y", shape=[1])],
            ),
        )
        then = onnx.AttributeProto(name="then_branch", type=onnx.AttributeProto.GRAPH)
        node = onnx.NodeProto(op_type="If", name=f"if{i}", input=["c"], output=["y"])
        node_bytes = (
            node.SerializeToString()
            + _field(5, attr.SerializeToString())
            + _field(5, then.SerializeToString() + _field(6, graph))
        )
        shell = onnx.GraphProto(name=f"level{i}", output=[vi("y", shape=[1])])
        if i == depth - 1:
            shell.input.extend([vi("c", TensorProto.BOOL, []), vi("x", shape=[1])])
        graph = shell.SerializeToString() + _field(1, node_bytes)
    head = onnx.ModelProto(ir_version=IR, opset_import=[helper.make_opsetid("", OPSET)])
    return head.SerializeToString() + _field(7, graph)


def onnx_segfault() -> bytes:
    """68 bytes that segfault onnx 1.23's shape inference: a RegexFullMatch whose input is
    defined nowhere (issue 16)."""
    m = model(
        [helper.make_node("RegexFullMatch", ["nope"], ["y"], pattern="a")],
        [],
        [vi("y", TensorProto.BOOL)],
        opsets=[helper.make_opsetid("", 20)],
    )
    return m.SerializeToString()


def declared_memory_bomb(elements: int = 2**29) -> bytes:
    """63 bytes whose initializer declares 2^29 floats and holds none: data propagation in
    shape inference allocates from the declared size (9.9 GB in the server, issue 16)."""
    w = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[elements])
    m = model(
        [helper.make_node("Erf", ["w"], ["e"]), helper.make_node("Add", ["e"], ["y"])],
        [],
        [vi("y")],
        [w],
    )
    return m.SerializeToString()
