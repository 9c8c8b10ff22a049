"""Map runtime nodes (after ORT's optimizations) back to the original nodes they came from.

ORT renames what it fuses (``fused mm1/MatMulAddFusion``, ``x/LayerNormFusion/``, ``BiasGelu``,
``<tensor>_nchwc``...). Tensor names at the edges of a fusion survive, so a runtime node's
origin is the set of original nodes between its input tensors and its output tensors. The
mapping is *derived* (many-to-one, by tensor names) and labelled as such where shown.
"""

from __future__ import annotations

from collections.abc import Iterable

import onnx


def _producers(graph: onnx.GraphProto) -> dict[str, int]:
    return {out: i for i, n in enumerate(graph.node) for out in n.output if out}


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
    out: dict[str, tuple[str, ...]] = {}
    for node in optimized.graph.node:
        if node.name in runtime_names:
            out[node.name] = (runtime_names[node.name],)
            continue
        if node.name in name_to_id:
            out[node.name] = (f"main:{name_to_id[node.name]}",)
            continue
        out[node.name] = tuple(
            f"main:{i}" for i in sorted(_between(graph, producers, node.input, node.output, limit))
        )
    return out


def _between(
    graph: onnx.GraphProto,
    producers: dict[str, int],
    inputs: Iterable[str],
    outputs: Iterable[str],
    limit: int,
) -> set[int]:
    """Original nodes on paths from ``inputs`` (exclusive) back from ``outputs``."""
    stop = {t for t in inputs if t}
    stack = [producers[t] for t in outputs if t in producers]
    seen: set[int] = set()
    while stack and len(seen) < limit:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        for t in graph.node[i].input:
            if t and t not in stop and t in producers:
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
