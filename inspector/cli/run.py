"""``onnx-inspector run``, ``compare`` and ``eps``: the run lab from the command line, with CI
gates. Imported only when one of those commands runs."""

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
from inspector.cli.tables import changes_table, slowest_table, table
from inspector.limits import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    ENV_PREFIX,
    GiB,
    Limits,
    env_limits,
    run_slots,
)
from inspector.model import build_overview
from inspector.model.load import LoadedModel
from inspector.records import to_jsonable
from inspector.run.analysis import AblationRow, Divergence
from inspector.run.compare import Comparison
from inspector.run.config import (
    ConfigError,
    Matrix,
    RunConfig,
    load_matrix,
    parse_eps,
    parse_key_values,
    parse_level,
)
from inspector.run.inputs import (
    InputError,
    InputPlan,
    check_inputs,
    generate,
    load_expected_outputs,
    load_input_files,
    resolve,
    shape_hints,
)
from inspector.run.options import check_optimizer_names
from inspector.run.plan import RunPlan
from inspector.run.prepare import PreparedModel, prepare
from inspector.run.results import OPTIMIZED_DATA, RunResult, latency_delta
from inspector.run.runner import run_matrix
from inspector.run.timing import pct, relative_halfwidth


def register_libraries(args: argparse.Namespace) -> None:
    """``--ep-library NAME=PATH``: plugin EP libraries for discovery and every run."""
    from inspector.run.eps import add_library

    for name, path in parse_key_values(getattr(args, "ep_library", []), "--ep-library").items():
        add_library(name, path)


def run_limits(args: argparse.Namespace, model: LoadedModel) -> Limits:
    """The model's limits with the deployment's ``INSPECTOR_LIMIT_*`` variables, then
    --timeout / --memory-gb applied. A flag may set its limit freely where no variable sets
    it (whoever runs the CLI is its operator), never above a variable's value: that is the
    deployment's ceiling, as the app's widgets follow it."""
    try:
        deployment = env_limits()
    except ValueError as exc:
        raise ConfigError(f"{exc}.") from None
    changes: dict[str, int] = dict(deployment)
    for flag, name, value in (
        ("--timeout", "run_timeout_s", args.timeout),
        (
            "--memory-gb",
            "worker_memory_bytes",
            None if args.memory_gb is None else int(args.memory_gb * GiB),
        ),
    ):
        if value is None:
            continue
        cap = deployment.get(name)
        unbounded = name == "worker_memory_bytes" and value <= 0  # 0: no memory cap at all
        if cap is not None and (value > cap or (unbounded and cap > 0)):
            asked = "no cap" if unbounded else f"{name}={value:,}"
            raise ConfigError(
                f"{flag} asks for {asked}, over the deployment's {name}={cap:,} "
                f"({ENV_PREFIX}{name.upper()})."
            )
        changes[name] = value
    return replace(model.limits, **changes)


def check_run(args: argparse.Namespace, matrix: Matrix, limits: Limits) -> None:
    """Refuse settings over ``limits`` before a worker starts: every configuration's numbers,
    --jobs beyond the run slots (each worker's memory cap is a share of RAM per slot), and an
    --out that cannot be a folder (found after the runs, it would lose them)."""
    for config in matrix.configs:
        config.check_limits(limits)
    out = getattr(args, "out", None)
    if out and Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out}: a file of that name exists; --out names a folder")
    jobs, slots = getattr(args, "jobs", 1), run_slots(limits)
    if jobs > slots:
        raise ConfigError(
            f"--jobs {jobs} is over this machine's {slots} run slots (max_concurrent_runs; "
            "docs/limits.md): more workers at once would overrun the memory share each gets."
        )


