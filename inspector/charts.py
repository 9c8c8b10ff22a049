"""Plotly figures and Graphviz sources for the pages (pure functions of records)."""

from __future__ import annotations

import html
import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence

import plotly.graph_objects as go

from inspector.model.diff import ModelDiff
from inspector.model.graph import GraphRecord
from inspector.run.analyses.compare import NodeTimingRow, OutputDelta
from inspector.run.analyses.roofline import Roofline, RoofPoint
from inspector.run.readout.outcome import EXPECTED_REFUSAL, outcome
from inspector.run.readout.results import RunResult, latency_delta

#: One fixed colour per EP, wherever an EP is drawn (the EP bars, the graph filled by EP and
#: its legend), so a bar and a graph node of one EP match.
EP_COLORS = {
    "CPUExecutionProvider": "#4C78A8",
    "OpenVINOExecutionProvider": "#F58518",
    "CUDAExecutionProvider": "#54A24B",
    "TensorrtExecutionProvider": "#B279A2",
    "ggml": "#EECA3B",
    "cpu_ep": "#FF9DA6",  # the nxrt-ep-cpu plugin
}
#: Colours of EPs the table does not name, picked by a checksum of the name (stable across runs
#: and processes, unlike hash()).
_OTHER_EP_COLORS = ("#9D755D", "#72B7B2", "#E45756", "#BAB0AC", "#8CD17D", "#D37295")


#: Colours of the configurations, in the order they ran (plotly's default sequence, set on
#: every chart that shows configurations so one configuration has one colour throughout: the
#: latency bars, the per-node and per-op-type bars and their legends).
CONFIG_COLORS = (
    "#636EFA",
    "#EF553B",
    "#00CC96",
    "#AB63FA",
    "#FFA15A",
    "#19D3F3",
    "#FF6692",
    "#B6E880",
    "#FF97FF",
    "#FECB52",
)
#: The longest node name a chart's label keeps (the hover has the whole name).
LABEL_CHARS = 40


def config_color(k: int) -> str:
    """The colour of the ``k``-th configuration that ran (:data:`CONFIG_COLORS`)."""
    return CONFIG_COLORS[k % len(CONFIG_COLORS)]


def short_name(name: str, cap: int = LABEL_CHARS) -> str:
    """The end of a node name within ``cap`` characters, where a chart has no room for the
    rest: as many of its last scope components as fit, after "…/" (names without "/" are cut
    at "." the same way, after "…"), else its last ``cap - 1`` characters after "…". The end
    is kept because exporters put the scope first and what the node does last
    (``/encoder/layer.3/attn/MatMul``)."""
    if len(name) <= cap:
        return name
    for sep in ("/", "."):
        parts = [p for p in name.split(sep) if p]
        for k in range(len(parts) - 1, 0, -1):
            tail = "…" + ("/" if sep == "/" else "") + sep.join(parts[-k:])
            if len(tail) <= cap:
                return tail
    return "…" + name[-(cap - 1) :]


def _head_and_tail(name: str, cap: int) -> str:
    """``name`` as its first scope component, "…" and as much of its end as fits: what tells
    apart two long names that end alike (``encoder/…/attn/MatMul``, ``decoder/…/attn/MatMul``)."""
    parts = [p for p in name.split("/") if p]
    if len(name) <= cap or len(parts) < 3:
        return short_name(name, cap)
    head = ("/" if name.startswith("/") else "") + parts[0] + "/"
    return head + short_name(name, cap - len(head))


def _with_op(name: str, op: str) -> str:
    """``name · op``, without the op where the name's last part already says it
    (``/block/act/Sigmoid``, ``node_MatMul_115``)."""
    last = re.split(r"[/.]", name)[-1]
    if op and re.search(rf"(^|[^A-Za-z]){re.escape(op)}($|[^A-Za-z])", last):
        return name
    return f"{name} · {op}" if op else name


