"""A self-contained HTML report of a model and its runs, for attaching to a ticket.

One file: overview, compatibility verdict, diagnostics, and — when runs are given — latency,
per-node and per-op charts (the same plotly figures the app shows), EP assignment and fallback,
output deltas against the first configuration, and any first-divergence or ablation results.
plotly.js is inlined once, every model string is HTML-escaped, and a Content-Security-Policy
(:func:`policy`) means the page opens offline, *cannot* fetch from any origin, and runs only
the scripts this module wrote: each is allowed by its SHA-256 hash, so a script or an event
handler that reached the page any other way (a model string that escaped its escaping) is
refused. Styles stay ``'unsafe-inline'``: plotly.js writes ``<style>`` rules and style
attributes while it draws (hover labels, the mode bar, text styles), whose text is not known
when the page is written; without it those rules are refused (plotly logs "Cannot
addRelatedStyleRule … strict CSP") and hover labels lose their styling. A style cannot run
code, and with ``default-src 'none'`` it cannot fetch anything either.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import platform
import re
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from inspector import charts
from inspector.model.compat import build_compat
from inspector.model.diagnose import diagnose
from inspector.model.load import LoadedModel
from inspector.model.overview import build_overview
from inspector.records import human_bytes
from inspector.run.analyses.compare import NodeTimingRow, compare, node_changes, node_timing_table
from inspector.run.readout.results import RunResult
from inspector.run.readout.summary import RunSummary
from inspector.run.readout.timing import NOISE_RULE

_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)


def script_hash(source: str) -> str:
    """A CSP source expression allowing the inline script whose text is ``source``."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def policy(script_hashes: Sequence[str] = ()) -> str:
    """The report's Content-Security-Policy: nothing from anywhere (``default-src 'none'``,
    no ``<base>``, no form posts), only the scripts hashed, inline styles and ``data:``
    images and fonts (see the module docstring for why styles are inline)."""
    scripts = " ".join(dict.fromkeys(script_hashes)) or "'none'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
        "img-src data:; font-src data:; base-uri 'none'; form-action 'none'"
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.7rem} h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} .error{color:#b00020} .warning{color:#9a6700} .muted{color:#666}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Figures:
    """plotly figures as HTML, plotly.js inlined with the first one only; ``hashes`` collects
    the CSP hash of every script they hold (and only theirs: the page's policy lists them)."""

    def __init__(self) -> None:
        self.first = True
        self.hashes: list[str] = []

    def __call__(self, fig: go.Figure) -> str:
        out = fig.to_html(
            full_html=False,
            include_plotlyjs=self.first,
            include_mathjax=False,
            config={"displaylogo": False},
        )
        self.first = False
        # The browser hashes a script's text after the HTML parser turned CR LF and CR into
        # LF; the text written is made the same, so the hashes match whatever plotly emits.
        out = out.replace("\r\n", "\n").replace("\r", "\n")
        self.hashes += [script_hash(m.group(1)) for m in _SCRIPT.finditer(out)]
        return out


def _changes(labels: Sequence[str], rows: Sequence[NodeTimingRow]) -> list[str]:
    """Per configuration after the first, its nodes whose time moved beyond noise."""
    out = []
    for k in range(1, len(labels)):
        changes = node_changes(rows, 0, k)
        real = [c for c in changes if not c.within_noise]
        out.append(
            f"<h3>Per-node changes beyond noise: {_e(labels[k])} vs {_e(labels[0])}</h3>"
            f"<p class=muted>{len(real):,} beyond noise; {len(changes) - len(real):,} within "
            "noise (intervals across the profiled runs overlap once each is ±20 % and ±1 µs; "
            "not listed)</p>"
        )
        if real:
            out.append(
                _table(
                    ["node", "op", "first µs", "this µs", "Δ µs", "derived"],
                    [
                        [
                            c.label,
                            c.op_type,
                            f"{c.reference_us:.1f}",
                            f"{c.candidate_us:.1f}",
                            f"{c.delta_us:+.1f}",
                            "yes" if c.derived else "",
                        ]
                        for c in real[:15]
                    ],
                )
            )
    return out


def _run_sections(results: Sequence[RunResult], figure: _Figures) -> list[str]:
    out = ["<h2>Runs</h2>"]
    out.append(
        _table(
            [
                "configuration",
                "status",
                "median ms",
                "95 % interval ms",
                "timing",
                "vs the first",
                "p90 ms",
                "nodes per EP",
                "fell back",
                "notes",
            ],
            [
                [
                    r.label,
                    r.status,
                    f"{r.median_ms:.3f}" if r.median_ms is not None else "",
                    "{:.3f}–{:.3f}".format(*r.ci_ms) if r.ci_ms else "",
                    r.stop,
                    r.versus,
                    f"{r.p90_ms:.3f}" if r.p90_ms is not None else "",
                    r.eps_text,
                    "" if r.fallback_nodes is None else r.fallback_nodes,
                    r.remarks,
                ]
                for r in RunSummary.of(results).rows
            ],
        )
    )
    out.append(
        "<p class=muted>Timing stopped once the median's 95 % interval was within the target, "
        "or the time budget was spent. <i>Within noise</i>: " + html.escape(NOISE_RULE) + ".</p>"
    )
    ok = [r for r in results if r.ok]
    if ok:
        out.append(figure(charts.latency(ok)))
        labels, rows = node_timing_table(tuple(ok))
        if rows:
            out.append(figure(charts.slowest_nodes(labels, rows, top=20)))
            out += _changes(labels, rows)
        if any(r.profile for r in ok):
            out.append(figure(charts.op_type_times(ok)))
    fell = [(r.label, n) for r in ok if r.fallback for n in r.fallback.off_preferred]
    out.append("<h2>Fallback: nodes that left the preferred EP</h2>")
    if any(r.fallback for r in ok):  # the bars Compare's EP tab draws, in the graph's colours
        out.append(figure(charts.ep_assignment(results)))
    out.append(
        _table(
            ["configuration", "node", "original id", "op", "ran on"],
            [[lb, n.node, n.node_id, n.op_type, n.ep] for lb, n in fell],
        )
        if fell
        else "<p>None: every node ran on its configuration's preferred EP.</p>"
    )
    if len(ok) > 1:
        out.append(f"<h2>Output deltas against {_e(ok[0].label)}</h2>")
        rows_out = []
        for r in ok[1:]:
            for d in compare(ok[0], r).outputs:
                rows_out.append(
                    [
                        r.label,
                        d.output,
                        d.status,
                        "" if d.max_abs is None else f"{d.max_abs:.4g}",
                        "" if d.cosine is None else f"{d.cosine:.6f}",
                        d.allclose,
                        d.detail,
                    ]
                )
        out.append(
            _table(
                ["configuration", "output", "status", "max |Δ|", "cosine", "allclose", ""], rows_out
            )
        )
    return out


def _analysis_sections(analyses: Sequence[Any]) -> list[str]:
    """First divergence and ablation tables (``inspector.bundle.Analysis`` items)."""
    out: list[str] = []
    for a in analyses:
        if a.kind == "divergence":
            fd = a.value
            out.append(f"<h2>First divergence: {_e(a.about)}</h2>")
            if fd.found:
                err = fd.error.max_abs if fd.error and fd.error.max_abs is not None else None
                out.append(
                    f"<p class=error>{_e(fd.node_id)} {_e(fd.node_name)} ({_e(fd.op_type)}), "
                    f"output {_e(fd.tensor)}"
                    + ("" if err is None else f", max |Δ| {err:.4g}")
                    + f"; chain to the output: {_e(' → '.join(fd.chain))}</p>"
                )
            else:
                out.append(
                    f"<p>None found ({fd.checked_tensors} tensors checked): {_e(fd.detail)}</p>"
                )
            out += [f"<p class=muted>note: {_e(x)}</p>" for x in fd.skipped]
        elif a.kind == "ablation":
            out.append(f"<h2>Optimizer ablation of {_e(a.about)}</h2>")
            out.append(
                _table(
                    [
                        "disabled",
                        "status",
                        "median ms",
                        "time ratio [95% CI]",
                        "max |Δ|",
                        "graph changed",
                        "note",
                    ],
                    [
                        [
                            r.disabled or "(baseline)",
                            r.status,
                            "" if r.median_ms is None else f"{r.median_ms:.4f}",
                            ""
                            if r.time_ratio is None
                            else f"{r.time_ratio:.2f}"
                            + (f" [{r.ratio_ci[0]:.2f}, {r.ratio_ci[1]:.2f}]" if r.ratio_ci else "")
                            + (" noise" if r.within_noise else ""),
                            "" if r.max_abs_vs_baseline is None else f"{r.max_abs_vs_baseline:.3g}",
                            "yes" if r.graph_changed else "no",
                            r.note,
                        ]
                        for r in a.value
                    ],
                )
            )
    return out


#: ``installed_loads`` in the report's words.
_LOADS = {
    "yes": "yes",
    "with_env": "only with ALLOW_RELEASED_ONNX_OPSET_ONLY=0",
    "no": "no",
    "not_checked": "not checked",
    "unknown": "unknown",
}


def _load_verdict(compat: Any, results: Sequence[RunResult]) -> list[str]:
    """Whether the installed onnxruntime loads the model, then what the stamps alone say."""
    loads, reasons = compat.installed_loads, " ".join(compat.installed_load_reasons)
    ran = [r.label for r in results if r.ok]
    if loads == "not_checked" and ran:  # a run of this report created a session itself
        loads, reasons = "yes", f"It ran in this report's configurations: {', '.join(ran)}."
    css = {"no": "error", "with_env": "warning", "not_checked": "warning"}.get(loads, "")
    return [
        f"<p class='{css}'>Installed onnxruntime {_e(compat.installed_ort or 'none')}: "
        f"<b>{_e(_LOADS[loads])}</b>. {_e(reasons)}</p>",
        f"<p class=muted>Version stamps (IR {compat.ir_version}): "
        f"{_e(compat.installed_stamps)}. {_e(' '.join(compat.installed_stamp_reasons))}</p>",
    ]


def _cost_section(
    model: LoadedModel,
    results: Sequence[RunResult],
    inputs: Mapping[str, Any] | None,
    figure: _Figures,
) -> list[str]:
    """The model's cost totals at the runs' input shapes (else the suggested sizes) and, per
    configuration with a profile, its roofline: the scatter, op types, the furthest below."""
    from inspector.errors import InspectorError
    from inspector.model.cost import build_cost
    from inspector.run.analyses.roofline import input_shapes, roofline, suggested_shapes

    out = ["<h2>Cost and roofline</h2>"]
    try:
        shapes = input_shapes(inputs) if inputs is not None else suggested_shapes(model)
        cost = build_cost(model, shapes)
    except InspectorError as e:
        return [*out, f"<p class=muted>Not counted: {_e(e)}</p>"]
    where = "the runs' inputs" if inputs is not None else "the suggested input sizes"
    bound = "≥ " if cost.unknown_nodes else ""
    out.append(
        _table(
            ["", ""],
            [
                [
                    f"input shapes ({where})",
                    ", ".join(f"{k} {list(v)}" for k, v in cost.input_shapes) or "(none)",
                ],
                ["FLOPs", f"{bound}{cost.flops:,}"],
                ["MACs", f"{bound}{cost.macs:,}"],
                ["parameter bytes", f"{human_bytes(cost.param_bytes)} ({cost.param_bytes:,})"],
                [
                    "activation peak (estimate)",
                    f"{human_bytes(cost.activation_peak_bytes)} at "
                    f"{cost.activation_peak_node or '—'}",
                ],
                ["nodes of unknown cost (left out)", f"{cost.unknown_nodes:,}"],
            ],
        )
    )

    def num(x: float | None, fmt: str = "{:.2f}") -> str:
        return "" if x is None else fmt.format(x)

    rls = [roofline(r, cost) for r in results if r.ok and r.profile and r.profile.nodes]
    ops = [p.op_type for rl in rls for p in rl.points]  # one colour per op type throughout
    for rl in rls:
        out.append(
            f"<h3>{_e(rl.label)}: "
            + (f"{rl.gflops:.3g} GFLOP/s over its timed units" if rl.gflops else "no timed unit")
            + "</h3>"
        )
        out.append(f"<p class=muted>Roofs: {_e(rl.peaks.how)}. {_e(rl.peaks.error)}</p>")
        out.append(figure(charts.roofline_scatter(rl, ops)))

        out.append(
            _table(
                ["op type", "units", "µs", "GFLOP/s", "FLOP/byte", "of roof", "lost µs"],
                [
                    [
                        o.op_type,
                        o.units,
                        f"{o.time_us:,.1f}",
                        num(o.gflops, "{:.3g}"),
                        num(o.intensity),
                        num(o.fraction, "{:.1%}"),
                        num(o.lost_us, "{:,.1f}"),
                    ]
                    for o in rl.by_op[:20]
                ],
            )
        )
        far = rl.far_below(10)
        if far:
            out.append("<p>Furthest below their roof (by the time a kernel at the roof saves):</p>")
            out.append(
                _table(
                    ["node", "id", "op", "µs", "lost µs", "of roof", "GFLOP/s", "FLOP/byte"],
                    [
                        [
                            p.label,
                            p.key,
                            p.op_type,
                            f"{p.time_us:,.1f}",
                            num(p.lost_us, "{:,.1f}"),
                            num(p.fraction, "{:.1%}"),
                            num(p.gflops, "{:.3g}"),
                            num(p.intensity),
                        ]
                        for p in far
                    ],
                )
            )
    return out


def html_report(
    model: LoadedModel,
    results: Sequence[RunResult] = (),
    *,
    title: str = "",
    analyses: Sequence[Any] = (),
    session: Any = None,
    inputs: Mapping[str, Any] | None = None,
) -> str:
    """The report as one HTML document (see the module docstring); ``analyses`` (first
    divergence, ablation: ``inspector.bundle.Analysis``) get a section each. ``session``:
    ONNX Runtime's load check (:func:`inspector.run.execute.loadcheck.check_session`); without one,
    the report says whether its own runs created a session, or that nothing checked it.
    ``inputs``: the arrays the runs fed, whose shapes the cost section counts at (without
    them, the suggested input sizes)."""
    import onnx

    ov = build_overview(model)
    compat = build_compat(model, session=session)
    diag = diagnose(model, overview=ov, compat=compat, session=session)
    figure = _Figures()
    parts = [
        f"<h1>{_e(title or 'ONNX Inspector report')} · {_e(model.name)}</h1>",
        f"<p class=muted>Generated {_e(_dt.datetime.now().isoformat(timespec='seconds'))} · "
        f"onnx {_e(onnx.__version__)} · "
        f"onnxruntime {_e(compat.installed_ort or 'not installed')} · "
        f"{_e(platform.machine())} {_e(platform.processor() or platform.system())}</p>",
        "<h2>Overview</h2>",
        _table(
            ["", ""],
            [
                ["file", f"{model.name} ({human_bytes(ov.file_bytes)})"],
                ["IR version", ov.ir_version],
                ["producer", f"{ov.producer_name} {ov.producer_version}".strip()],
                [
                    "opsets",
                    ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in ov.opset_imports),
                ],
                [
                    "nodes",
                    f"{ov.counts.nodes_total:,} ({ov.counts.nodes_main_graph:,} in the main graph)",
                ],
                ["parameters", f"{ov.counts.parameters:,}"],
                [
                    "weights",
                    f"{human_bytes(ov.counts.bytes_inline)} inline, "
                    f"{human_bytes(ov.counts.bytes_external)} external",
                ],
                *([["doc string", ov.doc_string[:2000]]] if ov.doc_string else []),
                *[[f"metadata {k}", v[:2000]] for k, v in ov.metadata_props[:50]],
            ],
        ),
        _table(
            ["", "name", "type", "shape"],
            [["input", v.name, v.dtype, v.shape_text] for v in ov.inputs]
            + [["output", v.name, v.dtype, v.shape_text] for v in ov.outputs],
        ),
        "<h2>Will ONNX Runtime load it?</h2>",
        *_load_verdict(compat, results),
        f"<h2>Diagnostics ({diag.count('error')} errors, {diag.count('warning')} warnings)</h2>",
        f"<p>onnx checker: {_e(diag.checker)}</p>",
        _table(
            ["severity", "code", "subject", "message", "fix"],
            [[f.severity, f.code, f.subject, f.message, f.fix] for f in diag.findings],
        )
        if diag.findings
        else "<p>No findings.</p>",
    ]
    if results:
        parts += _run_sections(results, figure)
    parts += _cost_section(model, results, inputs, figure)
    parts += _analysis_sections(analyses)
    body = "\n".join(parts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{policy(figure.hashes)}">'
        f"<title>{_e(model.name)} · ONNX Inspector</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
