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


def cnn_bn_relu(blocks: int = 3, channels: int = 8, size: int = 16, *, seed: int = 0):
    """Conv → BatchNorm → Relu blocks (the second onward with a residual Add), then global
    pooling and a classifier: what a CNN exporter writes, and what NCHWc rewrites at 'all'."""
    rng = np.random.default_rng(seed)

    def init(name: str, *shape: int, positive: bool = False) -> onnx.TensorProto:
        a = rng.standard_normal(shape).astype(np.float32) * 0.3
        return numpy_helper.from_array(np.abs(a) + 0.5 if positive else a, name)

    nodes, inits, prev, c_in = [], [], "image", 3
    for b in range(blocks):
        inits += [
            init(f"conv{b}.w", channels, c_in, 3, 3),
            init(f"conv{b}.b", channels),
            init(f"bn{b}.scale", channels, positive=True),
            init(f"bn{b}.bias", channels),
            init(f"bn{b}.mean", channels),
            init(f"bn{b}.var", channels, positive=True),
        ]
        nodes += [
            helper.make_node(
                "Conv",
                [prev, f"conv{b}.w", f"conv{b}.b"],
                [f"conv{b}_out"],
                f"conv{b}",
                pads=[1, 1, 1, 1],
            ),
            helper.make_node(
                "BatchNormalization",
                [f"conv{b}_out", f"bn{b}.scale", f"bn{b}.bias", f"bn{b}.mean", f"bn{b}.var"],
                [f"bn{b}_out"],
                f"bn{b}",
            ),
            helper.make_node("Relu", [f"bn{b}_out"], [f"relu{b}_out"], f"relu{b}"),
        ]
        out = f"relu{b}_out"
        if b > 0:
            nodes.append(helper.make_node("Add", [out, prev], [f"add{b}_out"], f"add{b}"))
            out = f"add{b}_out"
        prev, c_in = out, channels
    inits += [init("fc.w", 10, channels), init("fc.b", 10)]
    nodes += [
        helper.make_node("GlobalAveragePool", [prev], ["pool_out"], "pool"),
        helper.make_node("Flatten", ["pool_out"], ["flat_out"], "flatten"),
        helper.make_node("Gemm", ["flat_out", "fc.w", "fc.b"], ["logits"], "fc", transB=1),
    ]
    return model(
        nodes,
        [vi("image", shape=[1, 3, size, size])],
        [vi("logits", shape=[1, 10])],
        inits,
        opsets=[helper.make_opsetid("", 17)],
    )


def stride32_detector(named: bool = True, imgsz: str | None = None):
    """A YOLO-style neck: five stride-2 pools (÷32), an upsample ×2 and a Concat with the ÷16
    map. Sizes that are not multiples of 32 (or 1, the old default) fail in ONNX Runtime."""
    h, w = ("height", "width") if named else (None, None)
    nodes = [helper.make_node("Relu", ["images"], ["p0"])]
    for i in range(5):
        nodes.append(
            helper.make_node(
                "MaxPool", [f"p{i}"], [f"p{i + 1}"], kernel_shape=[2, 2], strides=[2, 2]
            )
        )
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes += [
        helper.make_node("Resize", ["p5", "", "scales"], ["up"], mode="nearest"),
        helper.make_node("Concat", ["up", "p4"], ["out"], axis=1),
    ]
    m = model(
        nodes,
        [vi("images", shape=[1, 3, h, w] if named else [1, 3, None, None])],
        [vi("out")],
        [scales],
        opsets=[helper.make_opsetid("", 17)],
    )
    if imgsz:
        m.metadata_props.add(key="imgsz", value=imgsz)
        m.metadata_props.add(key="stride", value="32")
    return m


def reflect_pad_vad():
    """A voice-activity-detector front end: unnamed dims [?, ?] and a reflect Pad on the time
    axis, which needs a length ≥ 2 (the old default of 1 failed)."""
    pads = numpy_helper.from_array(np.array([0, 2, 0, 2], np.int64), "pads")
    return model(
        [
            helper.make_node("Pad", ["input", "pads"], ["padded"], mode="reflect"),
            helper.make_node("ReduceMean", ["padded"], ["energy"], keepdims=0),
        ],
        [vi("input", shape=[None, None])],
        [vi("energy")],
        [pads],
        opsets=[helper.make_opsetid("", 17)],
    )


def string_pipeline():
    """An sklearn-style categorical column: LabelEncoder over strings, then a linear score."""
    return model(
        [
            helper.make_node(
                "LabelEncoder",
                ["sex"],
                ["code"],
                domain="ai.onnx.ml",
                keys_strings=["male", "female"],
                values_int64s=[0, 1],
                default_int64=-1,
            ),
            helper.make_node("Cast", ["code"], ["codef"], to=TensorProto.FLOAT),
        ],
        [vi("sex", TensorProto.STRING, ["n"])],
        [vi("codef")],
        opsets=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
    )