def node_labels(rows: Sequence[NodeTimingRow], cap: int = LABEL_CHARS) -> list[str]:
    """A chart label per timing row, unique among ``rows``: the node's name shortened to
    ``cap`` characters (:func:`short_name`) and its op type; an unnamed node is its op type and
    id, ONNX Runtime's own kernel its kernel name. Two names that end alike keep their first
    scope component too; labels that still clash get the node's id. The whole name, the id and
    the op are the hover's (:func:`node_hover`)."""

    def label(r: NodeTimingRow, shorten: Callable[[str, int], str]) -> str:
        if r.runtime:
            return f"{short_name(r.node, cap)} · {r.op_type}, ONNX Runtime's own"
        if not r.name:
            return f"{r.op_type} {r.node_id or r.node}"
        return _with_op(shorten(r.name, cap), r.op_type)

    out = [label(r, short_name) for r in rows]
    for attempt in ("head", "id"):
        seen: dict[str, int] = {}
        for lb in out:
            seen[lb] = seen.get(lb, 0) + 1
        clash = [i for i, lb in enumerate(out) if seen[lb] > 1]
        if not clash:
            break
        for i in clash:
            r = rows[i]
            if attempt == "head":
                out[i] = label(r, _head_and_tail)
            else:
                out[i] = f"{out[i]} ({r.node_id or r.node})"
    return out


def node_hover(row: NodeTimingRow) -> str:
    """The hover's first line for a timing row: the node's whole name, its id and op type."""
    if row.runtime:
        return f"{text(row.node)} ({text(row.op_type)}: ONNX Runtime's own kernel)"
    name = text(row.name) if row.name else "(no name)"
    return f"{name}<br>{text(row.node_id)} · {text(row.op_type)}"


def text(value: object) -> str:
    """A model string for a plotly title, label or tick: plotly renders a subset of HTML
    (``<a href>``, ``<b>``…), so ``<``/``>``/``&`` are escaped to show as themselves."""
    return html.escape(str(value), quote=False)


def ep_color(ep: str) -> str:
    """The EP's colour (:data:`EP_COLORS`; an EP not named there always gets the same one)."""
    if ep in EP_COLORS:
        return EP_COLORS[ep]
    return _OTHER_EP_COLORS[zlib.crc32(ep.encode()) % len(_OTHER_EP_COLORS)]


def ep_assignment(results: Sequence[RunResult]) -> go.Figure:
    """Nodes per EP of each configuration as one horizontal stacked bar (matrix order, top
    down; an EP's colour is :func:`ep_color`, the legend its swatches). A configuration that
    has no session says how it ended instead: refused as expected (strict) or failed."""
    rows = [text(r.label) for r in results]
    # Every EP asked for or used, so an EP that took nothing still has its swatch (no bar).
    asked = [e.name for r in results for e in r.config.eps]
    used = [ep for r in results if r.fallback for ep, _ in r.fallback.nodes_per_ep]
    eps = list(dict.fromkeys(asked + used))
    eps.sort(key=lambda ep: ep != "CPUExecutionProvider")  # CPU first, then as they came
    fig = go.Figure()
    for ep in eps:
        counts = [dict(r.fallback.nodes_per_ep).get(ep, 0) if r.fallback else 0 for r in results]
        fig.add_bar(
            y=rows,
            x=counts,
            name=text(ep.removesuffix("ExecutionProvider")) + ("" if any(counts) else " (no node)"),
            orientation="h",
            marker_color=ep_color(ep),
            text=[f"{n:,}" if n else "" for n in counts],
            textposition="inside",
            insidetextanchor="middle",
            hovertemplate="%{y}<br>%{x:,} nodes on " + text(ep) + "<extra></extra>",
        )
    most = max(
        (sum(n for _, n in r.fallback.nodes_per_ep) for r in results if r.fallback), default=0
    )
    for r, row in zip(results, rows, strict=True):
        if not r.fallback:
            kind = outcome(r, results).kind
            said = {"expected_refusal": EXPECTED_REFUSAL, "failed": "failed: no session"}
            fig.add_annotation(
                y=row,
                x=0,
                xanchor="left",
                showarrow=False,
                text=said.get(kind, "ran, no assignment record"),
                font=dict(color="#666666"),
            )
    fig.update_layout(
        barmode="stack",
        height=130 + 34 * len(rows),
        margin=dict(l=10, r=10, t=80, b=40),
        # The title above the legend's row: on one bar's chart they overlapped.
        title=dict(text="Nodes per EP", y=0.98, yanchor="top", yref="container"),
        showlegend=True,  # plotly hides a lone trace's legend: CPU alone keeps its swatch
        legend=dict(
            title_text="EP", orientation="h", yanchor="bottom", y=1.0, x=0, traceorder="normal"
        ),
        xaxis=dict(
            title="nodes (ONNX Runtime's assignment record)",
            rangemode="tozero",
            dtick=1 if most <= 10 else None,  # whole nodes: no 0.5 ticks on a small model
        ),
        yaxis=dict(automargin=True, autorange="reversed", type="category"),
    )
    return fig


