"""``onnx-inspector`` / ``python -m inspector``: the JSON twin of every page.

Each subcommand loads ``MODEL`` (companion files from its folder or ``--data-dir``), builds one
record and prints it as readable text, or as JSON with ``--json``. Unusable input exits 1 with a
one-line reason on stderr (``--json`` also prints ``{"error": {...}}`` on stdout).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from inspector.cli.tables import table
from inspector.errors import InspectorError
from inspector.isolation.forkserver import NATIVE_COMMANDS, prestart
from inspector.records import to_jsonable
from inspector.safe_text import TerminalStream

if TYPE_CHECKING:
    from inspector.model.load import LoadedModel
    from inspector.run.execute.prepare import PreparedModel
    from inspector.run.execute.process import Worker


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
    e.add_argument(
        "--check",
        metavar="MODEL",
        help="also create a session of MODEL per usable second EP (not run) and say how many "
        "nodes each took, and why not more (the Run lab's 'Which EPs take this model?')",
    )
    from inspector.cli.args import add_ep_library_argument

    add_ep_library_argument(e)
    pm = sub.add_parser(
        "models",
        help="The real exported models the app installs from pinned wheels (beside its "
        "samples): where each is, or why it is not usable.",
    )
    pm.add_argument("--json", action="store_true", help="print JSON instead of text")
    rw = sub.add_parser(
        "ray-worker",
        help="Start this machine as a Ray node that advertises its usable EPs (run --ray).",
    )
    rw.add_argument("--address", help="the cluster's head (host:port); none: start a head")
    rw.add_argument("--port", type=int, default=6379, help="the head's port (with no --address)")
    rw.add_argument(
        "--node-ip-address",
        metavar="IP",
        help="this machine's address on the cluster's private network: the one Ray advertises "
        "and other members connect to (Ray still listens on every interface: firewall its "
        "ports, docs/ray.md)",
    )
    rw.add_argument("--dry-run", action="store_true", help="print the ray start command only")
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
    g.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="INPUT=D0,D1,...",
        help="the whole shape of an input, as run --shape, for the cost fields --json adds "
        "(MACs, FLOPs, bytes per node; totals): symbolic dims resolved (repeatable)",
    )
    sc = add(
        "scopes",
        "A large graph's name-scope tree; --extract/--around write one part as a model, "
        "--collapsed the graph as nested boxes for Netron.",
    )
    sc.add_argument("--scope", default="/", metavar="PATH", help="list this scope's children")
    sc.add_argument("--depth", type=int, default=1, help="levels below --scope (default 1)")
    sc.add_argument("--budget", type=int, default=0, help="most nodes per leaf (default: limit)")
    sc.add_argument("--limit", type=int, default=200, help="rows printed as text (default 200)")
    sc.add_argument("--extract", metavar="PATH", help="write this scope as a model (-o)")
    sc.add_argument("--around", metavar="NODE", help="write this node's neighbourhood (-o)")
    sc.add_argument(
        "--collapsed",
        action="store_true",
        help="write --scope (default the whole graph) collapsed: each scope one box (a "
        "model-local function Netron opens on a click of its ƒ), for viewing (-o)",
    )
    sc.add_argument("--hops", type=int, default=3, help="neighbourhood radius (default 3)")
    sc.add_argument("-o", "--output", metavar="FILE", help="the .onnx to write")
    sc.add_argument(
        "--skeleton",
        action="store_true",
        help="leave weights over 1 KiB out of the part: for viewing only, it does not load",
    )
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
    from inspector.cli.args import add_run_arguments

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
    cmp.add_argument(
        "--bundle",
        metavar="FILE",
        help="also write a session bundle: both runs, the analyses, the inputs ('open' reads it)",
    )
    cmp.add_argument(
        "--report", metavar="FILE", help="also write the offline HTML report of both runs"
    )
    df = add(
        "diff",
        "Model vs model: matched nodes, structural changes, weights (quantization error); "
        "with --run, outputs, per-node time and the first matched tensor that differs.",
    )
    from inspector.cli.args import add_diff_arguments

    add_diff_arguments(df)
    add_run_arguments(df, matrix=False)
    rep = add(
        "report",
        "A self-contained HTML report (overview, verdict, diagnostics; with --run: latency, "
        "per-node charts, fallback, deltas) that opens offline.",
    )
    rep.add_argument("-o", "--output", required=True, metavar="FILE", help="the .html to write")
    rep.add_argument("--run", action="store_true", help="run the matrix and include the runs")
    rep.add_argument(
        "--no-session-check",
        action="store_true",
        help="do not create an onnxruntime session to say whether it loads the model",
    )
    add_run_arguments(rep)
    bun = add(
        "bundle",
        "Run the matrix and write one file holding the runs, inputs, environment (and with "
        "--include-model the model): re-open it anywhere with 'open'.",
    )
    bun.add_argument("-o", "--output", required=True, metavar="FILE", help="the bundle to write")
    bun.add_argument(
        "--include-model", action="store_true", help="also store the model and its data files"
    )
    add_run_arguments(bun)
    op = sub.add_parser(
        "open",
        help="Show a bundle's runs without re-running; --rerun MODEL runs them here beside.",
    )
    op.add_argument("bundle", metavar="BUNDLE")
    op.add_argument("--rerun", metavar="MODEL", help="re-run the bundled configurations here")
    op.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI; model strings reach the terminal with control characters escaped."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalStream(out), TerminalStream(err)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def register_libraries(args: argparse.Namespace) -> None:
    """``--ep-library NAME=PATH``: plugin EP libraries for discovery and every run."""
    from inspector.run.setup.config import parse_key_values
    from inspector.run.setup.eps import add_library

    for name, path in parse_key_values(getattr(args, "ep_library", []), "--ep-library").items():
        add_library(name, path)


class _FirstWorker:
    """For ``run`` on this machine: its private folder and first worker, started before the
    model is loaded and the run layer imported, so that the worker's interpreter and
    onnxruntime import (~0.2 s) overlap ours instead of following them (issue 27: a run costs
    what ONNX Runtime costs). The worker reads nothing before its job."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.root: Path | None = None
        self.worker: Worker | None = None
        from inspector.cli.args import one_local_worker

        if args.command != "run" or not one_local_worker(args):
            return
        from inspector.run.execute.prepare import RunError, run_folder
        from inspector.run.execute.process import Worker

        self.root = run_folder()
        try:
            self.worker = Worker(self.root)
        except RunError:  # workers cannot start here: the run says why
            self.close()

    def prepared(self, model: LoadedModel) -> PreparedModel | None:
        """The model written into the folder, the worker handed to it (None: not started)."""
        if self.root is None or self.worker is None:
            return None
        from inspector.run.execute.prepare import prepare

        prepared = prepare(model, self.root, owned=True)
        prepared.spares.append(self.worker)
        self.root = self.worker = None  # the prepared model's now: its cleanup stops them
        return prepared

    def close(self) -> None:
        """Stop what was not handed over (the model did not load)."""
        if self.worker is not None:
            self.worker.discard()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = self.worker = None


