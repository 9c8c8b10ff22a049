"""Model A vs model B: which nodes correspond, and what changed between them.

Pairing (main graph): nodes are matched by name (names unique on both sides), then by op type
and first output tensor's name, then by op type and order (the i-th unmatched Conv of A with the
i-th unmatched Conv of B, topological order). Every pair says how it was matched; what is left
is added or removed. Initializers are matched by name; one that only A has and that B holds
as ``<name>_quantized`` with ``<name>_scale``/``<name>_zero_point`` (onnxruntime's
``quantize_dynamic``/``quantize_static`` naming) is compared through its dequantized values,
so fp32 vs int8 shows the quantization error per tensor. ``weights=False`` compares structure
only and reads no tensor values (large models), and the record says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import helper

from inspector.model.load import LoadedModel
from inspector.records import Record

if TYPE_CHECKING:
    from inspector.model.graph import GraphRecord

Match = str  # "name", "outputs", "op+position"

#: Nodes one side's diff overlay draws: about what a half-width column shows with readable
#: labels. The differing nodes come first, then their neighbours; the rest are listed.
OVERLAY_READABLE_NODES = 60
OVERLAY_HOPS = 2  # neighbours drawn around each differing node, in edges


@dataclass(frozen=True)
class NodePair(Record):
    a_id: str  # "main:<index>"
    b_id: str
    a_name: str
    b_name: str
    op_type: str  # A's op type ("X → Y" when it changed)
    how: Match
    changes: tuple[str, ...]  # attribute / op / arity differences, as text


@dataclass(frozen=True)
class LoneNode(Record):
    side: str  # "removed" (only in A) or "added" (only in B)
    node_id: str
    name: str
    op_type: str


@dataclass(frozen=True)
class ValueChange(Record):
    kind: str  # "input" or "output"
    name: str
    a: str  # "FLOAT [batch, 3]" or "—" when absent
    b: str


@dataclass(frozen=True)
class OpDelta(Record):
    op_type: str
    a: int
    b: int


@dataclass(frozen=True)
class InitializerChange(Record):
    name: str
    b_name: str
    change: str  # "values", "dtype", "shape", "quantized", "removed", "added", "same"
    a_type: str  # "FLOAT [64, 32]"
    b_type: str
    max_abs: float | None  # |A − B| (dequantized B for "quantized"); None: not compared
    rms: float | None
    detail: str


@dataclass(frozen=True)
class ModelDiff(Record):
    a: str
    b: str
    ir: tuple[int, int]
    opsets: tuple[tuple[str, int | None, int | None], ...]  # domain, A, B (changed only)
    values: tuple[ValueChange, ...]
    ops: tuple[OpDelta, ...]  # op types whose counts differ
    pairs: tuple[NodePair, ...]
    lone: tuple[LoneNode, ...]
    initializers: tuple[InitializerChange, ...]  # every one that differs
    external: tuple[tuple[str, str, str], ...]  # (aspect, A, B) where the layout differs
    weights_compared: bool
    skipped: tuple[str, ...]

    @property
    def changed_pairs(self) -> tuple[NodePair, ...]:
        return tuple(p for p in self.pairs if p.changes)

    def summary(self) -> list[str]:
        """A few lines a person reads in ten seconds."""
        how = Counter(p.how for p in self.pairs)
        removed = sum(1 for n in self.lone if n.side == "removed")
        lines = [
            f"{self.a} → {self.b}",
            f"nodes: {len(self.pairs)} matched ("
            + ", ".join(f"{n} by {k}" for k, n in sorted(how.items()))
            + f"), {len(self.changed_pairs)} changed, {removed} removed, "
            f"{len(self.lone) - removed} added",
        ]
        if self.ir[0] != self.ir[1]:
            lines.append(f"IR version {self.ir[0]} → {self.ir[1]}")
        for domain, va, vb in self.opsets:
            lines.append(f"opset {domain or 'ai.onnx'}: {va or '—'} → {vb or '—'}")
        for v in self.values:
            lines.append(f"{v.kind} {v.name}: {v.a} → {v.b}")
        if self.ops:
            lines.append("ops: " + ", ".join(f"{o.op_type} {o.a}→{o.b}" for o in self.ops[:12]))
        kinds = Counter(i.change for i in self.initializers)
        if kinds:
            lines.append("initializers: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        worst = max(
            (i for i in self.initializers if i.max_abs is not None),
            key=lambda i: i.max_abs or 0.0,
            default=None,
        )
        if worst is not None:
            lines.append(f"largest weight change: {worst.name} max |Δ| {worst.max_abs:.3g}")
        lines += [f"skipped: {s}" for s in self.skipped]
        return lines


def _value_text(v: onnx.ValueInfoProto | None) -> str:
    if v is None:
        return "—"
    t = v.type.tensor_type
    if not v.type.HasField("tensor_type"):
        return v.type.WhichOneof("value") or "?"
    dtype = onnx.TensorProto.DataType.Name(t.elem_type) if t.elem_type else "?"
    if not t.HasField("shape"):
        return dtype
    dims = [
        d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?") for d in t.shape.dim
    ]
    return f"{dtype} [{', '.join(dims)}]"


def _tensor_text(t: onnx.TensorProto | None) -> str:
    if t is None:
        return "—"
    return f"{onnx.TensorProto.DataType.Name(t.data_type)} {list(t.dims)}"


def _attr_value(a: onnx.AttributeProto) -> object:
    if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        return a.SerializeToString()  # a body: compared whole
    if a.type == onnx.AttributeProto.TENSOR:
        return a.t.SerializeToString()
    return helper.get_attribute_value(a)


def _short(v: object) -> str:
    if isinstance(v, bytes):
        return f"<{len(v)} bytes>"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "…"


def _node_changes(a: onnx.NodeProto, b: onnx.NodeProto) -> tuple[str, ...]:
    out: list[str] = []
    if (a.domain, a.op_type) != (b.domain, b.op_type):
        out.append(f"op {a.op_type} → {b.op_type}")
    if len(a.input) != len(b.input) or len(a.output) != len(b.output):
        out.append(f"arity {len(a.input)}→{len(b.input)} in, {len(a.output)}→{len(b.output)} out")
    aa = {x.name: x for x in a.attribute}
    bb = {x.name: x for x in b.attribute}
    for name in sorted(set(aa) | set(bb)):
        va = _attr_value(aa[name]) if name in aa else None
        vb = _attr_value(bb[name]) if name in bb else None
        if name not in bb:
            out.append(f"attribute {name} removed (was {_short(va)})")
        elif name not in aa:
            out.append(f"attribute {name} added ({_short(vb)})")
        elif va != vb:
            if isinstance(va, bytes):
                out.append(f"attribute {name}: body differs")
            else:
                out.append(f"attribute {name}: {_short(va)} → {_short(vb)}")
    return tuple(out)


def pair_nodes(
    a: onnx.GraphProto, b: onnx.GraphProto
) -> tuple[list[tuple[int, int, Match]], list[int], list[int]]:
    """Matched (index in A, index in B, how), then A's and B's unmatched indices."""
    pairs: list[tuple[int, int, Match]] = []
    free_a, free_b = set(range(len(a.node))), set(range(len(b.node)))

    def unique(
        graph: onnx.GraphProto, free: set[int], key: Callable[[onnx.NodeProto], str]
    ) -> dict[str, int]:
        counts = Counter(key(graph.node[i]) for i in free)
        return {
            key(graph.node[i]): i
            for i in free
            if key(graph.node[i]) and counts[key(graph.node[i])] == 1
        }

    keys: tuple[tuple[Match, Callable[[onnx.NodeProto], str]], ...] = (
        ("name", lambda n: n.name),
        # the same op producing the same tensor (a different op there is a rewrite)
        ("outputs", lambda n: f"{n.domain}/{n.op_type}/{n.output[0]}" if n.output else ""),
    )
    for how, key in keys:
        ua, ub = unique(a, free_a, key), unique(b, free_b, key)
        for k in sorted(set(ua) & set(ub), key=lambda k: ua[k]):
            pairs.append((ua[k], ub[k], how))
            free_a.discard(ua[k])
            free_b.discard(ub[k])
    by_op_b: dict[tuple[str, str], list[int]] = {}
    for j in sorted(free_b):
        by_op_b.setdefault((b.node[j].domain, b.node[j].op_type), []).append(j)
    for i in sorted(free_a):
        lane = by_op_b.get((a.node[i].domain, a.node[i].op_type))
        if lane:
            j = lane.pop(0)
            pairs.append((i, j, "op+position"))
            free_a.discard(i)
            free_b.discard(j)
    pairs.sort()
    return pairs, sorted(free_a), sorted(free_b)


def _ops(graph: onnx.GraphProto) -> Counter[str]:
    """Op types of a graph and every body inside it."""
    count: Counter[str] = Counter()
    for n in graph.node:
        count[n.op_type] += 1
        for attr in n.attribute:
            for body in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                count += _ops(body)
    return count


def _values(
    kind: str, a: list[onnx.ValueInfoProto], b: list[onnx.ValueInfoProto]
) -> list[ValueChange]:
    va, vb = {v.name: v for v in a}, {v.name: v for v in b}
    out = []
    for name in [v.name for v in a] + [v.name for v in b if v.name not in va]:
        ta, tb = _value_text(va.get(name)), _value_text(vb.get(name))
        if ta != tb:
            out.append(ValueChange(kind, name, ta, tb))
    return out


def _array(model: LoadedModel, name: str) -> tuple[np.ndarray | None, str]:
    from inspector.model.initializers import tensor_array

    try:
        return tensor_array(model, name), ""
    except Exception as exc:  # noqa: BLE001 - any decoding problem becomes the row's detail
        return None, str(exc)


def _error(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    d = np.abs(x.astype(np.float64) - y.astype(np.float64))
    return (float(d.max()), float(np.sqrt(np.mean(d * d)))) if d.size else (0.0, 0.0)


def _dequantized(
    b: LoadedModel, name: str, inits: dict[str, onnx.TensorProto]
) -> tuple[np.ndarray | None, str]:
    q, why = _array(b, f"{name}_quantized")
    scale, why_s = _array(b, f"{name}_scale") if f"{name}_scale" in inits else (None, "no scale")
    if q is None or scale is None:
        return None, why or why_s
    zp, _ = _array(b, f"{name}_zero_point") if f"{name}_zero_point" in inits else (np.zeros(()), "")
    zp = np.zeros(()) if zp is None else zp
    qf, s, z = q.astype(np.float64), scale.astype(np.float64), zp.astype(np.float64)
    if s.ndim == 1 and qf.ndim > 1 and s.shape[0] != qf.shape[-1]:  # per-channel on axis 0
        s, z = s.reshape((-1,) + (1,) * (qf.ndim - 1)), z.reshape((-1,) + (1,) * (qf.ndim - 1))
    try:
        return (qf - z) * s, ""
    except ValueError as exc:
        return None, f"cannot dequantize: {exc}"


def _initializers(a: LoadedModel, b: LoadedModel, weights: bool) -> list[InitializerChange]:
    ia = {t.name: t for t in a.proto.graph.initializer}
    ib = {t.name: t for t in b.proto.graph.initializer}
    used_b: set[str] = set()
    out: list[InitializerChange] = []
    for name, ta in ia.items():
        tb = ib.get(name)
        if tb is None and f"{name}_quantized" in ib:
            qn = f"{name}_quantized"
            used_b.update({qn, f"{name}_scale", f"{name}_zero_point"})
            max_abs = rms = None
            detail = "compared with B's dequantized values" if weights else "values not read"
            if weights:
                x, why = _array(a, name)
                y, why_b = _dequantized(b, name, ib)
                if x is not None and y is not None and x.shape == y.shape:
                    max_abs, rms = _error(x, y)
                else:
                    detail = why or why_b or f"shapes differ {x.shape if x is not None else ''}"
            out.append(
                InitializerChange(
                    name,
                    qn,
                    "quantized",
                    _tensor_text(ta),
                    _tensor_text(ib[qn]),
                    max_abs,
                    rms,
                    detail,
                )
            )
            continue
        if tb is None:
            out.append(
                InitializerChange(name, "", "removed", _tensor_text(ta), "—", None, None, "")
            )
            continue
        used_b.add(name)
        if ta.data_type != tb.data_type or list(ta.dims) != list(tb.dims):
            change = "dtype" if ta.data_type != tb.data_type else "shape"
            out.append(
                InitializerChange(
                    name, name, change, _tensor_text(ta), _tensor_text(tb), None, None, ""
                )
            )
            continue
        if not weights:
            continue
        x, why = _array(a, name)
        y, why_b = _array(b, name)
        if x is None or y is None:
            out.append(
                InitializerChange(
                    name,
                    name,
                    "values",
                    _tensor_text(ta),
                    _tensor_text(tb),
                    None,
                    None,
                    why or why_b,
                )
            )
            continue
        if x.dtype.kind in "fiub" and y.dtype.kind in "fiub":
            max_abs, rms = _error(x, y)
            if max_abs > 0 or np.isnan(max_abs):
                out.append(
                    InitializerChange(
                        name, name, "values", _tensor_text(ta), _tensor_text(tb), max_abs, rms, ""
                    )
                )
        elif not np.array_equal(x, y):
            out.append(
                InitializerChange(
                    name, name, "values", _tensor_text(ta), _tensor_text(tb), None, None, "differs"
                )
            )
    for name, tb in ib.items():
        if name not in ia and name not in used_b:
            out.append(InitializerChange("", name, "added", "—", _tensor_text(tb), None, None, ""))
    return out


def _external_layout(m: LoadedModel) -> dict[str, str]:
    files: Counter[str] = Counter()
    inline = 0
    for t in m.proto.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            loc = next((e.value for e in t.external_data if e.key == "location"), "?")
            files[loc] += 1
        else:
            inline += 1
    return {
        "inline initializers": str(inline),
        "external initializers": str(sum(files.values())),
        "data files": ", ".join(f"{k} ({n})" for k, n in sorted(files.items())) or "—",
    }


def diff_models(a: LoadedModel, b: LoadedModel, *, weights: bool = True) -> ModelDiff:
    """Structural differences of ``b`` against ``a`` (see the module docstring)."""
    ga, gb = a.proto.graph, b.proto.graph
    pairs, lone_a, lone_b = pair_nodes(ga, gb)
    oa = {o.domain: o.version for o in a.proto.opset_import}
    ob = {o.domain: o.version for o in b.proto.opset_import}
    opsets = tuple(
        (d, oa.get(d), ob.get(d)) for d in sorted(set(oa) | set(ob)) if oa.get(d) != ob.get(d)
    )
    ca, cb = _ops(ga), _ops(gb)
    ops = tuple(
        sorted(
            (OpDelta(op, ca[op], cb[op]) for op in set(ca) | set(cb) if ca[op] != cb[op]),
            key=lambda o: (-abs(o.b - o.a), o.op_type),
        )
    )
    node_pairs = tuple(
        NodePair(
            a_id=f"main:{i}",
            b_id=f"main:{j}",
            a_name=ga.node[i].name,
            b_name=gb.node[j].name,
            op_type=ga.node[i].op_type,
            how=how,
            changes=_node_changes(ga.node[i], gb.node[j]),
        )
        for i, j, how in pairs
    )
    lone = tuple(
        [LoneNode("removed", f"main:{i}", ga.node[i].name, ga.node[i].op_type) for i in lone_a]
        + [LoneNode("added", f"main:{j}", gb.node[j].name, gb.node[j].op_type) for j in lone_b]
    )
    la, lb = _external_layout(a), _external_layout(b)
    skipped = [] if weights else ["weight values (structure only: no tensor was read)"]
    if any(n.attribute and any(x.type in (5, 10) for x in n.attribute) for n in ga.node):
        skipped.append("If/Loop/Scan bodies are compared whole (op counts include them)")
    return ModelDiff(
        a=a.name,
        b=b.name,
        ir=(a.proto.ir_version, b.proto.ir_version),
        opsets=opsets,
        values=tuple(
            _values("input", list(ga.input), list(gb.input))
            + _values("output", list(ga.output), list(gb.output))
        ),
        ops=ops,
        pairs=node_pairs,
        lone=lone,
        initializers=tuple(_initializers(a, b, weights)),
        external=tuple((k, la[k], lb[k]) for k in la if la[k] != lb[k]),
        weights_compared=weights,
        skipped=tuple(skipped),
    )


@dataclass(frozen=True)
class OverlayFocus(Record):
    """What one side's overlay draws: ``drawn`` node ids (the nodes that differ first, then
    their producers and consumers, main-graph order) and the differing ids left out."""

    side: str  # "a" or "b"
    drawn: tuple[str, ...]
    differing: int
    left_out: tuple[str, ...]


def overlay_focus(
    diff: ModelDiff, graph: GraphRecord, side: str, cap: int = OVERLAY_READABLE_NODES
) -> OverlayFocus:
    """The part of model ``side``'s main graph worth drawing: its changed, removed (A) or added
    (B) nodes, then their neighbours one hop away, then two (:data:`OVERLAY_HOPS`), up to ``cap``
    nodes in all."""
    nodes = [n for n in graph.nodes if n.graph == "main"]
    order = {n.id: i for i, n in enumerate(nodes)}
    marked = [p.a_id if side == "a" else p.b_id for p in diff.pairs if p.changes]
    wanted = "removed" if side == "a" else "added"
    marked += [n.node_id for n in diff.lone if n.side == wanted]
    marked = sorted((m for m in set(marked) if m in order), key=order.__getitem__)
    chosen = set(marked[:cap])
    producer = {o: n.id for n in nodes for o in n.outputs if o}
    consumers: dict[str, list[str]] = {}
    for n in nodes:
        for t in n.inputs:
            consumers.setdefault(t, []).append(n.id)
    by_id = {n.id: n for n in nodes}
    ring = sorted(chosen, key=order.__getitem__)
    for _ in range(OVERLAY_HOPS):
        if not ring or len(chosen) >= cap:
            break
        near: set[str] = set()
        for nid in ring:
            n = by_id[nid]
            near.update(producer[t] for t in n.inputs if t in producer)
            near.update(c for t in n.outputs for c in consumers.get(t, ()))
        ring = sorted(near - chosen, key=order.__getitem__)[: cap - len(chosen)]
        chosen.update(ring)
    return OverlayFocus(
        side=side,
        drawn=tuple(sorted(chosen, key=order.__getitem__)),
        differing=len(marked),
        left_out=tuple(marked[cap:]),
    )
