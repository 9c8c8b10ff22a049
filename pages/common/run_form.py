"""The Run lab's form: widgets in, a typed :class:`~inspector.run.setup.request.RunForm` out
(kept per model between visits), plus the EP table, the fallback demo and the size probe as a
queued job. Everything is checked by :meth:`RunRequest.from_form` and ``resolve``, not here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from inspector import InspectorError, LoadedModel
from inspector.limits import Limits, thread_limit
from inspector.model.overview import ValueInfo
from inspector.run.setup.config import OPT_LEVELS
from inspector.run.setup.demo import DEMO_SAMPLE, demo_matrix, fallback_label
from inspector.run.setup.eps import LIBRARIES_ENV
from inspector.run.setup.inputs import InputPlan, default_inputs, resolve, shape_hints
from inspector.run.setup.probe import ProbeResult, probe_sizes
from inspector.run.setup.request import Prober, RunForm
from pages.common import handoff, models, runs
from pages.common.server import LIMITS, job_queue
from pages.common.tasks import wait_for
from pages.common.text import plain

_KEY = "run_forms"  # model key → its last RunForm


def saved_form(source: models.Source) -> RunForm:
    """The form this model was last run with (survives page switches), else the defaults."""
    form = st.session_state.setdefault(_KEY, {}).get(source.key)
    return form if isinstance(form, RunForm) else RunForm()


def save_form(source: models.Source, form: RunForm) -> None:
    st.session_state.setdefault(_KEY, {})[source.key] = form


def ep_table(eps: Sequence[Any], usable: bool) -> None:
    """Every EP discovery found: usable or not and why (open when none beyond CPU is)."""
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
            "Usable means ONNX Runtime registered the EP *and* it lists a device here. Plugin "
            f"EP libraries of your own: set `{LIBRARIES_ENV}=NAME=/path/lib.so` where the server "
            "starts (`--ep-library` on the CLI); the page never loads a library named in the "
            "browser."
        )
        if any(not e.usable and e.source == "not installed" for e in eps):
            st.caption(
                "Requesting an EP that is not installed runs its nodes on CPU silently: pick one "
                "below to see it."
            )


def fallback_demo(second: Any) -> None:
    """One click: the demo sample on ``second`` → CPU and CPU alone, then Compare's EP tab."""
    demo_col, demo_text = st.columns([1, 3])
    if second is None:
        demo_text.info(
            "No second execution provider is usable here, so the fallback demo cannot run. "
            "`pip install onnxruntime-ggml` adds one that works on any x86-64 or Arm CPU."
        )
        return
    name = second.name.removesuffix("ExecutionProvider")
    demo_text.caption(
        f"One click: open `{DEMO_SAMPLE}`, run it on {plain(second.name)} → CPU and on CPU "
        "alone, at two optimization levels and in strict mode, and show which node fell back."
    )
    if not demo_col.button(f"Fallback demo ({plain(name)})", key="rl_demo", type="secondary"):
        return
    demo_source = models.sample_source(DEMO_SAMPLE)
    models.add(demo_source)
    demo_model = models.load(demo_source)
    inputs = default_inputs(demo_model, models.record("overview", demo_source).inputs)
    run_demo(demo_source, demo_model, second.name, inputs, wait_s=600)


def run_demo(
    source: models.Source, model: LoadedModel, ep: str, inputs: dict, wait_s: float
) -> None:
    """The fallback demo's matrix (``ep`` → CPU against CPU, two levels, strict copies) on
    ``model``, waited for here (at most ``wait_s``), then Compare on its fallback
    configuration's EP assignment."""
    matrix = demo_matrix(ep)
    job = runs.submit(source, model, matrix, inputs, model.limits)
    with st.spinner(f"Running the fallback demo ({len(matrix.configs)} configurations)…"):
        job_queue().wait(job, wait_s)
    if job.results:
        handoff.to_compare(handoff.CompareFocus(fallback_label(matrix), "EP assignment"))


def _bounded(box: Any, label: str, low: int, high: int, value: int, key: str, limit: str) -> int:
    """A number input whose maximum is this server's limit (the default no higher), with the
    limit named in its help."""
    high = max(low, high)
    help_text = f"At most {high:,} on this server (limit `{limit}`, docs/limits.md)."
    widget = box.number_input(label, low, high, min(max(value, low), high), key=key, help=help_text)
    return int(widget)


