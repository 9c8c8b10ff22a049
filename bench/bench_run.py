"""Run lab overhead, measured against bare onnxruntime in the same run.

Prints three ratios on a ResNet-50 topology the onnx wheel ships (``light_resnet50.onnx``):

1. harness latency: the median latency our isolated worker reports vs a bare ``sess.run`` loop
   in this process, same session options (target ≤ 1.05);
2. profiled coverage: sum of per-node medians / median run time in the profile (target ≥ 0.9);
3. matrix overhead: wall time of a 5-configuration ``run_matrix`` (workers, profiles, optimized
   graphs, parsing) vs the same sessions and runs done bare in this process (target ≤ 1.3×).

Measurements alternate ours/bare to share the machine's noise. The script reports; it never
fails on a miss (these machines are noisy). ``python bench/bench_run.py [--repeat 3] [--json]``

``--lab ID …`` instead times the Run lab's default matrix (the form's defaults: CPU, levels
disable_all and all, the default runs and time budget) on cached real models
(tests/real_models.json ids), with each configuration's wall time and the runs it made
(issue 27: ≤ 30 s on a ≥ 3k-node model).

``--profiler ID …`` measures the two facts one session per configuration rests on
(``inspector/run/execute/worker.py``), on cached real models, rounds interleaved: what ONNX
Runtime's profiler adds to a run per node (profiled against unprofiled runs, µs/node: the
``timing.PROFILER_US_PER_NODE`` the worker uses to decide that profiled runs can be timed runs),
and runs timed after ``end_profiling`` in the same session against a fresh unprofiled session's
(ratio, should be ~1.00).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector import load_model  # noqa: E402
from inspector.run.execute.runner import run_matrix  # noqa: E402
from inspector.run.setup.config import Matrix, RunConfig  # noqa: E402

MODEL = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
LEVELS = ("disable_all", "basic", "extended", "layout", "all")


def bare_options(level: int) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel(level)
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return so


def bare_latency(feeds: dict, warmup: int, runs: int, level: int = 99) -> float:
    sess = ort.InferenceSession(str(MODEL), bare_options(level), providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t = time.perf_counter_ns()
        sess.run(None, feeds)
        times.append((time.perf_counter_ns() - t) / 1e6)
    return statistics.median(times)


def bare_matrix(feeds: dict, configs: list[RunConfig]) -> float:
    """The same sessions and runs as run_matrix, in this process: the baseline."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for c in configs:
            sess = ort.InferenceSession(
                str(MODEL), bare_options(c.level_value), providers=["CPUExecutionProvider"]
            )
            for _ in range(1 + c.warmup_runs + c.timed_runs):
                sess.run(None, feeds)
            so = bare_options(c.level_value)
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tmp, "p")
            so.optimized_model_filepath = os.path.join(tmp, "opt.onnx")
            prof = ort.InferenceSession(str(MODEL), so, providers=["CPUExecutionProvider"])
            for _ in range(1 + c.profiled_runs):
                prof.run(None, feeds)
            json.loads(Path(prof.end_profiling()).read_text())
    return time.perf_counter() - start


def _real(ids: list[str]) -> Iterator[tuple[str, Path, Any, Any]]:
    """(id, path, loaded model, its Run lab request resolved as the form's defaults would) per
    cached real model of ``ids``; one not cached is said and left out."""
    from inspector.run.setup.request import RunForm, RunRequest
    from tests.realmodels import catalogue

    cached = {m.id: m for m in catalogue()}
    for rid in ids:
        entry = cached.get(rid)
        if entry is None or not entry.path.exists():
            print(f"{rid}: not cached")
            continue
        model = load_model(str(entry.path))
        yield (
            rid,
            entry.path,
            model,
            RunRequest.from_form(RunForm(eps=("CPU",)), {"CPU": "cpu"}).resolve(model),
        )


