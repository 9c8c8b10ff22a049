"""Text renderers of the inspection records, and the inspection commands themselves."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from inspector import model as M
from inspector.cli.tables import table as _table
from inspector.records import to_jsonable


def _text_overview(ov: M.Overview) -> str:
    c = ov.counts
    out = [
        f"{ov.name}  ({ov.file_bytes:,} bytes)",
        f"IR version {ov.ir_version} · producer {ov.producer_name or '-'} "
        f"{ov.producer_version}".rstrip(),
        f"graph {ov.graph_name!r} · model version {ov.model_version} · domain {ov.domain or '-'}",
        "",
        f"nodes {c.nodes_total:,} ({c.nodes_main_graph:,} in the main graph) · subgraphs "
        f"{c.subgraphs} · functions {c.functions} · initializers {c.initializers:,}",
        f"parameters {c.parameters:,} · weights inline {c.bytes_inline:,} B · external "
        f"{c.bytes_external:,} B",
        "",
        "Opset imports",
        _table(
            ["domain", "version", "nodes"],
            [
                (
                    M.overview.domain_label(o.domain),
                    o.version,
                    o.nodes_using if o.used else "unused",
                )
                for o in ov.opset_imports
            ],
        ),
        "",
        "Inputs",
        _table(["name", "type", "shape"], [(v.name, v.dtype, v.shape_text) for v in ov.inputs]),
        "",
        "Outputs",
        _table(["name", "type", "shape"], [(v.name, v.dtype, v.shape_text) for v in ov.outputs]),
    ]
    if ov.metadata_props:
        out += ["", "Metadata", _table(["key", "value"], ov.metadata_props)]
    if ov.doc_string:
        out += ["", "Doc string", ov.doc_string[:500]]
    return "\n".join(out)


def _text_graph(g: M.GraphRecord, rows: Sequence[Any], limit: int) -> str:
    si = g.shape_inference
    out = [
        f"{len(g.nodes):,} nodes · shape inference "
        + ("ok" if si.ok else f"failed: {si.error}")
        + f" ({si.tensors_typed:,}/{si.tensors_total:,} outputs typed)",
        "",
        "Op types",
        _table(["op", "count"], g.op_histogram[:30]),
        "",
        f"Nodes ({len(rows):,} shown of {len(g.nodes):,}"
        + (f", first {limit}" if len(rows) > limit else "")
        + ")",
        _table(
            ["id", "name", "op", "domain", "inputs", "outputs", "shapes"],
            [
                (r.id, r.name, r.op_type, r.domain, r.inputs, r.outputs, r.output_shapes)
                for r in rows[:limit]
            ],
            40,
        ),
    ]
    if g.issues:
        out += [
            "",
            "Issues",
            _table(
                ["kind", "graph", "tensor", "nodes"],
                [(i.kind, i.graph, i.tensor, i.nodes) for i in g.issues],
            ),
        ]
    return "\n".join(out)


def _graph_json(g: M.GraphRecord, rows: Sequence[Any], cost: M.CostRecord) -> dict[str, Any]:
    """The graph record's JSON, each node with its cost fields (``null`` where unknown, with
    ``cost_why``; nodes inside bodies are not costed), and ``cost``: the model's totals."""
    by_id = {c.id: c for c in cost.nodes}
    nodes = []
    for row in rows:
        c = by_id.get(row.id)
        nodes.append(
            {
                **to_jsonable(row),
                "macs": c.macs if c else None,
                "flops": c.flops if c else None,
                "param_bytes": c.param_bytes if c else None,
                "read_bytes": c.read_bytes if c else None,
                "write_bytes": c.write_bytes if c else None,
                "cost_known": c.known if c else False,
                "cost_why": c.why if c else "nodes inside bodies are not costed",
            }
        )
    totals = {k: v for k, v in to_jsonable(cost).items() if k != "nodes"}
    return {**to_jsonable(g), "nodes": nodes, "cost": {**totals, "complete": cost.complete}}


