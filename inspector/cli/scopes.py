"""``onnx-inspector scopes MODEL``: a large graph's name-scope tree, and parts of it as models.

``--scope PATH`` lists that scope's children (default: the whole graph's), ``--depth N`` more
levels; ``--extract PATH -o F`` writes the scope as a model cut at its boundary (what the Graph
page draws); ``--around NODE --hops K -o F`` the same for a node's neighbourhood."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inspector.cli.tables import table
from inspector.errors import InspectorError
from inspector.model.load import LoadedModel
from inspector.model.scopes import SEP, neighbourhood, scope_tree, sub_model
from inspector.records import to_jsonable


def main_scopes(args: argparse.Namespace, model: LoadedModel) -> int:
    graph = model.proto.graph
    budget = args.budget or model.limits.graph_node_budget
    tree = scope_tree(graph, budget)
    if args.extract or args.around:
        if not args.output:
            raise InspectorError("--extract and --around write a model: give -o FILE")
        if args.around:
            index = next(
                (
                    i
                    for i, n in enumerate(graph.node)
                    if n.name == args.around or f"main:{i}" == args.around
                ),
                None,
            )
            if index is None:
                raise InspectorError(f"no node named {args.around!r} in the main graph")
            idx, title = neighbourhood(graph, index, args.hops), f"{args.around} ±{args.hops}"
        else:
            idx, title = tree.nodes_of(args.extract), args.extract
        sub = sub_model(model, idx, title)
        Path(args.output).write_bytes(sub.SerializeToString())
        print(
            f"wrote {args.output}: {len(sub.graph.node):,} nodes, inputs "
            f"{', '.join(i.name for i in sub.graph.input) or '-'}, outputs "
            f"{', '.join(o.name for o in sub.graph.output)}",
            file=sys.stderr,
        )
        return 0
    top = tree.get(args.scope)
    shown = [
        s
        for s in tree.scopes
        if s.path != top.path
        and (top.path == SEP or s.path.startswith(top.path + SEP))
        and s.depth <= top.depth + args.depth
    ]
    if args.json:
        doc = {
            "nodes": tree.nodes,
            "budget": tree.budget,
            "scoped": tree.scoped,
            "scope": to_jsonable(top),
            "children": to_jsonable(shown),
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{model.name}: {tree.nodes:,} nodes in the main graph, {tree.scoped:,} with a name "
        f"scope; {top.path} holds {top.nodes:,} ({len(tree.scopes):,} scopes, leaves ≤ {budget:,})"
    )
    if not shown:
        print(
            f"no scopes below {top.path}: its {top.nodes:,} nodes carry no name scope and fit the "
            "budget in one drawing"
        )
        return 0
    rows = [
        ("  " * (s.depth - top.depth - 1) + s.path.rsplit(SEP, 1)[-1], s.nodes, s.children, s.ops)
        for s in shown[: args.limit]
    ]
    print(table(["scope", "nodes", "children", "ops"], rows, 60))
    if len(shown) > args.limit:
        print(f"… {len(shown) - args.limit:,} more (--limit)")
    return 0