def lab_defaults(ids: list[str], repeat: int) -> None:
    """The Run lab's default matrix on each cached real model: wall time, per configuration
    its wall time, timed/profiled runs made and what the worker noted about its repetitions."""
    for rid, path, model, run in _real(ids):
        walls, bares = [], []
        for i in range(repeat):
            starts: dict[str, float] = {}
            rows: list[tuple[str, float]] = []

            def progress(
                k: int,
                n: int,
                label: str,
                phase: str,
                starts: dict[str, float] = starts,
                rows: list[tuple[str, float]] = rows,
            ) -> None:
                if phase == "start":
                    starts[label] = time.perf_counter()
                else:
                    rows.append((label, time.perf_counter() - starts[label]))

            t = time.perf_counter()
            results = run_matrix(
                model, run.matrix, run.inputs, limits=run.limits, progress=progress
            )
            walls.append(time.perf_counter() - t)
            print(f"{rid} round {i + 1}: matrix {walls[-1]:.1f} s, load {os.getloadavg()[0]:.1f}")
            for (label, wall), r in zip(rows, results, strict=True):
                said = [
                    n
                    for n in r.notes
                    if n.startswith(("warmed up", "profiled", "its timed", "the first run"))
                ]
                print(
                    f"  {label}: {wall:.1f} s, {len(r.latency.runs_ms) if r.latency else 0} "
                    f"timed ({r.latency.stop_detail if r.latency else r.error}), "
                    f"{r.profile.runs if r.profile else 0} profiled; {'; '.join(said)}"
                )
            bares.append(_bare_like(path, run.inputs, results))
            print(f"  bare: the same sessions and number of runs in this process {bares[-1]:.1f} s")
        wall, bare = statistics.median(walls), statistics.median(bares)
        print(
            f"{rid}: default Run lab matrix median {wall:.1f} s; bare {bare:.1f} s "
            f"({wall / bare:.2f}×)"
        )


def _bare_like(path: Path, feeds: dict, results: tuple) -> float:
    """What ONNX Runtime alone takes for the matrix's work: per configuration a session at its
    level and as many runs as its worker made (the first, profiled ones where they were not
    timed runs too, warm-ups, timed), in this process, no profiler."""
    total = 0.0
    for r in results:
        if not r.ok or r.latency is None:
            continue
        seeded = any(n.startswith("the first run and the") for n in r.notes)
        runs = len(r.latency.runs_ms)
        if not seeded:
            warm = r.config.warmup_runs
            for n in r.notes:
                if n.startswith("warmed up with "):
                    warm = int(n.split()[3])
            runs += 1 + (r.profile.runs if r.profile else 0) + warm
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel(r.config.level_value)
        t = time.perf_counter()
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        for _ in range(runs):
            sess.run(None, feeds)
        total += time.perf_counter() - t
        del sess
    return total


