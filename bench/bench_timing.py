"""Adaptive timing against fixed runs, measured in the same run on the same machine.

For each model — the YOLOv8n detector of the real-model set (``tests/realmodels.py``:
``nudenet_yolov8n_320``; skipped with the fetch command when it is not cached) and the CNN
sample — each round runs the *same* configuration (CPU, level all) twice in a row, once with
fixed runs (before: 3 warm-up + 20 timed + 5 profiled, what every configuration did) and once
with today's defaults (after: at most 100 timed runs, stopping at a ±2 % interval or a 10 s
budget; profiled runs stop at 3 once a quarter of the budget is spent); modes alternate.

It prints, per model and mode:

1. **wall time per configuration** (worker start to record, as the Run lab pays it), median
   over rounds, and after/before;
2. **how often two runs of the same configuration are called different** by the verdict the
   app shows (:func:`inspector.run.readout.results.latency_delta`: intervals overlap once each is
   ±5 %, ±10 % when timed for under 0.1 s, and a session that waited for a core is not held
   against the other) — it should be
   ~never — and, to justify that rule, by the alternatives: overlap without the floor, the
   bootstrap interval of the ratio excluding 1, and Mann–Whitney on the runs (p < 0.05; needs
   scipy, skipped without it);
3. **per-node changes called beyond noise** between the two sessions (``node_changes``), of
   the original nodes judged (ONNX Runtime's own kernels are named anew per session: not
   judged);
4. **power**: the verdict on two configurations that really differ (the detector at
   ``disable_all`` against ``all``), which must still be called different.

Ratios only, measured in one run; the script reports and never fails on a miss (a shared
machine is noisy). ``python bench/bench_timing.py [--rounds 6] [--json] [--write FILE]``
(``--write docs/BENCHMARKS.md`` replaces this bench's section there).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector import build_overview, load_model  # noqa: E402
from inspector.run.analyses.compare import node_changes, node_timing_table  # noqa: E402
from inspector.run.execute.runner import run_matrix  # noqa: E402
from inspector.run.readout.results import RunResult, latency_delta  # noqa: E402
from inspector.run.readout.timing import ratio_interval  # noqa: E402
from inspector.run.setup.config import Matrix, RunConfig  # noqa: E402
from inspector.run.setup.inputs import InputPlan, generate, resolve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DETECTOR = "nudenet_yolov8n_320"
SAMPLE = ROOT / "sample_models" / "cnn_conv_bn_relu.onnx"

#: Before: what every configuration did (fixed runs); after: today's defaults.
MODES = {
    "before (fixed 3+20+5)": RunConfig(
        opt_level="all", timed_runs=20, time_budget_s=0, target_ci_pct=0, label="x"
    ),
    "after (adaptive)": RunConfig(opt_level="all", label="x"),
}


def models() -> list[tuple[str, Any, dict[str, np.ndarray]]]:
    from tests import realmodels

    out = []
    real = next((m for m in realmodels.catalogue() if m.id == DETECTOR), None)
    if real is not None and real.path.exists():
        m = load_model(real.path)
        out.append((f"{DETECTOR} (YOLOv8n detector)", m, realmodels.inputs(real, m.proto)))
    else:
        print(f"{DETECTOR} not cached: `{realmodels.FETCH}` fetches it", file=sys.stderr)
    m = load_model(SAMPLE)
    feeds = generate(resolve(build_overview(m).inputs, InputPlan.make()))
    out.append((f"{SAMPLE.name} (sample)", m, feeds))
    return out


def timed(model: Any, configs: tuple[RunConfig, ...], feeds: dict) -> tuple[list, list[float]]:
    """Run the configurations in one matrix; each one's wall time from start to record."""
    walls: list[float] = []
    start = [0.0]

    def progress(i: int, n: int, label: str, phase: str) -> None:
        if phase == "start":
            start[0] = time.perf_counter()
        else:
            walls.append(time.perf_counter() - start[0])

    results = run_matrix(model, Matrix(configs), feeds, progress=progress)
    bad = [r.error for r in results if not r.ok]
    if bad:
        raise SystemExit(f"a configuration failed: {bad[0]}")
    return list(results), walls