def _options(saved: RunForm) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with st.expander("Options"):
        # (label, lowest, the server's limit and its name, form field, widget key)
        numbers = [
            ("intra-op threads", 1, thread_limit(LIMITS), "max_threads", "threads", "rl_thr"),
            ("warm-up runs", 0, LIMITS.max_warmup_runs, "max_warmup_runs", "warmup", "rl_warm"),
            ("most timed runs", 1, LIMITS.max_timed_runs, "max_timed_runs", "runs", "rl_runs"),
            ("profiled runs", 0, LIMITS.max_profiled_runs, "max_profiled_runs", "profiled",
             "rl_prof"),
        ]  # fmt: skip
        for col, (label, low, high, limit, name, key) in zip(st.columns(4), numbers, strict=True):
            out[name] = _bounded(col, label, low, high, getattr(saved, name), key, limit)
        t1, t2 = st.columns(2)
        top = float(LIMITS.max_time_budget_s)
        out["budget"] = t1.number_input(
            "time budget per configuration (s)",
            0.0,
            top,
            min(float(saved.budget), top),
            key="rl_budget",
            help="Timed runs stop once this much time is spent, or would be by one more run "
            "(never before 6 runs, or 3 when they spend it first; 0: no budget). On a model "
            "whose run takes seconds the first and profiled runs are timed runs too. "
            f"At most {LIMITS.max_time_budget_s:,} s on this server (limit "
            "`max_time_budget_s`, docs/limits.md). Profiled runs get a quarter of it.",
        )
        out["target"] = t2.number_input(
            "stop at a 95 % interval of ± (%)",
            0.0,
            100.0,
            float(saved.target),
            key="rl_target",
            help="Timed runs stop once the median's 95 % interval is this tight (0: never; with "
            "a budget of 0 too, exactly 'most timed runs' are made).",
        )
        out["disabled"] = st.text_input(
            "Disable optimizer passes (comma-separated)",
            saved.disabled,
            key="rl_dis",
            help="ONNX Runtime pass names, e.g. GeluFusionL1, LayerNormFusionL1, "
            "MatMulAddFusion, ConvBNFusion, NchwcTransformer",
        )
        out["ep_options"] = st.text_area(
            "EP options (EP:key=value per line)",
            saved.ep_options,
            key="rl_ep_opts",
            placeholder="ggml:threads=2",
            help="Provider options per EP, e.g. ggml:threads=2 or openvino:precision=FP16; only "
            "allow-listed options are accepted (docs/run-options.md).",
        )
        out["session_config"] = st.text_area(
            "Session config entries (key=value per line)",
            saved.session_config,
            key="rl_extra",
            placeholder="optimization.enable_gelu_approximation=1",
            help="Only keys on the run lab's allow-list are accepted (none of them names a "
            "file); the list with value ranges is in docs/run-options.md and "
            "`onnx-inspector run-options`.",
        )
        out["probe"] = st.checkbox(
            "Probe input sizes first (try the suggested sizes, then 32…640, until one runs)",
            value=saved.probe,
            key="rl_probe",
        )
        out["timeout"] = _bounded(
            st,
            "Timeout per configuration (s)",
            min(5, LIMITS.run_timeout_s),
            LIMITS.run_timeout_s,
            saved.timeout,
            "rl_timeout",
            "run_timeout_s",
        )
    return out


def _inputs(
    model: LoadedModel, source: models.Source, info: Sequence[ValueInfo], saved: RunForm
) -> dict[str, Any]:
    """Symbolic dims, then per input its shape and its value range (or a string input's
    values), each starting from the suggested sizes with the reasons shown."""
    hints = shape_hints(model)
    symbols = sorted({str(d.value) for v in info for d in (v.dims or ()) if d.kind == "symbolic"})
    try:  # the sizes a user would pick (metadata, dim names), shown before the run
        suggested = resolve(info, InputPlan.make(hints=hints))
    except InspectorError as exc:
        st.error(plain(exc))
        suggested = []
    default_dims = {
        str(d.value): size
        for vi, r in zip(info, suggested, strict=False)
        for d, size in zip(vi.dims or (), r.shape, strict=False)
        if d.kind == "symbolic"
    }
    saved_dims = dict(saved.dims)
    dims: dict[str, int] = {}
    for col, sym in zip(st.columns(len(symbols)) if symbols else [], symbols, strict=True):
        start = saved_dims.get(sym, default_dims.get(sym, 1))
        dims[sym] = int(
            col.number_input(f"dim {sym}", 1, 1_000_000, start, key=source.widget(f"rl_dim_{sym}"))
        )
    reasons = list(dict.fromkeys(n for r in suggested for n in r.notes if "=" in n and "(" in n))
    if symbols and reasons:
        st.caption("Suggested: " + "; ".join(plain(n) for n in reasons))
    try:
        preview = resolve(info, InputPlan.make(dims, hints=hints)) if info else []
    except InspectorError as exc:
        st.error(plain(exc))
        preview = []
    shapes, against, values, ranges = [], [], [], []
    for r in preview:
        a, b, c, d = st.columns([3, 2, 1, 1])
        a.text(f"{r.name}: {r.dtype}" + (f" — {'; '.join(r.notes)}" if r.notes else ""))
        shown = ",".join(map(str, r.shape))
        # Keyed by the suggested shape too: a field the dims above changed shows their shape
        # (one kept by name showed the old shape, which then overrode the new dims).
        text = b.text_input(
            "shape", saved.shape(r.name, shown), key=source.widget(f"rl_sh_{r.name}@{shown}")
        )
        if text.strip() and text.replace(" ", "") != shown:
            shapes.append((r.name, text))
            against.append((r.name, shown))
        if r.dtype == "STRING":
            default = dict(saved.values).get(r.name, ",".join(r.choices))
            categories = c.text_input(
                "values (comma-separated)", default, key=source.widget(f"rl_val_{r.name}")
            )
            values.append((r.name, categories))
            continue
        low, high = saved.value_range(r.name, (r.low, r.high))
        # Keyed by the suggested range too (as the shape), and sent only when it differs
        # from it: a range sent anyway reads as the user's, and drops the graph's hint that a
        # float input holds whole numbers.
        low = c.number_input("low", value=float(low), key=source.widget(f"rl_lo_{r.name}@{r.low}"))
        high = d.number_input(
            "high", value=float(high), key=source.widget(f"rl_hi_{r.name}@{r.high}")
        )
        if (float(low), float(high)) != (float(r.low), float(r.high)):
            ranges.append((r.name, float(low), float(high)))
    return {
        "dims": tuple(sorted(dims.items())),
        "shapes": tuple(shapes),
        "typed_against": tuple(against),
        "values": tuple(values),
        "ranges": tuple(ranges),
    }


