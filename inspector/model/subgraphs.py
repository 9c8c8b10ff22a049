"""The subgraph tree: If/Loop/Scan bodies and model-local functions, with recursion guards."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from inspector.model.load import LoadedModel
from inspector.model.walk import WalkResult, function_key, function_scope_id, walk
from inspector.records import Record


@dataclass(frozen=True, kw_only=True)
class SubgraphRow(Record):
    id: str  # graph id, e.g. "main:3.then_branch"; "main" for the main graph
    kind: str  # "main", "subgraph", "function"
    parent: str  # id of the enclosing graph ("" for main and functions)
    owner_node: str  # node id owning the body ("" for main and functions)
    owner_op: str  # If / Loop / Scan / ... ("" for main and functions)
    attribute: str  # then_branch, else_branch, body, ...
    depth: int
    nodes: int  # nodes directly in this graph
    nodes_nested: int  # nodes in this graph and every body below it
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SubgraphTree(Record):
    graphs: tuple[SubgraphRow, ...]  # depth-first, main first, then functions
    max_depth: int
    recursive_functions: tuple[tuple[str, ...], ...]  # call cycles between local functions
    not_walked: tuple[str, ...]  # node ids whose bodies exceed the depth limit

    def children(self, graph_id: str) -> tuple[SubgraphRow, ...]:
        return tuple(g for g in self.graphs if g.parent == graph_id)


def build_subgraphs(model: LoadedModel, walked: WalkResult | None = None) -> SubgraphTree:
    walked = walked or walk(model.proto, model.limits)
    by_id = {s.id: s for s in walked.scopes}
    parent_of: dict[str, str] = {}
    for s in walked.scopes:
        if s.parent_node:
            parent_of[s.id] = s.parent or ""
    nested: dict[str, int] = defaultdict(int)
    for s in walked.scopes:  # add each graph's own nodes to itself and every ancestor
        gid: str | None = s.id
        while gid is not None:
            nested[gid] += len(s.nodes)
            gid = parent_of.get(gid)
    rows = []
    for s in walked.scopes:
        owner_op = ""
        if s.parent_node:
            parent = by_id[parent_of[s.id]]
            owner_op = parent.nodes[s.parent_index or 0].op_type
        rows.append(
            SubgraphRow(
                id=s.id,
                kind=s.kind,
                parent=parent_of.get(s.id, ""),
                owner_node=s.parent_node or "",
                owner_op=owner_op,
                attribute=s.attribute or "",
                depth=s.depth,
                nodes=len(s.nodes),
                nodes_nested=nested[s.id],
                inputs=s.inputs,
                outputs=s.outputs,
            )
        )
    return SubgraphTree(
        graphs=tuple(rows),
        max_depth=max((r.depth for r in rows), default=0),
        recursive_functions=function_cycles(model),
        not_walked=walked.truncated_at,
    )


def function_cycles(model: LoadedModel) -> tuple[tuple[str, ...], ...]:
    """Cycles in the call graph of model-local functions (ONNX forbids recursion; ORT would
    loop inlining them). Each cycle is listed once, as function ids."""
    functions = {function_key(f): f for f in model.proto.functions}
    by_name = {(d, n): k for (d, n, o), k in ((k, k) for k in functions)}
    calls: dict[tuple, set[tuple]] = {}
    for key, fn in functions.items():
        targets = set()
        stack = list(fn.node)
        while stack:
            node = stack.pop()
            target = (node.domain, node.op_type, getattr(node, "overload", ""))
            if target in functions:
                targets.add(target)
            elif (node.domain, node.op_type) in by_name:
                targets.add(by_name[(node.domain, node.op_type)])
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.extend(attr.g.node)
                for g in attr.graphs:
                    stack.extend(g.node)
        calls[key] = targets
    return tuple(
        tuple(function_scope_id(functions[k]) for k in comp)
        for comp in _strongly_connected(calls)
        if len(comp) > 1 or comp[0] in calls[comp[0]]
    )


def _strongly_connected(graph: dict[tuple, set[tuple]]) -> list[list[tuple]]:
    """Tarjan's algorithm, iterative (linear; deep call chains cannot overflow the stack)."""
    index: dict[tuple, int] = {}
    low: dict[tuple, int] = {}
    on_stack: set[tuple] = set()
    stack: list[tuple] = []
    out: list[list[tuple]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(sorted(comp))
    return out
