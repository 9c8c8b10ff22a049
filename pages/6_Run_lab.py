"""Run lab: choose EPs × optimization levels × options and inputs; run in isolated workers."""

from dataclasses import replace
from typing import Any

import streamlit as st

from inspector import InspectorError
from inspector.limits import thread_limit
from inspector.run.config import (
    OPT_LEVELS,
    Matrix,
)
from inspector.run.demo import DEMO_SAMPLE, demo_ep, demo_matrix, fallback_label
from inspector.run.eps import LIBRARIES_ENV, discover
from inspector.run.inputs import (
    InputPlan,
    check_inputs,
    generate,
    load_expected_outputs,
    load_input_files,
    resolve,
    shape_hints,
)
from inspector.run.plan import RunPlan
from inspector.run.probe import probe_sizes
from inspector.run.results import RunResult, latency_delta
from inspector.run.sanity import warnings_of
from inspector.run.timing import pct
from pages.common import expected as expected_outputs
from pages.common import handoff, state
from pages.common.picker import page_header
from pages.common.tasks import wait_for
from pages.common.text import plain


def results_table(source: state.Source) -> None:
    """The latest job's results (drawn by the job panel, so they appear the moment it ends)."""
    runs_state = state.runs(source)
    if not runs_state:
        return
    st.subheader("Last results")
    ref = runs_state.results[runs_state.matrix.reference] if runs_state.results else None

    def versus(r: RunResult) -> str:
        vs = latency_delta(ref, r) if ref is not None and r is not ref else None
        return "" if vs is None else f"{vs.ratio:.2f}× · {vs.verdict}"

    st.dataframe(
        [
            {
                "configuration": r.label,
                "status": "ok" if r.ok else r.error_kind,
                "median ms": round(r.latency.median_ms, 3) if r.latency else None,
                # How sure the median is: its 95 % interval, and why timing stopped.
                "± (95 % interval)": pct(r.latency.halfwidth) if r.latency else None,
                "vs reference": versus(r),
                "timing": (r.latency.stop_detail or f"fixed {len(r.latency.runs_ms)} runs")
                if r.latency
                else None,
                "CV": f"{100 * r.latency.cv:.1f} %"
                if r.latency and r.latency.cv is not None
                else None,
                "p90 ms": round(r.latency.p90_ms, 3) if r.latency else None,
                "nodes per EP": ", ".join(
                    f"{k.removesuffix('ExecutionProvider')} {v}"
                    for k, v in (r.fallback.nodes_per_ep if r.fallback else ())
                ),
                "fell back": len(r.fallback.off_preferred) if r.fallback else None,
                "notes / error": r.error or "; ".join(r.notes),
                **(
                    {"where": " ".join(v for k, v in r.placement if k in ("host", "cpu"))}
                    if r.placement
                    else {}
                ),
            }
            for r in runs_state.results
        ],
        hide_index=True,
    )
    for r in runs_state.results:
        if not r.ok:
            st.error(plain(r.error))
        for warning in warnings_of(r.notes):  # NaN/Inf or absurd outputs: deltas are noise
            st.warning(plain(f"{r.label}: {warning}"))
    expected_outputs.show(source, runs_state.results)
    st.caption(
        "Timing stops once the median's 95 % interval is within the target or the time budget "
        "is spent. 'within noise': the intervals overlap once each is at least ±5 %, the "
        "difference two sessions of one configuration show on a shared machine."
    )
    st.page_link("pages/7_Compare.py", label="Compare these runs →")