def _eps(args: argparse.Namespace) -> int:
    """``onnx-inspector eps``: the EP records the Run lab shows."""
    from inspector.run.setup.eps import discover

    try:
        register_libraries(args)
    except InspectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    infos = discover()
    checks: list[dict] = []
    if args.check:
        from inspector.model.load import load_model
        from inspector.run.execute.epcheck import check_eps

        try:
            model = load_model(args.check)
        except InspectorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        second = [i.name for i in infos if i.usable and i.name != "CPUExecutionProvider"]
        for r in check_eps(model, second):
            per_ep = dict(r.fallback.nodes_per_ep) if r.fallback else {}
            reports = [to_jsonable(e) for e in r.ep_reports]
            checks.append(
                {
                    "label": r.label,
                    "ok": r.ok,
                    "error": r.error,
                    "nodes_per_ep": per_ep,
                    "ep_reports": reports,
                }
            )
    if args.json:
        doc: object = to_jsonable(infos)
        if args.check:
            doc = {"eps": doc, "check": checks}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    rows = [
        [i.name, "yes" if i.usable else "no", i.source, ", ".join(i.devices), i.reason]
        for i in infos
    ]
    print(table(["EP", "usable", "source", "devices", "why"], rows, max_width=110))
    if args.check:
        print(f"\n{args.check}: one session per usable second EP, created and not run")
        for c in checks:
            whys = [e["why"] for e in c["ep_reports"]] or [c["error"] or "no report"]
            print(f"  {c['label']}: " + "; ".join(whys))
        if not checks:
            print("  no second EP is usable here")
    return 0


def _models(args: argparse.Namespace) -> int:
    from inspector.model.packaged import packaged_models

    found = packaged_models()
    if args.json:
        print(json.dumps(to_jsonable(found), indent=2, ensure_ascii=False))
    else:
        for f in found:  # the path whole: where each is is what the command is for
            print(f"{f.model.id}: {f.model.title} ({f.model.dist} {f.model.version})")
            print(f"  {f.path or 'not usable: ' + f.reason}")
    return 0 if all(f.path for f in found) else 1


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    first = _FirstWorker(args)
    try:
        return _command(args, first)
    finally:
        first.close()


def _command(args: argparse.Namespace, first: _FirstWorker) -> int:
    json_or_out = getattr(args, "json", False) or getattr(args, "out", None)
    if args.command in NATIVE_COMMANDS or (args.command == "run" and json_or_out):
        prestart()  # its onnx import overlaps ours (see forkserver)
    from inspector import model as M
    from inspector.cli.inspect import run_inspection

    if args.command == "eps":
        return _eps(args)
    if args.command == "models":
        return _models(args)
    if args.command == "ray-worker":
        from inspector.run.execute.cluster import ray_worker

        try:
            return ray_worker(args.address, args.port, args.dry_run, args.node_ip_address)
        except InspectorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "open":
        from inspector.cli.bundle import main_open

        try:
            return main_open(args)
        except InspectorError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.command == "run-options":
        from inspector.run.setup import options

        if args.json:
            print(json.dumps(options.as_json(), indent=2))
        else:
            print(options.markdown(), end="")
        return 0
    try:
        if args.command in ("run", "compare", "diff", "report", "bundle"):
            register_libraries(args)
        model = M.load_model(args.model, args.data_dir)
        if args.command == "diff":
            from inspector.cli.diff import main_diff

            return main_diff(args, model)
        if args.command == "report":
            from inspector.cli.report import main_report

            return main_report(args, model)
        if args.command == "scopes":
            from inspector.cli.scopes import main_scopes

            return main_scopes(args, model)
        if args.command == "bundle":
            from inspector.cli.bundle import main_bundle

            return main_bundle(args, model)
        if args.command == "run":
            prepared = first.prepared(model)
            from inspector.cli.run import main_run

            return main_run(args, model, prepared)
        if args.command == "compare":
            from inspector.cli.run import main_compare

            return main_compare(args, model)
        record, text = run_inspection(args, model)
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


if __name__ == "__main__":
    sys.exit(main())
