"""Build the bundled sample models into ``sample_models/``.

Run from the repository root::

    python -m sample_models.build

Everything is built in code with ``onnx.helper`` / ``onnx.numpy_helper`` and a fixed
numpy seed per model, so rebuilding gives byte-identical files. This module imports
only onnx and numpy (no onnxruntime); ``sample_models/verify.py`` runs the results
in onnxruntime.

Tests import the builders::

    from sample_models.build import SAMPLES, write_all

``SAMPLES`` maps a file name to a builder returning an ``onnx.ModelProto``. Builders
return self-contained protos (weights inline); ``write_sample`` / ``write_all`` write
the files, moving the weights of the models named in ``EXTERNAL_DATA`` into their
data file.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PRODUCER_NAME = "onnx-inspector sample_models/build.py"
# onnx 1.23's make_model stamps IR 14 / opset 28 by default, which most deployed
# runtimes refuse; stamp what ORT >= 1.18 accepts.
IR_VERSION = 10
OPSET = 21
# Offsets in the external-data file are multiples of this (the usual page size, which
# also lets a runtime mmap each tensor).
EXTERNAL_DATA_ALIGNMENT = 4096

SAMPLE_DIR = Path(__file__).resolve().parent

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
BOOL = TensorProto.BOOL


# --------------------------------------------------------------------------- helpers


class _GraphBuilder:
    """Collects nodes and initializers and hands out unique node names."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def node(
        self,
        op_type: str,
        inputs: Sequence[str],
        outputs: Sequence[str],
        name: str,
        **attrs: Any,
    ) -> str:
        if name in self._names:
            raise ValueError(f"duplicate node name {name!r}")
        self._names.add(name)
        self.nodes.append(
            helper.make_node(op_type, list(inputs), list(outputs), name=name, **attrs)
        )
        return outputs[0]

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name=name))
        return name

    def weight(self, name: str, shape: Sequence[int], scale: float = 0.1) -> str:
        return self.const(name, (self.rng.standard_normal(shape) * scale).astype(np.float32))


def _scalar(value: float) -> np.ndarray:
    return np.array(value, dtype=np.float32)


def _model(
    graph: onnx.GraphProto,
    doc: str,
    ir_version: int = IR_VERSION,
    opset: int = OPSET,
) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        producer_name=PRODUCER_NAME,
        doc_string=doc,
        ir_version=ir_version,
        opset_imports=[helper.make_opsetid("", opset)],
    )
    return model


# -------------------------------------------------------------------------- builders


