"""Compare ``build_cost``'s MACs with onnx-tool's on the cached real models (issue 28).

onnx-tool (a MAC counter with its own shape inference) is an independent count; it is not a
dependency: it is installed into a temporary folder (``pip install --no-deps --target``, with
tabulate, its one missing requirement) and runs in a child process, since its value inference
executes the model's ops with numpy. Its "MACs" mean x86 instructions for elementwise ops (an
exp is 32), so only the matrix ops are compared: Conv, ConvTranspose, Gemm, MatMul and their
integer/QLinear forms. Its Conv and Gemm add one MAC per output element for a bias; that is
taken back off here (ours counts the bias add as a FLOP, not a MAC).

Per model it prints our MACs, onnx-tool's, the difference in %, and the nodes that differ.
tests/test_cost.py pins the onnx-tool totals measured here. It reports; it does not assert.

    python bench/bench_cost.py [--models nudenet_yolov8n_320,...] [--onnx-tool-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from math import prod
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ONNX_TOOL = "onnx-tool==1.0.1"
MATRIX_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "Gemm",
        "MatMul",
        "MatMulInteger",
        "ConvInteger",
        "QLinearConv",
        "QLinearMatMul",
    }
)
DEFAULT_MODELS = (
    "nudenet_yolov8n_320",
    "open_nsfw_resnet",
    "ppocrv4_det",
    "picodet_layout_cdla",
    "smart_turn_v3_2_qdq",
    "minilm_l6_int8w",
    "oww_embedding",
    "khmersm_transformer_extdata",
)

CHILD = r"""
import json, sys
import numpy as np
import onnx_tool

path, shapes = sys.argv[1], json.loads(sys.argv[2])
model = onnx_tool.Model(path)
g = model.graph
feeds = {}
for name, shape in shapes.items():
    t = g.tensormap[name]
    dtype = t.numpy.dtype if getattr(t, "numpy", None) is not None else np.float32
    feeds[name] = np.zeros(shape, dtype) if shape else np.array(0, dtype)
g.shape_infer(feeds)
g.profile()
rows = []
for name, node in g.nodemap.items():
    out = g.tensormap[node.output[0]].get_shape() if node.output else []
    rows.append([name, node.op_type, float(node.macs[0]), len([x for x in node.input if x]),
                 [int(d) for d in out]])
print(json.dumps(rows))
"""


def onnx_tool_dir(given: str | None) -> str:
    if given:
        return given
    target = tempfile.mkdtemp(prefix="onnx-tool-")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target]
        + [ONNX_TOOL, "tabulate"],
        check=True,
    )
    return target


def their_matrix_macs(path: Path, shapes: dict[str, list[int]], lib: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": lib}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), json.dumps(shapes)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    nodes: dict[str, float] = {}
    for name, op, macs, n_in, out in json.loads(done.stdout):
        if op in MATRIX_OPS:
            bias = prod(out) if (op in ("Conv", "ConvTranspose", "Gemm") and n_in == 3) else 0
            nodes[name] = macs - bias
    return {"nodes": nodes, "total": sum(nodes.values())}


def compare(model_id: str, lib: str) -> dict[str, Any]:
    from inspector import build_cost, load_model
    from tests.realmodels import catalogue

    (real,) = [m for m in catalogue() if m.id == model_id]
    if not real.path.exists():
        return {"model": model_id, "error": "not cached: python -m tests.realmodels"}
    shapes = {k: (v if isinstance(v, list) else []) for k, v in real.spec["inputs"].items()}
    cost = build_cost(load_model(real.path), shapes)
    ours = {r.name or r.id: r for r in cost.nodes if r.op_type in MATRIX_OPS}
    theirs = their_matrix_macs(real.path, shapes, lib)
    if "error" in theirs:
        return {"model": model_id, "ours": cost.macs, "error": theirs["error"]}
    our_total = sum(r.macs or 0 for r in ours.values())
    differ = [
        (name, r.op_type, r.macs, theirs["nodes"].get(name))
        for name, r in ours.items()
        if theirs["nodes"].get(name) != r.macs
    ]
    return {
        "model": model_id,
        "ours": our_total,
        "onnx_tool": int(theirs["total"]),
        "diff_pct": 100 * (our_total - theirs["total"]) / theirs["total"] if theirs["total"] else 0,
        "matrix_nodes": len(ours),
        "unknown_nodes": cost.unknown_nodes,
        "differ": differ[:10],
        "differ_count": len(differ),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--onnx-tool-dir", help="a folder onnx-tool is installed in (--target)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    lib = onnx_tool_dir(args.onnx_tool_dir)
    results = [compare(m, lib) for m in args.models.split(",")]
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{'model':30} {'ours (MACs)':>16} {'onnx-tool':>16} {'diff %':>8}  nodes")
    for r in results:
        if "error" in r:
            print(f"{r['model']:30} {r.get('ours', 0):>16,} {'-':>16} {'-':>8}  {r['error']}")
            continue
        print(
            f"{r['model']:30} {r['ours']:>16,} {r['onnx_tool']:>16,} {r['diff_pct']:>8.3f}  "
            f"{r['matrix_nodes']} matrix nodes, {r['differ_count']} differ, "
            f"{r['unknown_nodes']} of ours unknown"
        )
        for name, op, ours, theirs in r["differ"]:
            print(f"    {op:14} {name[:60]:60} ours {ours} onnx-tool {theirs}")


if __name__ == "__main__":
    main()
