"""Argument groups of ``run`` and ``compare``: argparse only, so building the parser never
imports the run package (a broken or missing ``inspector.run`` cannot take down ``overview``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from inspector.limits import DEFAULT_LIMITS, ENV_PREFIX, RAY_ADDRESS_ENV, RUN_DEFAULTS, GiB

D = RUN_DEFAULTS


def add_run_arguments(p: argparse.ArgumentParser, matrix: bool = True) -> None:
    g = p.add_argument_group("configurations")
    if matrix:
        g.add_argument(
            "--ep",
            action="append",
            metavar="EPS",
            help="EP priority list, e.g. 'openvino,cpu' (repeat for a matrix; default cpu); a "
            "list with an EP other than CPU also brings CPU alone at each level",
        )
        g.add_argument(
            "--level",
            action="append",
            metavar="LEVEL",
            help="disable_all, basic, extended, layout, all (repeat; default all)",
        )
        g.add_argument("--matrix", metavar="FILE", help="matrix from a JSON/YAML file instead")
        g.add_argument(
            "--no-reference",
            action="store_true",
            help="run the --ep lists alone: no reference configuration (CPU, disable_all) and "
            "no CPU at each level",
        )
    g.add_argument(
        "--threads",
        type=int,
        default=D.intra_op_threads,
        help="intra-op threads (default %(default)s: pinned; at most max_threads, 4 per core by "
        "default)",
    )
    g.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="PASS",
        help="disable an optimizer pass (repeatable)",
    )
    g.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra session config entry (repeatable)",
    )
    g.add_argument(
        "--ep-option",
        action="append",
        default=[],
        metavar="EP:KEY=VALUE",
        help="provider option for an EP wherever it is listed, e.g. ggml:threads=2 "
        "(repeatable; allowed keys: onnx-inspector run-options)",
    )
    add_ep_library_argument(g)
    g.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run N configurations at once (default 1: timings are not disturbed; with more, "
        "each result says its timings shared the machine; at most the run slots, "
        "max_concurrent_runs)",
    )
    g.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=os.environ.get(RAY_ADDRESS_ENV) or None,
        help="run each configuration on a Ray cluster node that has its EP "
        f"(default: ${RAY_ADDRESS_ENV}; nodes join with onnx-inspector ray-worker)",
    )
    g.add_argument("--strict", action="store_true", help="refuse any CPU fallback")
    g.add_argument(
        "--warmup",
        type=int,
        default=D.warmup_runs,
        help="warm-up runs (default %(default)s; at most "
        f"{DEFAULT_LIMITS.max_warmup_runs}: max_warmup_runs)",
    )
    g.add_argument(
        "--runs",
        type=int,
        default=D.timed_runs,
        help="the most timed runs: timing stops earlier once the median is known within "
        f"--target-ci or --time-budget is spent (default %(default)s; at most "
        f"{DEFAULT_LIMITS.max_timed_runs:,}: max_timed_runs)",
    )
    g.add_argument(
        "--time-budget",
        type=float,
        default=D.time_budget_s,
        metavar="S",
        help="seconds of timed runs per configuration before it stops "
        f"(default {D.time_budget_s:g}; never fewer than 6 runs, or 3 when they spend it "
        "first; 0: no budget; at most "
        f"{DEFAULT_LIMITS.max_time_budget_s}: max_time_budget_s)",
    )
    g.add_argument(
        "--target-ci",
        type=float,
        default=D.target_ci_pct,
        metavar="PCT",
        help="stop timing once the median's 95%% interval is within ±PCT %% "
        f"(default {D.target_ci_pct:g}; 0: "
        "never; --target-ci 0 --time-budget 0 makes exactly --runs runs)",
    )
    g.add_argument(
        "--profiled-runs",
        type=int,
        default=D.profiled_runs,
        help="profiled runs (default %(default)s; at most "
        f"{DEFAULT_LIMITS.max_profiled_runs}: "
        "max_profiled_runs)",
    )
    i = p.add_argument_group("inputs")
    i.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="NAME=N",
        help="value of a symbolic dim, e.g. batch=2 (repeatable)",
    )
    i.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="INPUT=D0,D1,...",
        help="the whole shape of a generated input: sets any dim, named or not (repeatable)",
    )
    i.add_argument(
        "--probe",
        action="store_true",
        help="before the run, try the suggested input sizes and, if ONNX Runtime says they do "
        "not fit, common sizes (32…640) until one runs; the run then uses those",
    )
    i.add_argument(
        "--values",
        action="append",
        default=[],
        metavar="INPUT=A,B,...",
        help="values to draw a generated input from: categories of a string input, "
        "or numbers (repeatable)",
    )
    i.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="INPUT=LOW:HIGH",
        help="value range of a generated input (repeatable)",
    )
    i.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="FILE",
        help=".npy (named after the input), .npz, .pb or a test_data_set folder",
    )
    i.add_argument("--seed", type=int, default=0)
    r = p.add_argument_group("limits and output")
    r.add_argument(
        "--timeout",
        type=int,
        help=f"seconds per configuration (default {DEFAULT_LIMITS.run_timeout_s}: run_timeout_s; "
        f"never above {ENV_PREFIX}RUN_TIMEOUT_S where that is set)",
    )
    r.add_argument(
        "--memory-gb",
        type=float,
        help=f"worker address-space cap (default {DEFAULT_LIMITS.worker_memory_bytes / GiB:g}: "
        "worker_memory_bytes)",
    )
    r.add_argument(
        "--out",
        metavar="DIR",
        help="keep results here: results.json, the inputs, and per configuration its outputs "
        "(.npy), profile (profile.json) and optimized graph (optimized.onnx, its weights in "
        "optimized.data beside it)",
    )
    r.add_argument("--atol", type=float, help="absolute tolerance against the reference (gate)")
    r.add_argument("--rtol", type=float, help="relative tolerance against the reference (gate)")


def add_ep_library_argument(g: Any) -> None:
    g.add_argument(
        "--ep-library",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="register a plugin EP library under an EP name (repeatable)",
    )


def add_diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_b", metavar="MODEL_B", help="the model to compare MODEL with")
    p.add_argument(
        "--data-dir-b", help="folder holding MODEL_B's external-data files (default: its folder)"
    )
    p.add_argument(
        "--no-weights", action="store_true", help="compare structure only: read no tensor values"
    )
    p.add_argument("--run", action="store_true", help="also run both on the same inputs")
    p.add_argument(
        "--on",
        default="cpu@all",
        metavar="EPS@LEVEL",
        help="the configuration both run under (default cpu@all)",
    )
    p.add_argument(
        "--no-divergence",
        action="store_true",
        help="skip the search for the first matched tensor that differs",
    )
    p.add_argument(
        "--max-delta",
        type=float,
        metavar="X",
        help="exit 1 when an output's max |B − A| exceeds X (implies --run)",
    )


def one_local_worker(args: argparse.Namespace) -> bool:
    """Whether a ``run`` runs here one configuration at a time (not on Ray, not ``--jobs``
    > 1): then its private folder and first worker start before anything else (the CLI's
    first worker and :func:`inspector.cli.run.main_run` ask this one question)."""
    return not getattr(args, "ray", None) and getattr(args, "jobs", 1) <= 1
