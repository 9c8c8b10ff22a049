"""Benchmark ``build_overview(load_model(path))`` against plain onnx on two generated models.

1. inline: ~300 MiB of float32 weights stored inside the .onnx file.
   Baseline: read the bytes + ``onnx.load_model_from_string``. Target: ours/baseline <= 1.5x.
2. external: > 2 GiB of weights in a sparse ``weights.bin`` referenced as external data.
   Baseline: ``onnx.load_model(path, load_external_data=False)``.
   Targets: ours < 2 s wall and < 400 MB peak RSS.

Every measurement runs in a fresh subprocess (median of ``--repeat``), so memory and caches do
not bleed between them. Models are generated in a subprocess too: a child's ``ru_maxrss``
inherits the high-water mark of the process that spawned it (Linux keeps ``maxrss`` across
``execve``), so the parent stays small and imports neither onnx nor numpy.

It reports, it does not assert: the exit status is 0 whether targets are met or missed.

    python bench/bench_overview.py [--size-mb 300] [--big-gb 2.2] [--repeat 3] [--keep DIR]
                                   [--json] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
GIB = 1 << 30

TARGET_INLINE_RATIO = 1.5
TARGET_EXTERNAL_SECONDS = 2.0
TARGET_EXTERNAL_RSS_MB = 400.0

INLINE_NAME = "inline.onnx"
EXTERNAL_NAME = "external.onnx"
EXTERNAL_DATA = "weights.bin"


# --------------------------------------------------------------------------- generation (child)


def _chain_model(nodes: list, inits: list, name: str, hidden: int) -> Any:
    """Wrap a MatMul chain X[N, hidden] -> Y[N, hidden] into a model stamped IR 10 / opset 21."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", hidden])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", hidden])],
        initializer=inits,
    )
    return helper.make_model(
        graph,
        ir_version=10,
        opset_imports=[helper.make_opsetid("", 21)],
        producer_name="bench_overview",
    )


def generate_inline(folder: Path, size_mb: float, hidden: int = 2560) -> dict[str, Any]:
    """A valid MatMul/Add chain with ``size_mb`` MiB of inline float32 weights (25 MiB each)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    layers = max(1, round(size_mb * MIB / (hidden * hidden * 4)))
    nodes, inits = [], []
    x = "X"
    for i in range(layers):
        w = rng.standard_normal(hidden * hidden, dtype=np.float32).reshape(hidden, hidden)
        b = rng.standard_normal(hidden, dtype=np.float32)
        inits.append(numpy_helper.from_array(w, f"W{i}"))
        inits.append(numpy_helper.from_array(b, f"B{i}"))
        del w
        out = "Y" if i == layers - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [x, f"W{i}"], [f"m{i}"], name=f"matmul{i}"))
        nodes.append(helper.make_node("Add", [f"m{i}", f"B{i}"], [out], name=f"add{i}"))
        x = out
    model = _chain_model(nodes, inits, "inline_chain", hidden)
    onnx.checker.check_model(model)
    path = folder / INLINE_NAME
    onnx.save_model(model, path)
    return {
        "path": str(path),
        "file_bytes": path.stat().st_size,
        "layers": layers,
        "initializers": len(inits),
        "hidden": hidden,
    }


def generate_external(folder: Path, big_gb: float, tensors: int = 40) -> dict[str, Any]:
    """A valid MatMul chain whose ``tensors`` square float32 weights (> ``big_gb`` GiB in all) live
    in one sparse ``weights.bin``; TensorProtos are built by hand, no array is ever allocated."""
    import math

    import onnx
    from onnx import TensorProto, helper

    hidden = math.ceil(math.sqrt(big_gb * GIB / (tensors * 4)) / 16) * 16
    length = hidden * hidden * 4
    nodes, inits = [], []
    x, offset = "X", 0
    for i in range(tensors):
        t = TensorProto(
            name=f"W{i}",
            data_type=TensorProto.FLOAT,
            dims=[hidden, hidden],
            data_location=TensorProto.EXTERNAL,
        )
        for key, value in (
            ("location", EXTERNAL_DATA),
            ("offset", str(offset)),
            ("length", str(length)),
        ):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        inits.append(t)
        offset += length
        out = "Y" if i == tensors - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [x, f"W{i}"], [out], name=f"matmul{i}"))
        x = out
    model = _chain_model(nodes, inits, "external_chain", hidden)
    data = folder / EXTERNAL_DATA
    with open(data, "wb") as fh:
        fh.truncate(offset)  # sparse: costs neither disk nor time
    path = folder / EXTERNAL_NAME
    onnx.save_model(model, path)
    onnx.checker.check_model(str(path))  # by path: also checks the external-data entries
    return {
        "path": str(path),
        "file_bytes": path.stat().st_size,
        "data_bytes": offset,
        "data_bytes_on_disk": data.stat().st_blocks * 512,
        "initializers": tensors,
        "hidden": hidden,
    }


# -------------------------------------------------------------------------- measurement (child)


def _rss_now_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB
    except OSError:
        return float("nan")


def _hwm_mb() -> float:
    """Peak RSS of this process image only (VmHWM): a cross-check for ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(kind: str, path: str) -> dict[str, Any]:
    """Run one measurement in this (fresh) process; figures in seconds and MiB."""
    import resource

    t0 = time.perf_counter()
    if kind.startswith("ours"):
        from inspector.model import build_overview, load_model
    else:
        import onnx
    import_s = time.perf_counter() - t0
    rss_after_import = _rss_now_mb()

    profiler = None
    if kind == "ours-profile":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    if kind.startswith("ours"):
        ov = build_overview(load_model(path))
        check = {
            "initializers": ov.counts.initializers,
            "bytes_inline": ov.counts.bytes_inline,
            "bytes_external": ov.counts.bytes_external,
        }
    elif kind == "baseline-inline":
        with open(path, "rb") as fh:
            data = fh.read()
        proto = onnx.load_model_from_string(data)
        check = {"initializers": len(proto.graph.initializer)}
    elif kind == "baseline-external":
        proto = onnx.load_model(path, load_external_data=False)
        check = {"initializers": len(proto.graph.initializer)}
    else:
        raise SystemExit(f"unknown measurement {kind!r}")
    seconds = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
        import io
        import pstats

        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(12)
        stats.sort_stats("cumulative").print_stats(12)
        check["profile"] = out.getvalue()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "kind": kind,
        "seconds": seconds,
        "import_s": import_s,
        "rss_after_import_mb": rss_after_import,
        "peak_rss_mb": maxrss_kib / 1024,
        "vm_hwm_mb": _hwm_mb(),
        "check": check,
    }


