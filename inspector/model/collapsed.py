"""A graph of any size drawn collapsed: its scope hierarchy as ONNX model-local functions.

Netron lays out about a thousand nodes in a few seconds and a 100,000-node graph not at all
(bench/bench_graph.py). The collapsed model is the graph Netron draws first: every box is a
call of a model-local function — a name scope (``/encoder``), or a run of consecutive nodes
(``[120–339]``) where names carry no scopes or a scope holds more than fits — whose inputs and
outputs are the tensors crossing its boundary, and whose body is the scope's own nodes beside
calls of its child scopes. Netron draws a function call as one node and opens its body on a
click of the node's ƒ; its back arrow returns. Every level holds at most ``boxes`` items, so
each drawing is small whatever the model's size, and every node of the main graph sits in
exactly one body (:func:`original_nodes` walks them all; the tests check it on every model).

Boundaries leave out initializers (a weight stays a row of the node reading it, as Netron
shows one, not an input of every box around it) and carry the types shape inference gave.
Headers show the last path component and its node count (dots become ``․``: Netron shows
only what follows a dot);
the call's node name is the full path, and its attributes count nodes and ops. The model is
for viewing only (no weights; the scope domain has no schema), marked as such.
No Streamlit here; the Graph page and ``onnx-inspector scopes --collapsed`` use it.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import onnx

from inspector.errors import InspectorError
from inspector.model.graph import implicit_inputs
from inspector.model.load import LoadedModel
from inspector.model.scopes import SEP, VIEWING_NOTE, VIEWING_ONLY, node_scope
from inspector.model.skeleton import STRIPPED

DOMAIN = "onnx_inspector.scope"  # the domain of every box (never a real op's)
BOXES = 60  # items per drawing: Netron lays this out in well under a second


@dataclass(eq=False)
class _Box:
    label: str  # the header: a scope's last component, or "[a–b]"
    path: str  # full path, shown as the call's name
    items: list[_Box | int]  # own node indices and child boxes, in graph order
    first: int  # its first node's index
    count: int  # nodes under it, all levels
    ends: tuple[str, str] = ("", "")  # a group of scopes: its first and last scope's labels


@dataclass(frozen=True)
class Collapsed:
    """The drawing and what it holds."""

    model: onnx.ModelProto
    root: str  # the scope drawn (``/``: the whole graph)
    nodes: int  # main-graph nodes under it
    boxes: int  # function bodies (boxes) in the whole hierarchy
    top: int  # items in the first drawing
    depth: int  # clicks from the first drawing to the deepest node


def _first(it: _Box | int) -> int:
    return it if isinstance(it, int) else it.first


def _count(it: _Box | int) -> int:
    return 1 if isinstance(it, int) else it.count


def _last(it: _Box | int) -> int:
    while not isinstance(it, int):
        it = max(it.items, key=_last)
    return it


def _span(items: Sequence[_Box | int]) -> tuple[str, tuple[str, str]]:
    """A group's label and ends: its first and last scope (``layers.0–11``) when it holds
    scopes only, else its first and last node index (``[120–339]``)."""
    a, b = items[0], items[-1]
    scopes = not any(isinstance(it, int) or it.label[:1] == "[" for it in items)
    if scopes and isinstance(a, _Box) and isinstance(b, _Box):
        first, last = (a.ends[0] or a.label), (b.ends[1] or b.label)
        common = len(os.path.commonprefix([first, last]))
        while common and first[common - 1].isdigit():  # "layers.1", "layers.11": "layers."
            common -= 1
        return f"{first}–{last[common:]}", (first, last)
    return f"[{min(map(_first, items))}–{max(map(_last, items))}]", ("", "")


def _group(items: Sequence[_Box | int], parent: str, boxes: int) -> _Box:
    span, ends = _span(items)
    path = f"{parent.rstrip(SEP)}{SEP}{span}"
    return _Box(
        label=span,
        path=path,
        items=_fit(list(items), path, boxes),
        first=_first(items[0]),  # items are in graph order: the first starts first
        count=sum(map(_count, items)),
        ends=ends,
    )


def _chunks(items: Sequence[_Box | int], size: int) -> list[Sequence[_Box | int]]:
    return [items[k : k + size] for k in range(0, len(items), size)]


def _fit(items: list[_Box | int], path: str, boxes: int) -> list[_Box | int]:
    """``items`` (in graph order) as at most ``boxes`` items: long stretches of own nodes
    become runs of at most ``boxes`` nodes (largest stretch first, only as many as needed);
    if that is not enough, consecutive items are grouped, level under level."""
    if len(items) <= boxes:
        return items
    stretches: list[tuple[int, int]] = []  # (start, end) of consecutive own nodes
    k = 0
    while k < len(items):
        if isinstance(items[k], int):
            end = k
            while end + 1 < len(items) and isinstance(items[end + 1], int):
                end += 1
            if end > k:
                stretches.append((k, end + 1))
            k = end + 1
        else:
            k += 1
    count, merged = len(items), set[tuple[int, int]]()
    for s in sorted(stretches, key=lambda s: s[0] - s[1]):
        if count <= boxes:
            break
        size = s[1] - s[0]
        count += -(-size // boxes) - size  # the stretch becomes ⌈size / boxes⌉ runs
        merged.add(s)
    if count <= boxes and count > 1:
        out: list[_Box | int] = []
        k = 0
        for start, end in sorted(merged):
            out.extend(items[k:start])
            out.extend(_group(c, path, boxes) for c in _chunks(items[start:end], boxes))
            k = end
        out.extend(items[k:])
        if len(out) > 1:
            return out
    if all(isinstance(it, int) for it in items):  # runs of `boxes` nodes, then groups of runs
        runs: list[_Box | int] = [_group(c, path, boxes) for c in _chunks(items, boxes)]
        return _fit(runs, path, boxes)
    size = -(-len(items) // boxes)
    return [_group(c, path, boxes) for c in _chunks(items, size)]


def _opened(items: list[_Box | int], boxes: int) -> list[_Box | int]:
    """``items`` with their largest scopes opened in place while the drawing stays within
    ``boxes``: a scope of two big children shows their parts, not two boxes. Runs of nodes
    stay shut (opened, a run of weight-quantizing nodes is a tangle of long edges)."""
    while True:
        fits = [
            it
            for it in items
            if not isinstance(it, int)
            and it.label[:1] != "["
            and len(items) - 1 + len(it.items) <= boxes
        ]
        if not fits:
            return items
        widest = max(fits, key=lambda b: (b.count, -b.first))
        items = sorted([it for it in items if it is not widest] + widest.items, key=_first)


def _hierarchy(graph: onnx.GraphProto, root: str, boxes: int) -> _Box:
    """The box of scope ``root``: its scopes nested, every level fitted to ``boxes``."""
    own: dict[str, list[int]] = defaultdict(list)
    kids: dict[str, set[str]] = defaultdict(set)
    for i, node in enumerate(graph.node):
        parts = node_scope(node.name)
        path = SEP + SEP.join(parts) if parts else SEP
        if path not in own:  # a new scope: link it and its ancestors once
            for d in range(len(parts), 0, -1):
                parent = SEP + SEP.join(parts[: d - 1]) if d > 1 else SEP
                child = SEP + SEP.join(parts[:d])
                if child in kids[parent]:
                    break
                kids[parent].add(child)
        own[path].append(i)
    if root != SEP and root not in own and root not in kids:
        raise InspectorError(f"no scope {root!r} in this graph")

    def build(path: str, label: str) -> _Box | int:
        children = kids.get(path, set())
        if not own.get(path) and len(children) == 1:  # "/model" holding all: one level
            (child,) = children
            return build(child, f"{label}{SEP}{child.rsplit(SEP, 1)[-1]}")
        items: list[_Box | int] = [build(c, c.rsplit(SEP, 1)[-1]) for c in children]
        items += own.get(path, [])
        if len(items) == 1 and isinstance(items[0], int):
            return items[0]  # a scope of one node is that node
        items.sort(key=_first)
        first, count = _first(items[0]), sum(map(_count, items))
        return _Box(label, path, _opened(_fit(items, path, boxes), boxes), first, count)

    top = build(root, root.rsplit(SEP, 1)[-1] or SEP)
    return _Box(root, root, [top], top, 1) if isinstance(top, int) else top


def _label(text: str) -> str:
    return text.replace(".", "\u2024") or SEP


def _attr_int(name: str, value: int) -> onnx.AttributeProto:
    return onnx.AttributeProto(name=name, type=onnx.AttributeProto.INT, i=value)


def _attr_str(name: str, value: str) -> onnx.AttributeProto:
    return onnx.AttributeProto(name=name, type=onnx.AttributeProto.STRING, s=value.encode())


def collapsed_model(
    model: onnx.ModelProto,
    *,
    root: str = SEP,
    boxes: int = BOXES,
    value_info: Iterable[onnx.ValueInfoProto] = (),
) -> Collapsed:
    """``model``'s main graph (or its scope ``root``) as nested function calls, for viewing
    (see the module docstring). ``value_info``: shape inference's types for the edges."""
    if boxes < 2:
        raise InspectorError("a collapsed drawing needs at least 2 boxes per level")
    graph = model.graph
    if not graph.node:
        raise InspectorError("the main graph has no nodes")
    top = _hierarchy(graph, root, boxes)
    # Each box's nodes are one range of positions in a depth-first walk of the hierarchy, so
    # "is this tensor's producer (or a reader) inside the box" is two comparisons, and a
    # box's boundary comes from its items' boundaries: linear in the drawing, not the depth.
    pos: dict[int, int] = {}
    span: dict[int, tuple[int, int]] = {}  # id(box) → its range of positions

    def walk(box: _Box) -> None:
        lo = len(pos)
        for it in box.items:
            if isinstance(it, int):
                pos[it] = len(pos)
            else:
                walk(it)
        span[id(box)] = (lo, len(pos))

    walk(top)
    weights = {t.name for t in graph.initializer}
    producer: dict[str, int] = {}  # tensor → its producer's position
    readers: dict[str, tuple[int, int]] = {}  # tensor → (first, last) reader position
    inf = len(pos)  # a tensor read outside the drawn scope (or a graph output)
    nodes = list(graph.node)
    reads = [[x for x in (*n.input, *implicit_inputs(n)) if x] for n in nodes]
    made = [[o for o in n.output if o] for n in nodes]
    for i in range(len(nodes)):
        p = pos.get(i, -1)
        for o in made[i]:
            producer[o] = p
        q = p if p >= 0 else inf
        for x in reads[i]:
            lo, hi = readers.get(x, (inf, -1))
            readers[x] = (min(lo, q), max(hi, q))
    for o in graph.output:
        readers[o.name] = (readers.get(o.name, (inf, -1))[0], inf)
    types = {v.name: v for v in (*value_info, *graph.value_info, *graph.output, *graph.input)}
    functions: list[onnx.FunctionProto] = []
    opsets = [*model.opset_import, onnx.helper.make_opsetid(DOMAIN, 1)]
    depth = 0

    def io(it: _Box | int, calls: dict[int, onnx.NodeProto]) -> tuple[Sequence[str], Sequence[str]]:
        if isinstance(it, int):
            return reads[it], made[it]
        return calls[id(it)].input, calls[id(it)].output

    def emit(box: _Box, level: int) -> tuple[list[onnx.NodeProto], list[str], list[str], Counter]:
        """The body of ``box``, its boundary inputs and outputs, and its op counts."""
        nonlocal depth
        depth = max(depth, level)
        lo, hi = span[id(box)]
        body: list[onnx.NodeProto] = []
        calls: dict[int, onnx.NodeProto] = {}
        ops: Counter[str] = Counter()
        for it in box.items:
            if isinstance(it, int):
                body.append(nodes[it])
                ops[nodes[it].op_type] += 1
                continue
            overload = f"b{len(functions)}"
            fn = onnx.FunctionProto(
                name=_label(f"{it.label} ({it.count})"),
                domain=DOMAIN,
                overload=overload,
                doc_string=it.path,
            )
            functions.append(fn)  # reserved before its children: ids follow graph order
            inner, ins, outs, inner_ops = emit(it, level + 1)
            ops.update(inner_ops)
            fn.input.extend(ins)
            fn.output.extend(outs)
            fn.node.extend(inner)
            fn.opset_import.extend(opsets)
            kept = set(outs)
            fn.value_info.extend(
                types[o] for n in inner for o in n.output if o in types and o not in kept
            )
            call = onnx.NodeProto(op_type=fn.name, domain=DOMAIN, overload=overload, name=it.path)
            call.input.extend(ins)
            call.output.extend(outs)
            top3 = ", ".join(f"{o} {c}" for o, c in inner_ops.most_common(3))
            call.attribute.extend([_attr_int("nodes", it.count), _attr_str("ops", top3)])
            calls[id(it)] = call
            body.append(call)
        crossing_in: dict[str, None] = {}
        crossing_out: dict[str, None] = {}
        for it in box.items:
            its_reads, its_made = io(it, calls)
            for x in its_reads:
                if x not in weights and not lo <= producer.get(x, -1) < hi:
                    crossing_in[x] = None
            for o in its_made:
                first, last = readers.get(o, (inf, -1))
                if first < lo or last >= hi:
                    crossing_out[o] = None
        return body, list(crossing_in), list(crossing_out), ops

    body, ins, outs, _ = emit(top, 1)
    main = onnx.GraphProto(name=top.path if root != SEP else graph.name)
    main.node.extend(body)
    if root == SEP:
        main.input.extend(v for v in graph.input if v.name not in weights)
        main.output.extend(graph.output)
    else:
        main.input.extend(types.get(x) or onnx.ValueInfoProto(name=x) for x in ins)
        main.output.extend(types.get(x) or onnx.ValueInfoProto(name=x) for x in outs)
    read_here = {x for n in main.node for x in n.input}
    main.initializer.extend(
        onnx.TensorProto(name=t.name, data_type=t.data_type, dims=t.dims, doc_string=STRIPPED)
        for t in graph.initializer
        if t.name in read_here
    )
    edges = {o for n in main.node for o in n.output} - {o.name for o in main.output}
    main.value_info.extend(types[x] for x in edges if x in types)
    out = onnx.ModelProto(
        ir_version=max(model.ir_version, 10),  # function overloads: IR 10
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        graph=main,
        doc_string=VIEWING_NOTE,
    )
    out.opset_import.extend(opsets)
    out.functions.extend(model.functions)
    out.functions.extend(functions)
    out.metadata_props.add(key=VIEWING_ONLY, value="true")
    return Collapsed(
        model=out,
        root=top.path,
        nodes=top.count,
        boxes=len(functions),
        top=len(top.items),
        depth=depth,
    )


def collapsed_of(
    model: LoadedModel, root: str = SEP, *, boxes: int = BOXES, typed: bool = True
) -> Collapsed:
    """:func:`collapsed_model` of a loaded model's payload-free skeleton, its edges typed by
    the model's shape inference (``typed``; off, nothing waits for inference to run)."""
    inferred = model.native.inferred if typed else None
    value_info = list(inferred.graph.value_info) if inferred is not None else []
    return collapsed_model(model.skeleton, root=root, boxes=boxes, value_info=value_info)


def original_nodes(collapsed: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Every node of the drawing that is not a box, each box's body opened once: the main
    graph's nodes under the drawn scope, each exactly once if the drawing is right."""
    bodies = {(f.domain, f.name, f.overload): f for f in collapsed.functions}
    out: list[onnx.NodeProto] = []
    todo = list(collapsed.graph.node)
    while todo:
        n = todo.pop(0)
        if n.domain == DOMAIN:
            todo[:0] = list(bodies[(n.domain, n.op_type, n.overload)].node)
        else:
            out.append(n)
    return out


__all__ = [
    "BOXES",
    "DOMAIN",
    "Collapsed",
    "collapsed_model",
    "collapsed_of",
    "original_nodes",
]
