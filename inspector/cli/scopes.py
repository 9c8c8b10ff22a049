"""``onnx-inspector scopes MODEL``: a large graph's name-scope tree, and parts of it as models.

``--scope PATH`` lists that scope's children (default: the whole graph's), ``--depth N`` more
levels; ``--extract PATH -o F`` writes the scope as a model cut at its boundary (what the Graph
page draws), with its weights and typed boundary, so that it loads and runs on its own;
``--around NODE --hops K -o F`` the same for a node's neighbourhood. ``--skeleton`` leaves
weights over 1 KiB out (a small file for Netron) and says the file is for viewing only.
``--collapsed -o F`` writes ``--scope`` as the Graph page's first drawing: every scope one box
(:mod:`inspector.model.collapsed`), for viewing only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inspector.cli.tables import table
from inspector.errors import InspectorError
from inspector.model.load import LoadedModel
from inspector.model.scopes import SEP, Part, find_node, neighbourhood, part_of, scope_tree
from inspector.records import to_jsonable

#: Parts at least this large are written with their weights in an external-data file beside
#: them: one protobuf message cannot hold 2 GiB.
EXTERNAL_FROM_BYTES = 1 << 30


def write_part(part: Part, out: Path) -> None:
    """Write ``part`` to ``out`` and say on stderr what it is — and where it cannot load."""
    sub = part.model
    size = sub.ByteSize()
    if size >= EXTERNAL_FROM_BYTES:
        import onnx

        data = out.name + ".data"
        onnx.save_model(sub, str(out), save_as_external_data=True, location=data)
        where = f" (weights in {data} beside it: keep the two together)"
    else:
        out.write_bytes(sub.SerializeToString())
        where = ""
    print(
        f"wrote {out}: {len(sub.graph.node):,} nodes, {len(sub.graph.initializer):,} weights"
        f"{where}, inputs {', '.join(i.name for i in sub.graph.input) or '-'}, outputs "
        f"{', '.join(o.name for o in sub.graph.output)}",
        file=sys.stderr,
    )
    if part.viewing_only:
        print(
            "note: for viewing only — weights over 1 KiB were left out (--skeleton); it does "
            "not load in ONNX Runtime. Extract without --skeleton for a model that runs.",
            file=sys.stderr,
        )
    if part.untyped:
        print(
            f"warning: no complete type (element type and rank) is known for "
            f"{', '.join(part.untyped)}: shape inference could not follow it (e.g. an If whose "
            "branches return different ranks, or an op whose inference gives no rank, such as "
            "ConvInteger in some exports). onnx.checker refuses a graph input or "
            "output without one; ONNX Runtime loads the part where the element type is known.",
            file=sys.stderr,
        )


def main_scopes(args: argparse.Namespace, model: LoadedModel) -> int:
    graph = model.proto.graph
    budget = args.budget or model.limits.graph_node_budget
    if args.collapsed:
        from inspector.model.collapsed import collapsed_of

        if not args.output:
            raise InspectorError("--collapsed writes a model: give -o FILE")
        drawn = collapsed_of(model, args.scope)
        Path(args.output).write_bytes(drawn.model.SerializeToString())
        print(
            f"wrote {args.output}: {drawn.root} ({drawn.nodes:,} nodes) as {drawn.top} items, "
            f"{drawn.boxes:,} boxes in all, {drawn.depth} levels deep; for viewing only (no "
            "weights): open it in Netron and click a box's ƒ to open it",
            file=sys.stderr,
        )
        return 0
    tree = scope_tree(graph, budget)
    if args.extract or args.around:
        if not args.output:
            raise InspectorError("--extract and --around write a model: give -o FILE")
        if args.around:
            index = find_node(graph, args.around)
            if index is None:
                raise InspectorError(f"no node named {args.around!r} in the main graph")
            idx, title = neighbourhood(graph, index, args.hops), f"{args.around} ±{args.hops}"
        else:
            idx, title = tree.nodes_of(args.extract), args.extract
        part = part_of(model, idx, title, for_viewing=args.skeleton)
        write_part(part, Path(args.output))
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