def plan(args: argparse.Namespace) -> RunPlan:
    """The command line as a :class:`RunPlan` (the Run lab builds the same from its widgets)."""
    return RunPlan(
        ep_lists=tuple(getattr(args, "ep", None) or ["cpu"]),
        levels=tuple(getattr(args, "level", None) or ["all"]),
        include_reference=not getattr(args, "no_reference", False),
        strict=args.strict,
        intra_op_threads=args.threads,
        warmup_runs=args.warmup,
        timed_runs=args.runs,
        profiled_runs=args.profiled_runs,
        time_budget_s=getattr(args, "time_budget", 10.0),
        target_ci_pct=getattr(args, "target_ci", 2.0),
        disabled_optimizers=tuple(args.disable),
        session_config=tuple(args.config),
        ep_options=tuple(args.ep_option),
    )


def build_matrix(args: argparse.Namespace) -> Matrix:
    return load_matrix(args.matrix) if args.matrix else plan(args).matrix()


def _input_files(args: argparse.Namespace) -> dict[str, bytes]:
    """``--input`` files by name; a folder gives its ``.pb`` files (a test-data folder)."""
    files: dict[str, bytes] = {}
    for entry in args.input:
        path = Path(entry)
        paths = sorted(path.glob("*.pb")) if path.is_dir() else [path]
        for f in paths:
            try:
                files[f.name] = f.read_bytes()
            except OSError as exc:
                raise InputError(f"Cannot read input file {str(f)!r}: {exc.strerror}.") from None
    return files


def expected_outputs(args: argparse.Namespace, model: LoadedModel) -> dict[str, Any] | None:
    """The expected outputs among the ``--input`` files (a test-data folder's
    ``output_<i>.pb``), or None when there are none."""
    if not getattr(args, "input", None):
        return None
    found = load_expected_outputs(_input_files(args), build_overview(model).outputs)
    return found or None