# ----------------------------------------------------------------------------- parent


def _child(*args: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = elapsed  # interpreter start + imports + work + exit
    return result


def _warm_page_cache(path: str) -> None:
    with open(path, "rb") as fh:
        while fh.read(16 * MIB):
            pass


def _runs(kinds: list[str], path: str, repeat: int) -> dict[str, dict[str, Any]]:
    """Interleave the kinds (A B A B ...) so drift on a noisy machine hits both alike."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind in kinds:
            runs[kind].append(_child("--_measure", kind, path))
    summary = {}
    for kind, rs in runs.items():
        summary[kind] = {
            "seconds_median": statistics.median(r["seconds"] for r in rs),
            "seconds_all": [r["seconds"] for r in rs],
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs),
            "vm_hwm_mb": statistics.median(r["vm_hwm_mb"] for r in rs),
            "rss_after_import_mb": statistics.median(r["rss_after_import_mb"] for r in rs),
            "import_s": statistics.median(r["import_s"] for r in rs),
            "process_s": statistics.median(r["process_s"] for r in rs),
            "check": rs[0]["check"],
        }
    return summary


def _median(rows: dict[str, dict[str, Any]], kind: str) -> float:
    return rows[kind]["seconds_median"]


def _print_case(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(
        f"  {'':18} {'median':>10} {'runs (ms)':>24} {'peak RSS':>9} {'VmHWM':>8} "
        f"{'RSS@import':>10} {'import':>8} {'process':>8}"
    )
    for kind, r in rows.items():
        runs = ", ".join(f"{s * 1000:.1f}" for s in r["seconds_all"])
        print(
            f"  {kind:18} {r['seconds_median'] * 1000:7.1f} ms {runs:>24} "
            f"{r['peak_rss_mb']:7.0f}MB {r['vm_hwm_mb']:6.0f}MB "
            f"{r['rss_after_import_mb']:8.0f}MB {r['import_s']:6.2f} s {r['process_s']:6.2f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=300, help="inline weights, MiB (300)")
    parser.add_argument("--big-gb", type=float, default=2.2, help="external weights, GiB (2.2)")
    parser.add_argument("--repeat", type=int, default=3, help="subprocess runs per figure (3)")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep the files")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run ours once under cProfile per case and print the top",
    )
    parser.add_argument("--_generate", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--_measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._generate:
        which, folder, amount = args._generate
        gen = generate_inline if which == "inline" else generate_external
        print(json.dumps(gen(Path(folder), float(amount))))
        return 0
    if args._measure:
        print(json.dumps(measure(*args._measure)))
        return 0

    if args.keep:
        folder = Path(args.keep)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench_overview_"))
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "date": time.strftime("%Y-%m-%d"),
    }
    try:
        print(f"Generating models in {folder} ...", flush=True)
        t0 = time.perf_counter()
        inline = _child("--_generate", "inline", str(folder), str(args.size_mb))
        print(
            f"  {INLINE_NAME}: {inline['file_bytes'] / MIB:,.1f} MiB, "
            f"{inline['initializers']} initializers ({time.perf_counter() - t0:.1f} s)"
        )
        t0 = time.perf_counter()
        big = _child("--_generate", "external", str(folder), str(args.big_gb))
        print(
            f"  {EXTERNAL_NAME}: {big['file_bytes']:,} B + {EXTERNAL_DATA} "
            f"{big['data_bytes'] / GIB:.2f} GiB sparse ({big['data_bytes_on_disk']:,} B on "
            f"disk), {big['initializers']} initializers ({time.perf_counter() - t0:.1f} s)"
        )
        results["inline_model"], results["external_model"] = inline, big

        _warm_page_cache(inline["path"])
        inline_runs = _runs(["baseline-inline", "ours"], inline["path"], args.repeat)
        ratio = _median(inline_runs, "ours") / _median(inline_runs, "baseline-inline")
        _print_case(
            f"1. Inline model ({inline['file_bytes'] / MIB:,.0f} MiB), median of {args.repeat}:",
            inline_runs,
        )
        print(f"  ours/baseline: {ratio:.2f}x (target <= {TARGET_INLINE_RATIO}x)")

        big_runs = _runs(["baseline-external", "ours"], big["path"], args.repeat)
        big_ratio = _median(big_runs, "ours") / _median(big_runs, "baseline-external")
        _print_case(
            f"2. External-data model ({big['data_bytes'] / GIB:.2f} GiB external), "
            f"median of {args.repeat}:",
            big_runs,
        )
        print(f"  ours/baseline: {big_ratio:.2f}x (no target; both parse a small file)")
        results["inline"] = {"runs": inline_runs, "ratio": ratio}
        results["external"] = {"runs": big_runs, "ratio": big_ratio}

        big_s, big_rss = _median(big_runs, "ours"), big_runs["ours"]["peak_rss_mb"]
        targets = [
            (
                "inline ours/baseline",
                f"{ratio:.2f}x",
                f"<= {TARGET_INLINE_RATIO}x",
                ratio <= TARGET_INLINE_RATIO,
            ),
            (
                "external wall time",
                f"{big_s * 1000:.1f} ms",
                f"< {TARGET_EXTERNAL_SECONDS} s",
                big_s < TARGET_EXTERNAL_SECONDS,
            ),
            (
                "external peak RSS",
                f"{big_rss:.0f} MB",
                f"< {TARGET_EXTERNAL_RSS_MB:.0f} MB",
                big_rss < TARGET_EXTERNAL_RSS_MB,
            ),
        ]
        print("\nSummary")
        print(f"  {'check':22} {'measured':>10} {'target':>10}  verdict")
        for name, measured, target, ok in targets:
            print(f"  {name:22} {measured:>10} {target:>10}  {'PASS' if ok else 'MISS'}")
        results["summary"] = [
            {"check": n, "measured": m, "target": t, "pass": ok} for n, m, t, ok in targets
        ]

        if args.profile:
            for label, path in (("inline", inline["path"]), ("external", big["path"])):
                prof = _child("--_measure", "ours-profile", path)
                print(f"\ncProfile of ours, {label} model ({prof['seconds'] * 1000:.1f} ms):")
                print(prof["check"].pop("profile"))
        if args.json:
            print(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
