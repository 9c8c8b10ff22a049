"""Large graphs a scope at a time: the name-scope tree, sub-models for a scope or a node's
neighbourhood, cut at their boundary.

Exporters name nodes by the module that made them (``/model.22/cv3/conv/Conv``, TF's
``model/conv1/Conv2D``); the path before the last ``/`` is the node's scope. The tree counts
nodes per scope (recursively), so a user can open one scope of a 100,000-node graph and have
Netron lay out only that. A graph whose names carry no scopes, or a scope with more nodes of
its own than the budget, is split into runs of consecutive nodes (topological order:
``[0–1999]``), so every leaf fits the budget.

A sub-model keeps the chosen nodes in order; tensors they read but do not produce become its
inputs, tensors read outside the selection or by the graph's outputs become its outputs, both
typed from the model or its shape inference (symbolic dims kept), and the initializers it reads
are kept, with their values — read from the external-data files where the model keeps them
there — so the part is a model onnx.checker passes and ONNX Runtime loads and runs. A Constant
node outside the selection that feeds it becomes an initializer (a Reshape's shape stays a
constant); a Reshape whose target values inference cannot follow gets the rank its target's
length gives. Where a boundary tensor still has no complete type — an If whose branches return
different ranks has no static rank at all — :attr:`Part.untyped` names it and the CLI says so.

The Graph page draws parts in Netron, which needs no weights: ``for_viewing=True`` keeps
payloads of at most 1 KiB only, and marks the file (doc string and the metadata key
:data:`VIEWING_ONLY`) as a drawing that does not load. No Streamlit here; the Graph page and
``onnx-inspector scopes --extract`` use it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import onnx

from inspector.errors import InspectorError
from inspector.model.graph import implicit_inputs
from inspector.model.load import LoadedModel
from inspector.model.skeleton import STRIPPED
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


def find_node(graph: onnx.GraphProto, wanted: str) -> int | None:
    """The index of the node named ``wanted``, or whose id (``main:3``) it is; None if none."""
    return next(
        (i for i, n in enumerate(graph.node) if n.name == wanted or f"main:{i}" == wanted), None
    )


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


#: Metadata key of a part written for viewing only (its large weights left out).
VIEWING_ONLY = "onnx_inspector.viewing_only"
VIEWING_NOTE = (
    "For viewing only: drawn by ONNX Inspector with weights over 1 KiB left out "
    "(names, types and dims kept). It does not load in ONNX Runtime; extract the part "
    "without --skeleton for a model that runs."
)


def _typed(
    graph: onnx.GraphProto, extra: Iterable[onnx.ValueInfoProto]
) -> dict[str, onnx.ValueInfoProto]:
    """Tensor name → its value info, where it has a type: the model's own declarations win
    over shape inference's (``extra``), graph inputs and outputs over value_info."""
    known: dict[str, onnx.ValueInfoProto] = {}
    for complete in (False, True):  # a complete type wins over a bare element type
        for v in (*extra, *graph.value_info, *graph.output, *graph.input):
            if v.type.WhichOneof("value") is not None and _complete(v.type) == complete:
                known[v.name] = v
    return known


def _complete(t: onnx.TypeProto) -> bool:
    """A type the checker accepts on a graph input or output: a known element type (and
    a shape, even one of unknown dims — a tensor without one is refused)."""
    which = t.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        inner = getattr(t, which)
        return inner.elem_type != 0 and inner.HasField("shape")
    if which == "sequence_type":
        return t.sequence_type.HasField("elem_type") and _complete(t.sequence_type.elem_type)
    if which == "optional_type":
        return t.optional_type.HasField("elem_type") and _complete(t.optional_type.elem_type)
    if which == "map_type":
        return t.map_type.key_type != 0 and _complete(t.map_type.value_type)
    return False


def _constant_tensor(node: onnx.NodeProto) -> onnx.TensorProto | None:
    """The value of a Constant node, as an initializer named after its output."""
    if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or len(node.output) != 1:
        return None
    for a in node.attribute:
        if a.name == "value" and a.HasField("t"):
            t = onnx.TensorProto()
            t.CopyFrom(a.t)
            t.name = node.output[0]
            return t
    return None


