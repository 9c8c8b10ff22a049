"""``onnx-inspector run``, ``compare`` and ``eps``: the run lab from the command line, with CI
gates. Imported only when one of those commands runs. The flags become a
:class:`~inspector.run.setup.request.RunRequest` and the results a
:class:`~inspector.run.readout.summary.RunSummary`, as in the Run lab; this module prints them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from inspector.bundle import Analysis, about, write_bundle
from inspector.cli.args import one_local_worker
from inspector.cli.tables import changes_table, slowest_table, table
from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL, run_slots
from inspector.model.load import LoadedModel
from inspector.records import to_jsonable
from inspector.run.analyses.analysis import AblationRow, Divergence
from inspector.run.analyses.compare import Comparison
from inspector.run.execute.prepare import PreparedModel, prepare
from inspector.run.execute.process import prestart
from inspector.run.execute.runner import run_matrix
from inspector.run.readout.results import OPTIMIZED_DATA, RunResult, latency_delta
from inspector.run.readout.summary import RunSummary
from inspector.run.readout.timing import NOISE_RULE
from inspector.run.setup.config import ConfigError, Matrix
from inspector.run.setup.options import check_optimizer_names
from inspector.run.setup.request import ResolvedRun, RunRequest, plan_from_args


def resolve(
    args: argparse.Namespace, model: LoadedModel, matrix: Matrix | None = None
) -> ResolvedRun:
    """The flags as a request resolved against ``model`` (``matrix`` instead of the flags'),
    refusing what would fail only after the runs: an ``--out`` that cannot be a folder and
    ``--jobs`` beyond the run slots (each worker's memory cap is a share of RAM per slot).
    The probe's tries and each generated input's reasons go to stderr."""
    request = RunRequest.from_args(args, matrix)
    out = getattr(args, "out", None)
    if out and Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out}: a file of that name exists; --out names a folder")
    jobs, slots = getattr(args, "jobs", 1), run_slots(request.run_limits(model))
    if jobs > slots:
        raise ConfigError(
            f"--jobs {jobs} is over this machine's {slots} run slots (max_concurrent_runs; "
            "docs/limits.md): more workers at once would overrun the memory share each gets."
        )
    if request.inputs.probe:
        print("probing input sizes …", file=sys.stderr, flush=True)
    run = request.resolve(model, on_probe=_print_probe)
    for r in run.generated:  # what was chosen and why, before the run
        if r.notes:
            print(f"input {r.name} {list(r.shape)}: {'; '.join(r.notes)}", file=sys.stderr)
    return run


def _print_probe(found: Any) -> None:
    for size, outcome in found.tried:
        print(f"  {'suggested' if not size else size}: {outcome}", file=sys.stderr)
    if found.found:
        shown = " ".join(f"--shape {n}={','.join(map(str, s))}" for n, s in found.shapes)
        print(f"  → {found.detail}: {shown}", file=sys.stderr)


class _Progress:
    """Progress lines on stderr: ``[2/5] OpenVINO+CPU · all … 0.4 s``."""

    def __init__(self) -> None:
        self.start = 0.0

    def __call__(self, i: int, n: int, label: str, phase: str) -> None:
        if phase == "start":
            self.start = time.monotonic()
            print(f"[{i + 1}/{n}] {label} …", file=sys.stderr, end="", flush=True)
        else:
            print(f" {time.monotonic() - self.start:.1f} s", file=sys.stderr, flush=True)


def print_summary(summary: RunSummary) -> None:
    rows = summary.rows
    placed = any(r.placed for r in rows)
    print(
        table(
            [
                "configuration",
                "status",
                "median ms",
                "95% CI",
                "runs",
                "vs ref",
                "p90 ms",
                "nodes per EP",
                "fallback",
                "max |Δ| vs ref",
                "close",
                *(["where"] if placed else []),
            ],
            [
                (
                    r.label,
                    r.status,
                    f"{r.median_ms:.3f}" if r.median_ms is not None else "",
                    r.spread,
                    r.runs if r.runs is not None else "",
                    r.vs_ref.verdict if r.vs_ref else "",
                    f"{r.p90_ms:.3f}" if r.p90_ms is not None else "",
                    r.eps_text if r.timed else "",
                    (r.fallback_nodes or 0) if r.timed else "",
                    f"{r.max_abs_vs_ref:.3g}" if r.max_abs_vs_ref is not None else "",
                    {True: "yes", False: "NO"}.get(bool(r.allclose), "")
                    if r.allclose is not None
                    else "",
                    *([r.where] if placed else []),
                )
                for r in rows
            ],
            60,
        )
    )
    timed = [r for r in rows if r.stop]
    if timed:
        print("timing (stopped when the median's 95% interval was within the target, or the")
        print(f"time budget was spent). Within noise: {NOISE_RULE}.")
        for r in timed:
            cv = f", CV {100 * r.cv:.1f} %" if r.cv is not None else ""
            print(f"  {r.label}: {r.stop}{cv}")
    for r in rows:
        for why in r.why:  # an EP that took no node or failed (run --json: every log line)
            print(f"why {r.label}: {why}")
        if r.error and not r.timed:
            print(f"! {r.error}")
        for warning in r.output_warnings:
            print(f"! {r.label}: {warning}")
        if r.timed and r.inactive_eps:
            print(
                f"! {r.label}: requested but inactive: {', '.join(r.inactive_eps)} "
                "(nodes ran elsewhere)"
            )


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "_"


def save_value(folder: Path, name: str, value: Any) -> None:
    """One input or output under ``folder`` in a form that keeps its type: ``NAME.npy``; a
    sequence as ``NAME_0``, ``NAME_1`` … in order; an element type numpy lacks (bfloat16,
    float8, float4, int4, int2) as an onnx TensorProto ``NAME.pb`` (``--input`` reads it back);
    an empty optional as no file (results.json notes it)."""
    from inspector.model.dtypes import is_ml_dtype

    if value is None:
        return
    for i, arr in enumerate(value if isinstance(value, list) else [value]):
        stem = _safe_name(name) + (f"_{i}" if isinstance(value, list) else "")
        arr = np.asarray(arr)
        if is_ml_dtype(arr.dtype):
            from onnx import numpy_helper

            (folder / f"{stem}.pb").write_bytes(
                numpy_helper.from_array(arr, name).SerializeToString()
            )
            continue
        arr = arr.astype(np.str_) if arr.dtype == object else arr
        np.save(folder / f"{stem}.npy", arr, allow_pickle=False)


def save(
    out: Path,
    results: Sequence[RunResult],
    record: dict[str, Any],
    inputs: dict[str, np.ndarray],
) -> None:
    """``--out DIR``: results.json, the inputs, and per configuration its outputs (see
    :func:`save_value`), its profile (Chrome/Perfetto trace) and the optimized graph ORT ran
    (where it could be saved)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "inputs").mkdir(exist_ok=True)
    for name, value in inputs.items():
        save_value(out / "inputs", name, value)
    for i, r in enumerate(results):
        folder = out / f"run_{i:02d}"
        folder.mkdir(exist_ok=True)
        for name, value in r.output_values().items():
            save_value(folder, name, value)
        if r.profile_trace():
            (folder / "profile.json").write_bytes(r.profile_trace())
        if r.optimized_model():
            (folder / "optimized.onnx").write_bytes(r.optimized_model())
            if r.optimized_model_data():  # the weights it names, under the name it names them
                (folder / OPTIMIZED_DATA).write_bytes(r.optimized_model_data())
    (out / "results.json").write_text(
        json.dumps({**record, "results": to_jsonable(results)}, indent=2, default=str)
    )


def print_expected(checks: Sequence[Comparison | None]) -> None:
    first = next((c for c in checks if c is not None), None)
    if first is None:
        return
    print(
        f"\nExpected outputs (the test-data folder's output_<i>.pb; "
        f"rtol {first.rtol:g}, atol {first.atol:g})"
    )
    print(
        table(
            ["configuration", "output", "status", "max |Δ|", "mismatches", "close", "detail"],
            [
                (
                    c.candidate,
                    o.output,
                    o.status,
                    f"{o.max_abs:.3g}" if o.max_abs is not None else "",
                    f"{o.mismatches}/{o.elements}",
                    "yes" if o.allclose else "NO",
                    o.detail,
                )
                for c in checks
                if c is not None
                for o in c.outputs
            ],
            60,
        )
    )


def main_run(
    args: argparse.Namespace, model: LoadedModel, prepared: PreparedModel | None = None
) -> int:
    """``run``; ``prepared``: the model's private copy with its first worker already started
    (the CLI starts it before importing this module), made here when not given."""
    # The model's private copy and its first worker come first: the worker's start (~0.3 s)
    # overlaps the making of the inputs.
    if prepared is None and one_local_worker(args):
        prepared = prepare(model)
        prestart(prepared)
    try:
        run = resolve(args, model)
        if getattr(args, "ray", None):
            from inspector.run.execute.cluster import run_matrix_ray

            print(
                f"running {len(run.matrix.configs)} configurations on Ray at {args.ray} …",
                file=sys.stderr,
                flush=True,
            )
            results = run_matrix_ray(model, run.matrix, run.inputs, args.ray, limits=run.limits)
        else:
            results = run_matrix(
                model,
                run.matrix,
                run.inputs,
                limits=run.limits,
                progress=_Progress() if args.jobs <= 1 else None,
                parallel=max(1, getattr(args, "jobs", 1)),
                prepared=prepared,
                # The text summary shows no optimized graph: saved for --out and --json only.
                save_optimized=bool(args.out or args.json),
            )
    finally:
        if prepared is not None:
            prepared.cleanup()
    summary = RunSummary.of(
        results, run.matrix.reference, atol=args.atol, rtol=args.rtol, expected=run.expected
    )
    record = summary.to_dict()
    if args.out or args.json:
        record["roofline"] = roofline_json(model, results, run.inputs)
    if args.out:
        save(Path(args.out), results, record, run.inputs)
    if args.json:
        print(json.dumps({**record, "results": to_jsonable(results)}, indent=2, default=str))
    else:
        print_summary(summary)
        if summary.expected is not None:
            print_expected(summary.expected)
    if getattr(args, "jobs", 1) > 1:
        print(
            f"note: configurations ran {args.jobs} at a time; their timings shared the machine",
            file=sys.stderr,
        )
    reason = summary.gate(
        require_ep=args.require_ep or "", max_fallback_nodes=args.max_fallback_nodes
    )
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    return 0


def roofline_json(
    model: LoadedModel, results: Sequence[RunResult], inputs: dict[str, Any]
) -> list[dict[str, Any]] | dict[str, str]:
    """Per configuration with a profile, its achieved GFLOP/s and roofline summary
    (:meth:`inspector.run.analyses.roofline.Roofline.summary`); ``{"error": …}`` where the
    model's cost cannot be counted at the inputs' shapes."""
    from inspector.errors import InspectorError
    from inspector.run.analyses.roofline import rooflines

    try:
        return [rl.summary() for rl in rooflines(model, results, inputs)]
    except InspectorError as e:
        return {"error": str(e)}


def main_compare(args: argparse.Namespace, model: LoadedModel) -> int:
    plan = plan_from_args(args)
    ref, cand = plan.config(args.ref), plan.config(args.cand)
    ref = replace(ref, label="ref · " + ref.default_label())
    cand = replace(cand, label="cand · " + cand.default_label())
    check_optimizer_names(getattr(args, "ablation_pass", None) or ())  # before any worker
    run = resolve(args, model, Matrix((ref, cand)))
    # One private copy of the model (and its data) serves the runs and both analyses.
    prepared = prepare(model)
    try:
        return _compare(args, model, run, prepared)
    finally:
        prepared.cleanup()


def _compare(
    args: argparse.Namespace, model: LoadedModel, run: ResolvedRun, prepared: PreparedModel
) -> int:
    from inspector.run.analyses.analysis import ablation, first_divergence
    from inspector.run.analyses.compare import compare, node_changes, node_timing_table

    ref, cand = run.matrix.configs
    inputs, limits = run.inputs, run.limits
    results = run_matrix(
        model, run.matrix, inputs, limits=limits, progress=_Progress(), prepared=prepared
    )
    atol = args.atol if args.atol is not None else DEFAULT_ATOL
    rtol = args.rtol if args.rtol is not None else DEFAULT_RTOL
    record: dict[str, Any] = {"results": to_jsonable(results)}
    if not all(r.ok for r in results):
        bad = next(r for r in results if not r.ok)
        print(f"error: {bad.error}", file=sys.stderr)
        if args.json:
            print(json.dumps(record, default=str))
        return 1
    comparison = compare(results[0], results[1], atol, rtol)
    labels, timing = node_timing_table(results)
    vs = latency_delta(results[0], results[1])
    changes = node_changes(timing)
    record |= {
        "comparison": to_jsonable(comparison),
        "latency": to_jsonable(vs),
        "node_timing": {"labels": labels, "rows": to_jsonable(timing)},
        "node_changes": to_jsonable(changes),
        "roofline": roofline_json(model, results, inputs),
    }
    summary = RunSummary.of(results, atol=args.atol, rtol=args.rtol, expected=run.expected)
    checks = summary.expected
    if checks is not None:
        record["expected"] = to_jsonable(list(checks))
    fd = rows = None
    if args.first_divergence:
        print("first divergence …", file=sys.stderr, flush=True)
        fd = first_divergence(
            model,
            results[0],
            results[1],
            inputs,
            atol=atol,
            rtol=rtol,
            limits=limits,
            prepared=prepared,
        )
        record["first_divergence"] = to_jsonable(fd)
    if args.ablation:
        # Each pass is one more configuration: named once each, at most MAX_OPTIMIZER_NAMES.
        passes = check_optimizer_names(args.ablation_pass or ()) or None
        rows = ablation(
            model,
            cand,
            inputs,
            *([passes] if passes else []),
            limits=limits,
            progress=_Progress(),
            prepared=prepared,
        )
        record["ablation"] = to_jsonable(rows)
    if args.out:
        save(Path(args.out), results, record, inputs)
    analyses = [
        Analysis(kind, about(kind, ref.label, cand.label), value)
        for kind, value in (("divergence", fd), ("ablation", rows))
        if value is not None
    ]
    if args.bundle:
        data = write_bundle(model, results, inputs, analyses=analyses)
        Path(args.bundle).write_bytes(data)
        print(f"wrote {args.bundle} ({len(data):,} bytes)", file=sys.stderr)
    if args.report:
        from inspector.report import html_report

        Path(args.report).write_text(
            html_report(model, results, analyses=analyses, inputs=inputs), encoding="utf-8"
        )
        print(f"wrote {args.report}", file=sys.stderr)
    gated = args.atol is not None or args.rtol is not None  # same gate for text and JSON
    failed = gated and not comparison.all_close
    if gated and checks is not None and not all(c is not None and c.all_close for c in checks):
        print("error: outputs differ from the expected outputs", file=sys.stderr)
        failed = True
    if failed:
        print(f"error: outputs differ beyond atol {atol:g} / rtol {rtol:g}", file=sys.stderr)
    if args.json:
        print(json.dumps(record, indent=2, default=str))
        return 1 if failed else 0
    print(f"{results[0].label}  vs  {results[1].label}\n")
    print(
        table(
            ["output", "status", "max |Δ|", "mean |Δ|", "max rel", "cosine", "mismatches", "close"],
            [
                (
                    o.output,
                    o.status,
                    f"{o.max_abs:.3g}" if o.max_abs is not None else "",
                    f"{o.mean_abs:.3g}" if o.mean_abs is not None else "",
                    f"{o.max_rel:.3g}" if o.max_rel is not None else "",
                    f"{o.cosine:.8f}" if o.cosine is not None else "",
                    f"{o.mismatches}/{o.elements}",
                    "yes" if o.allclose else "NO",
                )
                for o in comparison.outputs
            ],
        )
    )
    print(latency_lines(summary))
    print(slowest_table(labels, timing))
    print(changes_table(changes))
    if checks is not None:
        print_expected(checks)
    if fd is not None:
        print_divergence(fd)
    if rows is not None:
        print_ablation(rows)
    return 1 if failed else 0


def latency_lines(summary: RunSummary) -> str:
    """Both medians with their intervals and how they stopped, then the verdict."""
    lines = ["\nLatency (median, 95% interval of the median)"]
    for r in summary.rows:
        if r.median_ms is not None and r.ci_ms is not None:
            low, high = r.ci_ms
            lines.append(f"  {r.label}: {r.median_ms:.3f} ms [{low:.3f}, {high:.3f}], {r.stop}")
    vs = summary.rows[1].vs_ref if len(summary.rows) > 1 else None
    if vs is not None:
        lines.append(
            f"  candidate / reference: {vs.ratio:.3f}× [{vs.ratio_ci[0]:.3f}, "
            f"{vs.ratio_ci[1]:.3f}]: {vs.verdict}" + (f" ({NOISE_RULE})" if vs.within_noise else "")
        )
    return "\n".join(lines)


def print_divergence(fd: Divergence) -> None:
    tol = (
        f", atol {fd.atol:.1e}, rtol {fd.rtol:.1e}"
        if fd.atol is not None and fd.rtol is not None
        else ""
    )
    print(f"\nFirst divergence ({fd.reference} → {fd.candidate}{tol})")
    if fd.found:
        err = fd.error.max_abs if fd.error and fd.error.max_abs is not None else float("nan")
        print(
            f"  {fd.node_id} {fd.node_name!r} ({fd.op_type}) → tensor {fd.tensor!r}: "
            f"max |Δ| {err:.3g}; chain {' → '.join(fd.chain)}"
        )
    else:
        print(f"  none found: {fd.detail}")
    for s in fd.skipped:
        print(f"  note: {s}")


def print_ablation(rows: Sequence[AblationRow], subject: str = "the candidate") -> None:
    print(f"\nAblation (each pass disabled in turn, against {subject} itself)")
    print(
        table(
            ["disabled", "status", "time ratio [95% CI]", "max |Δ|", "graph changed", "note"],
            [
                (
                    a.disabled or "(baseline)",
                    a.status,
                    f"{a.time_ratio:.2f} [{a.ratio_ci[0]:.2f}, {a.ratio_ci[1]:.2f}]"
                    + (" noise" if a.within_noise else "")
                    if a.time_ratio and a.ratio_ci
                    else "",
                    f"{a.max_abs_vs_baseline:.3g}" if a.max_abs_vs_baseline is not None else "",
                    "yes" if a.graph_changed else "no",
                    a.note,
                )
                for a in rows
            ],
            60,
        )
    )