def ep_legend_dot(eps: Sequence[str]) -> str:
    """Graphviz source of a one-row legend: a box in each EP's colour, named (the graph
    coloured by EP sits under it; grey: a node with no record)."""
    names = [*dict.fromkeys(eps)]
    items = [(e.removesuffix("ExecutionProvider"), ep_color(e)) for e in names]
    items.append(("no record", "#eeeeee"))
    boxes = [
        f'"legend{i}" [label="{_escape(name)}", fillcolor="{color}"];'
        for i, (name, color) in enumerate(items)
    ]
    order = " -> ".join(f'"legend{i}"' for i in range(len(items)))  # invisible: one row
    return (
        "digraph L { rankdir=LR; nodesep=0.1; ranksep=0.15; node [shape=box, "
        'style="rounded,filled", fontsize=10, fontname="Helvetica", height=0.25]; '
        f"edge [style=invis]; {' '.join(boxes)} {order}; }}"
    )


def op_histogram(graph: GraphRecord, top: int = 30) -> go.Figure:
    """Nodes per op type. Bars are labelled by op type alone — the histogram sits in a quarter
    of the page, where "com.microsoft::DynamicQuantizeLSTM" was cut to "osoft::Dynamic…" — with
    the domain in the hover; an op type found in two domains keeps its domain in the label."""
    ops = list(graph.op_histogram[:top])[::-1]
    bare = Counter(o.rsplit("::", 1)[-1] for o, _ in graph.op_histogram)
    labels = [o if bare[o.rsplit("::", 1)[-1]] > 1 else o.rsplit("::", 1)[-1] for o, _ in ops]
    fig = go.Figure(
        go.Bar(
            x=[c for _, c in ops],
            y=[text(label) for label in labels],
            orientation="h",
            hovertext=[text(o) for o, _ in ops],
            hovertemplate="%{hovertext}: %{x} nodes<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(250, 18 * len(ops) + 80), margin=dict(l=10, r=10, t=30, b=10), title="Op types"
    )
    return fig


def value_histogram(counts: Sequence[int], edges: Sequence[float], title: str) -> go.Figure:
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    fig = go.Figure(go.Bar(x=centers, y=list(counts)))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), title=text(title), bargap=0)
    return fig


def latency(results: Sequence[RunResult], reference: int = 0) -> go.Figure:
    """Median latency per configuration, each bar in its configuration's colour
    (:func:`config_color`); whiskers are the 95 % interval of each median (how
    sure it is: timing.py), the hover adds p10/p90, CV, the runs and why timing stopped, and
    the ratio to ``results[reference]`` — "within noise" where the intervals overlap once each
    is at least ±5 % (±10 % for timed runs under 0.1 s: :data:`.timing.NOISE_RULE`)."""
    ref = results[reference] if 0 <= reference < len(results) else None
    ok = [r for r in results if r.ok and r.latency]
    lats = [r.latency for r in ok if r.latency]

    def versus(r: RunResult) -> str:
        if ref is None or r is ref:
            return "the reference"
        vs = latency_delta(ref, r)
        return "" if vs is None else f"{vs.ratio:.2f}× the reference: {vs.verdict}"

    fig = go.Figure(
        go.Bar(
            x=[text(r.label) for r in ok],
            y=[lat.median_ms for lat in lats],
            marker_color=[config_color(k) for k in range(len(ok))],
            error_y=dict(
                type="data",
                symmetric=False,
                array=[lat.interval[1] - lat.median_ms for lat in lats],
                arrayminus=[lat.median_ms - lat.interval[0] for lat in lats],
            ),
            customdata=[
                [
                    f"{lat.interval[0]:.3f}–{lat.interval[1]:.3f}",
                    f"{lat.p10_ms:.3f}–{lat.p90_ms:.3f}",
                    "" if lat.cv is None else f"{100 * lat.cv:.1f} %",
                    text(lat.stop_detail or f"fixed {len(lat.runs_ms)} runs"),
                    text(versus(r)),
                ]
                for r, lat in zip(ok, lats, strict=True)
            ],
            hovertemplate="%{x}<br>median %{y:.3f} ms, 95 % interval %{customdata[0]} ms"
            "<br>p10–p90 %{customdata[1]} ms, CV %{customdata[2]}<br>%{customdata[3]}"
            "<br>%{customdata[4]}<extra></extra>",
        )
    )
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        title="Latency per configuration (median; whiskers: its 95 % interval)",
        xaxis=dict(automargin=True, type="category"),
        yaxis=dict(title="ms", automargin=True, rangemode="tozero"),
    )
    return fig