def _session(path: Path, profiled: bool, folder: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.enable_profiling = profiled
    so.profile_file_prefix = os.path.join(folder, "p")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _median_ms(sess: ort.InferenceSession, feeds: dict, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def profiler_cost(ids: list[str], repeat: int, runs: int) -> None:
    """Per model: profiled/unprofiled per node (µs) and after-end_profiling/fresh, per round."""
    from inspector.run.readout.timing import PROFILER_US_PER_NODE

    for rid, path, model, run in _real(ids):
        feeds = run.inputs
        nodes = len(model.proto.graph.node)
        n = max(3, runs if nodes < 1000 else 3)
        per_node, after = [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as folder:
                plain = _session(path, False, folder)
                plain.run(None, feeds)
                base = _median_ms(plain, feeds, n)
                del plain
                prof = _session(path, True, folder)
                prof.run(None, feeds)
                profiled = _median_ms(prof, feeds, n)
                prof.end_profiling()
                ended = _median_ms(prof, feeds, n)
                del prof
            per_node.append((profiled - base) * 1e3 / nodes)
            after.append(ended / base)
            print(
                f"  {rid}: unprofiled {base:.2f} ms, profiled {profiled:.2f} ms "
                f"({per_node[-1]:+.2f} µs/node), after end_profiling {ended:.2f} ms "
                f"({after[-1]:.3f}×)",
                flush=True,
            )
        print(
            f"{rid} ({nodes:,} nodes): profiler {statistics.median(per_node):+.2f} µs/node "
            f"(worker assumes {PROFILER_US_PER_NODE:g}); after end_profiling / fresh "
            f"{statistics.median(after):.3f}× (medians of {repeat} rounds, {n} runs each)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--lab", nargs="+", metavar="ID", help="Run lab defaults on real models")
    parser.add_argument(
        "--profiler", nargs="+", metavar="ID", help="profiler cost per node on real models"
    )
    parser.add_argument("--runs", type=int, default=40, help="runs per phase (--profiler)")
    args = parser.parse_args(argv)
    if args.lab:
        lab_defaults(args.lab, args.repeat)
        return 0
    if args.profiler:
        profiler_cost(args.profiler, args.repeat, args.runs)
        return 0

    model = load_model(MODEL)
    feeds = {"gpu_0/data_0": np.random.default_rng(0).random((1, 3, 224, 224), np.float32)}
    one = RunConfig(opt_level="all", warmup_runs=3, timed_runs=20, profiled_runs=5, label="all")
    configs = [
        RunConfig(opt_level=lv, warmup_runs=2, timed_runs=10, profiled_runs=3, label=lv)
        for lv in LEVELS
    ]

    ours_lat, bare_lat, coverage, ours_mx, bare_mx = [], [], [], [], []
    for i in range(args.repeat):
        print(f"round {i + 1}/{args.repeat} …", file=sys.stderr, flush=True)
        bare_lat.append(bare_latency(feeds, one.warmup_runs, one.timed_runs))
        (r,) = run_matrix(model, Matrix((one,)), feeds)
        assert r.ok, r.error
        ours_lat.append(r.latency.median_ms)
        coverage.append(r.profile.coverage)
        bare_mx.append(bare_matrix(feeds, configs))
        t = time.perf_counter()
        results = run_matrix(model, Matrix(tuple(configs)), feeds)
        ours_mx.append(time.perf_counter() - t)
        assert all(x.ok for x in results), [x.error for x in results if not x.ok]

    lat_ratio = statistics.median(o / b for o, b in zip(ours_lat, bare_lat, strict=True))
    mx_ratio = statistics.median(o / b for o, b in zip(ours_mx, bare_mx, strict=True))
    cov = statistics.median(coverage)
    out = {
        "model": MODEL.name,
        "repeat": args.repeat,
        "latency_ms": {"ours": ours_lat, "bare": bare_lat, "median_ratio": lat_ratio},
        "profiled_coverage": {"runs": coverage, "median": cov},
        "matrix_5_configs_s": {"ours": ours_mx, "bare": bare_mx, "median_ratio": mx_ratio},
    }
    rows = [
        ("harness latency ours/bare", f"{lat_ratio:.3f}x", "<= 1.05x", lat_ratio <= 1.05),
        ("profiled coverage", f"{cov:.3f}", ">= 0.90", cov >= 0.9),
        ("5-config matrix ours/bare", f"{mx_ratio:.3f}x", "<= 1.30x", mx_ratio <= 1.3),
    ]
    print(
        f"model {MODEL.name}; ORT {ort.__version__}; {os.cpu_count()} cores; repeat {args.repeat}"
    )
    print(
        f"latency median ms   ours {', '.join(f'{x:.2f}' for x in ours_lat)}"
        f" | bare {', '.join(f'{x:.2f}' for x in bare_lat)}"
    )
    print(f"coverage            {', '.join(f'{x:.3f}' for x in coverage)}")
    print(
        f"matrix wall s       ours {', '.join(f'{x:.2f}' for x in ours_mx)}"
        f" | bare {', '.join(f'{x:.2f}' for x in bare_mx)}"
    )
    print()
    for name, got, target, ok in rows:
        print(f"  {name:28} {got:>9}  target {target:>9}  {'PASS' if ok else 'MISS'}")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
