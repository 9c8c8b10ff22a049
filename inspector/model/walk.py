"""Walk every graph of a model: the main graph, If/Loop/Scan bodies and model-local functions.

Each graph gets a stable id that doubles as its path: ``main``, ``main:3.then_branch`` (the
``then_branch`` attribute of node 3 of the main graph), ``fn:custom.Gelu`` for a function.
Node ids append the node's index: ``main:3``, ``main:3.then_branch:0``. Ids stay unique even
when node names are empty or duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.limits import DEFAULT_LIMITS, Limits
from inspector.model.proto import AttributeProto

if TYPE_CHECKING:
    import onnx

AttributeType = AttributeProto.AttributeType


@dataclass(frozen=True)
class Scope:
    """One graph (or function body) in the model."""

    id: str
    kind: str  # "main", "subgraph", "function"
    depth: int
    parent_node: str | None  # node id that owns this body (subgraphs only)
    attribute: str | None  # "then_branch", "body", ... (subgraphs only)
    nodes: tuple[onnx.NodeProto, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    graph: onnx.GraphProto | None  # None for functions
    function: onnx.FunctionProto | None = None
    parent: str | None = None  # id of the enclosing scope (subgraphs only)
    parent_index: int | None = None  # index of the owning node in the enclosing scope

    def node_id(self, index: int) -> str:
        return f"{self.id}:{index}"


@dataclass(frozen=True)
class WalkResult:
    scopes: tuple[Scope, ...]
    truncated_at: tuple[str, ...]  # node ids whose bodies were not walked (depth limit)


def function_key(fn: onnx.FunctionProto) -> tuple[str, str, str]:
    return (fn.domain, fn.name, getattr(fn, "overload", ""))


def function_scope_id(fn: onnx.FunctionProto) -> str:
    overload = getattr(fn, "overload", "")
    return f"fn:{fn.domain}.{fn.name}" + (f":{overload}" if overload else "")


def subgraph_attributes(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """(label, graph) for every graph-valued attribute of ``node``; labels are unique even when
    a (malformed) node repeats an attribute name."""
    seen: dict[str, int] = {}

    def unique(label: str) -> str:
        seen[label] = seen.get(label, 0) + 1
        return label if seen[label] == 1 else f"{label}#{seen[label]}"

    for attr in node.attribute:
        if attr.type == AttributeType.GRAPH or (attr.HasField("g") and attr.type == 0):
            yield unique(attr.name), attr.g
        elif attr.type == AttributeType.GRAPHS:
            for i, g in enumerate(attr.graphs):
                yield unique(f"{attr.name}[{i}]"), g


def walk(model: onnx.ModelProto, limits: Limits = DEFAULT_LIMITS) -> WalkResult:
    """All scopes, main graph first, then nested bodies depth-first, then functions."""
    scopes: list[Scope] = []
    truncated: list[str] = []

    def visit_graph(
        graph: onnx.GraphProto,
        sid: str,
        kind: str,
        depth: int,
        parent: str | None,
        attr: str | None,
        owner: Scope | None = None,
        index: int | None = None,
    ) -> None:
        scope = Scope(
            sid,
            kind,
            depth,
            parent,
            attr,
            tuple(graph.node),
            tuple(v.name for v in graph.input),
            tuple(v.name for v in graph.output),
            graph,
            None,
            owner.id if owner else None,
            index,
        )
        scopes.append(scope)
        visit_bodies(scope)

    def visit_bodies(scope: Scope) -> None:
        for index, node in enumerate(scope.nodes):
            bodies = list(subgraph_attributes(node))
            if not bodies:
                continue
            nid = scope.node_id(index)
            if scope.depth + 1 > limits.max_subgraph_depth:
                truncated.append(nid)
                continue
            for label, g in bodies:
                visit_graph(
                    g, f"{nid}.{label}", "subgraph", scope.depth + 1, nid, label, scope, index
                )

    visit_graph(model.graph, "main", "main", 0, None, None)
    ids: set[str] = set()
    for fn in model.functions:
        sid = base = function_scope_id(fn)
        k = 1
        while sid in ids:  # duplicate function definitions: keep ids unique
            k += 1
            sid = f"{base}#{k}"
        ids.add(sid)
        scope = Scope(
            sid,
            "function",
            0,
            None,
            None,
            tuple(fn.node),
            tuple(fn.input),
            tuple(fn.output),
            None,
            fn,
        )
        scopes.append(scope)
        visit_bodies(scope)
    return WalkResult(tuple(scopes), tuple(truncated))


def iter_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto that can hold weights: initializers, sparse values, Constant values and
    tensor attributes, in every graph and function — a function's default attribute values
    (``attribute_proto``) included (used to strip or inspect payloads)."""
    attributes: list[Iterable[onnx.AttributeProto]] = []
    for fn in model.functions:
        attributes.append(fn.attribute_proto)
        attributes.extend(node.attribute for node in fn.node)
    return tensors_in([model.graph], attributes)


def tensors_in(
    graphs: Iterable[onnx.GraphProto] = (),
    attributes: Iterable[Iterable[onnx.AttributeProto]] = (),
) -> Iterator[onnx.TensorProto]:
    """Every TensorProto in ``graphs`` and ``attributes`` (lists of attributes) and in every
    graph nested in them, however deep (iterative: no recursion limit)."""
    graph_stack = list(graphs)[::-1]  # stacks: reversed, so the first comes out first
    attr_stack = list(attributes)[::-1]
    while graph_stack or attr_stack:
        if graph_stack:
            graph = graph_stack.pop()
            yield from graph.initializer
            for sp in graph.sparse_initializer:
                yield sp.values
                yield sp.indices
            attr_stack.extend(node.attribute for node in reversed(graph.node))
            continue
        for attr in attr_stack.pop():
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("sparse_tensor"):
                yield attr.sparse_tensor.values
                yield attr.sparse_tensor.indices
            for sp in attr.sparse_tensors:
                yield sp.values
                yield sp.indices
            if attr.HasField("g"):
                graph_stack.append(attr.g)
            graph_stack.extend(attr.graphs)