def job_panel(source: state.Source) -> None:
    """The latest job of this model: progress, queue position, cancel; refreshes while it runs
    (a fragment: the rest of the page stays usable, and the job goes on if the user leaves)."""
    job = state.latest_job(source)
    if job is None:
        return

    def panel() -> None:
        job = state.latest_job(source)
        if job is None:
            return
        done, n = len(job.results), job.total
        if job.active:
            ahead = state.job_queue().position(job)
            text = f"{done} of {n} configurations"
            if job.state == "queued":
                text += f" — waiting for a free slot ({ahead} job(s) ahead)"
            elif job.current:
                text += f" — running {job.current}"
            st.progress(done / n, text=text)
            if st.button("Cancel this run", key=f"cancel_{job.id}"):
                state.job_queue().cancel(job.id)
            results_table(source)  # the configurations finished so far
            return
        failed = sum(1 for r in job.results if not r.ok)
        if job.state == "done":
            done_text = "Re-run here done" if job.base else "Done"
            (st.success if not failed else st.warning)(
                f"{done_text}: {done - failed} ok, {failed} failed"
            )
        elif job.state == "cancelled":
            st.warning(f"Cancelled after {done} of {n} configurations (workers stopped).")
        else:
            st.error(plain(f"The run failed: {job.error}"))
        results_table(source)
        if st.session_state.get("results_shown") != job.id:
            # A full run stops the ticking; asked again on every tick until one has happened
            # (with eight busy sessions a request was seen to be lost).
            st.rerun()

    shown = st.session_state.get("results_shown") == job.id
    st.fragment(run_every=1.0 if job.active or not shown else None)(panel)()


model, source = page_header("Run lab")
saved = state.plan(source)

eps = discover()
second = demo_ep()
usable = [
    e for e in eps if e.usable and e.name not in ("CPUExecutionProvider", "AzureExecutionProvider")
]
ep_choices = {"CPU": "cpu"} | {
    f"{e.name.removesuffix('ExecutionProvider')} → CPU": f"{e.name},cpu" for e in usable
}
missing = [e for e in eps if not e.usable and e.source == "not installed"]

demo_col, demo_text = st.columns([1, 3])
if second is None:
    demo_text.info(
        "No second execution provider is usable here, so the fallback demo cannot run. "
        "`pip install onnxruntime-ggml` adds one that works on any x86-64 or Arm CPU."
    )
else:
    demo_text.caption(
        f"One click: open `{DEMO_SAMPLE}`, run it on {plain(second.name)} → CPU and on CPU "
        "alone, at two optimization levels and in strict mode, and show which node fell back."
    )
    if demo_col.button(
        f"Fallback demo ({plain(second.name.removesuffix('ExecutionProvider'))})",
        key="rl_demo",
        type="secondary",
    ):
        demo_source = state.sample_source(DEMO_SAMPLE)
        state.add(demo_source)
        demo_model = state.load(demo_source)
        inputs = state.record("overview", demo_source).inputs
        matrix = demo_matrix(second.name)
        job = state.submit(
            demo_source,
            demo_model,
            matrix,
            generate(resolve(inputs, InputPlan.make(hints=shape_hints(demo_model)))),
            demo_model.limits,
        )
        with st.spinner(f"Running the fallback demo ({len(matrix.configs)} configurations)…"):
            state.job_queue().wait(job, 600)
        if job.results:
            handoff.to_compare(handoff.CompareFocus(fallback_label(matrix), "EP assignment"))

with st.expander("Execution providers on this server", expanded=not usable):
    st.dataframe(
        [
            {
                "EP": e.name,
                "source": e.source,
                "usable": e.usable,
                "why": e.reason,
                "devices": ", ".join(e.devices),
                "package": e.package,
            }
            for e in eps
        ],
        hide_index=True,
    )
    st.caption(
        "Usable means ONNX Runtime registered the EP *and* it lists a device here. Plugin EP "
        f"libraries of your own: set `{LIBRARIES_ENV}=NAME=/path/lib.so` where the server "
        "starts (`--ep-library` on the CLI); the page never loads a library named in the browser."
    )
    if missing:
        st.caption(
            "Requesting an EP that is not installed runs its nodes on CPU silently: pick one "
            "below to see it."
        )

