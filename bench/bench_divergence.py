"""First divergence on real 1k–4k-node models: CPU at level disable_all against CPU at level all,
the search the Compare page and ``compare --first-divergence`` run.

Each model's search is timed against a baseline measured in the same process just before it:
one plain ONNX Runtime session of the model (level all, one intra-op thread, as the search's
runs) and one run on the same inputs, the median of three — what any tool pays to look at the
model's outputs once. The search's figure is ``first_divergence`` alone (the two
configurations' own runs, which the page already has, are made before the clock starts).
Beside it: how many marked rounds it took, how many worker runs (each a fresh session), how
many tensors it marked per round and how many it compared, and the answer.

``--before REF`` also runs the search as commit ``REF`` had it (its ``inspector/`` extracted with
``git archive`` into a temporary folder), interleaved with this tree's, each in a fresh
process, and prints after/before and whether both gave the same answer.

``python bench/bench_divergence.py [--models kokoro82m_int8_tts,picodet_layout_cdla]
[--before REF] [--repeat 1]``. Reports, never fails; needs the real models
(``python -m tests.realmodels``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("kokoro82m_int8_tts", "picodet_layout_cdla", "ppocrv4_rec")


def child(model_id: str) -> dict[str, Any]:
    """One model's baseline and search in this process (``inspector`` from ``sys.path``)."""
    import onnx
    import onnxruntime as ort

    from inspector import load_model
    from inspector.run.analyses import analysis, bisect
    from inspector.run.execute.runner import run_matrix
    from inspector.run.setup.config import Matrix, RunConfig
    from tests.realmodels import catalogue, inputs

    real = next(m for m in catalogue() if m.id == model_id)
    proto = onnx.load(str(real.path), load_external_data=False)
    feeds = inputs(real, proto)
    configs = tuple(
        RunConfig(label=level, opt_level=level, warmup_runs=0, timed_runs=1, profiled_runs=0)
        for level in ("disable_all", "all")
    )
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = configs[1].intra_op_threads
    times = []
    for _ in range(3):  # the median of three: a 0.1 s baseline is noisy on a shared host
        start = time.perf_counter()
        session = ort.InferenceSession(str(real.path), so, providers=["CPUExecutionProvider"])
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
        del session
    baseline = statistics.median(times)

    model = load_model(real.path)
    ref, cand = run_matrix(model, Matrix(configs), feeds)
    graph_outputs = len(proto.graph.output)
    marked: list[int] = []
    real_run = bisect.run_prepared

    def counting(*args: Any, **kwargs: Any) -> Any:
        result = real_run(*args, **kwargs)
        marked.append(len(result.outputs) - graph_outputs)
        return result

    bisect.run_prepared = counting  # type: ignore[assignment]  # counts, changes nothing
    start = time.perf_counter()
    found = analysis.first_divergence(model, ref, cand, feeds)
    search = time.perf_counter() - start
    return {
        "model": model_id,
        "nodes": len(proto.graph.node),
        "baseline_s": baseline,
        "search_s": search,
        "runs": len(marked),
        "rounds": len(marked) // 2,
        "marked_per_round": marked[::2],
        "checked": found.checked_tensors,
        "candidates": found.candidate_tensors,
        "answer": [found.found, found.tensor, found.detail],
    }


def extract(ref: str, folder: Path) -> Path:
    """``inspector/`` as commit ``ref`` had it, under ``folder``."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "inspector"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def measure(model_id: str, tree: Path) -> dict[str, Any]:
    """:func:`child` in a fresh process whose ``inspector`` is ``tree``'s."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, __file__, "--child", model_id, "--tree", str(tree)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"{model_id} ({tree}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--before", default="", help="a commit to compare against")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path[:0] = [args.tree, str(ROOT)]
        print(json.dumps(child(args.child)))
        return
    sys.path.insert(0, str(ROOT))
    from tests.realmodels import catalogue

    cached = {m.id for m in catalogue() if m.path.exists()}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"after": ROOT}
        if args.before:
            trees = {"before": extract(args.before, Path(tmp)), **trees}
        for model_id in args.models.split(","):
            if model_id not in cached:
                print(f"{model_id}: not cached (python -m tests.realmodels)")
                continue
            rows: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
            for _ in range(args.repeat):  # interleaved: before, after, before, after …
                for name, tree in trees.items():
                    rows[name].append(measure(model_id, tree))
            report(model_id, rows)


def report(model_id: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    first = next(iter(rows.values()))[0]
    print(f"\n{model_id} ({first['nodes']:,} nodes, {first['candidates']:,} tensors to check)")
    ratios = {}
    for name, runs in rows.items():
        ratio = statistics.median(r["search_s"] / r["baseline_s"] for r in runs)
        ratios[name] = ratio
        r = runs[0]
        search = statistics.median(x["search_s"] for x in runs)
        base = statistics.median(x["baseline_s"] for x in runs)
        print(  # the first run's counts: every repeat makes the same rounds
            f"  {name:6}: search {search:6.1f} s = {ratio:5.1f}× baseline ({base:.2f} s: one "
            f"session + one run) · {r['rounds']} rounds, {r['runs']} worker runs, marked per "
            f"round {r['marked_per_round']} · {r['checked']} compared · answer {r['answer']}"
        )
    if "before" in rows:
        same = all(rows["before"][0][k] == rows["after"][0][k] for k in ("answer", "checked"))
        print(
            f"  after/before: {ratios['after'] / ratios['before']:.2f} (of the ratios to each "
            f"run's baseline) · same answer: {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