def optional_sequence_input():
    """A model with an ``optional(seq(tensor(float)))`` input (as onnx's Loop test has) and a
    ``seq(tensor(float))`` input: says whether the optional holds a value, and how long the
    sequence is."""
    seq_t = helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [2]))
    opt_t = helper.make_optional_type_proto(seq_t)
    return model(
        [
            helper.make_node("OptionalHasElement", ["opt"], ["has"]),
            helper.make_node("SequenceLength", ["seq"], ["n"]),
        ],
        [helper.make_value_info("opt", opt_t), helper.make_value_info("seq", seq_t)],
        [vi("has", TensorProto.BOOL, []), vi("n", TensorProto.INT64, [])],
        opsets=[helper.make_opsetid("", 18)],
    )


def endless_loop():
    """A Loop with a 10^15 trip count: a run that only a timeout or a cancel stops."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v", "one"], ["v_out"]),
        ],
        "body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v", shape=[1])],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", shape=[1])],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")],
    )
    return model(
        [helper.make_node("Loop", ["n", "c", "x"], ["y"], body=body)],
        [vi("x", shape=[1])],
        [vi("y", shape=[1])],
        [
            numpy_helper.from_array(np.array(10**15, np.int64), "n"),
            numpy_helper.from_array(np.array(True), "c"),
        ],
    )


def scoped_transformer(layers: int, *, scoped: bool = True, d: int = 8) -> onnx.ModelProto:
    """A transformer-shaped chain named like a PyTorch export (``/model/layers.3/attn/...``):
    15 nodes per layer (attention: 3 projections, Transpose, 2 MatMuls, Softmax, output
    projection; MLP: 2 MatMul+Add, Relu; 2 residual Adds) plus a final Identity.
    Weights are shared across layers (tiny file at any size); ``scoped=False`` names nodes
    ``node_<i>`` as exporters without scopes do."""
    rng = np.random.default_rng(0)
    w = {
        k: numpy_helper.from_array(rng.standard_normal((d, d)).astype(np.float32) / d, k)
        for k in ("Wq", "Wk", "Wv", "Wo", "W1", "W2")
    }
    bias = numpy_helper.from_array(np.zeros(d, np.float32), "bias")
    nodes: list[onnx.NodeProto] = []

    def node(op, ins, scope, attrs=None):  # type: ignore[no-untyped-def]
        out = f"t{len(nodes)}"
        name = f"/model/{scope}/{op}_{len(nodes)}" if scoped else f"node_{len(nodes)}"
        nodes.append(helper.make_node(op, ins, [out], name=name, **(attrs or {})))
        return out

    x = "x"
    for i in range(layers):
        a = f"layers.{i}/attn"
        q, k, v = (node("MatMul", [x, wn], a) for wn in ("Wq", "Wk", "Wv"))
        kt = node("Transpose", [k], a, {"perm": [0, 2, 1]})
        s = node("Softmax", [node("MatMul", [q, kt], a)], a, {"axis": -1})
        o = node("MatMul", [node("MatMul", [s, v], a), "Wo"], a)
        x = node("Add", [x, o], f"layers.{i}")
        m = f"layers.{i}/mlp"
        h = node("Relu", [node("Add", [node("MatMul", [x, "W1"], m), "bias"], m)], m)
        x = node("Add", [x, node("Add", [node("MatMul", [h, "W2"], m), "bias"], m)], f"layers.{i}")
    nodes.append(
        helper.make_node(
            "Identity", [x], ["y"], name="/model/out/Identity" if scoped else f"node_{len(nodes)}"
        )
    )
    return model(
        nodes,
        [vi("x", shape=[1, 4, d])],
        [vi("y", shape=[1, 4, d])],
        [*w.values(), bias],
        name="scoped_transformer",
    )


def silu_cnn(blocks: int = 3, channels: int = 16, size: int = 16, *, seed: int = 0):
    """Conv → Sigmoid → Mul (SiLU) blocks, as YOLO exports write them: at level 'all' ORT fuses
    each Sigmoid + Mul into one QuickGelu kernel and runs the Convs as NCHWc Convs between
    Reorders (the detector whose Sigmoid/Mul got a third of the next Conv's time)."""
    rng = np.random.default_rng(seed)
    nodes, inits, prev, c_in = [], [], "image", 3
    for b in range(blocks):
        inits += [
            numpy_helper.from_array(
                (rng.standard_normal((channels, c_in, 3, 3)) * 0.2).astype(np.float32), f"w{b}"
            ),
            numpy_helper.from_array(np.zeros(channels, np.float32), f"b{b}"),
        ]
        nodes += [
            helper.make_node(
                "Conv", [prev, f"w{b}", f"b{b}"], [f"conv{b}_out"], f"conv{b}", pads=[1, 1, 1, 1]
            ),
            helper.make_node("Sigmoid", [f"conv{b}_out"], [f"sig{b}_out"], f"sigmoid{b}"),
            helper.make_node("Mul", [f"conv{b}_out", f"sig{b}_out"], [f"silu{b}_out"], f"mul{b}"),
        ]
        prev, c_in = f"silu{b}_out", channels
    nodes.append(helper.make_node("ReduceMean", [prev], ["y"], "pool", axes=[2, 3], keepdims=0))
    return model(
        nodes,
        [vi("image", shape=[1, 3, size, size])],
        [vi("y", shape=[1, channels])],
        inits,
        opsets=[helper.make_opsetid("", 17)],
    )


def matmul_add(rank: int = 3, d: int = 16, *, seed: int = 0):
    """x @ W + b on a rank-``rank`` input, then a Relu: at level 'all' ORT turns MatMul + Add
    into one Gemm (``…/MatMulAddFusion``), wrapped in Reshapes of its own for a 3-D input."""
    rng = np.random.default_rng(seed)
    shape = [2, 4, d][-rank:]
    return model(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"], "matmul"),
            helper.make_node("Add", ["xw", "b"], ["xwb"], "add"),
            helper.make_node("Relu", ["xwb"], ["y"], "relu"),
        ],
        [vi("x", shape=shape)],
        [vi("y", shape=shape)],
        [
            numpy_helper.from_array(rng.standard_normal((d, d)).astype(np.float32), "W"),
            numpy_helper.from_array(rng.standard_normal(d).astype(np.float32), "b"),
        ],
        opsets=[helper.make_opsetid("", 17)],
    )