def make_inputs(args: argparse.Namespace, model: LoadedModel) -> dict[str, Any]:
    graph_inputs = build_overview(model).inputs
    try:
        dims = {k: int(v) for k, v in parse_key_values(args.dim, "--dim").items()}
    except ValueError:
        raise InputError("--dim values must be integers, e.g. --dim batch=2.") from None
    if args.input:
        files = _input_files(args)
        arrays = load_input_files(
            files, [v.name for v in graph_inputs], kinds={v.name: v.kind for v in graph_inputs}
        )
        check_inputs(arrays, graph_inputs, dims)
        return arrays
    ranges = {}
    for name, value in parse_key_values(args.range, "--range").items():
        low, sep, high = value.partition(":")
        try:
            ranges[name] = (float(low), float(high))
        except ValueError:
            raise InputError(f"--range {name}={value}: use LOW:HIGH, e.g. 0:100.") from None
    shapes = {}
    for name, value in parse_key_values(args.shape, "--shape").items():
        try:
            shapes[name] = [int(x) for x in value.replace("x", ",").split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--shape {name}={value}: use integers, e.g. 1,3,224,224.") from None
    values = {
        k: [x for x in v.split(",")] for k, v in parse_key_values(args.values, "--values").items()
    }
    plan = InputPlan.make(
        dims, ranges, seed=args.seed, shapes=shapes, values=values, hints=shape_hints(model)
    )
    if getattr(args, "probe", False):
        from inspector.run.probe import probe_sizes

        print("probing input sizes …", file=sys.stderr, flush=True)
        found = probe_sizes(model, graph_inputs, plan, limits=run_limits(args, model))
        for size, outcome in found.tried:
            print(f"  {'suggested' if not size else size}: {outcome}", file=sys.stderr)
        if not found.found:
            raise InputError(f"No input sizes found that run: {found.detail}.")
        shown = " ".join(f"--shape {n}={','.join(map(str, s))}" for n, s in found.shapes)
        print(f"  → {found.detail}: {shown}", file=sys.stderr)
        plan = replace(plan, shapes=found.shapes)
    resolved = resolve(graph_inputs, plan)
    for r in resolved:  # what was chosen and why, before the run
        if r.notes:
            print(f"input {r.name} {list(r.shape)}: {'; '.join(r.notes)}", file=sys.stderr)
    return generate(resolved, args.seed)


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


def summary_rows(
    results: Sequence[RunResult], reference: int, atol: float, rtol: float
) -> list[dict[str, Any]]:
    from inspector.run.compare import compare
    from inspector.run.sanity import warnings_of

    ref = results[reference]
    rows = []
    for r in results:
        row: dict[str, Any] = {"label": r.label, "status": r.status if r.ok else r.error_kind}
        if r.placement:  # ran on a Ray node: which one
            where = dict(r.placement)
            row["where"] = f"{where.get('host', '')} {where.get('node', '')[:8]}".strip()
        if r.ok and r.latency:
            lat = r.latency
            row |= {
                "median_ms": lat.median_ms,
                "ci_ms": list(lat.interval),  # the median's 95 % interval (timing.py)
                "cv": lat.cv,
                "runs": len(lat.runs_ms),
                "stop": lat.stop_detail or f"fixed {len(lat.runs_ms)} runs",
                "p90_ms": lat.p90_ms,
                "session_s": r.session_create_s,
            }
            vs = latency_delta(ref, r) if r is not ref else None
            if vs is not None:
                row["vs_ref"] = {
                    "ratio": vs.ratio,
                    "ratio_ci": list(vs.ratio_ci),
                    "within_noise": vs.within_noise,
                    "verdict": vs.verdict,
                }
            fb = r.fallback
            row["nodes_per_ep"] = dict(fb.nodes_per_ep) if fb else {}
            row["fallback_nodes"] = len(fb.off_preferred) if fb else 0
            row["inactive_eps"] = list(fb.requested_inactive) if fb else []
            if ref.ok and r is not ref:
                c = compare(ref, r, atol, rtol)
                row["max_abs_vs_ref"] = c.worst_max_abs
                row["allclose"] = c.all_close
        else:
            row["error"] = r.error
        garbage = warnings_of(r.notes)  # NaN/Inf or absurd outputs: their deltas are noise
        if garbage:
            row["output_warnings"] = garbage
        rows.append(row)
    return rows


def _ci_cell(row: dict[str, Any]) -> str:
    """``±1.3 %``: the wider side of the median's interval, relative to it."""
    if "ci_ms" not in row:
        return ""
    return pct(relative_halfwidth(row["median_ms"], *row["ci_ms"]))


def print_summary(rows: list[dict[str, Any]]) -> None:

    def eps(d: dict[str, int]) -> str:
        return ", ".join(f"{k.removesuffix('ExecutionProvider')} {v}" for k, v in d.items())

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
                *(["where"] if any("where" in r for r in rows) else []),
            ],
            [
                (
                    r["label"],
                    r["status"],
                    f"{r['median_ms']:.3f}" if "median_ms" in r else "",
                    _ci_cell(r),
                    r.get("runs", ""),
                    r["vs_ref"]["verdict"] if "vs_ref" in r else "",
                    f"{r['p90_ms']:.3f}" if "p90_ms" in r else "",
                    eps(r.get("nodes_per_ep", {})),
                    r.get("fallback_nodes", ""),
                    f"{r['max_abs_vs_ref']:.3g}" if "max_abs_vs_ref" in r else "",
                    {True: "yes", False: "NO"}.get(bool(r["allclose"]), "")
                    if r.get("allclose") is not None
                    else "",
                    *([r.get("where", "")] if any("where" in x for x in rows) else []),
                )
                for r in rows
            ],
            60,
        )
    )
    timed = [r for r in rows if r.get("stop")]
    if timed:
        print("timing (stopped when the median's 95% interval was within the target, or the")
        print("time budget was spent; 'within noise': intervals overlap once each is ±5 %):")
        for r in timed:
            cv = f", CV {100 * r['cv']:.1f} %" if r.get("cv") is not None else ""
            print(f"  {r['label']}: {r['stop']}{cv}")
    for r in rows:
        if r.get("error"):
            print(f"! {r['error']}")
        for warning in r.get("output_warnings", ()):
            print(f"! {r['label']}: {warning}")
        if r.get("inactive_eps"):
            print(
                f"! {r['label']}: requested but inactive: {', '.join(r['inactive_eps'])} "
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


def gates(
    args: argparse.Namespace, results: Sequence[RunResult], rows: list[dict[str, Any]]
) -> str:
    """The first CI gate that fails, as a one-line reason ("" when all pass)."""
    for r in results:
        if not r.ok:
            return f"configuration failed: {r.error}"
    if args.require_ep:
        want = parse_eps(args.require_ep)[0].name
        for r in results:
            if want not in r.providers_requested:
                continue
            fb = r.fallback
            if fb and want in fb.requested_inactive:
                return f"{r.label}: {want} was requested but is not active"
            off = [a for a in (fb.off_preferred if fb else ()) if a.ep != want]
            if fb and fb.preferred_ep == want and off:
                ops = ", ".join(sorted({a.op_type for a in off}))
                return f"{r.label}: {len(off)} nodes fell back off {want} ({ops})"
    if args.max_fallback_nodes is not None:
        for r in results:
            n = len(r.fallback.off_preferred) if r.fallback else 0
            if n > args.max_fallback_nodes:
                return f"{r.label}: {n} nodes off the preferred EP (max {args.max_fallback_nodes})"
    if args.atol is not None or args.rtol is not None:
        for row in rows:
            if row.get("allclose") is False:
                return (
                    f"{row['label']}: outputs differ from the reference by up to "
                    f"{row['max_abs_vs_ref']:.3g} "
                    f"(atol {args.atol or 0:g}, rtol {args.rtol or 0:g})"
                )
    return ""


def expected_checks(
    args: argparse.Namespace, results: Sequence[RunResult], expected: dict[str, Any] | None
) -> list[Comparison | None] | None:
    """Each configuration's outputs against the expected ones (None for a failed one), with
    --atol/--rtol where given, else onnx's backend-test tolerances; None without expected."""
    from inspector.run.compare import EXPECTED_ATOL, EXPECTED_RTOL, check_expected

    if expected is None:
        return None
    atol = args.atol if args.atol is not None else EXPECTED_ATOL
    rtol = args.rtol if args.rtol is not None else EXPECTED_RTOL
    return [check_expected(r, expected, atol, rtol) if r.ok else None for r in results]


def print_expected(results: Sequence[RunResult], checks: Sequence[Comparison | None]) -> None:
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


def main_run(args: argparse.Namespace, model: LoadedModel) -> int:
    matrix = build_matrix(args)
    limits = run_limits(args, model)
    check_run(args, matrix, limits)
    inputs = make_inputs(args, model)
    expected = expected_outputs(args, model)
    if getattr(args, "ray", None):
        from inspector.run.cluster import run_matrix_ray

        print(
            f"running {len(matrix.configs)} configurations on Ray at {args.ray} …",
            file=sys.stderr,
            flush=True,
        )
        results = run_matrix_ray(model, matrix, inputs, args.ray, limits=limits)
    else:
        results = run_matrix(
            model,
            matrix,
            inputs,
            limits=limits,
            progress=_Progress() if args.jobs <= 1 else None,
            parallel=max(1, getattr(args, "jobs", 1)),
        )
    atol = args.atol if args.atol is not None else DEFAULT_ATOL
    rtol = args.rtol if args.rtol is not None else DEFAULT_RTOL
    rows = summary_rows(results, matrix.reference, atol, rtol)
    checks = expected_checks(args, results, expected)
    record: dict[str, Any] = {"summary": rows}
    if checks is not None:
        record["expected"] = to_jsonable(checks)
    if args.out:
        save(Path(args.out), results, record, inputs)
    if args.json:
        print(json.dumps({**record, "results": to_jsonable(results)}, indent=2, default=str))
    else:
        print_summary(rows)
        if checks is not None:
            print_expected(results, checks)
    if getattr(args, "jobs", 1) > 1:
        print(
            f"note: configurations ran {args.jobs} at a time; their timings shared the machine",
            file=sys.stderr,
        )
    reason = gates(args, results, rows)
    if not reason and checks is not None and (args.atol is not None or args.rtol is not None):
        off = [c for c in checks if c is not None and not c.all_close]
        if off:
            reason = f"{off[0].candidate}: outputs differ from the expected outputs"
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    return 0


def parse_spec(spec: str, plan: RunPlan) -> RunConfig:
    """``ggml,cpu@all`` → a configuration (EPs, then the level after ``@``)."""
    eps, _, level = spec.partition("@")
    return replace(
        plan.base(),
        eps=parse_eps(plan.eps_with_options(eps or "cpu")),
        opt_level=parse_level(level or "all"),
        label="",
    )


def main_compare(args: argparse.Namespace, model: LoadedModel) -> int:
    run_plan = plan(args)
    ref = parse_spec(args.ref, run_plan)
    cand = parse_spec(args.cand, run_plan)
    ref = replace(ref, label="ref · " + ref.default_label())
    cand = replace(cand, label="cand · " + cand.default_label())
    limits = run_limits(args, model)
    check_run(args, Matrix((ref, cand)), limits)
    check_optimizer_names(getattr(args, "ablation_pass", None) or ())  # before any worker
    inputs = make_inputs(args, model)
    expected = expected_outputs(args, model)
    # One private copy of the model (and its data) serves the runs and both analyses.
    prepared = prepare(model)
    try:
        return _compare(args, model, ref, cand, inputs, limits, prepared, expected)
    finally:
        prepared.cleanup()


def _compare(
    args: argparse.Namespace,
    model: LoadedModel,
    ref: RunConfig,
    cand: RunConfig,
    inputs: dict[str, np.ndarray],
    limits: Limits,
    prepared: PreparedModel,
    expected: dict[str, Any] | None = None,
) -> int:
    from inspector.run.analysis import ablation, first_divergence
    from inspector.run.compare import compare, node_changes, node_timing_table

    results = run_matrix(
        model,
        Matrix((ref, cand)),
        inputs,
        limits=limits,
        progress=_Progress(),
        prepared=prepared,
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
    }
    checks = expected_checks(args, results, expected)
    if checks is not None:
        record["expected"] = to_jsonable(checks)
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
            html_report(model, results, analyses=analyses), encoding="utf-8"
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
    print(latency_lines(results[0], results[1]))
    print(slowest_table(labels, timing))
    print(changes_table(changes))
    if checks is not None:
        print_expected(results, checks)
    if fd is not None:
        print_divergence(fd)
    if rows is not None:
        print_ablation(rows)
    return 1 if failed else 0


def latency_lines(ref: RunResult, cand: RunResult) -> str:
    """Both medians with their intervals and how they stopped, then the verdict."""
    lines = ["\nLatency (median, 95% interval of the median)"]
    for r in (ref, cand):
        if r.latency:
            low, high = r.latency.interval
            lines.append(
                f"  {r.label}: {r.latency.median_ms:.3f} ms [{low:.3f}, {high:.3f}], "
                f"{r.latency.stop_detail or f'fixed {len(r.latency.runs_ms)} runs'}"
            )
    vs = latency_delta(ref, cand)
    if vs is not None:
        lines.append(
            f"  candidate / reference: {vs.ratio:.3f}× [{vs.ratio_ci[0]:.3f}, "
            f"{vs.ratio_ci[1]:.3f}]: {vs.verdict}"
            + (" (the intervals overlap once each is ±5 %)" if vs.within_noise else "")
        )
    return "\n".join(lines)


def print_divergence(fd: Divergence) -> None:
    print(f"\nFirst divergence ({fd.reference} → {fd.candidate})")
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
