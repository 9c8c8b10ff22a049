"""Map runtime nodes (after ORT's optimizations) back to the original nodes they came from.

ORT renames what it fuses (``fused mm1/MatMulAddFusion``, ``x/LayerNormFusion/``, ``BiasGelu``,
``<tensor>_nchwc``...). Tensor names at the edges of a fusion survive, so a runtime node's
origin is the set of original nodes between its input tensors and its output tensors. The
mapping is *derived* (many-to-one, by tensor names) and labelled as such where shown.

Layout transforms (level ``layout``/``all`` on CPU: the NCHWc transformer) break that: the
blocked-layout nodes write tensors named ``reorder_token_N``, and only the ``ReorderOutput``
at the end of a chain writes an original name — which made one Reorder claim the whole graph
and left every Conv with no origin. So tensors are traced through the layout first: a Reorder's
output is the same tensor as its input; an NCHWc node named ``<tensor>_nchwc`` (ORT's naming)
computes ``<tensor>``. Reorder nodes are layout overhead and own no original node.
"""

from __future__ import annotations

from collections.abc import Iterable

import onnx


def _producers(graph: onnx.GraphProto) -> dict[str, int]:
    return {out: i for i, n in enumerate(graph.node) for out in n.output if out}


LAYOUT_DOMAIN = "com.microsoft.nchwc"
REORDER_OPS = ("ReorderInput", "ReorderOutput")


def is_layout_reorder(op_type: str) -> bool:
    """Whether a runtime node only converts between layouts (overhead, not model compute)."""
    return op_type in REORDER_OPS


def _aliases(original: onnx.GraphProto, optimized: onnx.GraphProto) -> dict[str, str]:
    """Runtime tensor name → the original tensor it holds (in another layout, maybe)."""
    known = {t for n in original.node for t in n.output if t}
    known |= {v.name for v in original.input} | {t.name for t in original.initializer}
    alias: dict[str, str] = {}

    def eff(t: str) -> str | None:
        return t if t in known else alias.get(t)

    for node in optimized.node:
        if node.op_type in REORDER_OPS and node.input and node.output:
            src, dst = node.input[0], node.output[0]
            if eff(src) and not eff(dst):
                alias[dst] = eff(src)  # type: ignore[assignment]
            elif eff(dst) and not eff(src):
                alias[src] = eff(dst)  # type: ignore[assignment]
            continue
        if node.domain == LAYOUT_DOMAIN and node.name.endswith("_nchwc"):
            target = node.name[: -len("_nchwc")]
            outs = [o for o in node.output if o]
            if len(outs) == 1 and target in known and not eff(outs[0]):
                alias[outs[0]] = target
    return alias


def derive_origins(
    original: onnx.ModelProto,
    optimized: onnx.ModelProto,
    runtime_names: dict[str, str],
    limit: int = 10_000,
) -> dict[str, tuple[str, ...]]:
    """Runtime node name → original node ids (main graph), for every node of ``optimized``."""
    graph = original.graph
    producers = _producers(graph)
    name_to_id = {n.name: i for i, n in enumerate(graph.node) if n.name}
    alias = _aliases(graph, optimized.graph)
    # Tensors that still exist at run time are computed by *some* runtime node (or are inputs):
    # a fusion never swallows the producer of a tensor another runtime node still writes. They
    # bound every walk back, so each walk covers one fusion, not the graph before it (a renamed
    # input made walks run to the graph's start: quadratic, and wrong, on large models).
    alive = {alias.get(t, t) for n in optimized.graph.node for t in (*n.input, *n.output) if t}
    alive |= {v.name for v in optimized.graph.input} | {t.name for t in optimized.graph.initializer}
    out: dict[str, tuple[str, ...]] = {}
    for node in optimized.graph.node:
        if node.name in runtime_names:
            out[node.name] = (runtime_names[node.name],)
            continue
        if node.name in name_to_id:
            out[node.name] = (f"main:{name_to_id[node.name]}",)
            continue
        if is_layout_reorder(node.op_type):
            out[node.name] = ()
            continue
        inputs = [alias.get(t, t) for t in node.input]
        outputs = [alias.get(t, t) for t in node.output]
        out[node.name] = tuple(
            f"main:{i}" for i in sorted(_between(graph, producers, inputs, outputs, limit, alive))
        )
    return out


def _between(
    graph: onnx.GraphProto,
    producers: dict[str, int],
    inputs: Iterable[str],
    outputs: Iterable[str],
    limit: int,
    alive: set[str] | frozenset[str] = frozenset(),
) -> set[int]:
    """Original nodes on paths from ``inputs`` (exclusive) back from ``outputs``; a tensor in
    ``alive`` other than the outputs themselves also ends a path (another node computes it)."""
    outputs = [t for t in outputs if t]
    own = set(outputs)
    stop = {t for t in inputs if t}
    stack = [producers[t] for t in outputs if t in producers]
    seen: set[int] = set()
    while stack and len(seen) < limit:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        for t in graph.node[i].input:
            if t and t not in stop and t in producers and (t not in alive or t in own):
                stack.append(producers[t])
    return seen


def compiled_origins(
    assignment: Iterable[tuple[str, str]], runtime_names: dict[str, str]
) -> dict[str, tuple[str, ...]]:
    """EP name → original node ids it compiled (from the EP assignment record)."""
    by_ep: dict[str, list[str]] = {}
    for node, ep in assignment:
        if node in runtime_names:
            by_ep.setdefault(ep, []).append(runtime_names[node])
    return {ep: tuple(ids) for ep, ids in by_ep.items()}