def if_branches(body_nodes: int = 6):
    """An If whose branches run ``body_nodes`` ops each (Sin/Cos chains) on an outer tensor:
    ORT's profile has the If's event *and* each branch node's event inside it."""

    def branch(op: str, tag: str) -> onnx.GraphProto:
        nodes, prev = [], "x"
        for i in range(body_nodes):
            nodes.append(helper.make_node(op, [prev], [f"{tag}{i}"], f"{tag}_{op.lower()}{i}"))
            prev = f"{tag}{i}"
        return helper.make_graph(nodes, tag, [], [vi(prev, shape=[64, 64])])

    return model(
        [
            helper.make_node("ReduceSum", ["x"], ["s"], "sum", keepdims=0),
            helper.make_node("Greater", ["s", "zero"], ["cond"], "positive"),
            helper.make_node(
                "If",
                ["cond"],
                ["y"],
                "branch",
                then_branch=branch("Sin", "then"),
                else_branch=branch("Cos", "else"),
            ),
        ],
        [vi("x", shape=[64, 64])],
        [vi("y", shape=[64, 64])],
        [numpy_helper.from_array(np.array(0.0, np.float32), "zero")],
        opsets=[helper.make_opsetid("", 17)],
    )


def garbage_outputs() -> onnx.ModelProto:
    """Outputs that go bad on inputs the model does not expect (issue 23): ``log`` is NaN for
    x < 0, ``loud`` reaches ~1e8 (a TTS speed of -0.275 gave audio of 1e10), ``fine`` is fine."""
    big = numpy_helper.from_array(np.array(1e8, np.float32), "big")
    return model(
        [
            helper.make_node("Log", ["x"], ["log"], name="log"),
            helper.make_node("Mul", ["x", "big"], ["loud"], name="loud"),
            helper.make_node("Tanh", ["x"], ["fine"], name="fine"),
        ],
        [vi("x", shape=["batch", 8])],
        [vi("log"), vi("loud"), vi("fine")],
        [big],
    )


def external_tensor(location: str, name: str = "w") -> TensorProto:
    """A 4-float tensor whose data is 16 bytes at ``location`` (external data)."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in {"location": location, "offset": "0", "length": "16"}.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def with_function_default(value: TensorProto | onnx.GraphProto) -> onnx.ModelProto:
    """linear() plus a model-local function whose attribute ``w`` defaults to ``value``."""
    m = linear()
    fn = helper.make_function(
        "custom",
        "F",
        ["a"],
        ["b"],
        [helper.make_node("Identity", ["a"], ["b"])],
        [helper.make_opsetid("", 17)],
    )
    fn.attribute_proto.append(helper.make_attribute("w", value))
    m.functions.append(fn)
    m.opset_import.append(helper.make_opsetid("custom", 1))
    return m