def _text_initializers(t: M.InitializerTable, stats: Sequence[M.TensorStats]) -> str:
    out = [
        f"{len(t.rows):,} weights · {t.total_elements:,} values · {t.total_bytes:,} bytes",
        "",
        _table(
            ["key", "source", "dtype", "shape", "bytes", "storage"],
            [
                (
                    r.key,
                    r.source,
                    r.dtype,
                    "×".join(map(str, r.shape)) or "scalar",
                    r.bytes,
                    r.storage + (f" ({r.location})" if r.location else ""),
                )
                for r in t.rows
            ],
        ),
    ]
    for s in stats:
        out += ["", f"Statistics of {s.key} ({s.dtype} {list(s.shape)})"]
        if s.error:
            out.append(f"  cannot decode: {s.error}")
            continue
        if s.min is None and s.preview:
            out.append(
                f"  {s.count} strings, {s.invalid_utf8} not valid UTF-8; "
                f"first: {list(s.preview[:5])}"
            )
            continue
        out.append(
            f"  min {s.min:.6g} · max {s.max:.6g} · mean {s.mean:.6g} · std {s.std:.6g} · "
            f"zeros {s.zero_fraction:.2%} · NaN {s.nan_count} · Inf {s.inf_count}"
            if s.min is not None
            else f"  {s.count} values, none finite (NaN {s.nan_count}, Inf {s.inf_count})"
        )
    return "\n".join(out)


def _text_subgraphs(t: M.SubgraphTree) -> str:
    rows = [
        ("  " * r.depth + r.id, r.kind, r.owner_op, r.nodes, r.nodes_nested, r.inputs, r.outputs)
        for r in t.graphs
    ]
    out = [
        f"{len(t.graphs)} graphs · max depth {t.max_depth}",
        "",
        _table(["graph", "kind", "owner", "nodes", "nested", "inputs", "outputs"], rows, 50),
    ]
    for cycle in t.recursive_functions:
        out.append(f"recursive functions: {' → '.join(cycle)}")
    return "\n".join(out)


def _text_external(r: M.ExternalDataReport) -> str:
    if not r.tensors:
        return "No tensor uses external data." + (
            f"\nUnreferenced files: {', '.join(r.unreferenced_files)}"
            if r.unreferenced_files
            else ""
        )
    out = [
        f"{len(r.tensors)} external tensors · {r.errors} unusable",
        "",
        _table(
            ["tensor", "location", "offset", "length", "needs", "status", "detail"],
            [
                (
                    t.tensor,
                    t.location,
                    t.offset,
                    t.length,
                    t.expected_bytes,
                    t.status,
                    "; ".join(t.messages),
                )
                for t in r.tensors
            ],
            70,
        ),
        "",
        "Files",
        _table(
            ["file", "size", "tensors", "referenced", "gap", "overlaps"],
            [
                (
                    f.name,
                    "missing" if f.size is None else f.size,
                    f.tensors,
                    f.bytes_referenced,
                    f.gap_bytes,
                    len(f.overlaps),
                )
                for f in r.files
            ],
        ),
    ]
    if r.unreferenced_files:
        out.append(f"Unreferenced files: {', '.join(r.unreferenced_files)}")
    return "\n".join(out)


#: ``installed_loads`` as the answer to "does the installed onnxruntime load it?".
LOADS_TEXT = {
    "yes": "yes",
    "with_env": "only with ALLOW_RELEASED_ONNX_OPSET_ONLY=0",
    "no": "NO",
    "not_checked": "not checked",
    "unknown": "unknown",
}