def slowest_nodes(labels: Sequence[str], rows: Sequence[NodeTimingRow], top: int = 25) -> go.Figure:
    """Grouped horizontal bars: the slowest original nodes, one bar per configuration in its
    colour (:func:`config_color`), each node labelled by its shortened name and op type
    (:func:`node_labels`; the hover has the whole name, the id and the op). A hatched bar is
    derived: a share of a fused, shared or EP-compiled kernel's time (its hover says which);
    ONNX Runtime's own kernels are bars of their own. A bar's ``customdata`` ends with its
    node's key (:func:`_key`), which a page reads back from a clicked bar."""
    rows = list(rows[:top])[::-1]
    ticks = [text(lb) for lb in node_labels(rows)]
    fig = go.Figure()
    for k, label in enumerate(labels):
        via = [r.via[k] if k < len(r.via) else "" for r in rows]
        split = [k < len(r.derived) and r.derived[k] for r in rows]
        spans = [r.interval(k) for r in rows]
        fig.add_bar(
            y=ticks,
            x=[r.times_us[k] or 0 for r in rows],
            name=text(label),
            orientation="h",
            marker_color=config_color(k),
            # The interval of each time across the profiled runs (none in older records).
            error_x=dict(
                type="data",
                symmetric=False,
                array=[
                    (sp[1] - (r.times_us[k] or 0)) if sp else 0
                    for r, sp in zip(rows, spans, strict=True)
                ],
                arrayminus=[
                    ((r.times_us[k] or 0) - sp[0]) if sp else 0
                    for r, sp in zip(rows, spans, strict=True)
                ],
                thickness=1,
            ),
            marker_pattern_shape=["/" if x else "" for x in split],
            customdata=[
                [
                    node_hover(r),
                    text(r.eps[k]),
                    text(v or "ran as its own kernel"),
                    f"{sp[0]:.1f}–{sp[1]:.1f} µs" if sp else "not recorded",
                    _key(r),
                ]
                for r, v, sp in zip(rows, via, spans, strict=True)
            ],
            hovertemplate="%{customdata[0]}<br>on %{customdata[1]}: %{x:.1f} µs (interval "
            "%{customdata[3]})<br>%{customdata[2]}<extra>" + text(label) + "</extra>",
        )
    # The bars set the scale: with 5 profiled runs an interval is min..max, and one slow run
    # would squeeze every bar to a sliver (the whisker runs off the edge; its hover has it).
    longest = max((t or 0.0 for r in rows for t in r.times_us), default=0.0)
    fig.update_layout(
        barmode="group",
        height=max(300, 26 * len(rows) * max(1, len(labels)) // 2),
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_range=[0, 1.3 * longest] if longest > 0 else None,
        xaxis=dict(
            title="µs (median; whiskers: its interval across profiled runs)<br>hatched: a "
            "share of a fused kernel's time (derived)",
            automargin=True,
        ),
        yaxis=dict(automargin=True, type="category"),
        title=f"Slowest {len(rows)} nodes",
        legend=dict(traceorder="normal"),
    )
    return fig


def _key(row: NodeTimingRow) -> str:
    """What a clicked bar carries back to the page: the row's node id (or its kernel)."""
    return row.node_id or row.node


def op_type_times(results: Sequence[RunResult]) -> go.Figure:
    """Time per runtime op type, one bar per configuration that ran in its colour."""
    fig = go.Figure()
    for k, r in enumerate(r for r in results if r.ok):
        if not r.profile:
            continue
        ops = r.profile.op_types[:20]
        fig.add_bar(
            x=[text(o.op_type) for o in ops],
            y=[o.median_us for o in ops],
            name=text(r.label),
            marker_color=config_color(k),
        )
    fig.update_layout(
        barmode="group",
        height=360,
        margin=dict(l=10, r=10, t=40, b=10),
        title="Time per op type (runtime ops)",
        xaxis=dict(automargin=True),
        yaxis=dict(title="µs", automargin=True),
    )
    return fig


def error_histogram(d: OutputDelta) -> go.Figure:
    """The finite non-zero errors per bin of log10 |Δ|; where some lie more than
    HISTOGRAM_DECADES below the largest, the first bin also holds them and says so."""
    edges = d.histogram_edges
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    hover = [f"10^{a:.1f} – 10^{b:.1f}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    if d.histogram_below and hover:
        hover[0] = f"below 10^{edges[1]:.1f} ({d.histogram_below:,} under 10^{edges[0]:.1f})"
    fig = go.Figure(
        go.Bar(
            x=centers,
            y=list(d.histogram_counts),
            customdata=hover,
            hovertemplate="|Δ| %{customdata}: %{y:,}<extra></extra>",
        )
    )
    title = f"|error| of {d.output} (log10)"
    axis = "log10 |Δ|"
    if d.histogram_below:
        axis += f" (first bar: also {d.histogram_below:,} smaller than 10^{edges[0]:.1f})"
    fig.update_layout(
        height=260,
        margin=dict(l=10, r=10, t=30, b=10),
        bargap=0,
        title=text(title),
        xaxis_title=axis,
    )
    return fig


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def overlay_dot(
    graph: GraphRecord, colors: dict[str, str], labels: dict[str, str], node_ids: Sequence[str]
) -> str:
    """Graphviz source of the main graph's nodes ``node_ids``, filled by ``colors``.

    Model strings are escaped: DOT is rendered by the browser, never as HTML."""
    chosen = set(node_ids)
    by_id = {n.id: n for n in graph.nodes if n.id in chosen}
    producer = {o: n.id for n in by_id.values() for o in n.outputs if o}
    lines = [
        "digraph G {",
        'rankdir=TB; node [shape=box, style="rounded,filled", fontsize=10, '
        'fontname="Helvetica"]; edge [color="#999999"];',
    ]
    for nid in node_ids:
        n = by_id[nid]
        parts = [n.op_type, short_name(n.name or nid)] + ([labels[nid]] if nid in labels else [])
        label = "\\n".join(_escape(p) for p in parts)
        color = _escape(colors.get(nid, "#eeeeee"))
        lines.append(f'"{_escape(nid)}" [label="{label}", fillcolor="{color}"];')
    for n in by_id.values():
        for t in n.inputs:
            if t in producer:
                lines.append(f'"{_escape(producer[t])}" -> "{_escape(n.id)}";')
    lines.append("}")
    return "\n".join(lines)


def heat(value: float, top: float) -> str:
    """White → red by ``value / top``."""
    x = 0.0 if top <= 0 else max(0.0, min(1.0, value / top))
    g = int(255 - 180 * x)
    return f"#ff{g:02x}{g:02x}"


def node_colors(result: RunResult, mode: str) -> tuple[dict[str, str], dict[str, str]]:
    """Fill colour and label per original node id for :func:`overlay_dot`: by the EP each node
    ran on (``mode="EP"``), or by its share of the slowest node's time (``"time"``)."""
    from inspector.run.analyses.compare import node_timing_table

    colors: dict[str, str] = {}
    labels: dict[str, str] = {}
    if not result.ok:
        return colors, labels
    if mode == "EP":
        for a in result.assignment:
            if a.node_id:
                colors[a.node_id] = ep_color(a.ep)
                labels[a.node_id] = a.ep.removesuffix("ExecutionProvider")
        return colors, labels
    _, rows = node_timing_table((result,))
    top = max((x.times_us[0] or 0 for x in rows), default=0)
    for x in rows:
        if x.node_id and x.times_us[0] is not None:
            colors[x.node_id] = heat(x.times_us[0], top)
            labels[x.node_id] = f"{x.times_us[0]:.1f} µs"
    return colors, labels


#: Overlay fills of the model diff: what happened to each node.
DIFF_FILLS = {"changed": "#ffcc80", "removed": "#ef9a9a", "added": "#a5d6a7", "same": "#eeeeee"}


def diff_colors(diff: ModelDiff, side: str) -> tuple[dict[str, str], dict[str, str]]:
    """Fill colour and label per node id of model ``side`` ("a" or "b") for
    :func:`overlay_dot`: changed pairs orange, removed (A) red, added (B) green."""
    colors: dict[str, str] = {}
    labels: dict[str, str] = {}
    for p in diff.pairs:
        nid = p.a_id if side == "a" else p.b_id
        if p.changes:
            colors[nid], labels[nid] = DIFF_FILLS["changed"], "changed"
    wanted = "removed" if side == "a" else "added"
    for n in diff.lone:
        if n.side == wanted:
            colors[n.node_id], labels[n.node_id] = DIFF_FILLS[wanted], wanted
    return colors, labels


def stacked_dot(dot: str, columns: int = 2) -> str:
    """Graphviz source from :func:`overlay_dot` with its unconnected parts packed in rows of
    ``columns``: all side by side, a few separate changes make a strip too wide to read."""
    return dot.replace("digraph G {", f'digraph G {{\npack=true; packmode="array_{columns}";', 1)


#: Colours of op types on the roofline, given in the order of their names.
OP_COLORS = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#BAB0AC",
    "#636EFA",
    "#00CC96",
    "#AB63FA",
    "#19D3F3",
    "#FF6692",
    "#B6E880",
)


def op_colors(ops: Sequence[str]) -> dict[str, str]:
    """A colour per op type, by the order of their names: charts drawn with the same ``ops``
    (all the configurations' op types together) give one op type one colour."""
    return {op: OP_COLORS[k % len(OP_COLORS)] for k, op in enumerate(sorted(set(ops)))}


def roofline_scatter(rl: Roofline, ops: Sequence[str] = ()) -> go.Figure:
    """The roofline of one configuration: each unit (a node, or the nodes a fused kernel
    computes) at its arithmetic intensity (x, FLOPs per byte, log) and achieved GFLOP/s (y,
    log), coloured by op type and sized by its time; the machine's memory roof (copy
    bandwidth × intensity) and compute roof (GEMM peak) as lines. Units far below the roof
    above them are the ones a better kernel would speed up. A point's ``customdata`` ends
    with its key (first node id), which a page reads back from a click. ``ops``: op types
    coloured alongside (:func:`op_colors`: pass every configuration's to match charts)."""
    fig = go.Figure()
    points = rl.points
    longest = max((p.time_us for p in points), default=0.0)
    groups: dict[str, list[RoofPoint]] = {}
    for p in points:
        groups.setdefault(p.op_type, []).append(p)
    order = sorted(groups, key=lambda op: -sum(p.time_us for p in groups[op]))
    colors = op_colors([*ops, *groups])
    for op in order:
        ps = groups[op]
        fig.add_scatter(
            x=[p.intensity for p in ps],
            y=[p.gflops for p in ps],
            mode="markers",
            name=text(op),
            marker=dict(
                color=colors[op],
                size=[6 + 26 * (p.time_us / longest) ** 0.5 if longest else 8 for p in ps],
                line=dict(width=0.5, color="#333333"),
                opacity=0.8,
            ),
            customdata=[
                [
                    text(p.label),
                    text(", ".join(p.node_ids[:4]) + (" …" if len(p.node_ids) > 4 else "")),
                    text(p.op_type),
                    f"{p.time_us:,.1f}",
                    f"{p.flops:,}",
                    f"{p.bytes:,}",
                    (f"{100 * p.fraction:.1f} %" if p.fraction is not None else "no roof")
                    + (" (an int8 kernel)" if p.integer else ""),
                    text(p.how or "its own kernel"),
                    p.key,
                ]
                for p in ps
            ],
            hovertemplate="%{customdata[0]}<br>%{customdata[1]} · %{customdata[2]}<br>"
            "%{customdata[3]} µs · %{customdata[4]} FLOPs · %{customdata[5]} bytes<br>"
            "%{x:.2f} FLOP/byte → %{y:.2f} GFLOP/s (%{customdata[6]} of its roof)<br>"
            "%{customdata[7]}<extra></extra>",
        )
    peaks = rl.peaks
    xs = [p.intensity for p in points]
    if peaks.gflops and peaks.bandwidth_gbs and peaks.ridge:
        cached = max((gbs for _, gbs in peaks.cache_bandwidths), default=0.0)
        int8 = peaks.int8_gops if any(p.integer for p in points) else None
        top = max(peaks.gflops, int8 or 0.0)
        low = min([*xs, top / max(cached, peaks.bandwidth_gbs)]) / 3
        high = max([*xs, top / peaks.bandwidth_gbs]) * 3  # past where every roof meets
        # Short names: the legend shares the chart's width (what each is: the caption's "how").
        roofs = [(f"memory roof: copy {peaks.bandwidth_gbs:.1f} GB/s", peaks.bandwidth_gbs, "dash")]
        if cached > peaks.bandwidth_gbs:
            roofs.append((f"in-cache roof: copy {cached:.1f} GB/s", cached, "dot"))
        for name, bandwidth, dash in roofs:  # each meets the highest compute roof
            fig.add_scatter(
                x=[low, top / bandwidth],
                y=[low * bandwidth, top],
                mode="lines",
                name=name,
                line=dict(color="#444444", dash=dash),
                hoverinfo="skip",
            )
        for name, peak, color in (
            (f"compute roof: float32 {peaks.gflops:.1f} GFLOP/s", peaks.gflops, "#000000"),
            (f"int8 roof: MatMulInteger {int8:.1f} GOP/s" if int8 else "", int8, "#7f3c8d"),
        ):  # fmt: skip
            if peak:
                fig.add_scatter(
                    x=[peak / max(cached, peaks.bandwidth_gbs), high],
                    y=[peak, peak],
                    mode="lines",
                    name=name,
                    line=dict(color=color),
                    hoverinfo="skip",
                )
    fig.update_layout(
        height=520,
        margin=dict(l=10, r=10, t=50, b=10),
        title=text(
            f"Roofline of {rl.label}: {len(points)} timed units"
            + (f", {rl.gflops:.3g} GFLOP/s overall" if rl.gflops else "")
        ),
        xaxis=dict(
            type="log",
            dtick=1,  # a tick per power of ten
            title="arithmetic intensity (FLOPs per byte of parameters + activations)",
            automargin=True,
        ),
        yaxis=dict(type="log", dtick=1, title="achieved GFLOP/s (size: time)", automargin=True),
        legend=dict(traceorder="normal"),
    )
    return fig


def memory_bars(results: Sequence[RunResult]) -> go.Figure:
    """Each configuration's worker memory (resident, MiB): before its session, the peak while
    the session was created, and the peak while it ran — one group per configuration."""
    shown = [r for r in results if r.memory is not None]
    labels = [text(r.label) for r in shown]
    fig = go.Figure()
    for name, pick, color in (
        ("before the session", lambda m: m.baseline_bytes, "#9aa5b1"),
        ("peak: creating the session", lambda m: m.create_peak_bytes, "#4c78a8"),
        (
            "peak: running (incl. creation where not separable)",
            lambda m: m.run_peak_bytes,
            "#f58518",
        ),
    ):
        values = [pick(r.memory) for r in shown]
        fig.add_bar(
            name=name,
            x=labels,
            y=[v / 2**20 if v is not None else None for v in values],
            marker_color=color,
            hovertemplate="%{x}<br>%{y:.1f} MiB<extra>" + name + "</extra>",
        )
    fig.update_layout(
        barmode="group",
        title="Worker memory per configuration (resident, MiB)",
        yaxis_title="MiB",
        height=360,
        margin={"t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(automargin=True)
    return fig
