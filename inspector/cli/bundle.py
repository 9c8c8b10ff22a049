"""``onnx-inspector bundle MODEL -o session.zip`` (run a matrix, keep everything in one file)
and ``onnx-inspector open session.zip [--rerun MODEL]`` (show it; re-run it here, side by side)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inspector import model as M
from inspector.bundle import environment, model_matches, read_bundle, write_bundle
from inspector.cli.run import print_ablation, print_divergence, print_summary, resolve
from inspector.cli.tables import table
from inspector.errors import InspectorError
from inspector.model.load import LoadedModel
from inspector.records import to_jsonable
from inspector.run.execute.runner import run_matrix
from inspector.run.readout.results import latency_delta
from inspector.run.readout.summary import RunSummary
from inspector.run.setup.config import Matrix


def _progress(i: int, n: int, label: str, phase: str) -> None:
    if phase == "start":
        print(f"[{i + 1}/{n}] {label}", file=sys.stderr)


def main_bundle(args: argparse.Namespace, model: LoadedModel) -> int:
    run = resolve(args, model)
    inputs = run.inputs
    results = run_matrix(model, run.matrix, inputs, limits=run.limits, progress=_progress)
    raw = Path(args.model).read_bytes()
    data = write_bundle(model, results, inputs, include_model=args.include_model, model_bytes=raw)
    Path(args.output).write_bytes(data)
    print(f"wrote {args.output} ({len(data):,} bytes, {len(results)} configurations)")
    return 0


def main_open(args: argparse.Namespace) -> int:
    try:
        bundle = read_bundle(Path(args.bundle).read_bytes())
    except OSError as exc:
        print(f"error: cannot read {args.bundle}: {exc.strerror}", file=sys.stderr)
        return 1
    except InspectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    here = None
    if args.rerun:
        model = M.load_model(args.rerun, None)
        if not model_matches(bundle, Path(args.rerun).read_bytes()):
            print(
                f"warning: {args.rerun} is not the bundled model (SHA-256 differs)", file=sys.stderr
            )
        matrix = Matrix(tuple(r.config for r in bundle.results))
        here = run_matrix(model, matrix, bundle.inputs, progress=_progress)
    if args.json:
        doc = {
            "model": bundle.model_name,
            "sha256": bundle.model_sha256,
            "environment": bundle.environment,
            "results": to_jsonable(bundle.results),
            "analyses": [
                {"kind": a.kind, "about": a.about, "value": to_jsonable(a.value)}
                for a in bundle.analyses
            ],
            "skipped": list(bundle.skipped),
        }
        if here is not None:
            doc["here"] = {"environment": environment(), "results": to_jsonable(here)}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    env = bundle.environment
    print(
        f"{bundle.model_name} (sha256 {bundle.model_sha256[:16]}…), bundled {bundle.created} on "
        f"{env.get('cpu', '?')}, onnxruntime {env.get('onnxruntime', '?')}"
    )
    print_summary(RunSummary.of(bundle.results))
    for analysis in bundle.analyses:
        if analysis.kind == "divergence":
            print_divergence(analysis.value)
        elif analysis.kind == "ablation":
            print_ablation(analysis.value, analysis.about)
    for note in bundle.skipped:
        print(f"note: skipped {note}", file=sys.stderr)
    if here is not None:
        mine = environment()
        print(f"\nRe-run here: {mine['cpu']}, onnxruntime {mine['onnxruntime']}")
        rows = []
        for then, now in zip(bundle.results, here, strict=True):
            a = then.latency.median_ms if then.latency else None
            b = now.latency.median_ms if now.latency else None
            rows.append(
                [
                    then.label,
                    "" if a is None else f"{a:.4f}",
                    "" if b is None else f"{b:.4f}",
                    "" if not (a and b) else f"{b / a:.2f}×",
                    vs.verdict if (vs := latency_delta(then, now)) else "",
                    now.status if now.ok else now.error_kind,
                ]
            )
        print(
            table(
                ["configuration", "bundled ms", "here ms", "here/bundled", "verdict", "here"], rows
            )
        )
    return 0
