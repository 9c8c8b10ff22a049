"""Static cost per main-graph node: MACs, FLOPs, parameter bytes and activation bytes.

Counts come from onnx's shape inference (:attr:`LoadedModel.native`, sandboxed) with the
model's inputs set to the shapes a run feeds: ``input_shapes`` fixes every dim of the inputs it
names, and inference runs again on a copy of the skeleton so that sizes computed from them
(``Reshape`` targets, ``Resize`` outputs) are concrete too. A node whose shapes stay unknown, or
whose op has no formula here, is marked unknown with the reason; its cost is ``None``, never 0,
and totals say how many nodes they leave out.

Conventions (documented so the numbers can be checked by hand):

- **MACs** are the multiply-accumulates of the matrix core of Conv, ConvTranspose, MatMul,
  Gemm, attention and recurrent ops (out channels × out H × out W × in channels per group ×
  kH × kW for a Conv); other ops have 0 MACs.
- **FLOPs** are 2 × MACs plus every other arithmetic operation: a bias add per output element,
  and per element of the op's data a small fixed count for elementwise, normalisation, softmax,
  pooling, reduction and resize ops (tables below: an exp, a compare or a divide each count
  as one). Data movement (Reshape, Transpose, Gather, Concat, Cast…) is 0 FLOPs.
- **Parameter bytes** are the initializers (and Constant outputs) a node reads, each counted
  once per node; the model's total counts each once.
- **Read/write bytes** are the node's other inputs and its outputs, by inferred shape and
  element size. The activation peak walks the nodes in topological order, keeping each
  activation alive from its producer to its last consumer (graph outputs to the end).

Independent check: ``bench/bench_cost.py`` compares the MAC totals with onnx-tool's on real
models (onnx-tool counts elementwise ops in its own x86-instruction units, so only the matrix
ops are compared).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from graphlib import CycleError, TopologicalSorter
from math import ceil, floor, prod
from typing import TYPE_CHECKING

import onnx

from inspector.errors import InspectorError
from inspector.model.dtypes import declared_bytes, storage_bytes
from inspector.model.graph import implicit_inputs
from inspector.model.load import LoadedModel
from inspector.model.overview import domain_label
from inspector.model.walk import subgraph_attributes
from inspector.records import Record, rows_frame

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, kw_only=True)
class NodeCost(Record):
    """One main-graph node's static cost; ``None`` where it cannot be known (see ``why``)."""

    id: str  # "main:3", as in the graph record
    name: str
    op_type: str
    domain: str
    macs: int | None
    flops: int | None
    param_bytes: int  # initializers and Constant outputs the node reads, each once
    read_bytes: int | None  # its other inputs
    write_bytes: int | None  # its outputs
    known: bool  # macs and flops are known
    why: str  # why they are not ("" when known)


@dataclass(frozen=True, kw_only=True)
class OpCost(Record):
    """The nodes of one op type together."""

    op_type: str  # "Conv", or "com.microsoft::Attention" outside the default domain
    nodes: int
    unknown: int  # nodes of this type whose cost is unknown (left out of the sums)
    macs: int
    flops: int
    param_bytes: int
    read_bytes: int
    write_bytes: int


@dataclass(frozen=True, kw_only=True)
class CostRecord(Record):
    """Per-node cost of the main graph at ``input_shapes``, and the model's totals.

    Totals sum the known nodes; with ``unknown_nodes`` > 0 they are lower bounds."""

    input_shapes: tuple[tuple[str, tuple[int, ...]], ...]  # the shapes the counts are for
    nodes: tuple[NodeCost, ...]
    by_op: tuple[OpCost, ...]  # by FLOPs, then name
    macs: int
    flops: int
    param_bytes: int  # every initializer (or Constant) read by a main-graph node, once
    activation_peak_bytes: int  # largest sum of live activations during the walk
    activation_peak_node: str  # id of the node at which it occurs ("" for none)
    unknown_nodes: int
    unknown_activations: int  # activations of unknown size, left out of the peak
    shape_inference: str  # the re-inference's error, "" when it passed

    @property
    def complete(self) -> bool:
        """Every node's cost and every activation's size is known: totals are exact."""
        return not self.unknown_nodes and not self.unknown_activations

    def node(self, node_id: str) -> NodeCost:
        for row in self.nodes:
            if row.id == node_id:
                return row
        raise KeyError(node_id)

    def frame(self) -> pd.DataFrame:
        """The node table as a DataFrame."""
        return rows_frame(self.nodes)


# ---------------------------------------------------------------- shapes


