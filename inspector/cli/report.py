"""``onnx-inspector report MODEL -o report.html [--run …]``: the offline HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inspector.cli.run import resolve
from inspector.model.load import LoadedModel
from inspector.report import html_report
from inspector.run.execute.runner import run_matrix
from inspector.run.readout.results import RunResult
from inspector.run.setup.request import RunRequest


def main_report(args: argparse.Namespace, model: LoadedModel) -> int:
    results: tuple[RunResult, ...] = ()
    if args.run:
        run = resolve(args, model)

        def progress(i: int, n: int, label: str, phase: str) -> None:
            if phase == "start":
                print(f"[{i + 1}/{n}] {label}", file=sys.stderr)

        results = tuple(
            run_matrix(model, run.matrix, run.inputs, limits=run.limits, progress=progress)
        )
    session = None
    if not args.no_session_check:  # the stamps alone miss custom ops, locales, missing data
        from inspector.run.execute.loadcheck import check_session

        session = check_session(model, RunRequest.from_args(args).run_limits(model))
    out = Path(args.output)
    out.write_text(html_report(model, results, session=session), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {len(results)} configurations)")
    return 0