def verdicts(a: RunResult, b: RunResult) -> dict[str, Any]:
    """Whether each rule calls two runs' latencies different, and the node-level count."""
    la, lb = a.latency, b.latency
    assert la is not None and lb is not None
    vs = latency_delta(a, b)
    assert vs is not None
    lo, hi = ratio_interval(la.runs_ms, lb.runs_ms)
    out: dict[str, Any] = {
        "ratio": vs.ratio,
        "shown": not vs.within_noise,
        "overlap_no_floor": not (
            la.interval[0] <= lb.interval[1] and lb.interval[0] <= la.interval[1]
        ),
        "bootstrap": not (lo <= 1.0 <= hi),
        "contended": "waited for a core" in vs.verdict,
    }
    try:
        from scipy.stats import mannwhitneyu

        out["mann_whitney"] = bool(mannwhitneyu(la.runs_ms, lb.runs_ms).pvalue < 0.05)
    except ImportError:
        pass
    _, rows = node_timing_table((a, b))
    changes = node_changes(rows)
    out["nodes"] = sum(c.judged for c in changes)  # ONNX Runtime's own kernels are not judged
    out["nodes_flagged"] = sum(not c.within_noise for c in changes)
    return out


def _count(pairs: list[dict[str, Any]], key: str) -> str:
    got = [p[key] for p in pairs if key in p]
    return f"{sum(got)}/{len(got)}" if got else "n/a"


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model and mode (with the model's after/before and power figures)."""
    out = []
    for name, doc in report["models"].items():
        walls = {m: statistics.median(d["wall"]) for m, d in doc["modes"].items()}
        before, after = (walls[m] for m in MODES)
        for mode, d in doc["modes"].items():
            pairs = d["pairs"]
            ratios = [p["ratio"] for p in pairs]
            out.append(
                {
                    "model": name,
                    "mode": mode,
                    "wall": walls[mode],
                    "runs": f"{min(d['runs'])}–{max(d['runs'])} "
                    f"(median {statistics.median(d['runs']):g})",
                    "ratios": f"{min(ratios):.3f}–{max(ratios):.3f}",
                    "shown": _count(pairs, "shown"),
                    "no_floor": _count(pairs, "overlap_no_floor"),
                    "bootstrap": _count(pairs, "bootstrap"),
                    "mw": _count(pairs, "mann_whitney"),
                    "contended": _count(pairs, "contended"),
                    "nodes": f"{sum(p['nodes_flagged'] for p in pairs)}/"
                    f"{sum(p['nodes'] for p in pairs)}",
                    "after_before": after / before,
                    "power": doc["power"],
                }
            )
    return out


def _power(power: list[dict[str, Any]]) -> str:
    got = [p["different"] for p in power]
    med = statistics.median(p["ratio"] for p in power)
    return (
        f"power: disable_all vs all (a real difference, median ratio {med:.2f}) called "
        f"different {sum(got)}/{len(got)}"
    )


def summary(report: dict[str, Any]) -> list[str]:
    lines = [
        f"\n{report['cores']} cores; {report['rounds']} rounds; each pair: the same "
        "configuration twice"
    ]
    for r in rows(report):
        if r["mode"] == next(iter(MODES)):
            lines.append(f"\n{r['model']}")
        lines.append(
            f"  {r['mode']:22s} wall/config {r['wall']:.2f} s; timed runs {r['runs']}; "
            f"same-config ratio {r['ratios']}"
        )
        lines.append(
            f"  {'':22s} called different: shown verdict {r['shown']}; overlap without floor "
            f"{r['no_floor']}; bootstrap ratio CI {r['bootstrap']}; Mann–Whitney {r['mw']}; "
            f"contended sessions {r['contended']}; nodes {r['nodes']}"
        )
        if r["mode"] == list(MODES)[-1]:
            lines.append(f"  wall after/before: {r['after_before']:.2f}×")
            if r["power"]:
                lines.append(f"  {_power(r['power'])}")
    return lines


START, END = "<!-- bench_timing.py -->", "<!-- /bench_timing.py -->"


def markdown(report: dict[str, Any]) -> str:
    out = [
        START,
        "## Adaptive timing and the within-noise verdict (`bench/bench_timing.py`)",
        "",
        f"Run {time.strftime('%Y-%m-%d')}, {report['cores']} cores, {report['rounds']} rounds; "
        "each round times the *same* configuration (CPU, level all) twice with fixed runs "
        "(before: 3 warm-up + 20 timed + 5 profiled) and twice with today's defaults (after: "
        "at most 100 timed runs, stopping at a ±2 % interval or a 10 s budget; profiled runs "
        "stop at 3 once 2.5 s are spent). Wall time is per configuration, worker start to "
        "record (median over rounds). *Called different* counts the pairs of one configuration "
        "that a rule calls different: the verdict the app shows (intervals overlap once each "
        "is ±5 %; a session that waited for a core is not held against the other), the same "
        "without the floor, the bootstrap interval of the ratio excluding 1, and Mann–Whitney "
        "on the runs (p < 0.05). Generated by "
        "`python bench/bench_timing.py --write docs/BENCHMARKS.md`.",
        "",
        "| model | mode | wall / config | timed runs | same-config ratio | shown verdict | "
        "overlap, no floor | bootstrap | Mann–Whitney | nodes called different |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for r in rows(report):
        out.append(
            f"| {r['model']} | {r['mode']} | {r['wall']:.2f} s | {r['runs']} | {r['ratios']} | "
            f"{r['shown']} | {r['no_floor']} | {r['bootstrap']} | {r['mw']} | {r['nodes']} |"
        )
        if r["mode"] == list(MODES)[-1]:
            line = f"{r['model']}: wall after/before **{r['after_before']:.2f}×**"
            notes.append(f"- {line}" + (f"; {_power(r['power'])}." if r["power"] else "."))
    return "\n".join([*out, "", *notes, END]) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace this bench's section of ``path``, or add it below bench_peers.py's keep mark
    (that script rewrites the file above the mark and keeps what is below)."""
    keep = "<!-- other benches below: bench_peers.py --write keeps this part -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        before, after = text[: text.index(START)], text[text.index(END) + len(END) :]
        text = before + section.rstrip("\n") + after
    else:
        if keep not in text:
            text = text.rstrip("\n") + "\n\n" + keep + "\n"
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write", metavar="FILE", help="also write the figures into FILE")
    args = ap.parse_args(argv)

    report: dict[str, Any] = {"cores": os.cpu_count(), "rounds": args.rounds, "models": {}}
    for name, model, feeds in models():
        per: dict[str, dict[str, list]] = {m: {"wall": [], "runs": [], "pairs": []} for m in MODES}
        power: list[dict[str, Any]] = []
        for i in range(args.rounds):
            print(f"{name}: round {i + 1}/{args.rounds} …", file=sys.stderr, flush=True)
            for mode, base in MODES.items():
                results, walls = timed(
                    model, (replace(base, label="a"), replace(base, label="b")), feeds
                )
                per[mode]["wall"] += walls
                per[mode]["runs"] += [len(r.latency.runs_ms) for r in results if r.latency]
                per[mode]["pairs"].append(verdicts(results[0], results[1]))
            if "detector" in name:  # a real difference must still be called one
                after = MODES["after (adaptive)"]
                results, _ = timed(
                    model,
                    (
                        replace(after, opt_level="disable_all", label="disable_all"),
                        replace(after, label="all"),
                    ),
                    feeds,
                )
                vs = latency_delta(results[0], results[1])
                assert vs is not None
                power.append({"ratio": vs.ratio, "different": not vs.within_noise})
        report["models"][name] = {"modes": per, "power": power}

    print("\n".join(summary(report)))
    if args.write:
        write_section(Path(args.write), markdown(report))
        print(f"wrote {args.write}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