@dataclass(frozen=True)
class Part:
    """A part of a model cut at its boundary, and what keeps it from being a valid model."""

    model: onnx.ModelProto
    # Boundary tensors whose type is not complete (no element type, or no rank: an If whose
    # branches return different ranks has none to give): onnx.checker refuses such a graph
    # input or output, though ONNX Runtime accepts one with an element type.
    untyped: tuple[str, ...]
    viewing_only: bool  # large weights left out: for drawing, not for loading


def extract_part(
    model: onnx.ModelProto,
    indices: Sequence[int],
    *,
    title: str = "",
    value_info: Iterable[onnx.ValueInfoProto] = (),
    weight: Callable[[onnx.TensorProto], onnx.TensorProto] | None = None,
    max_inline_bytes: int = 1024,
) -> Part:
    """The main-graph nodes ``indices`` of ``model`` as a model of their own (see the module
    docstring). ``value_info``: shape inference's types for the boundary tensors. ``weight``
    returns an initializer with its values (external data read in); without it, payloads over
    ``max_inline_bytes`` are left out and the part is marked for viewing only."""
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
    constants: dict[str, onnx.NodeProto] = {}
    for i, n in enumerate(graph.node):
        if i not in inside:
            read_outside.update(n.input)
            read_outside.update(implicit_inputs(n))
            for o in n.output:
                constants[o] = n
    inits = {t.name: t for t in graph.initializer}
    reads: list[str] = []
    for i in chosen:
        for x in [*graph.node[i].input, *implicit_inputs(graph.node[i])]:
            if x and x not in produced and x not in reads:
                reads.append(x)
    types = _typed(graph, value_info)
    sub = onnx.GraphProto(name=title or graph.name)
    sub.node.extend(graph.node[i] for i in chosen)
    stripped = False
    untyped: list[str] = []

    def boundary(name: str) -> onnx.ValueInfoProto:
        v = types.get(name)
        if v is None or not _complete(v.type):
            untyped.append(name)  # an element type alone still tells ONNX Runtime something
        return v if v is not None else onnx.ValueInfoProto(name=name)

    for x in reads:
        t = inits.get(x)
        if t is None and x in constants:
            t = _constant_tensor(constants[x])
        if t is None:
            sub.input.append(boundary(x))
            continue
        if weight is not None:
            sub.initializer.append(weight(t))
        elif (
            t.data_location == onnx.TensorProto.EXTERNAL
            or t.ByteSize() > max_inline_bytes
            or t.doc_string == STRIPPED  # the skeleton left its values out already
        ):
            sub.initializer.append(
                onnx.TensorProto(
                    name=t.name, data_type=t.data_type, dims=t.dims, doc_string=STRIPPED
                )
            )
            stripped = True
        else:
            sub.initializer.append(t)
    outs = [o for i in chosen for o in graph.node[i].output if o and o in read_outside]
    if not outs:  # nothing leaves the selection: show what it produces last
        outs = [o for o in graph.node[chosen[-1]].output if o]
    sub.output.extend(boundary(o) for o in dict.fromkeys(outs))
    sub.value_info.extend(
        v
        for name, v in types.items()
        if name in produced and name not in set(outs) and _complete(v.type)
    )
    out = onnx.ModelProto(
        ir_version=model.ir_version,
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        graph=sub,
    )
    out.opset_import.extend(model.opset_import)
    out.functions.extend(model.functions)
    if stripped:
        out.doc_string = VIEWING_NOTE
        out.metadata_props.add(key=VIEWING_ONLY, value="true")
    return Part(out, tuple(dict.fromkeys(untyped)), stripped)


def extract_nodes(
    model: onnx.ModelProto,
    indices: Sequence[int],
    *,
    title: str = "",
    value_info: Iterable[onnx.ValueInfoProto] = (),
    max_inline_bytes: int = 1024,
) -> onnx.ModelProto:
    """:func:`extract_part` of a bare ModelProto, for viewing: payloads over
    ``max_inline_bytes`` are left out (and the file says so)."""
    return extract_part(
        model, indices, title=title, value_info=value_info, max_inline_bytes=max_inline_bytes
    ).model