def build_cnn_conv_bn_relu() -> onnx.ModelProto:
    """Small CNN: Conv/BatchNormalization/Relu twice, global pool, Gemm classifier."""
    g = _GraphBuilder(seed=1)
    c1w = g.weight("conv1.weight", [8, 3, 3, 3], scale=0.2)
    c1b = g.weight("conv1.bias", [8], scale=0.05)
    x = g.node(
        "Conv",
        ["image", c1w, c1b],
        ["conv1_out"],
        "conv1",
        kernel_shape=[3, 3],
        pads=[1, 1, 1, 1],
        strides=[1, 1],
    )

    def batchnorm(prefix: str, inp: str, channels: int) -> str:
        scale = g.const(
            f"{prefix}.scale", (1.0 + g.rng.standard_normal(channels) * 0.1).astype(np.float32)
        )
        bias = g.weight(f"{prefix}.bias", [channels], scale=0.1)
        mean = g.weight(f"{prefix}.running_mean", [channels], scale=0.1)
        var = g.const(f"{prefix}.running_var", g.rng.uniform(0.5, 1.5, channels).astype(np.float32))
        return g.node(
            "BatchNormalization",
            [inp, scale, bias, mean, var],
            [f"{prefix}_out"],
            prefix,
            epsilon=1e-5,
        )

    x = batchnorm("bn1", x, 8)
    x = g.node("Relu", [x], ["relu1_out"], "relu1")
    c2w = g.weight("conv2.weight", [16, 8, 3, 3], scale=0.1)
    c2b = g.weight("conv2.bias", [16], scale=0.05)
    x = g.node(
        "Conv",
        [x, c2w, c2b],
        ["conv2_out"],
        "conv2",
        kernel_shape=[3, 3],
        pads=[1, 1, 1, 1],
        strides=[2, 2],
    )
    x = batchnorm("bn2", x, 16)
    x = g.node("Relu", [x], ["relu2_out"], "relu2")
    x = g.node("GlobalAveragePool", [x], ["pool_out"], "global_pool")
    x = g.node("Flatten", [x], ["flatten_out"], "flatten", axis=1)
    fw = g.weight("fc.weight", [10, 16], scale=0.2)
    fb = g.weight("fc.bias", [10], scale=0.05)
    g.node("Gemm", [x, fw, fb], ["logits"], "fc", transB=1)

    graph = helper.make_graph(
        g.nodes,
        "cnn_conv_bn_relu",
        [helper.make_tensor_value_info("image", FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", FLOAT, [1, 10])],
        initializer=g.initializers,
    )
    return _model(
        graph,
        "Small CNN (Conv -> BatchNormalization -> Relu, twice; GlobalAveragePool; "
        "Gemm). Demonstrates Conv+BN(+Relu) fusion at higher optimization levels.",
    )


def build_mlp_gelu_layernorm() -> onnx.ModelProto:
    """MLP whose erf-Gelu and LayerNorm are spelled out as primitive ops."""
    g = _GraphBuilder(seed=2)
    w1 = g.weight("fc1.weight", [64, 128], scale=0.1)
    b1 = g.weight("fc1.bias", [128], scale=0.02)
    h = g.node("MatMul", ["x", w1], ["fc1_matmul_out"], "fc1/MatMul")
    h = g.node("Add", [h, b1], ["fc1_out"], "fc1/Add")

    # Gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2))), in the order ORT's GeluFusion matches.
    sqrt2 = g.const("gelu.sqrt2", _scalar(math.sqrt(2.0)))
    one = g.const("gelu.one", _scalar(1.0))
    half = g.const("gelu.half", _scalar(0.5))
    t = g.node("Div", [h, sqrt2], ["gelu_div_out"], "gelu/Div")
    t = g.node("Erf", [t], ["gelu_erf_out"], "gelu/Erf")
    t = g.node("Add", [t, one], ["gelu_add_out"], "gelu/Add")
    t = g.node("Mul", [h, t], ["gelu_mul_out"], "gelu/Mul")
    t = g.node("Mul", [t, half], ["gelu_out"], "gelu/Mul_half")

    w2 = g.weight("fc2.weight", [128, 64], scale=0.1)
    b2 = g.weight("fc2.bias", [64], scale=0.02)
    h = g.node("MatMul", [t, w2], ["fc2_matmul_out"], "fc2/MatMul")
    h = g.node("Add", [h, b2], ["fc2_out"], "fc2/Add")

    # LayerNorm over the last axis, in the shape ORT's LayerNormFusion matches.
    axes = g.const("ln.axes", np.array([-1], dtype=np.int64))
    two = g.const("ln.two", _scalar(2.0))
    eps = g.const("ln.epsilon", _scalar(1e-5))
    gamma = g.const("ln.gamma", (1.0 + g.rng.standard_normal(64) * 0.05).astype(np.float32))
    beta = g.weight("ln.beta", [64], scale=0.02)
    mean = g.node("ReduceMean", [h, axes], ["ln_mean"], "ln/ReduceMean", keepdims=1)
    d = g.node("Sub", [h, mean], ["ln_centered"], "ln/Sub")
    p = g.node("Pow", [d, two], ["ln_squared"], "ln/Pow")
    var = g.node("ReduceMean", [p, axes], ["ln_var"], "ln/ReduceMean_var", keepdims=1)
    var = g.node("Add", [var, eps], ["ln_var_eps"], "ln/Add_eps")
    std = g.node("Sqrt", [var], ["ln_std"], "ln/Sqrt")
    n = g.node("Div", [d, std], ["ln_normed"], "ln/Div")
    n = g.node("Mul", [n, gamma], ["ln_scaled"], "ln/Mul_gamma")
    g.node("Add", [n, beta], ["y"], "ln/Add_beta")

    graph = helper.make_graph(
        g.nodes,
        "mlp_gelu_layernorm",
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", FLOAT, ["batch", 64])],
        initializer=g.initializers,
    )
    return _model(
        graph,
        "MLP (MatMul+Add -> erf Gelu -> MatMul+Add -> LayerNorm) with Gelu and "
        "LayerNorm written out as primitive ops, the patterns ORT fuses into "
        "Gelu/BiasGelu and LayerNormalization. Symbolic batch dimension.",
    )


def build_control_flow_if_loop() -> onnx.ModelProto:
    """An If and a Loop whose body holds another If (subgraphs nested two deep)."""
    g = _GraphBuilder(seed=3)
    vec = helper.make_tensor_value_info  # shorthand

    # --- top-level If: condition ReduceSum(x) > 0
    zero = g.const("zero", _scalar(0.0))
    total = g.node("ReduceSum", ["x"], ["x_sum"], "if_cond/ReduceSum", keepdims=0)
    cond = g.node("Greater", [total, zero], ["x_sum_positive"], "if_cond/Greater")

    then_scale = numpy_helper.from_array(
        np.array([2.0, 1.5, 1.0, 0.5], dtype=np.float32), "then_scale"
    )
    then_branch = helper.make_graph(
        [helper.make_node("Mul", ["x", "then_scale"], ["then_out"], name="if/then/Mul")],
        "if_then_branch",
        [],
        [vec("then_out", FLOAT, [4])],
        initializer=[then_scale],
    )
    else_branch = helper.make_graph(
        [
            helper.make_node("Neg", ["x"], ["else_neg"], name="if/else/Neg"),
            helper.make_node("Exp", ["else_neg"], ["else_out"], name="if/else/Exp"),
        ],
        "if_else_branch",
        [],
        [vec("else_out", FLOAT, [4])],
    )
    g.node("If", [cond], ["if_out"], "if", then_branch=then_branch, else_branch=else_branch)

    # --- Loop: 3 iterations; carried v starts at x; each step halves v when even iteration,
    # otherwise adds 1 (the nested If); scan output records v after each step.
    trip = g.const("loop_trip_count", np.array(3, dtype=np.int64))
    keep_going = g.const("loop_cond_init", np.array(True))
    body_two = numpy_helper.from_array(np.array(2, dtype=np.int64), "body_two")
    body_zero = numpy_helper.from_array(np.array(0, dtype=np.int64), "body_zero")
    body_half = numpy_helper.from_array(_scalar(0.5), "body_half")
    body_one = numpy_helper.from_array(_scalar(1.0), "body_one")

    inner_then = helper.make_graph(
        [
            helper.make_node(
                "Mul", ["v_in", "body_half"], ["inner_then_out"], name="loop/body/if/then/Mul"
            )
        ],
        "loop_body_if_then",
        [],
        [vec("inner_then_out", FLOAT, [4])],
    )
    inner_else = helper.make_graph(
        [
            helper.make_node(
                "Add", ["v_in", "body_one"], ["inner_else_out"], name="loop/body/if/else/Add"
            )
        ],
        "loop_body_if_else",
        [],
        [vec("inner_else_out", FLOAT, [4])],
    )
    body = helper.make_graph(
        [
            helper.make_node("Mod", ["iter_num", "body_two"], ["iter_mod"], name="loop/body/Mod"),
            helper.make_node(
                "Equal", ["iter_mod", "body_zero"], ["iter_even"], name="loop/body/Equal"
            ),
            helper.make_node(
                "If",
                ["iter_even"],
                ["v_next"],
                name="loop/body/if",
                then_branch=inner_then,
                else_branch=inner_else,
            ),
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="loop/body/cond"),
            helper.make_node("Identity", ["v_next"], ["v_out"], name="loop/body/carry"),
            helper.make_node("Tanh", ["v_next"], ["scan_out"], name="loop/body/Tanh"),
        ],
        "loop_body",
        [vec("iter_num", INT64, []), vec("cond_in", BOOL, []), vec("v_in", FLOAT, [4])],
        [vec("cond_out", BOOL, []), vec("v_out", FLOAT, [4]), vec("scan_out", FLOAT, [4])],
        initializer=[body_two, body_zero, body_half, body_one],
    )
    g.node("Loop", [trip, keep_going, "x"], ["loop_final", "loop_scan"], "loop", body=body)

    graph = helper.make_graph(
        g.nodes,
        "control_flow_if_loop",
        [vec("x", FLOAT, [4])],
        [vec("if_out", FLOAT, [4]), vec("loop_final", FLOAT, [4]), vec("loop_scan", FLOAT, [3, 4])],
        initializer=g.initializers,
    )
    return _model(
        graph,
        "Control flow: an If whose branch depends on the input (ReduceSum(x) > 0), "
        "and a 3-iteration Loop with a loop-carried value and a scan output whose "
        "body holds a nested If (subgraphs two levels deep).",
    )


def build_external_data_mlp() -> onnx.ModelProto:
    """Two-layer MLP; ``write_sample`` stores its weight matrices in an external file."""
    g = _GraphBuilder(seed=4)
    w1 = g.weight("fc1.weight", [32, 64], scale=0.1)
    b1 = g.weight("fc1.bias", [64], scale=0.02)
    w2 = g.weight("fc2.weight", [64, 16], scale=0.1)
    b2 = g.weight("fc2.bias", [16], scale=0.02)
    h = g.node("MatMul", ["x", w1], ["fc1_matmul_out"], "fc1/MatMul")
    h = g.node("Add", [h, b1], ["fc1_out"], "fc1/Add")
    h = g.node("Relu", [h], ["relu_out"], "relu")
    h = g.node("MatMul", [h, w2], ["fc2_matmul_out"], "fc2/MatMul")
    g.node("Add", [h, b2], ["y"], "fc2/Add")
    graph = helper.make_graph(
        g.nodes,
        "external_data_mlp",
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 32])],
        [helper.make_tensor_value_info("y", FLOAT, ["batch", 16])],
        initializer=g.initializers,
    )
    return _model(
        graph,
        "Two-layer MLP whose weight matrices live in the external-data file "
        "external_data_mlp.weights.bin (relative location, explicit offset and "
        "length, 4096-byte aligned); the small biases stay inline.",
    )