c1, c2 = st.columns(2)
picked = c1.multiselect(
    "EP priority lists",
    list(ep_choices),
    default=saved.get("eps", list(ep_choices)[-1:]),
    key="rl_eps",
)
demo = c1.selectbox(
    "Also request an EP that is not installed (silent fallback)",
    ["—"] + [e.name for e in missing],
    key="rl_missing",
)
levels = c2.multiselect(
    "Optimization levels",
    list(OPT_LEVELS),
    default=saved.get("levels", ["disable_all", "all"]),
    key="rl_levels",
)
strict = c2.checkbox(
    "Also run strict (no CPU fallback) variants", value=saved.get("strict", False), key="rl_strict"
)


def bounded(box: Any, label: str, low: int, high: int, value: int, key: str, limit: str) -> int:
    """A number input in ``box`` whose range follows this server's limit (its maximum is the
    limit, the default no higher), with the limit named in its help."""
    high = max(low, high)
    help_text = f"At most {high:,} on this server (limit `{limit}`, docs/limits.md)."
    widget = box.number_input(label, low, high, min(max(value, low), high), key=key, help=help_text)
    return int(widget)


LIMITS = state.LIMITS
with st.expander("Options"):
    # (label, lowest, the server's limit and its name, saved key, default, widget key)
    numbers = [
        ("intra-op threads", 1, thread_limit(LIMITS), "max_threads", "threads", 1, "rl_thr"),
        ("warm-up runs", 0, LIMITS.max_warmup_runs, "max_warmup_runs", "warmup", 3, "rl_warm"),
        ("most timed runs", 1, LIMITS.max_timed_runs, "max_timed_runs", "runs", 100, "rl_runs"),
        ("profiled runs", 0, LIMITS.max_profiled_runs, "max_profiled_runs", "profiled", 5,
         "rl_prof"),
    ]  # fmt: skip
    threads, warmup, runs, profiled = (
        bounded(col, label, low, high, saved.get(name, default), key, limit)
        for col, (label, low, high, limit, name, default, key) in zip(
            st.columns(4), numbers, strict=True
        )
    )
    t1, t2 = st.columns(2)
    budget = t1.number_input(
        "time budget per configuration (s)",
        0.0,
        float(LIMITS.max_time_budget_s),
        min(float(saved.get("budget", 10.0)), float(LIMITS.max_time_budget_s)),
        key="rl_budget",
        help="Timed runs stop once this much time is spent (never before 6 runs; 0: no "
        f"budget). At most {LIMITS.max_time_budget_s:,} s on this server (limit "
        "`max_time_budget_s`, docs/limits.md). Profiled runs get a quarter of it.",
    )
    target = t2.number_input(
        "stop at a 95 % interval of ± (%)",
        0.0,
        100.0,
        float(saved.get("target", 2.0)),
        key="rl_target",
        help="Timed runs stop once the median's 95 % interval is this tight (0: never; with a "
        "budget of 0 too, exactly 'most timed runs' are made).",
    )
    disabled = st.text_input(
        "Disable optimizer passes (comma-separated)",
        saved.get("disabled", ""),
        key="rl_dis",
        help="ONNX Runtime pass names, e.g. GeluFusionL1, LayerNormFusionL1, "
        "MatMulAddFusion, ConvBNFusion, NchwcTransformer",
    )
    ep_opts = st.text_area(
        "EP options (EP:key=value per line)",
        saved.get("ep_opts", ""),
        key="rl_ep_opts",
        placeholder="ggml:threads=2",
        help="Provider options per EP, e.g. ggml:threads=2 or openvino:precision=FP16; only "
        "allow-listed options are accepted (docs/run-options.md).",
    )
    extra = st.text_area(
        "Session config entries (key=value per line)",
        saved.get("extra", ""),
        key="rl_extra",
        placeholder="optimization.enable_gelu_approximation=1",
        help="Only keys on the run lab's allow-list are accepted (none of them names a file); "
        "the list with value ranges is in docs/run-options.md and `onnx-inspector run-options`.",
    )
    probe = st.checkbox(
        "Probe input sizes first (try the suggested sizes, then 32…640, until one runs)",
        value=saved.get("probe", False),
        key="rl_probe",
    )
    timeout = bounded(
        st,
        "Timeout per configuration (s)",
        min(5, LIMITS.run_timeout_s),
        LIMITS.run_timeout_s,
        saved.get("timeout", 300),
        "rl_timeout",
        "run_timeout_s",
    )

