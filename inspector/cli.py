"""``onnx-inspector`` / ``python -m inspector``: the JSON twin of every page.

Each subcommand loads ``MODEL`` (companion files from its folder or ``--data-dir``), builds one
record and prints it as readable text, or as JSON with ``--json``. Unusable input exits 1 with a
one-line reason on stderr (``--json`` also prints ``{"error": {...}}`` on stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from inspector import model as M
from inspector.errors import InspectorError
from inspector.records import to_jsonable
from inspector.safe_text import TerminalStream


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            v = ", ".join(str(x) for x in v)
        if isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:,}"
        text = "" if v is None else str(v)
        text = text.replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


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


def _text_compat(c: M.CompatVerdict) -> str:
    verdict = {
        "yes": "version stamps supported",
        "with_env": "version stamps supported only with ALLOW_RELEASED_ONNX_OPSET_ONLY=0",
        "no": "REFUSED by its version stamps",
        "unknown": "unknown",
    }[c.installed_loads]
    out = [
        f"IR {c.ir_version} · opsets " + ", ".join(f"{d} {v}" for d, v in c.opsets),
        f"onnxruntime {c.installed_ort or '(not installed)'}: {verdict}"
        + (f" — {'; '.join(c.installed_reasons)}" if c.installed_reasons else "")
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
        _table(
            ["onnxruntime", "loads", "why not"],
            [(r.version, r.loads, "; ".join(r.reasons)) for r in c.releases],
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onnx-inspector",
        description="Inspect an ONNX model: the same records the app shows, as text or JSON.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("model", metavar="MODEL", help="path to the .onnx file")
        p.add_argument(
            "--data-dir", help="folder holding external-data files (default: the model's folder)"
        )
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        return p

    e = sub.add_parser(
        "eps",
        help="Every execution provider: usable here or not, and why (what the Run lab shows).",
    )
    e.add_argument("--json", action="store_true", help="print JSON instead of text")
    from inspector.cli_run import add_ep_library_argument

    add_ep_library_argument(e)
    ro = sub.add_parser(
        "run-options",
        help="Session config entries and EP options the run lab accepts, with value ranges.",
    )
    ro.add_argument("--json", action="store_true", help="print JSON instead of text")
    add("overview", "Metadata, opset imports, inputs/outputs and counts.")
    g = add("graph", "Every node with inferred shapes, op histogram and structural issues.")
    g.add_argument("--name", help="only nodes whose name or id contains this")
    g.add_argument("--op-type", help="only nodes of this op type")
    g.add_argument("--domain", help="only nodes of this domain (ai.onnx for the default)")
    g.add_argument("--shape", help="only nodes with an output shape containing this text")
    g.add_argument("--limit", type=int, default=200, help="rows printed as text (default 200)")
    i = add("initializers", "Every weight (initializers and Constant values).")
    i.add_argument(
        "--stats",
        action="append",
        default=[],
        metavar="NAME",
        help="also compute statistics and a histogram for this weight (repeatable)",
    )
    add("subgraphs", "The tree of If/Loop/Scan bodies and local functions.")
    add("external-data", "External-data references checked against the companion files.")
    c = add("compat", "Will ONNX Runtime load it? Installed version and every release since 1.16.")
    d = add("diagnose", "Export pitfalls and problems, each with a fix.")
    for p in (c, d):
        p.add_argument(
            "--no-session-check",
            action="store_true",
            help="do not create an onnxruntime session (by default one is created in an "
            "isolated worker: the stamps alone miss custom ops, missing data, kernel errors)",
        )
        p.add_argument(
            "--ort-version",
            metavar="X.Y.Z",
            help="judge the stamps against this onnxruntime version instead of the installed "
            "one (e.g. the version your deployment runs); no session check then",
        )
    d.add_argument(
        "--fail-on",
        choices=["error", "warning", "never"],
        default="never",
        help="exit 1 when a finding of this severity (or worse) exists",
    )
    from inspector.cli_run import add_run_arguments

    r = add("run", "Run the model under configurations (EPs × levels) in isolated workers.")
    add_run_arguments(r)
    r.add_argument(
        "--require-ep",
        metavar="EP",
        help="exit 1 when nodes fell back off this EP (or it was not active)",
    )
    r.add_argument(
        "--max-fallback-nodes",
        type=int,
        metavar="N",
        help="exit 1 when more than N nodes left the preferred EP",
    )
    cmp = add(
        "compare",
        "Compare two configurations: output deltas, per-node timing, "
        "first divergence, optimizer ablation.",
    )
    cmp.add_argument(
        "--ref",
        default="cpu@disable_all",
        metavar="EPS@LEVEL",
        help="reference configuration (default cpu@disable_all)",
    )
    cmp.add_argument(
        "--cand",
        default="cpu@all",
        metavar="EPS@LEVEL",
        help="candidate configuration (default cpu@all)",
    )
    add_run_arguments(cmp, matrix=False)
    cmp.add_argument(
        "--first-divergence",
        action="store_true",
        help="find the earliest node whose output differs beyond tolerance",
    )
    cmp.add_argument(
        "--ablation",
        action="store_true",
        help="re-run the candidate with single optimizer passes disabled",
    )
    cmp.add_argument(
        "--ablation-pass",
        action="append",
        default=[],
        metavar="PASS",
        help="passes to ablate (default: a list of common ORT passes)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI; model strings reach the terminal with control characters escaped."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalStream(out), TerminalStream(err)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _eps(args: argparse.Namespace) -> int:
    """``onnx-inspector eps``: the EP records the Run lab shows."""
    from inspector.cli_run import register_libraries
    from inspector.run.eps import discover

    try:
        register_libraries(args)
    except InspectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    infos = discover()
    if args.json:
        print(json.dumps(to_jsonable(infos), indent=2, ensure_ascii=False))
        return 0
    rows = [
        [i.name, "yes" if i.usable else "no", i.source, ", ".join(i.devices), i.reason]
        for i in infos
    ]
    print(_table(["EP", "usable", "source", "devices", "why"], rows, max_width=110))
    return 0


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "eps":
        return _eps(args)
    if args.command == "run-options":
        from inspector.run import options

        if args.json:
            print(json.dumps(options.as_json(), indent=2))
        else:
            print(options.markdown(), end="")
        return 0
    try:
        if args.command in ("run", "compare"):
            from inspector import cli_run

            cli_run.register_libraries(args)
        model = M.load_model(args.model, args.data_dir)
        if args.command in ("run", "compare"):
            from inspector import cli_run

            return (cli_run.main_run if args.command == "run" else cli_run.main_compare)(
                args, model
            )
        record, text = _run(args, model)
    except InspectorError as exc:
        message = str(exc).replace("\n", " ")
        if args.json:
            print(json.dumps({"error": {"kind": exc.kind, "message": message}}))
        print(f"error: {message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(to_jsonable(record), indent=2, ensure_ascii=False))
    else:
        print(text())
    if args.command == "diagnose" and args.fail_on != "never":
        worst = {"error": ("error",), "warning": ("error", "warning")}[args.fail_on]
        if any(f.severity in worst for f in record.findings):
            bad = next(f for f in record.findings if f.severity in worst)
            print(f"error: {bad.severity}: {bad.message}", file=sys.stderr)
            return 1
    return 0


def _run(args: argparse.Namespace, model: M.LoadedModel) -> tuple[Any, Callable[[], str]]:
    cmd = args.command
    if cmd == "overview":
        ov = M.build_overview(model)
        return ov, lambda: _text_overview(ov)
    if cmd == "graph":
        g = M.build_graph(model)
        rows = g.filter(args.name, args.op_type, args.domain, args.shape)
        filtered = any((args.name, args.op_type, args.domain, args.shape))
        record = {**to_jsonable(g), "nodes": to_jsonable(rows)} if filtered else g
        return record, lambda: _text_graph(g, rows, args.limit)
    if cmd == "initializers":
        t = M.build_initializers(model)
        stats = [M.tensor_stats(model, key) for key in args.stats]
        record = {**to_jsonable(t), "stats": to_jsonable(stats)} if stats else t
        return record, lambda: _text_initializers(t, stats)
    if cmd == "subgraphs":
        s = M.build_subgraphs(model)
        return s, lambda: _text_subgraphs(s)
    if cmd == "external-data":
        r = M.build_external_data(model)
        return r, lambda: _text_external(r)
    session = None
    if not args.ort_version and not args.no_session_check:
        from inspector.run.loadcheck import check_session

        session = check_session(model)
    if cmd == "compat":
        c = M.build_compat(model, args.ort_version)
        record = {**to_jsonable(c), "session": to_jsonable(session)} if session else c
        return record, lambda: _text_compat(c) + _text_session(session)
    d = M.diagnose(model, compat=M.build_compat(model, args.ort_version), session=session)
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


if __name__ == "__main__":
    sys.exit(main())