def run_form(
    model: LoadedModel,
    source: models.Source,
    choices: Mapping[str, str],
    missing: Sequence[str],
) -> tuple[RunForm, list[tuple[str, bytes]]]:
    """The form's widgets (keys ``rl_*``), starting from this model's last form: the values,
    and the uploaded input files by name (with files, no generation widgets are shown)."""
    saved = saved_form(source)
    c1, c2 = st.columns(2)
    default_eps = [label for label in saved.eps if label in choices] or list(choices)[-1:]
    eps = c1.multiselect(
        "EP priority lists",
        list(choices),
        default=default_eps,
        key="rl_eps",
        help="A list with an EP other than CPU also runs CPU alone at each chosen level, beside "
        "the reference (CPU, disable_all): Compare always has a CPU run at the candidate's level, "
        "whatever that EP takes or fails at.",
    )
    missing_ep = c1.selectbox(
        "Also request an EP that is not installed (silent fallback)",
        ["—", *missing],
        key="rl_missing",
    )
    levels = c2.multiselect(
        "Optimization levels", list(OPT_LEVELS), default=list(saved.levels), key="rl_levels"
    )
    strict = c2.checkbox(
        "Also run strict (no CPU fallback) variants", value=saved.strict, key="rl_strict"
    )
    options = _options(saved)
    st.subheader("Inputs")
    uploaded = st.file_uploader(
        "Input files (.npy named after the input, .npz, .pb; a test-data folder's output_N.pb "
        "are its expected outputs)",
        key=source.widget("rl_files"),
        accept_multiple_files=True,
    )
    files = [(f.name, f.getvalue()) for f in uploaded or ()]
    info = models.record("overview", source).inputs
    generation = _inputs(model, source, info, saved) if not files else {}
    form = RunForm(
        eps=tuple(eps),
        missing_ep="" if missing_ep == "—" else str(missing_ep),
        levels=tuple(levels),
        strict=strict,
        **options,
        **generation,
    )
    return form, files


def queued_prober(source: models.Source, model: LoadedModel) -> Prober:
    """The size probe as a job in the run queue, like every worker the server starts; the
    page waits for it with a status line."""

    def prober(
        m: LoadedModel, info: Sequence[ValueInfo], plan: InputPlan, limits: Limits
    ) -> ProbeResult:
        def probe_task(job: Any) -> ProbeResult:
            return probe_sizes(m, info, plan, limits=limits)

        probing = runs.submit_task(source, "probe", "input sizes", probe_task)
        wait_for(probing, st.empty(), "Probing input sizes")
        found = probing.value
        if probing.state != "done" or not isinstance(found, ProbeResult):
            raise InspectorError(
                f"The input size probe did not finish: {probing.error or probing.state}."
            )
        return found

    return prober


def show_probe(found: ProbeResult) -> None:
    if found.found:
        sizes = ", ".join(f"{n} {list(s)}" for n, s in found.shapes)
        st.info(plain(f"Input sizes: {found.detail} — {sizes}"))