@dataclass(frozen=True)
class _Tensor:
    elem: int  # TensorProto data type, 0 when unknown
    dims: tuple[int, ...] | None  # None: rank or a dim unknown (``why`` says which)
    why: str = ""

    @property
    def nbytes(self) -> int | None:
        if self.dims is None:
            return None
        return storage_bytes(self.elem, prod(self.dims))


class _Unknown(Exception):
    """A formula needs a shape or attribute the model does not give."""


def _tensor(name: str, tp: onnx.TypeProto, symbols: Mapping[str, int]) -> _Tensor:
    if tp.WhichOneof("value") != "tensor_type":
        return _Tensor(0, None, f"{name!r} is not a tensor")
    tt = tp.tensor_type
    if not tt.HasField("shape"):
        return _Tensor(tt.elem_type, None, f"the rank of {name!r} is unknown")
    dims: list[int] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(d.dim_value)
        elif d.dim_param and (value := dim_value(d.dim_param, symbols)) is not None:
            dims.append(value)
        else:
            what = f"dim {d.dim_param!r}" if d.dim_param else "a dim"
            return _Tensor(tt.elem_type, None, f"{what} of {name!r} is unknown")
    return _Tensor(tt.elem_type, tuple(dims))


_DIM_TOKENS = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z_0-9.]*)|(//|[-+*/%(),]))")


def dim_value(text: str, symbols: Mapping[str, int]) -> int | None:
    """A symbolic dim's value: a name in ``symbols`` or an exporter's expression of them
    (``"floor(height/2 - 1/2) + 1"``, ``"seq*batch"``: integers, names, + - * / // %,
    floor, ceil, min, max); None when it names anything else or is not a whole number."""
    if text in symbols:
        return symbols[text]
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _DIM_TOKENS.match(text, pos)
        if m is None or m.end() == pos:
            return None
        tokens.append(m.group(m.lastindex or 0))
        pos = m.end()
        if text[pos:].strip() == "":
            break
    if len(tokens) > 200:
        return None
    try:
        value, rest = _expr(tokens, 0, symbols)
    except (ValueError, ZeroDivisionError, IndexError):
        return None
    if rest != len(tokens) or value.denominator != 1 or value < 0:
        return None
    return int(value)


def _expr(tokens: list[str], i: int, symbols: Mapping[str, int]) -> tuple[Fraction, int]:
    value, i = _term(tokens, i, symbols)
    while i < len(tokens) and tokens[i] in "+-":
        right, j = _term(tokens, i + 1, symbols)
        value, i = (value + right if tokens[i] == "+" else value - right), j
    return value, i


def _term(tokens: list[str], i: int, symbols: Mapping[str, int]) -> tuple[Fraction, int]:
    value, i = _factor(tokens, i, symbols)
    while i < len(tokens) and tokens[i] in ("*", "/", "//", "%"):
        op = tokens[i]
        right, i = _factor(tokens, i + 1, symbols)
        if op == "*":
            value *= right
        elif op == "/":
            value /= right
        elif op == "//":
            value = Fraction(floor(value / right))
        else:
            value -= right * floor(value / right)
    return value, i


def _factor(tokens: list[str], i: int, symbols: Mapping[str, int]) -> tuple[Fraction, int]:
    token = tokens[i]
    if token == "-":
        value, i = _factor(tokens, i + 1, symbols)
        return -value, i
    if token == "(":
        value, i = _expr(tokens, i + 1, symbols)
        if tokens[i] != ")":
            raise ValueError(token)
        return value, i + 1
    if token.isdigit():
        return Fraction(int(token)), i + 1
    if token in _CALLS and i + 1 < len(tokens) and tokens[i + 1] == "(":
        args = []
        i += 2
        while True:
            value, i = _expr(tokens, i, symbols)
            args.append(value)
            if tokens[i] == ")":
                return Fraction(_CALLS[token](args)), i + 1
            if tokens[i] != ",":
                raise ValueError(tokens[i])
            i += 1
    if token in symbols:
        return Fraction(symbols[token]), i + 1
    raise ValueError(token)


_CALLS: dict[str, Callable[[list[Fraction]], Fraction | int]] = {
    "floor": lambda a: floor(a[0]),
    "ceil": lambda a: ceil(a[0]),
    "min": min,
    "max": max,
    "Min": min,
    "Max": max,
}


def _resolve(
    model: LoadedModel, input_shapes: Mapping[str, Sequence[int]]
) -> tuple[dict[str, _Tensor], str]:
    """Tensor name → element type and concrete shape, with the inputs at ``input_shapes``."""
    graph = model.proto.graph
    params = {t.name for t in graph.initializer}
    declared = {v.name: v for v in graph.input if v.name not in params}
    symbols: dict[str, int] = {}
    for name, shape in input_shapes.items():
        if name not in declared:
            raise InspectorError(
                f"input_shapes names {name!r}, which is not an input of {model.name} "
                f"(inputs: {', '.join(declared) or 'none'})."
            )
        if any(int(d) < 0 for d in shape):
            raise InspectorError(f"input_shapes gives {name!r} a negative dim: {list(shape)}.")
        tt = declared[name].type.tensor_type
        if tt.HasField("shape") and len(tt.shape.dim) != len(shape):
            raise InspectorError(
                f"input_shapes gives {name!r} {len(shape)} dims ({list(shape)}); the model "
                f"declares {len(tt.shape.dim)}."
            )
        for d, n in zip(tt.shape.dim, shape, strict=False):
            if d.dim_param:
                symbols.setdefault(d.dim_param, int(n))
    native = model.native
    inferred, error = native.inferred, native.inference_error
    if input_shapes:
        skeleton = onnx.ModelProto()
        skeleton.CopyFrom(model.skeleton)
        for v in skeleton.graph.input:
            if v.name in input_shapes:
                shape = v.type.tensor_type.shape
                shape.ClearField("dim")
                for n in input_shapes[v.name]:
                    shape.dim.add().dim_value = int(n)
        # An exporter's value_info spells sizes as expressions of the input dims
        # ("floor(height/2 - 1/2) + 1"), which inference keeps over the numbers it could
        # compute: each becomes its value, or, where it cannot be evaluated, a blank for
        # inference to fill.
        for v in (*skeleton.graph.value_info, *skeleton.graph.output):
            if v.type.WhichOneof("value") == "tensor_type":
                for d in v.type.tensor_type.shape.dim:
                    if d.dim_param:
                        value = dim_value(d.dim_param, symbols)
                        d.Clear()
                        if value is not None:
                            d.dim_value = value
        from inspector.model.native import analyse

        again = analyse(skeleton, model.limits, check=False)
        if again.inferred is not None:
            inferred, error = again.inferred, again.inference_error
        else:
            error = again.failure
    tensors: dict[str, _Tensor] = {}
    sources = [inferred if inferred is not None else model.skeleton]
    if sources[0] is not native.inferred:  # the first inference fills what the second lacks
        sources.append(native.inferred if native.inferred is not None else model.skeleton)
    for source in sources:
        g = source.graph
        for v in (*g.input, *g.output, *g.value_info):
            if v.name not in params:
                known = tensors.get(v.name)
                if known is None or known.dims is None:
                    tensor = _tensor(v.name, v.type, symbols)
                    if known is None or tensor.dims is not None:
                        tensors[v.name] = tensor
    for name, shape in input_shapes.items():  # as given, whatever inference made of them
        elem = declared[name].type.tensor_type.elem_type
        tensors[name] = _Tensor(elem, tuple(int(d) for d in shape))
    for t in graph.initializer:
        tensors[t.name] = _Tensor(t.data_type, tuple(t.dims))
    return tensors, error


# ---------------------------------------------------------------- formulas

#: FLOPs per output element of elementwise ops (one per add, multiply, compare, exp, erf…).
UNARY_FLOPS: dict[str, int] = {
    **dict.fromkeys(
        "Abs Neg Relu Exp Log Sqrt Reciprocal Floor Ceil Round Sign Erf Tanh Sin Cos Tan Asin "
        "Acos Atan Sinh Cosh Asinh Acosh Atanh Not IsNaN IsInf BitwiseNot".split(),
        1,
    ),
    "LeakyRelu": 2,  # compare, multiply
    "ThresholdedRelu": 2,
    "Clip": 2,  # max, min
    "Sigmoid": 3,  # exp, add, divide
    "Softsign": 3,  # abs, add, divide
    "Softplus": 3,  # exp, add, log
    "Elu": 3,
    "Shrink": 3,
    "Selu": 4,
    "Celu": 4,
    "HardSigmoid": 4,  # multiply, add, max, min
    "HardSwish": 5,  # HardSigmoid, multiply
    "Mish": 5,  # softplus, tanh, multiply
    "Gelu": 5,  # divide, erf, add, multiply, multiply
    "QuickGelu": 5,  # multiply, sigmoid, multiply
    "BiasGelu": 6,  # add, Gelu
    "FastGelu": 9,  # tanh approximation: x³, 3 multiplies, 2 adds, tanh, 2 multiplies
    "DequantizeLinear": 2,  # subtract zero point, multiply by scale
    "QuantizeLinear": 3,  # divide, round and add zero point, saturate
    "DynamicQuantizeLinear": 5,  # min and max over the tensor, then QuantizeLinear
}
#: FLOPs per output element per pair of inputs (variadic Sum/Max/Min: inputs - 1).
BINARY_FLOPS: dict[str, int] = {
    **dict.fromkeys(
        "Add Sub Mul Div Pow Mod Max Min Sum Equal Less Greater LessOrEqual GreaterOrEqual "
        "And Or Xor BitShift BitwiseAnd BitwiseOr BitwiseXor Where".split(),
        1,
    ),
    "PRelu": 2,  # compare, multiply
    "BiasAdd": 1,  # com.microsoft: input + bias + skip (two adds for three inputs)
}
#: FLOPs per element of the (first) input of normalisations, softmax and reductions; the
#: second number is per output element (a mean's divide, a norm's square root).
PER_INPUT_FLOPS: dict[str, tuple[int, int]] = {
    "BatchNormalization": (2, 0),  # folded per channel into one multiply-add
    "InstanceNormalization": (7, 0),  # mean, centre, square, sum, normalise, scale, shift
    "GroupNormalization": (7, 0),
    "MeanVarianceNormalization": (5, 0),
    "LpNormalization": (3, 0),
    "Softmax": (5, 0),  # max, subtract, exp, sum, divide
    "LogSoftmax": (5, 0),
    "Hardmax": (2, 0),
    "ReduceSum": (1, 0),
    "ReduceMean": (1, 1),
    "ReduceMax": (1, 0),
    "ReduceMin": (1, 0),
    "ReduceProd": (1, 0),
    "ReduceL1": (2, 0),
    "ReduceL2": (2, 1),
    "ReduceSumSquare": (2, 0),
    "ReduceLogSum": (1, 1),
    "ReduceLogSumExp": (2, 1),
    "ArgMax": (1, 0),
    "ArgMin": (1, 0),
    "CumSum": (1, 0),
    "GlobalAveragePool": (1, 1),
    "GlobalMaxPool": (1, 0),
    "GlobalLpPool": (2, 1),
}
#: Ops that only move, copy or reinterpret data: 0 FLOPs, their bytes still counted.
DATA_MOVEMENT: frozenset[str] = frozenset(
    "Reshape Flatten Squeeze Unsqueeze Transpose Concat Split Slice Gather GatherElements "
    "GatherND ScatterElements ScatterND Scatter Expand Tile Pad Shape Size Identity Cast "
    "CastLike Constant ConstantOfShape DepthToSpace SpaceToDepth Dropout Range EyeLike "
    "SplitToSequence SequenceAt SequenceConstruct SequenceEmpty SequenceInsert SequenceLength "
    "ConcatFromSequence Optional OptionalGetElement OptionalHasElement ReverseSequence "
    "Compress Trilu OneHot NonZero".split()
)
#: Ops whose output has their first input's shape and type: where inference left the output
#: untyped (a function op such as GroupNormalization, a contrib op), it is taken from there.
SAME_SHAPE: frozenset[str] = frozenset(
    {*UNARY_FLOPS, "BatchNormalization", "InstanceNormalization", "GroupNormalization"}
    | {"LayerNormalization", "SimplifiedLayerNormalization", "RMSNormalization", "Softmax"}
    | {"LogSoftmax", "Hardmax", "LpNormalization", "MeanVarianceNormalization", "CumSum"}
    | {"SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "BiasAdd", "Identity"}
) - {"DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear"}
#: Domains whose ops are counted: ONNX's own and ONNX Runtime's contrib ops.
DOMAINS = frozenset({"", "ai.onnx", "com.microsoft"})


class _Node:
    """A node's inputs and outputs as resolved tensors, for the formulas."""

    def __init__(self, node: onnx.NodeProto, tensors: Mapping[str, _Tensor]) -> None:
        self.node = node
        self.tensors = tensors
        self.attrs = {a.name: a for a in node.attribute}

    def has(self, i: int) -> bool:
        return i < len(self.node.input) and bool(self.node.input[i])

    def inp(self, i: int) -> tuple[int, ...]:
        if not self.has(i):
            raise _Unknown(f"{self.node.op_type} has no input {i}")
        return self._dims(self.node.input[i])

    def out(self, i: int = 0) -> tuple[int, ...]:
        if i >= len(self.node.output) or not self.node.output[i]:
            raise _Unknown(f"{self.node.op_type} has no output {i}")
        return self._dims(self.node.output[i])

    def _dims(self, name: str) -> tuple[int, ...]:
        t = self.tensors.get(name)
        if t is None:
            raise _Unknown(f"{name!r} has no inferred shape")
        if t.dims is None:
            raise _Unknown(t.why)
        return t.dims

    def int_attr(self, name: str, default: int) -> int:
        a = self.attrs.get(name)
        return int(a.i) if a is not None else default

    def ints_attr(self, name: str) -> tuple[int, ...]:
        a = self.attrs.get(name)
        return tuple(a.ints) if a is not None else ()

    def str_attr(self, name: str, default: str) -> str:
        a = self.attrs.get(name)
        return a.s.decode("utf-8", "replace") if a is not None else default


def _conv(n: _Node, x: int = 0, w: int = 1, b: int | None = 2) -> tuple[int, int]:
    """Y[N, M, out…] from W[M, C/group, k…]: every output reads C/group × k… inputs."""
    y, weight = n.out(), n.inp(w)
    macs = prod(y) * prod(weight[1:])
    bias = prod(y) if b is not None and n.has(b) else 0
    return macs, 2 * macs + bias


def _fused_conv(n: _Node) -> tuple[int, int]:
    """com.microsoft FusedConv: a Conv and its activation (one FLOP per output element)."""
    macs, flops = _conv(n)
    return macs, flops + prod(n.out())


def _conv_transpose(n: _Node) -> tuple[int, int]:
    """X[N, C, in…] with W[C, M/group, k…]: every input is scattered into M/group × k…
    outputs (the output size, strides and pads change only which outputs)."""
    x, weight, y = n.inp(0), n.inp(1), n.out()
    macs = prod(x) * prod(weight[1:])
    return macs, 2 * macs + (prod(y) if n.has(2) else 0)


def _matmul(n: _Node, a: int = 0, b: int = 1) -> tuple[int, int]:
    """Every output element is a dot product over A's last dim (numpy's matmul rules)."""
    y = n.out()
    if n.node.op_type == "MatMulNBits":  # B is packed: its K is an attribute
        k = n.int_attr("K", 0)
        if k <= 0:
            raise _Unknown("MatMulNBits has no K attribute")
    else:
        shape = n.inp(a)
        if not shape:
            raise _Unknown("MatMul's A is a scalar")
        k = shape[-2] if n.int_attr("transA", 0) and len(shape) >= 2 else shape[-1]
    macs = prod(y) * k
    extra = prod(y) if n.node.op_type == "MatMulIntegerToFloat" else 0  # scale
    return macs, 2 * macs + extra


def _gemm(n: _Node) -> tuple[int, int]:
    a, y = n.inp(0), n.out()
    if len(a) != 2 or len(y) != 2:
        raise _Unknown("Gemm's A or Y is not a matrix")
    k = a[0] if n.int_attr("transA", 0) else a[1]
    macs = prod(y) * k
    return macs, 2 * macs + (prod(y) if n.has(2) else 0)


def _attention(n: _Node) -> tuple[int, int]:
    """com.microsoft Attention: QKV projection input[B, S, D] × weights[D, Q+K+V], then per
    head Q·Kᵀ over the total sequence, softmax, and the weights × V."""
    x, w = n.inp(0), n.inp(1)
    if len(x) != 3 or len(w) != 2:
        raise _Unknown("Attention's input is not [batch, sequence, hidden]")
    batch, seq, _ = x
    sizes = n.ints_attr("qkv_hidden_sizes") or (w[1] // 3,) * 3
    q, _, v = sizes
    total = seq
    if len(n.node.output) > 1 and n.node.output[1]:
        present = n.out(1)  # [2, B, heads, total, head]
        total = present[3]
    elif n.has(4):
        total = n.inp(4)[3] + seq
    projection = prod(x) * w[1]
    scores = batch * seq * total * q
    weighted = batch * seq * total * v
    macs = projection + scores + weighted
    heads = n.int_attr("num_heads", 1)
    softmax = 5 * batch * heads * seq * total
    return macs, 2 * macs + (prod(x[:2]) * w[1] if n.has(2) else 0) + softmax


def _mha(n: _Node) -> tuple[int, int]:
    """com.microsoft MultiHeadAttention: Q·Kᵀ and weights × V per head (projections are
    separate MatMuls); the total sequence from present_key when the model has it."""
    q = n.inp(0)
    heads = n.int_attr("num_heads", 1)
    if len(q) == 5:  # packed QKV [B, S, heads, 3, head]
        batch, seq, total, dk, dv = q[0], q[1], q[1], q[2] * q[4], q[2] * q[4]
    elif len(q) == 3:
        batch, seq, dk = q
        k, v = n.inp(1), n.inp(2) if n.has(2) else ()
        if len(k) == 3:
            total = k[1]
        elif len(k) == 4:  # [B, heads, L, head] (BNSH) or packed KV [B, L, heads, 2, head]
            total = k[2]
        elif len(k) == 5:
            total = k[1]
        else:
            raise _Unknown("MultiHeadAttention's key has an unexpected rank")
        dv = v[-1] * (heads if len(v) == 4 else 1) if v else dk
        if n.has(6):  # past_key [B, heads, P, head]
            total += n.inp(6)[2]
    else:
        raise _Unknown("MultiHeadAttention's query is not [batch, sequence, hidden]")
    if len(n.node.output) > 1 and n.node.output[1]:
        total = n.out(1)[2]
    macs = batch * seq * total * (dk + dv)
    return macs, 2 * macs + 5 * batch * heads * seq * total


def _recurrent(gates: int, elementwise: int) -> Callable[[_Node], tuple[int, int]]:
    """LSTM/GRU/RNN: per step, direction and batch row, gates × hidden × (input + hidden)
    MACs; ``elementwise`` FLOPs per hidden unit and step (gate activations, cell update)."""

    def count(n: _Node) -> tuple[int, int]:
        x, w = n.inp(0), n.inp(1)
        if len(x) != 3 or len(w) != 3:
            raise _Unknown(f"{n.node.op_type}'s X or W is not rank 3")
        seq, batch = (x[1], x[0]) if n.int_attr("layout", 0) else (x[0], x[1])
        dirs, hidden = w[0], w[1] // gates
        steps = seq * batch * dirs
        macs = steps * gates * hidden * (x[2] + hidden)
        bias = steps * gates * hidden * 2 if n.has(3) else 0
        return macs, 2 * macs + bias + steps * hidden * elementwise

    return count


def _einsum(n: _Node) -> tuple[int, int]:
    """Two operands: one multiply-accumulate per point of the joint index space."""
    eq = n.str_attr("equation", "").replace(" ", "")
    lhs = eq.split("->")[0].split(",")
    if len(lhs) != 2 or "." in eq:
        raise _Unknown("Einsum with other than two operands, or an ellipsis")
    sizes: dict[str, int] = {}
    for i, term in enumerate(lhs):
        shape = n.inp(i)
        if len(term) != len(shape):
            raise _Unknown("Einsum's equation does not match its inputs' ranks")
        sizes.update(zip(term, shape, strict=True))
    macs = prod(sizes.values())
    return macs, 2 * macs


def _pool(n: _Node) -> tuple[int, int]:
    y, kernel = n.out(), n.ints_attr("kernel_shape")
    if not kernel:
        raise _Unknown(f"{n.node.op_type} has no kernel_shape")
    flops = prod(y) * prod(kernel)
    return 0, flops + (prod(y) if n.node.op_type == "AveragePool" else 0)


def _resize(n: _Node) -> tuple[int, int]:
    """Nearest neighbour copies; linear (cubic) weighs 2 (4) neighbours along every resized
    dim: 2^r (4^r) multiplies and one add fewer per output element."""
    x, y = n.inp(0), n.out()
    mode = n.str_attr("mode", "nearest")
    resized = sum(1 for a, b in zip(x, y, strict=False) if a != b)
    if mode == "nearest" or not resized:
        return 0, 0
    taps = (4 if mode == "cubic" else 2) ** resized
    return 0, prod(y) * (2 * taps - 1)


def _layer_norm(n: _Node) -> tuple[int, int]:
    """mean, centre, square, sum, normalise, scale (6 per element), + shift with a bias;
    the Skip variants add the skip (and a bias); the simplified ones skip the mean."""
    op = n.node.op_type
    x = n.inp(0)
    simplified = "Simplified" in op or op == "RMSNormalization"
    per = 4 if simplified else 6
    if op.startswith("Skip"):
        per += 1 + (1 if n.has(4 if not simplified else 3) else 0)
        per += 1 if not simplified and n.has(3) else 0
    elif not simplified and n.has(2):
        per += 1
    return 0, prod(x) * per


def _per_element(n: _Node) -> tuple[int, int]:
    op = n.node.op_type
    if op in UNARY_FLOPS:
        return 0, prod(n.out()) * UNARY_FLOPS[op]
    if op in BINARY_FLOPS:
        pairs = max(1, sum(1 for x in n.node.input if x) - 1)
        return 0, prod(n.out()) * pairs * BINARY_FLOPS[op]
    if op == "Mean":
        return 0, prod(n.out()) * max(1, sum(1 for x in n.node.input if x))
    per_in, per_out = PER_INPUT_FLOPS[op]
    return 0, prod(n.inp(0)) * per_in + (prod(n.out()) * per_out if per_out else 0)


FORMULAS: dict[str, Callable[[_Node], tuple[int, int]]] = {
    "Conv": _conv,
    "FusedConv": _fused_conv,
    "ConvInteger": lambda n: _conv(n, b=None),
    "QLinearConv": lambda n: _conv(n, x=0, w=3, b=8),
    "ConvTranspose": _conv_transpose,
    "MatMul": _matmul,
    "MatMulInteger": _matmul,
    "FusedMatMul": _matmul,
    "MatMulNBits": _matmul,
    "MatMulIntegerToFloat": _matmul,
    "DynamicQuantizeMatMul": _matmul,
    "QLinearMatMul": lambda n: _matmul(n, a=0, b=3),
    "Gemm": _gemm,
    "Attention": _attention,
    "MultiHeadAttention": _mha,
    "LSTM": _recurrent(4, 17),  # 3 sigmoids, 2 tanh, 3 multiplies, 1 add
    "GRU": _recurrent(3, 14),
    "RNN": _recurrent(1, 1),
    "Einsum": _einsum,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "LpPool": _pool,
    "Resize": _resize,
    "Upsample": _resize,
    "LayerNormalization": _layer_norm,
    "SimplifiedLayerNormalization": _layer_norm,
    "RMSNormalization": _layer_norm,
    "SkipLayerNormalization": _layer_norm,
    "SkipSimplifiedLayerNormalization": _layer_norm,
    **dict.fromkeys((*UNARY_FLOPS, *BINARY_FLOPS, *PER_INPUT_FLOPS, "Mean"), _per_element),
}


def _formula(node: onnx.NodeProto, tensors: Mapping[str, _Tensor]) -> tuple[int, int] | str:
    """(MACs, FLOPs), or why they are unknown."""
    op = node.op_type
    if node.domain not in DOMAINS:
        return f"no cost formula for ops of domain {node.domain!r}"
    bodies = [label for label, _ in subgraph_attributes(node)]
    if bodies:
        return f"the cost of its bodies ({', '.join(bodies)}) is not counted"
    if op in DATA_MOVEMENT:
        count: Callable[[_Node], tuple[int, int]] = lambda n: (0, 0)  # noqa: E731
    elif op in FORMULAS:
        count = FORMULAS[op]
    else:
        return f"no cost formula for {op}"
    n = _Node(node, tensors)
    try:
        return count(n)
    except _Unknown as exc:
        return str(exc)


# ---------------------------------------------------------------- the record


def build_cost(
    model: LoadedModel, input_shapes: Mapping[str, Sequence[int]] | None = None
) -> CostRecord:
    """MACs, FLOPs and bytes of every main-graph node at ``input_shapes`` (input name → its
    whole shape, as a run feeds it; inputs not named keep their declared shapes).

    Raises:
        InspectorError: ``input_shapes`` names no input of the model, or gives one the wrong
            rank or a negative dim.
    """
    shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
    tensors, error = _resolve(model, shapes)
    graph = model.proto.graph
    params = {t.name: declared_bytes(t) for t in graph.initializer}
    for node in graph.node:  # a Constant's value is a weight, not something computed
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
            t = tensors.get(node.output[0])
            params[node.output[0]] = (t.nbytes if t else None) or 0
    for node in graph.node:
        if node.op_type in SAME_SHAPE and node.domain in DOMAINS and node.input and node.output:
            src, dst = tensors.get(node.input[0]), tensors.get(node.output[0])
            if src is not None and src.dims is not None and (dst is None or dst.dims is None):
                elem = dst.elem if dst is not None and dst.elem else src.elem
                tensors[node.output[0]] = _Tensor(elem, src.dims)
    rows: list[NodeCost] = []
    model_params: set[str] = set()
    for i, node in enumerate(graph.node):
        read = [*(x for x in node.input if x), *implicit_inputs(node)]
        weights = {x for x in read if x in params}
        model_params |= weights
        activations = dict.fromkeys(x for x in read if x not in params)
        result = _formula(node, tensors)
        known = not isinstance(result, str)
        rows.append(
            NodeCost(
                id=f"main:{i}",
                name=node.name,
                op_type=node.op_type,
                domain=domain_label(node.domain),
                macs=result[0] if not isinstance(result, str) else None,
                flops=result[1] if not isinstance(result, str) else None,
                param_bytes=sum(params[x] for x in weights),
                read_bytes=_bytes(activations, tensors),
                write_bytes=_bytes((o for o in node.output if o and o not in params), tensors),
                known=known,
                why="" if known else str(result),
            )
        )
    peak, at, unsized = _activation_peak(graph, params, tensors)
    return CostRecord(
        input_shapes=tuple(
            (v.name, tensors[v.name].dims or ())
            for v in graph.input
            if v.name not in params and v.name in tensors and tensors[v.name].dims is not None
        ),
        nodes=tuple(rows),
        by_op=_by_op(rows),
        macs=sum(r.macs or 0 for r in rows),
        flops=sum(r.flops or 0 for r in rows),
        param_bytes=sum(params[x] for x in model_params),
        activation_peak_bytes=peak,
        activation_peak_node=at,
        unknown_nodes=sum(1 for r in rows if not r.known),
        unknown_activations=unsized,
        shape_inference=error,
    )


def _bytes(names: Iterable[str], tensors: Mapping[str, _Tensor]) -> int | None:
    total = 0
    for name in names:
        t = tensors.get(name)
        size = t.nbytes if t is not None else None
        if size is None:
            return None
        total += size
    return total


def _by_op(rows: Sequence[NodeCost]) -> tuple[OpCost, ...]:
    groups: dict[str, list[NodeCost]] = defaultdict(list)
    for r in rows:
        key = r.op_type if r.domain == "ai.onnx" else f"{r.domain}::{r.op_type}"
        groups[key].append(r)
    out = [
        OpCost(
            op_type=key,
            nodes=len(rs),
            unknown=sum(1 for r in rs if not r.known),
            macs=sum(r.macs or 0 for r in rs),
            flops=sum(r.flops or 0 for r in rs),
            param_bytes=sum(r.param_bytes for r in rs),
            read_bytes=sum(r.read_bytes or 0 for r in rs),
            write_bytes=sum(r.write_bytes or 0 for r in rs),
        )
        for key, rs in groups.items()
    ]
    return tuple(sorted(out, key=lambda o: (-o.flops, o.op_type)))


def _activation_peak(
    graph: onnx.GraphProto, params: Mapping[str, int], tensors: Mapping[str, _Tensor]
) -> tuple[int, str, int]:
    """(peak bytes, node id at the peak, activations of unknown size) of a walk in topological
    order (file order among ready nodes): an activation lives from its producer (graph inputs:
    from the start) to its last consumer; graph outputs live to the end."""
    nodes = list(graph.node)
    reads = [[*(x for x in n.input if x), *implicit_inputs(n)] for n in nodes]
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    sorter: TopologicalSorter[int] = TopologicalSorter()
    for i, names in enumerate(reads):
        sorter.add(i, *(producer[x] for x in names if x in producer and producer[x] != i))
    try:
        order = list(sorter.static_order())
    except CycleError:
        return 0, "", len(producer)
    step = {node: k for k, node in enumerate(order)}
    last: dict[str, int] = {}
    for i, names in enumerate(reads):
        for x in names:
            if x not in params:
                last[x] = max(last.get(x, -1), step[i])
    for v in graph.output:
        last[v.name] = len(order)
    unsized: set[str] = set()

    def size(name: str) -> int:
        t = tensors.get(name)
        n = t.nbytes if t is not None else None
        if n is None:
            unsized.add(name)
            return 0
        return n

    live = {v.name: size(v.name) for v in graph.input if v.name not in params}
    current = sum(live.values())
    peak, at = current, ""
    for k, i in enumerate(order):
        for o in nodes[i].output:
            if o and o not in params and o not in live:
                live[o] = size(o)
                current += live[o]
        if current > peak:
            peak, at = current, f"main:{i}"
        for name in [x for x in live if last.get(x, -1) <= k]:
            current -= live.pop(name)
    return peak, at, len(unsized)


def parse_input_shapes(texts: Sequence[str]) -> dict[str, list[int]]:
    """``["images=1,3,320,320"]`` (or ``1x3x320x320``; ``sr=`` for a scalar) → input shapes.

    Raises:
        InspectorError: a text is not ``NAME=D0,D1,...`` with integer dims.
    """
    out: dict[str, list[int]] = {}
    for text in texts:
        name, sep, dims = text.rpartition("=")
        if not sep or not name:
            raise InspectorError(f"--input-shape {text!r}: use NAME=D0,D1,... e.g. x=1,3,224,224.")
        parts = [p.strip() for p in re.split(r"[,x]", dims) if p.strip()]
        if not all(re.fullmatch(r"\d+", p) for p in parts):
            raise InspectorError(f"--input-shape {text!r}: dims must be integers ≥ 0.")
        out[name] = [int(p) for p in parts]
    return out


__all__ = ["CostRecord", "NodeCost", "OpCost", "build_cost", "parse_input_shapes"]