def build_dynamic_axes_transformer_block() -> onnx.ModelProto:
    """Single-head self-attention block with symbolic ``batch`` and ``sequence`` dims."""
    vocab, hidden = 100, 32
    g = _GraphBuilder(seed=5)
    emb = g.weight("embedding.weight", [vocab, hidden], scale=0.5)
    wq = g.weight("attn.q.weight", [hidden, hidden], scale=0.2)
    wk = g.weight("attn.k.weight", [hidden, hidden], scale=0.2)
    wv = g.weight("attn.v.weight", [hidden, hidden], scale=0.2)
    wo = g.weight("attn.out.weight", [hidden, hidden], scale=0.2)
    scale = g.const("attn.scale", _scalar(math.sqrt(hidden)))
    one = g.const("mask.one", _scalar(1.0))
    big_neg = g.const("mask.neg_large", _scalar(-10000.0))
    unsq_axes = g.const("mask.unsqueeze_axes", np.array([1], dtype=np.int64))

    h = g.node("Gather", [emb, "input_ids"], ["embeddings"], "embedding/Gather", axis=0)
    q = g.node("MatMul", [h, wq], ["query"], "attn/q/MatMul")
    k = g.node("MatMul", [h, wk], ["key"], "attn/k/MatMul")
    v = g.node("MatMul", [h, wv], ["value"], "attn/v/MatMul")
    kt = g.node("Transpose", [k], ["key_t"], "attn/k/Transpose", perm=[0, 2, 1])
    s = g.node("MatMul", [q, kt], ["scores_raw"], "attn/scores/MatMul")
    s = g.node("Div", [s, scale], ["scores_scaled"], "attn/scores/Div")

    m = g.node("Cast", ["attention_mask"], ["mask_float"], "mask/Cast", to=FLOAT)
    m = g.node("Sub", [one, m], ["mask_inverted"], "mask/Sub")
    m = g.node("Mul", [m, big_neg], ["mask_bias"], "mask/Mul")
    m = g.node("Unsqueeze", [m, unsq_axes], ["mask_bias_3d"], "mask/Unsqueeze")

    s = g.node("Add", [s, m], ["scores_masked"], "attn/scores/Add_mask")
    p = g.node("Softmax", [s], ["attn_probs"], "attn/Softmax", axis=-1)
    c = g.node("MatMul", [p, v], ["context"], "attn/context/MatMul")
    g.node("MatMul", [c, wo], ["hidden"], "attn/out/MatMul")

    graph = helper.make_graph(
        g.nodes,
        "dynamic_axes_transformer_block",
        [
            helper.make_tensor_value_info("input_ids", INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("hidden", FLOAT, ["batch", "sequence", hidden])],
        initializer=g.initializers,
    )
    return _model(
        graph,
        "Tiny single-head self-attention block (embedding Gather, Q/K/V, scaled "
        "scores, additive attention mask, Softmax, output projection) with dynamic "
        "axes 'batch' and 'sequence'. input_ids must be < 100; attention_mask is 0/1.",
    )


def build_ep_fallback_det() -> onnx.ModelProto:
    """MatMul/Tanh/Softmax (second EPs such as ggml and OpenVINO run them) plus Det (they
    cannot: it falls back to CPU)."""
    g = _GraphBuilder(seed=6)
    w = g.weight("proj.weight", [4, 4], scale=0.5)
    h = g.node("MatMul", ["x", w], ["proj_out"], "proj/MatMul")
    h = g.node("Tanh", [h], ["tanh_out"], "tanh")
    g.node("Det", [h], ["det"], "det")
    g.node("Softmax", [h], ["probs"], "softmax", axis=-1)
    graph = helper.make_graph(
        g.nodes,
        "ep_fallback_det",
        [helper.make_tensor_value_info("x", FLOAT, [2, 4, 4])],
        [
            helper.make_tensor_value_info("det", FLOAT, [2]),
            helper.make_tensor_value_info("probs", FLOAT, [2, 4, 4]),
        ],
        initializer=g.initializers,
    )
    return _model(
        graph,
        "EP fallback demo: MatMul -> Tanh -> {Det, Softmax}. Second EPs (ggml on any "
        "CPU, OpenVINO on Intel) have no Det kernel, so the Det node falls back to the "
        "CPU EP while the rest runs on the second EP.",
    )


def build_too_new_for_runtime() -> onnx.ModelProto:
    """A valid little model stamped IR 15 / ai.onnx opset 28 to trip version checks.

    Uses only Relu and Add (unchanged since long before opset 21) and no IR-14 features,
    so the stamp is the only thing wrong with it. Not run through the checker.
    """
    g = _GraphBuilder(seed=7)
    b = g.weight("bias", [4], scale=0.1)
    h = g.node("Relu", ["x"], ["relu_out"], "relu")
    g.node("Add", [h, b], ["y"], "add_bias")
    graph = helper.make_graph(
        g.nodes,
        "too_new_for_runtime",
        [helper.make_tensor_value_info("x", FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", FLOAT, [1, 4])],
        initializer=g.initializers,
    )
    return _model(
        graph,
        "Compatibility-verdict demo: Relu -> Add stamped with IR version 15 and "
        "ai.onnx opset 28, newer than the installed onnxruntime accepts (IR) and "
        "than onnxruntime <= 1.31 accepts (opset). The ops themselves are "
        "unchanged since opset 14.",
        ir_version=15,
        opset=28,
    )


def build_mlp_gelu_layernorm_int8() -> onnx.ModelProto:
    """``mlp_gelu_layernorm.onnx`` through onnxruntime's ``quantize_dynamic`` (int8 weights):
    the model diff's demo pair (rewritten nodes, quantization error per weight)."""
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(build_mlp_gelu_layernorm(), src)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        return onnx.load(dst)


SAMPLES: dict[str, Callable[[], onnx.ModelProto]] = {
    "cnn_conv_bn_relu.onnx": build_cnn_conv_bn_relu,
    "mlp_gelu_layernorm.onnx": build_mlp_gelu_layernorm,
    "mlp_gelu_layernorm_int8.onnx": build_mlp_gelu_layernorm_int8,
    "control_flow_if_loop.onnx": build_control_flow_if_loop,
    "external_data_mlp.onnx": build_external_data_mlp,
    "dynamic_axes_transformer_block.onnx": build_dynamic_axes_transformer_block,
    "ep_fallback_det.onnx": build_ep_fallback_det,
    "too_new_for_runtime.onnx": build_too_new_for_runtime,
}

# Samples whose weight matrices are written to an external-data file: model file ->
# (data file, names of the initializers moved there).
EXTERNAL_DATA: dict[str, tuple[str, tuple[str, ...]]] = {
    "external_data_mlp.onnx": ("external_data_mlp.weights.bin", ("fc1.weight", "fc2.weight")),
}

# Samples deliberately invalid for the checker / runtime.
UNCHECKED: frozenset[str] = frozenset({"too_new_for_runtime.onnx"})


# ---------------------------------------------------------------------------- writing


def externalize(
    model: onnx.ModelProto, location: str, names: Sequence[str]
) -> tuple[onnx.ModelProto, bytes]:
    """Move the named initializers' data out of ``model``.

    Returns a copy of the model whose named initializers point at ``location`` (with
    ``location``, ``offset`` and ``length`` keys, offsets aligned to
    ``EXTERNAL_DATA_ALIGNMENT``) and the bytes of the data file. Done by hand rather
    than with ``onnx.external_data_helper`` so every tensor gets an explicit, aligned
    offset regardless of size and the layout is fixed by this code.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    wanted = set(names)
    blob = bytearray()
    for tensor in out.graph.initializer:
        if tensor.name not in wanted:
            continue
        wanted.discard(tensor.name)
        array = numpy_helper.to_array(tensor)
        data = array.astype(
            array.dtype.newbyteorder("<"), copy=False
        ).tobytes()  # ONNX is little-endian
        pad = -len(blob) % EXTERNAL_DATA_ALIGNMENT
        blob.extend(b"\0" * pad)
        offset = len(blob)
        blob.extend(data)
        tensor.ClearField("raw_data")
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (
            ("location", location),
            ("offset", str(offset)),
            ("length", str(len(data))),
        ):
            entry = tensor.external_data.add()
            entry.key = key
            entry.value = value
    if wanted:
        raise ValueError(f"initializers not found in {model.graph.name!r}: {sorted(wanted)}")
    return out, bytes(blob)


def check(name: str, model: onnx.ModelProto) -> None:
    """Run the full checker (skipped for the deliberately too-new sample)."""
    if name in UNCHECKED:
        # Still must round-trip through protobuf.
        onnx.load_from_string(model.SerializeToString())
        return
    onnx.checker.check_model(model, full_check=True)


def write_sample(name: str, out_dir: Path) -> list[Path]:
    """Build, check and write one sample (and its external-data file, if any)."""
    model = SAMPLES[name]()
    check(name, model)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    written = [path]
    if name in EXTERNAL_DATA:
        data_name, tensors = EXTERNAL_DATA[name]
        model, blob = externalize(model, data_name, tensors)
        (out_dir / data_name).write_bytes(blob)
        written.append(out_dir / data_name)
    path.write_bytes(model.SerializeToString())
    return written


def write_all(out_dir: Path) -> list[Path]:
    """Write every sample into ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    for name in SAMPLES:
        written.extend(write_sample(name, out_dir))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else SAMPLE_DIR
    for path in write_all(out_dir):
        print(f"{path.stat().st_size:>8}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
