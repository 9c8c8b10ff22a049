"""``onnx-inspector diff A B``: what changed between two models, and with ``--run`` how they
behave on the same inputs. Exit 0; 1 when a model cannot be used, a run fails, or a gate
(``--max-delta``) is exceeded — usable as a CI check after an export or a quantization."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from inspector import model as M
from inspector.cli.run import resolve
from inspector.cli.tables import table
from inspector.limits import DEFAULT_ATOL, DEFAULT_RTOL
from inspector.model.diff import ModelDiff, diff_models
from inspector.model.load import LoadedModel
from inspector.records import to_jsonable
from inspector.run.analyses.diff import BehaviourDiff, behaviour_diff
from inspector.run.setup.request import plan_from_args


def _structure_text(d: ModelDiff) -> str:
    lines = [*d.summary(), ""]
    if d.changed_pairs:
        rows = [
            [p.a_name or p.a_id, p.b_name or p.b_id, p.how, "; ".join(p.changes)]
            for p in d.changed_pairs
        ]
        lines += [
            "Changed nodes",
            table(["A", "B", "matched by", "changes"], rows, max_width=110),
            "",
        ]
    if d.lone:
        rows = [[n.side, n.name or n.node_id, n.op_type] for n in d.lone]
        lines += ["Added / removed nodes", table(["", "node", "op"], rows[:200], max_width=110), ""]
    if d.initializers:
        rows = [
            [
                i.name or "—",
                i.b_name or "—",
                i.change,
                i.a_type,
                i.b_type,
                "" if i.max_abs is None else f"{i.max_abs:.4g}",
                "" if i.rms is None else f"{i.rms:.4g}",
                i.detail,
            ]
            for i in d.initializers
        ]
        lines += [
            "Initializers",
            table(
                ["A", "B", "change", "A type", "B type", "max |Δ|", "rms", ""],
                rows[:200],
                max_width=130,
            ),
            "",
        ]
    return "\n".join(lines)


def _behaviour_text(b: BehaviourDiff) -> str:
    lines = [f"Run on the same inputs ({b.config})", *b.warnings]
    for r in (b.a, b.b):
        if not r.ok:
            lines.append(f"{r.label}: {r.error}")
        elif r.latency:
            lines.append(f"{r.label}: median {r.latency.median_ms:.3f} ms")
    if b.outputs.outputs:
        rows = [
            [
                o.output,
                o.status,
                "" if o.max_abs is None else f"{o.max_abs:.4g}",
                "" if o.cosine is None else f"{o.cosine:.6f}",
                str(o.allclose),
            ]
            for o in b.outputs.outputs
        ]
        lines += [table(["output", "status", "max |B − A|", "cosine", "allclose"], rows)]
    if b.timing:
        rows = [
            [
                t.a_name or t.a_id,
                t.op_type,
                "" if t.a_us is None else f"{t.a_us:.1f}",
                "" if t.b_us is None else f"{t.b_us:.1f}",
            ]
            for t in b.timing[:15]
        ]
        lines += ["Matched nodes, slowest first (µs)", table(["node (A)", "op", "A", "B"], rows)]
    d = b.divergence
    if d is not None:
        lines.append(
            f"First matched tensor that differs: {d.a_tensor} (A {d.a_id}) ↔ {d.b_tensor} "
            f"(B {d.b_id}), {d.op_type}, max |Δ| {d.error.max_abs if d.error else None}"
            if d.found
            else f"First divergence: {d.detail} ({d.checked} tensor pairs checked)"
        )
    return "\n".join(lines)


def main_diff(args: argparse.Namespace, a: LoadedModel) -> int:
    b = M.load_model(args.model_b, args.data_dir_b)
    structure = diff_models(a, b, weights=not args.no_weights)
    behaviour = None
    if args.run or args.max_delta is not None:
        config = replace(plan_from_args(args).config(args.on), label=args.on)
        run = resolve(args, a)
        a = replace(a, limits=run.limits)
        behaviour = behaviour_diff(
            a,
            b,
            structure,
            run.inputs,
            config,
            atol=DEFAULT_ATOL if args.atol is None else args.atol,
            rtol=DEFAULT_RTOL if args.rtol is None else args.rtol,
            divergence=not args.no_divergence,
        )
    if args.json:
        print(
            json.dumps(
                to_jsonable({"structure": structure, "behaviour": behaviour}),
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print(_structure_text(structure))
        if behaviour is not None:
            print(_behaviour_text(behaviour))
    if behaviour is not None:
        failed = [r for r in (behaviour.a, behaviour.b) if not r.ok]
        if failed:
            print(f"error: {failed[0].error}", file=sys.stderr)
            return 1
        if args.max_delta is not None and behaviour.worst_max_abs > args.max_delta:
            print(
                f"error: outputs differ by up to {behaviour.worst_max_abs:.4g} "
                f"(--max-delta {args.max_delta:g})",
                file=sys.stderr,
            )
            return 1
        bad = [o for o in behaviour.outputs.outputs if o.status != "ok"]
        if bad:
            print(
                f"error: output {bad[0].output}: {bad[0].status} ({bad[0].detail})", file=sys.stderr
            )
            return 1
    return 0