st.subheader("Inputs")
inputs_info = state.record("overview", source).inputs
uploaded = st.file_uploader(
    "Input files (.npy named after the input, .npz, .pb; a test-data folder's output_N.pb "
    "are its expected outputs)",
    key="rl_files",
    accept_multiple_files=True,
)
hints = shape_hints(model)
symbols = sorted(
    {str(d.value) for v in inputs_info for d in (v.dims or ()) if d.kind == "symbolic"}
)
try:  # the sizes a user would pick (metadata, dim names), shown before the run
    suggested = resolve(inputs_info, InputPlan.make(hints=hints)) if not uploaded else []
except InspectorError as exc:
    st.error(plain(exc))
    suggested = []
default_dims = {
    str(d.value): size
    for vi, r in zip(inputs_info, suggested, strict=False)
    for d, size in zip(vi.dims or (), r.shape, strict=False)
    if d.kind == "symbolic"
}
dims = {}
if symbols and not uploaded:
    cols = st.columns(max(1, len(symbols)))
    for col, sym in zip(cols, symbols, strict=True):
        dims[sym] = int(
            col.number_input(
                f"dim {sym}",
                1,
                1_000_000,
                saved.get("dims", {}).get(sym, default_dims.get(sym, 1)),
                key=f"rl_dim_{sym}",
            )
        )
if symbols and not uploaded and suggested:
    reasons = list(dict.fromkeys(n for r in suggested for n in r.notes if "=" in n and "(" in n))
    if reasons:
        st.caption("Suggested: " + "; ".join(plain(n) for n in reasons))
ranges: dict[str, tuple[float, float]] = {}
shapes: dict[str, list[int]] = {}
values: dict[str, list[str]] = {}
if inputs_info and not uploaded:
    try:
        plan_preview = resolve(inputs_info, InputPlan.make(dims, hints=hints))
    except InspectorError as exc:
        st.error(plain(exc))
        plan_preview = []
    for r in plan_preview:
        a, b, c, d = st.columns([3, 2, 1, 1])
        a.text(f"{r.name}: {r.dtype}" + (f" — {'; '.join(r.notes)}" if r.notes else ""))
        shown = ",".join(map(str, r.shape))
        text = b.text_input(
            "shape", saved.get("shapes", {}).get(r.name, shown), key=f"rl_sh_{r.name}"
        )
        if text.strip() and text.replace(" ", "") != shown:
            try:
                shapes[r.name] = [int(x) for x in text.replace("x", ",").split(",") if x.strip()]
            except ValueError:
                st.error(f"Shape of {plain(r.name)}: use integers, e.g. 1,3,224,224.")
        if r.dtype == "STRING":
            categories = c.text_input(
                "values (comma-separated)", ",".join(r.choices), key=f"rl_val_{r.name}"
            )
            values[r.name] = [v.strip() for v in categories.split(",") if v.strip()]
            continue
        low = c.number_input(
            "low",
            value=float(saved.get("ranges", {}).get(r.name, (r.low, r.high))[0]),
            key=f"rl_lo_{r.name}",
        )
        high = d.number_input(
            "high",
            value=float(saved.get("ranges", {}).get(r.name, (r.low, r.high))[1]),
            key=f"rl_hi_{r.name}",
        )
        ranges[r.name] = (low, high)

