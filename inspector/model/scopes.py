"""Large graphs a scope at a time: the name-scope tree, sub-models for a scope or a node's
neighbourhood, cut at their boundary.

Exporters name nodes by the module that made them (``/model.22/cv3/conv/Conv``, TF's
``model/conv1/Conv2D``); the path before the last ``/`` is the node's scope. The tree counts
nodes per scope (recursively), so a user can open one scope of a 100,000-node graph and have
Netron lay out only that. A graph whose names carry no scopes, or a scope with more nodes of
its own than the budget, is split into runs of consecutive nodes (topological order:
``[0–1999]``), so every leaf fits the budget.

A sub-model keeps the chosen nodes in order; tensors they read but do not produce become its
inputs (typed where the model or shape inference knows the type), tensors read outside the
selection or by the graph's outputs become its outputs, and the initializers it reads are kept
with their names, types and dims but without large payloads (it is for looking at, not
running). No Streamlit here; the Graph page and ``onnx-inspector graph --scope`` use it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import onnx

from inspector.errors import InspectorError
from inspector.model.graph import implicit_inputs
from inspector.model.load import LoadedModel
from inspector.records import Record

SEP = "/"


def node_scope(name: str) -> tuple[str, ...]:
    """The scope components of a node name: ``/model.22/cv3/Conv`` → ("model.22", "cv3")."""
    parts = [p for p in name.split(SEP) if p]
    return tuple(parts[:-1])


@dataclass(frozen=True, kw_only=True)
class Scope(Record):
    path: str  # "/model.22/cv3"; "/" is the whole graph; "/a/[0–1999]" a run of a's own nodes
    depth: int
    nodes: int  # nodes under it, all levels
    own: int  # nodes directly in it (no deeper scope)
    children: int
    first: int  # index of its first node in the graph (tree order follows the graph)
    ops: str  # its most frequent op types, "Conv 12, Mul 8, …"


@dataclass(frozen=True, kw_only=True)
class ScopeTree(Record):
    nodes: int
    budget: int  # the most nodes a leaf holds
    scoped: int  # nodes whose names carry a scope
    scopes: tuple[Scope, ...]  # pre-order: a scope, then its children by first node
    _leaves: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)

    def nodes_of(self, path: str) -> list[int]:
        """Indices of the nodes under ``path`` (all levels), in graph order."""
        if path == SEP:
            return list(range(self.nodes))
        prefix = path + SEP
        out = [
            i for p, idx in self._leaves.items() if p == path or p.startswith(prefix) for i in idx
        ]
        if not out:
            raise InspectorError(f"no scope {path!r} in this graph")
        return sorted(out)

    def fitting(self, budget: int) -> list[Scope]:
        """The largest scopes of at most ``budget`` nodes (each one's parent is bigger), in
        graph order: the parts a user picks from to see a big graph piece by piece."""
        big = {s.path for s in self.scopes if s.nodes > budget}
        return [
            s for s in self.scopes if s.nodes <= budget and (s.depth == 0 or _parent(s.path) in big)
        ]

    def get(self, path: str) -> Scope:
        for s in self.scopes:
            if s.path == path:
                return s
        raise InspectorError(f"no scope {path!r} in this graph")

    def children(self, path: str) -> list[Scope]:
        depth = 0 if path == SEP else self.get(path).depth
        prefix = SEP if path == SEP else path + SEP
        return [s for s in self.scopes if s.depth == depth + 1 and s.path.startswith(prefix)]


def _parent(path: str) -> str:
    head = path.rsplit(SEP, 1)[0]
    return head or SEP


@dataclass(frozen=True, kw_only=True)
class ScopeTime(Record):
    path: str
    depth: int
    nodes: int
    timed_nodes: int  # nodes with a time (fused/compiled nodes are split over their origins)
    us: float  # summed per-node time
    share: float  # of the whole graph's summed time


def scope_times(tree: ScopeTree, node_us: dict[int, float], max_depth: int = 3) -> list[ScopeTime]:
    """Per-node times summed per scope (down to ``max_depth``), the costliest first: where a
    100,000-node model spends its time, before opening any drawing."""
    total = sum(node_us.values()) or 1.0
    us: dict[str, float] = defaultdict(float)
    timed: dict[str, int] = defaultdict(int)
    for leaf, idx in tree._leaves.items():  # one pass: each leaf adds to its ancestors
        times = [node_us[i] for i in idx if i in node_us]
        parts = [p for p in leaf.split(SEP) if p]
        for d in range(1, min(len(parts), max_depth) + 1):
            path = SEP + SEP.join(parts[:d])
            us[path] += sum(times)
            timed[path] += len(times)
    out = [
        ScopeTime(
            path=s.path,
            depth=s.depth,
            nodes=s.nodes,
            timed_nodes=timed[s.path],
            us=us[s.path],
            share=us[s.path] / total,
        )
        for s in tree.scopes
        if 0 < s.depth <= max_depth
    ]
    out.sort(key=lambda t: (-t.us, t.path))
    return out


def _segment(a: int, b: int) -> str:
    return f"[{a}–{b}]"


def _ops_text(ops: dict[str, int], top: int = 4) -> str:
    items = sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{o} {n}" for o, n in items[:top])
    return text + (", …" if len(items) > top else "")


def _tree_nodes(graph: onnx.GraphProto, budget: int) -> dict[str, list[int]]:
    """Scope path → indices of the nodes directly in it, with over-budget runs split."""
    own: dict[str, list[int]] = defaultdict(list)
    for i, node in enumerate(graph.node):
        parts = node_scope(node.name)
        own[SEP + SEP.join(parts) if parts else SEP].append(i)
    out: dict[str, list[int]] = {}
    for path, idx in own.items():
        if len(idx) <= budget:
            out[path] = idx
            continue
        for k in range(0, len(idx), budget):  # runs of consecutive own nodes
            part = idx[k : k + budget]
            base = "" if path == SEP else path
            out[f"{base}{SEP}{_segment(k, k + len(part) - 1)}"] = part
    return out


def scope_tree(graph: onnx.GraphProto, budget: int = 2000) -> ScopeTree:
    """The name-scope tree of ``graph``'s nodes (see the module docstring)."""
    if budget < 1:
        raise InspectorError("the node budget must be at least 1")
    leaves = _tree_nodes(graph, budget)
    count: dict[str, int] = defaultdict(int)
    own: dict[str, int] = defaultdict(int)
    first: dict[str, int] = {}
    ops: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    kids: dict[str, set[str]] = defaultdict(set)
    for path, idx in leaves.items():
        own[path] += len(idx)
        parts = [p for p in path.split(SEP) if p]
        chain = [SEP] + [SEP + SEP.join(parts[: d + 1]) for d in range(len(parts))]
        for parent, child in zip(chain, chain[1:], strict=False):
            kids[parent].add(child)
        for p in chain:
            count[p] += len(idx)
            first[p] = min(first.get(p, idx[0]), idx[0])
            for i in idx:
                ops[p][graph.node[i].op_type] += 1
    ordered: list[Scope] = []

    def visit(path: str, depth: int) -> None:
        ordered.append(
            Scope(
                path=path,
                depth=depth,
                nodes=count[path],
                own=own.get(path, 0),
                children=len(kids[path]),
                first=first.get(path, 0),
                ops=_ops_text(ops[path]),
            )
        )
        for child in sorted(kids[path], key=lambda c: (first.get(c, 0), c)):
            visit(child, depth + 1)

    visit(SEP, 0)
    scoped = sum(1 for n in graph.node if node_scope(n.name))
    return ScopeTree(
        nodes=len(graph.node), budget=budget, scoped=scoped, scopes=tuple(ordered), _leaves=leaves
    )


def scope_nodes(graph: onnx.GraphProto, path: str, budget: int = 2000) -> list[int]:
    """Indices of the nodes under ``path`` (all levels), in graph order (builds the tree: keep
    a :class:`ScopeTree` and call its ``nodes_of`` for more than one scope)."""
    return scope_tree(graph, budget).nodes_of(path)


def neighbourhood(graph: onnx.GraphProto, index: int, hops: int) -> list[int]:
    """Indices of the nodes at most ``hops`` tensor edges from node ``index`` (both ways)."""
    if not 0 <= index < len(graph.node):
        raise InspectorError(f"no node main:{index} in this graph ({len(graph.node)} nodes)")
    producer: dict[str, int] = {}
    consumers: dict[str, list[int]] = defaultdict(list)
    reads = [set(n.input) | set(implicit_inputs(n)) for n in graph.node]  # bodies' reads too
    for i, n in enumerate(graph.node):
        for o in n.output:
            if o:
                producer[o] = i
        for x in reads[i]:
            if x:
                consumers[x].append(i)
    seen = {index: 0}
    todo = deque([index])
    while todo:
        i = todo.popleft()
        if seen[i] >= hops:
            continue
        n = graph.node[i]
        near = [producer[x] for x in reads[i] if x in producer]
        near += [c for o in n.output for c in consumers.get(o, ())]
        for j in near:
            if j not in seen:
                seen[j] = seen[i] + 1
                todo.append(j)
    return sorted(seen)


def _typed(
    graph: onnx.GraphProto, extra: Iterable[onnx.ValueInfoProto]
) -> dict[str, onnx.ValueInfoProto]:
    known: dict[str, onnx.ValueInfoProto] = {}
    for v in (*graph.input, *graph.value_info, *extra, *graph.output):
        if v.type.WhichOneof("value") is not None:
            known[v.name] = v
    return known


def extract_nodes(
    model: onnx.ModelProto,
    indices: Sequence[int],
    *,
    title: str = "",
    value_info: Iterable[onnx.ValueInfoProto] = (),
    max_inline_bytes: int = 1024,
) -> onnx.ModelProto:
    """A model holding only the main-graph nodes ``indices`` (see the module docstring).
    ``value_info``: types from shape inference, for the boundary tensors."""
    graph = model.graph
    chosen = sorted(set(indices))
    if not chosen:
        raise InspectorError("no nodes to extract")
    if chosen[0] < 0 or chosen[-1] >= len(graph.node):
        raise InspectorError(f"node index outside the graph ({len(graph.node)} nodes)")
    inside = set(chosen)
    produced: set[str] = set()
    for i in chosen:
        produced.update(o for o in graph.node[i].output if o)
    read_outside: set[str] = {o.name for o in graph.output}
    for i, n in enumerate(graph.node):
        if i not in inside:
            read_outside.update(n.input)
            read_outside.update(implicit_inputs(n))
    inits = {t.name: t for t in graph.initializer}
    reads: list[str] = []
    for i in chosen:
        for x in [*graph.node[i].input, *implicit_inputs(graph.node[i])]:
            if x and x not in produced and x not in reads:
                reads.append(x)
    types = _typed(graph, value_info)
    sub = onnx.GraphProto(name=title or graph.name)
    sub.node.extend(graph.node[i] for i in chosen)
    for x in reads:
        if x in inits:
            t = inits[x]
            small = onnx.TensorProto()
            small.CopyFrom(t)
            if t.data_location == onnx.TensorProto.EXTERNAL or t.ByteSize() > max_inline_bytes:
                keep = onnx.TensorProto(name=t.name, data_type=t.data_type, dims=t.dims)
                small = keep
            sub.initializer.append(small)
        else:
            sub.input.append(types.get(x) or onnx.ValueInfoProto(name=x))
    outs = [o for i in chosen for o in graph.node[i].output if o and o in read_outside]
    if not outs:  # nothing leaves the selection: show what it produces last
        outs = [o for o in graph.node[chosen[-1]].output if o]
    sub.output.extend(types.get(o) or onnx.ValueInfoProto(name=o) for o in outs)
    sub.value_info.extend(
        v for name, v in types.items() if name in produced and name not in set(outs)
    )
    out = onnx.ModelProto(
        ir_version=model.ir_version,
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        graph=sub,
    )
    out.opset_import.extend(model.opset_import)
    out.functions.extend(model.functions)
    return out


def sub_model(model: LoadedModel, indices: Sequence[int], title: str = "") -> onnx.ModelProto:
    """:func:`extract_nodes` of a loaded model: from its payload-free skeleton (no weights, no
    external-data references), typed by its shape inference where that succeeded."""
    inferred = model.native.inferred
    return extract_nodes(
        model.skeleton,
        indices,
        title=title,
        value_info=inferred.graph.value_info if inferred is not None else (),
    )


__all__ = [
    "Scope",
    "ScopeTime",
    "ScopeTree",
    "extract_nodes",
    "neighbourhood",
    "node_scope",
    "scope_nodes",
    "scope_times",
    "scope_tree",
    "sub_model",
]