def _weight_reader(model: LoadedModel) -> Callable[[onnx.TensorProto], onnx.TensorProto]:
    """An initializer of ``model`` with its values inline: external data read from the
    companion files through the same checks every external read passes."""
    from inspector.model.external import check_tensor

    def read(t: onnx.TensorProto) -> onnx.TensorProto:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            return t
        check = check_tensor(model, f"main/{t.name}", "main", t)
        if not check.usable:
            raise InspectorError(
                f"weight {t.name!r} cannot be read for the part: {'; '.join(check.messages)}"
            )
        length = check.length if check.length is not None else check.expected_bytes
        inline = onnx.TensorProto(name=t.name, data_type=t.data_type, dims=t.dims)
        inline.raw_data = model.companions.read(check.file, check.offset or 0, length)
        return inline

    return read


def sub_model(
    model: LoadedModel, indices: Sequence[int], title: str = "", *, for_viewing: bool = False
) -> onnx.ModelProto:
    """:func:`extract_part` of a loaded model, typed by its shape inference: with every weight
    it reads (a model that loads), or ``for_viewing`` from its payload-free skeleton."""
    return part_of(model, indices, title, for_viewing=for_viewing).model


def part_of(
    model: LoadedModel, indices: Sequence[int], title: str = "", *, for_viewing: bool = False
) -> Part:
    """:func:`sub_model` with what keeps the part from being valid (:class:`Part`)."""
    inferred = model.native.inferred
    value_info = list(inferred.graph.value_info) if inferred is not None else []

    def cut() -> Part:
        if for_viewing:
            return extract_part(model.skeleton, indices, title=title, value_info=value_info)
        return extract_part(
            model.proto, indices, title=title, value_info=value_info, weight=_weight_reader(model)
        )

    part = cut()
    if part.untyped:  # e.g. a Reshape whose target shape inference could not follow
        value_info = [*_ranked(model, part.untyped), *value_info]  # inference's own win
        part = cut()
    return part


#: Rounds of :func:`_ranked`: each can rank the Reshapes the previous one's ranks unlocked.
RANK_ROUNDS = 4


def _ranked(model: LoadedModel, names: Sequence[str]) -> list[onnx.ValueInfoProto]:
    """Types for ``names`` that symbolic inference left without a rank. onnx's Reshape (and
    ConstantOfShape) inference gives up when the target shape's values are unknown, even
    where its length — the output's rank — is known (a Concat of Shape slices): the rank is
    written in as value_info with open dims and inference runs again, so the ops after it get
    ranks too. Inference runs in the confined child like every onnx pass."""
    from inspector.model.native import analyse

    current = onnx.ModelProto()
    current.CopyFrom(model.skeleton)
    found: dict[str, onnx.TypeProto] = {}
    for _ in range(RANK_ROUNDS):
        result = analyse(current, model.limits, check=False)
        if result.inferred is None:
            break
        g = result.inferred.graph
        known = {v.name: v.type for v in (*g.input, *g.value_info, *g.output)}
        for t in g.initializer:
            known[t.name] = onnx.helper.make_tensor_type_proto(t.data_type, list(t.dims))
        found = {n: known[n] for n in names if n in known and _complete(known[n])}
        if len(found) == len(names):
            break
        added = []
        for node in g.node:
            out = node.output[0] if node.output else ""
            if not out or (out in known and _complete(known[out])):
                continue
            if node.op_type == "Reshape" and len(node.input) > 1:
                source, elem = node.input[1], known.get(node.input[0])
                dtype = elem.tensor_type.elem_type if elem is not None else 0
            elif node.op_type == "ConstantOfShape" and node.input:
                source = node.input[0]
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                dtype = value.data_type if value is not None else onnx.TensorProto.FLOAT
            else:
                continue
            shape = known.get(source)
            dims = list(shape.tensor_type.shape.dim) if shape is not None else []
            if dtype == 0 or len(dims) != 1 or not dims[0].HasField("dim_value"):
                continue
            rank = dims[0].dim_value
            added.append(onnx.helper.make_tensor_value_info(out, dtype, [None] * rank))
        if not added:
            break
        current = onnx.ModelProto()
        current.CopyFrom(result.inferred)
        current.graph.value_info.extend(added)
    return [onnx.helper.make_value_info(n, t) for n, t in found.items()]


__all__ = [
    "VIEWING_ONLY",
    "Part",
    "Scope",
    "ScopeTime",
    "ScopeTree",
    "extract_nodes",
    "extract_part",
    "find_node",
    "neighbourhood",
    "node_scope",
    "part_of",
    "scope_nodes",
    "scope_times",
    "scope_tree",
    "sub_model",
]