if st.button("Run the matrix", type="primary", key="rl_go", disabled=not picked or not levels):
    state.save_plan(
        source,
        {
            "eps": picked,
            "levels": levels,
            "strict": strict,
            "threads": threads,
            "warmup": warmup,
            "runs": runs,
            "profiled": profiled,
            "budget": budget,
            "target": target,
            "disabled": disabled,
            "extra": extra,
            "ep_opts": ep_opts,
            "timeout": timeout,
            "probe": probe,
            "dims": dims,
            "ranges": ranges,
        },
    )
    # The deployment's timeout is a ceiling: the job queue caps it too.
    run_limits = replace(model.limits, run_timeout_s=min(timeout, LIMITS.run_timeout_s))
    try:
        expected = None
        if uploaded:
            files = {f.name: f.getvalue() for f in uploaded}
            arrays = load_input_files(
                files,
                [v.name for v in inputs_info],
                kinds={v.name: v.kind for v in inputs_info},
            )
            check_inputs(arrays, inputs_info)
            # A test-data folder's output_<i>.pb: each run is checked against them.
            expected = load_expected_outputs(files, state.record("overview", source).outputs)
        else:
            input_plan = InputPlan.make(dims, ranges, shapes=shapes, values=values, hints=hints)
            if probe:  # in the run queue, like every worker the server starts

                def probe_task(job, m=model, vi=inputs_info, p=input_plan, lim=run_limits):
                    return probe_sizes(m, vi, p, limits=lim)

                probing = state.submit_task(source, model, "probe", "input sizes", probe_task)
                wait_for(probing, st.empty(), "Probing input sizes")
                found = probing.value
                if probing.state != "done" or found is None:
                    raise InspectorError(
                        f"The input size probe did not finish: {probing.error or probing.state}."
                    )
                if not found.found:
                    raise InspectorError(f"No input sizes found that run: {found.detail}.")
                st.info(
                    plain(
                        f"Input sizes: {found.detail} — "
                        + ", ".join(f"{n} {list(s)}" for n, s in found.shapes)
                    )
                )
                input_plan = replace(input_plan, shapes=found.shapes)
            arrays = generate(resolve(inputs_info, input_plan))
        matrix = RunPlan(
            ep_lists=tuple(ep_choices[p] for p in picked)
            + ((f"{demo},cpu",) if demo != "—" else ()),
            levels=tuple(levels),
            strict_variants=strict,
            intra_op_threads=int(threads),
            warmup_runs=int(warmup),
            timed_runs=int(runs),
            profiled_runs=int(profiled),
            time_budget_s=float(budget),
            target_ci_pct=float(target),
            disabled_optimizers=tuple(disabled.split(",")),
            session_config=tuple(extra.splitlines()),
            ep_options=tuple(ep_opts.splitlines()),
        ).matrix()
        expected_outputs.remember(state.submit(source, model, matrix, arrays, run_limits), expected)
    except InspectorError as exc:
        st.error(plain(exc))
        st.stop()

latest = state.latest_job(source)
bundled = latest if latest is not None and latest.origin else None
if latest is not None and latest.base is not None:
    bundled = latest.base
if bundled is not None:  # results from a session bundle: show where, offer to re-run them here
    st.info(plain(f"Runs {bundled.origin}."))
    if latest is bundled and st.button(
        "Re-run here",
        key="rerun_bundle",
        help="The bundle's configurations and exact inputs on this machine; the results are "
        "shown beside the bundled ones (labels start with 'here').",
    ):
        try:
            here = Matrix(
                tuple(
                    replace(c, label=f"here · {c.label}")
                    for c in (r.config for r in bundled.results)
                )
            )
            state.submit(source, model, here, dict(bundled.inputs), model.limits, base=bundled)
        except InspectorError as exc:  # e.g. a configuration over this server's limits
            st.error(plain(exc))
        latest = state.latest_job(source)
if latest is not None and not latest.active:
    st.session_state["results_shown"] = latest.id  # the panel stops ticking
job_panel(source)
