"""The graph record: every node of every (sub)graph, inferred shapes and structural checks."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING

import onnx

from inspector.model.dtypes import dtype_name
from inspector.model.load import LoadedModel
from inspector.model.overview import domain_label, type_info
from inspector.model.walk import Scope, WalkResult, subgraph_attributes, walk
from inspector.records import Record, rows_frame

if TYPE_CHECKING:
    import pandas as pd

AT = onnx.AttributeProto


@dataclass(frozen=True, kw_only=True)
class NodeRow(Record):
    id: str  # stable and unique, e.g. "main:3" or "main:3.then_branch:0"
    name: str
    op_type: str
    domain: str
    graph: str  # id of the (sub)graph or function holding the node
    depth: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: str
    subgraphs: int
    output_shapes: tuple[str, ...]  # from shape inference where it succeeded, else ""


@dataclass(frozen=True, kw_only=True)
class ShapeInference(Record):
    ok: bool
    error: str  # the strict-mode error when inference failed; partial results are still used
    tensors_typed: int  # node outputs with an inferred type
    tensors_total: int


@dataclass(frozen=True, kw_only=True)
class Issue(Record):
    """A structural problem in one graph: a dangling input, a duplicate output, a cycle."""

    kind: str  # "dangling_input", "duplicate_output", "cycle", "unsorted", "dead_node"
    graph: str
    tensor: str
    nodes: tuple[str, ...]  # node ids concerned


@dataclass(frozen=True, kw_only=True)
class GraphRecord(Record):
    nodes: tuple[NodeRow, ...]
    op_histogram: tuple[tuple[str, int], ...]  # ("Conv", 12) by count, then name
    topological_order: tuple[str, ...]  # node ids of the main graph; empty if it has a cycle
    shape_inference: ShapeInference
    issues: tuple[Issue, ...]
    not_walked: tuple[str, ...]  # nodes whose bodies were beyond the depth limit

    def frame(self) -> pd.DataFrame:
        """The node table as a DataFrame (tuples joined as text)."""
        return rows_frame(self.nodes)

    def filter(
        self,
        name: str | None = None,
        op_type: str | None = None,
        domain: str | None = None,
        shape: str | None = None,
        graph: str | None = None,
    ) -> tuple[NodeRow, ...]:
        """Nodes matching all given filters: case-insensitive substring for ``name`` and
        ``shape`` (e.g. ``"1x3x224"``), exact ``op_type``, ``domain`` (``"ai.onnx"`` for the
        default domain) and graph id."""
        out = []
        for row in self.nodes:
            if name and name.lower() not in row.name.lower() and name.lower() not in row.id.lower():
                continue
            if op_type and row.op_type != op_type:
                continue
            if domain is not None and domain_label(row.domain) != domain_label(domain):
                continue
            if shape and not any(shape.lower() in s.lower() for s in row.output_shapes):
                continue
            if graph and row.graph != graph:
                continue
            out.append(row)
        return tuple(out)


def attribute_summary(node: onnx.NodeProto, max_chars: int) -> str:
    parts = []
    for a in node.attribute:
        parts.append(f"{a.name}={_attr_value(a)}")
    text = ", ".join(parts)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _attr_value(a: onnx.AttributeProto) -> str:
    t = a.type
    if t == AT.FLOAT:
        return f"{a.f:g}"
    if t == AT.INT:
        return str(a.i)
    if t == AT.STRING:
        return repr(a.s.decode("utf-8", "backslashreplace"))
    if t == AT.TENSOR:
        return f"<tensor {dtype_name(a.t.data_type)} {list(a.t.dims)}>"
    if t == AT.GRAPH:
        return f"<graph {len(a.g.node)} nodes>"
    if t == AT.FLOATS:
        return _seq([f"{x:g}" for x in a.floats])
    if t == AT.INTS:
        return _seq([str(x) for x in a.ints])
    if t == AT.STRINGS:
        return _seq([repr(s.decode("utf-8", "backslashreplace")) for s in a.strings])
    if t == AT.GRAPHS:
        return f"<{len(a.graphs)} graphs>"
    if t == AT.TENSORS:
        return f"<{len(a.tensors)} tensors>"
    if a.ref_attr_name:
        return f"@{a.ref_attr_name}"
    return "<?>"


def _seq(items: list[str]) -> str:
    if len(items) > 8:
        items = items[:8] + [f"… ({len(items)} values)"]
    return "[" + ", ".join(items) + "]"


def infer_shapes(
    model: LoadedModel, walked: WalkResult | None = None
) -> tuple[dict[str, str], ShapeInference]:
    """Tensor name → shape text from onnx shape inference on a payload-free skeleton.

    Failures are reported, not raised: strict mode gives the error message, then a lenient
    pass keeps whatever could be inferred; when onnx crashes or runs out of its memory cap the
    declared shapes are all there is (see :mod:`inspector.model.native`).
    """
    native = model.native  # in a limited child process: onnx can crash on hostile models
    inferred = native.inferred if native.inferred is not None else model.skeleton
    error = native.inference_error
    shapes: dict[str, str] = {}
    graphs = [inferred.graph]
    while graphs:
        g = graphs.pop()
        for vi in (*g.input, *g.output, *g.value_info):
            if vi.type.WhichOneof("value"):
                info = type_info(vi.name, vi.type)
                shapes.setdefault(vi.name, f"{info.dtype}{info.shape_text}")
        for t in g.initializer:
            shapes.setdefault(
                t.name,
                f"{dtype_name(t.data_type)}[{', '.join(map(str, t.dims))}]",
            )
        for node in g.node:
            graphs.extend(body for _, body in subgraph_attributes(node))
    total = typed = 0
    for scope in (walked or walk(model.proto, model.limits)).scopes:
        for node in scope.nodes:
            for out in node.output:
                if out:
                    total += 1
                    typed += out in shapes
    return shapes, ShapeInference(
        ok=not error, error=error, tensors_typed=typed, tensors_total=total
    )


def _scope_issues(
    scope: Scope, outer: tuple[set[str], ...], ids: list[str]
) -> tuple[list[Issue], list[str]]:
    """Dangling inputs, duplicate outputs, cycles and ordering of one graph; and its topo order.

    ``outer`` is the chain of name sets of the enclosing graphs (never merged: merging copies
    them for every body, which is quadratic on models with thousands of bodies)."""
    issues: list[Issue] = []
    inputs = set(scope.inputs)
    available = set(inputs)
    if scope.graph is not None:
        available |= {t.name for t in scope.graph.initializer}
        available |= {t.values.name for t in scope.graph.sparse_initializer}
    producers: dict[str, list[int]] = defaultdict(list)
    for i, node in enumerate(scope.nodes):
        for out in node.output:
            if out:
                producers[out].append(i)
    for tensor, idx in producers.items():
        if len(idx) > 1 or tensor in inputs:
            issues.append(
                Issue(
                    kind="duplicate_output",
                    graph=scope.id,
                    tensor=tensor,
                    nodes=tuple(ids[i] for i in idx),
                )
            )
    # Inputs a node needs from within this graph (outer-scope names count as available).
    # Bodies may read names of the enclosing graph implicitly: include them as dependencies.
    deps: list[set[int]] = []
    implicit = [implicit_inputs(node) for node in scope.nodes]
    for i, node in enumerate(scope.nodes):
        needed = [x for x in node.input if x] + implicit[i]
        d: set[int] = set()
        for name in needed:
            if name in producers:
                d.add(producers[name][0])
            elif name not in available and not any(name in names for names in outer):
                issues.append(
                    Issue(kind="dangling_input", graph=scope.id, tensor=name, nodes=(ids[i],))
                )
        d.discard(i) if i not in d else None
        deps.append(d)
    # Topological order, stable by file order (ready nodes are taken lowest index first).
    sorter: TopologicalSorter[int] = TopologicalSorter()
    for i, d in enumerate(deps):
        sorter.add(i, *d)
    try:
        sorter.prepare()
    except CycleError as exc:
        on_cycle = sorted(set(exc.args[1]))  # the nodes of one cycle
        issues.append(
            Issue(kind="cycle", graph=scope.id, tensor="", nodes=tuple(ids[i] for i in on_cycle))
        )
        return issues, []
    order: list[int] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    late = [ids[i] for i, d in enumerate(deps) if any(j > i for j in d)]
    if late:
        issues.append(Issue(kind="unsorted", graph=scope.id, tensor="", nodes=tuple(late[:20])))
    # Dead nodes: outputs used by nobody and not graph outputs (main graph only: bodies'
    # values may be read implicitly by nested bodies, which we count above).
    if scope.kind == "main":
        consumed = {x for i, n in enumerate(scope.nodes) for x in (*n.input, *implicit[i])}
        consumed |= set(scope.outputs)
        for i, node in enumerate(scope.nodes):
            if node.output and not any(o in consumed for o in node.output if o):
                issues.append(
                    Issue(kind="dead_node", graph=scope.id, tensor=node.output[0], nodes=(ids[i],))
                )
    return issues, [ids[i] for i in order]


def implicit_inputs(node: onnx.NodeProto) -> list[str]:
    """Names a node's bodies read from the enclosing graph (not produced inside the body)."""
    out: list[str] = []
    stack: list[tuple[onnx.GraphProto, tuple[set[str], ...]]] = [
        (g, ()) for _, g in subgraph_attributes(node)
    ]
    while stack:
        g, chain = stack.pop()
        local = {v.name for v in g.input} | {t.name for t in g.initializer}
        local |= {o for n in g.node for o in n.output}
        scope_chain = (*chain, local)

        def free(name: str, scope_chain: tuple[set[str], ...] = scope_chain) -> bool:
            return not any(name in names for names in scope_chain)

        for n in g.node:
            out.extend(x for x in n.input if x and free(x))
            stack.extend((b, scope_chain) for _, b in subgraph_attributes(n))
        out.extend(v.name for v in g.output if free(v.name))
    return out