def _text_compat(c: M.CompatVerdict) -> str:
    stamps = {
        "yes": "version stamps supported",
        "with_env": "version stamps supported only with ALLOW_RELEASED_ONNX_OPSET_ONLY=0",
        "no": "REFUSED by its version stamps",
        "unknown": "unknown",
    }[c.installed_stamps]
    ort = f"onnxruntime {c.installed_ort or '(not installed)'}"
    out = [
        f"IR {c.ir_version} · opsets " + ", ".join(f"{d} {v}" for d, v in c.opsets),
        f"Does {ort} load it? {LOADS_TEXT[c.installed_loads]}"
        + (f" — {'; '.join(c.installed_load_reasons)}" if c.installed_load_reasons else ""),
        f"{ort}: {stamps}"
        + (f" — {'; '.join(c.installed_stamp_reasons)}" if c.installed_stamp_reasons else "")
        + (
            " (limits assumed from the newest measured release)"
            if c.installed_limits_assumed
            else ""
        ),
        f"model needs IR ≥ {c.min_ir_required} for the features it uses",
    ]
    out += [f"! {f}" for f in c.flags]
    out += [
        "",
        "Version stamps against each release's measured limits (stamps only: custom ops, "
        "data and kernels are not judged here)",
        _table(
            ["onnxruntime", "stamps", "why not"],
            [(r.version, r.stamps, "; ".join(r.reasons)) for r in c.releases],
            80,
        ),
    ]
    if c.op_problems:
        out += [
            "",
            _table(
                ["domain", "op", "nodes", "problem"],
                [(p.domain, p.op_type, p.nodes, p.problem) for p in c.op_problems],
            ),
        ]
    if c.suggestions:
        out += ["", "Suggested fixes"] + [f"- {s.text}" for s in c.suggestions]
    return "\n".join(out)


def _text_diagnose(d: M.Diagnosis) -> str:
    if not d.findings:
        return "No findings. onnx.checker: passed."
    out = [
        f"{d.count('error')} errors · {d.count('warning')} warnings · {d.count('info')} notes",
        "",
    ]
    for f in d.findings:
        subject = f" [{f.subject}]" if f.subject else ""
        out.append(f"{f.severity.upper():7} {f.code}{subject}: {f.message}")
        if f.fix:
            out.append(f"        fix: {f.fix}")
    return "\n".join(out)


def run_inspection(args: argparse.Namespace, model: M.LoadedModel) -> tuple[Any, Callable[[], str]]:
    cmd = args.command
    if cmd == "overview":
        ov = M.build_overview(model)
        return ov, lambda: _text_overview(ov)
    if cmd == "graph":
        g = M.build_graph(model)
        rows = g.filter(args.name, args.op_type, args.domain, args.shape)
        graph_record: Any = g
        if args.json:  # with each node's cost and the totals
            from inspector.model.cost import parse_input_shapes

            cost = M.build_cost(model, parse_input_shapes(args.input_shape))
            graph_record = _graph_json(g, rows, cost)
        return graph_record, lambda: _text_graph(g, rows, args.limit)
    if cmd == "initializers":
        t = M.build_initializers(model)
        stats = [M.tensor_stats(model, key) for key in args.stats]
        table_record: Any = {**to_jsonable(t), "stats": to_jsonable(stats)} if stats else t
        return table_record, lambda: _text_initializers(t, stats)
    if cmd == "subgraphs":
        s = M.build_subgraphs(model)
        return s, lambda: _text_subgraphs(s)
    if cmd == "external-data":
        r = M.build_external_data(model)
        return r, lambda: _text_external(r)
    session = None
    if not args.ort_version and not args.no_session_check:
        from inspector.run.execute.loadcheck import check_session

        session = check_session(model)
    c = M.build_compat(model, args.ort_version, session=session)
    if cmd == "compat":
        compat_record: Any = {**to_jsonable(c), "session": to_jsonable(session)} if session else c
        return compat_record, lambda: _text_compat(c) + _text_session(session)
    d = M.diagnose(model, compat=c, session=session)
    return d, lambda: _text_diagnose(d)


def _text_session(s: Any) -> str:
    if s is None:
        return ""
    if s.ok:
        return (
            f"\n\nSession check: onnxruntime {s.ort_version} created a session "
            f"(CPU EP, optimizations on) in {s.seconds * 1000:.0f} ms."
        )
    text = f"\n\nSession check: FAILED — onnxruntime {s.ort_version or ''} said: {s.message}"
    return text + (f"\n  fix: {s.fix}" if s.fix else "")