def build_graph(model: LoadedModel, walked: WalkResult | None = None) -> GraphRecord:
    """The full node table with shapes, the op histogram, topological order and issues."""
    walked = walked or walk(model.proto, model.limits)
    shapes, inference = infer_shapes(model, walked)
    max_chars = model.limits.max_attribute_summary_chars
    rows: list[NodeRow] = []
    histogram: Counter[str] = Counter()
    issues: list[Issue] = []
    visible: dict[str, tuple[set[str], ...]] = {}
    main_order: list[str] = []
    for scope in walked.scopes:
        ids = [scope.node_id(i) for i in range(len(scope.nodes))]
        for i, node in enumerate(scope.nodes):
            op = (
                node.op_type
                if not node.domain or node.domain == "ai.onnx"
                else f"{node.domain}::{node.op_type}"
            )
            histogram[op] += 1
            rows.append(
                NodeRow(
                    id=ids[i],
                    name=node.name,
                    op_type=node.op_type,
                    domain=domain_label(node.domain),
                    graph=scope.id,
                    depth=scope.depth,
                    inputs=tuple(node.input),
                    outputs=tuple(node.output),
                    attributes=attribute_summary(node, max_chars),
                    subgraphs=sum(1 for _ in subgraph_attributes(node)),
                    output_shapes=tuple(shapes.get(o, "") for o in node.output),
                )
            )
        # Names visible to this scope from its ancestors (for subgraph dangling checks).
        outer: tuple[set[str], ...] = ()
        if scope.parent is not None:
            outer = visible.get(scope.parent, ())
        scope_issues, order = _scope_issues(scope, outer, ids)
        issues.extend(scope_issues)
        if scope.kind == "main":
            main_order = order
        names = set(scope.inputs) | {o for n in scope.nodes for o in n.output}
        if scope.graph is not None:
            names |= {t.name for t in scope.graph.initializer}
        visible[scope.id] = (*outer, names)
    return GraphRecord(
        nodes=tuple(rows),
        op_histogram=tuple(sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0]))),
        topological_order=tuple(main_order),
        shape_inference=inference,
        issues=tuple(issues),
        not_walked=walked.truncated_at,
    )
