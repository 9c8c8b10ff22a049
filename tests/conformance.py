"""Conformance: onnx's backend node tests through plain ONNX Runtime, then through the inspector.

Usage (from the repository root)::

    python -m tests.conformance --all              # every generated test (~1,900)
    python -m tests.conformance                    # the CI subset (tests/test_conformance.py)
    python -m tests.conformance -k sequence -v     # tests whose name contains "sequence"
    python -m tests.conformance --all --json out.json --cli-sample 60

Each test (see :mod:`tests.backend_node`: ``model.onnx`` + ``test_data_set_0/{input,output}_N.pb``)
goes through three stages:

1. **Plain ONNX Runtime** (in child processes, so a crash is one test's result): a session on
   the model file (CPU, level all, one thread), fed the test's inputs, its outputs compared
   with the reference outputs the way onnx's backend runner compares them (see
   :func:`mismatch`). A test ORT cannot load or run, or whose outputs ORT gets wrong, is
   counted (``ort_fails``, ``ort_differs``) and goes no further: not the inspector's problem.
2. **The library path** the CLI takes: ``load_model``, ``RunRequest.from_args`` with
   ``--input test_data_set_0``, ``run_matrix`` (CPU at level all, one warm-up, one timed and one
   profiled run), then the result's outputs against the reference.
3. **The CLI itself** for a stratified sample: ``onnx-inspector run MODEL --input
   test_data_set_0 --json --out DIR`` with default settings (reference + CPU at level all),
   every configuration's saved outputs read back from ``DIR`` and compared, and the run's own
   expected-outputs report checked against this harness's verdict.

Categories: ``ort_fails`` / ``ort_differs`` (ORT's problem, counted), ``ok`` (the inspector ran
it and matches the reference), ``bug_fails`` (the inspector fails where ORT is right) and
``bug_differs`` (the inspector's outputs, or its verdict on them, differ where ORT matches).
The target is no ``bug_*`` test. The subset the CI runs (:func:`subset`): every control-flow
(If/Loop/Scan), sequence/map/optional, string and exotic-dtype test, plus a seeded sample of
the rest.

Tolerances, as onnx's backend runner (``Runner.assert_similar_outputs``) uses for node tests:
``|got - ref| <= atol + rtol * |ref|`` with rtol 1e-3 and atol 1e-7, NaN equal to NaN, the
same infinities; bfloat16 with rtol max(1e-3, 2**-6) (two bfloat16 ULPs, as onnx does); exotic
floats and sub-byte integers compared as their float64 values, never as their codes; strings
for equality; shapes and element types must be equal; a sequence element by element; an
optional's None only equals None.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector.run.execute.worker import ONNX_TYPE_IDS, SUB_BYTE_BITS
from tests.backend_node import NodeTest, ensure
from tests.backend_node import tests as all_tests

RTOL = 1e-3
ATOL = 1e-7
BFLOAT16_RTOL = 2**-6

CATEGORIES = ("ok", "ort_fails", "ort_differs", "bug_fails", "bug_differs")
BUGS = ("bug_fails", "bug_differs")
#: Seconds one test may take in plain ORT before its child is killed.
ORT_TIMEOUT_S = 60

#: Types numpy has no dtype for: the worker's own table (onnx's fixed DataType numbers).
EXOTIC = set(ONNX_TYPE_IDS)
CONTROL_FLOW = {"If", "Loop", "Scan"}


@dataclass(frozen=True)
class Outcome:
    name: str
    category: str  # one of CATEGORIES
    stage: str  # "ort", "library" or "cli": where the verdict was made
    detail: str = ""
    seconds: float = 0.0


# ----------------------------------------------------------------------- reading test data


def _graph_types(model: Any) -> tuple[list[Any], list[Any]]:
    inits = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in inits], list(model.graph.output)


def read_value(data: bytes, type_proto: Any) -> Any:
    """One ``.pb`` as onnx's backend runner reads it: a TensorProto → array, a SequenceProto
    → list, an OptionalProto → None or its value, a MapProto → dict."""
    import onnx
    from onnx import numpy_helper

    which = type_proto.WhichOneof("value")
    if which == "sequence_type":
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return numpy_helper.to_list(seq)
    if which == "optional_type":
        opt = onnx.OptionalProto()
        opt.ParseFromString(data)
        return numpy_helper.to_optional(opt)
    if which == "map_type":
        mp = onnx.MapProto()
        mp.ParseFromString(data)
        return numpy_helper.to_dict(mp)
    t = onnx.TensorProto()
    t.ParseFromString(data)
    return numpy_helper.to_array(t)


def read_data(test: NodeTest) -> tuple[Any, list[Any], list[Any]]:
    """The model proto, the inputs and the reference outputs of a test."""
    import onnx

    model = onnx.load_model_from_string(test.model.read_bytes())
    ins, outs = _graph_types(model)
    inputs = [
        read_value((test.data / f"input_{i}.pb").read_bytes(), v.type)
        for i, v in enumerate(ins)
        if (test.data / f"input_{i}.pb").exists()
    ]
    outputs = [
        read_value((test.data / f"output_{i}.pb").read_bytes(), v.type) for i, v in enumerate(outs)
    ]
    return model, inputs, outputs


def elem_types(model: Any) -> set[str]:
    """Element type names of the graph's inputs and outputs (inside sequences/optionals too)."""
    import onnx

    found: set[str] = set()

    def walk(tp: Any) -> None:
        which = tp.WhichOneof("value")
        if which == "tensor_type":
            found.add(onnx.TensorProto.DataType.Name(tp.tensor_type.elem_type))
        elif which == "sequence_type":
            walk(tp.sequence_type.elem_type)
        elif which == "optional_type":
            walk(tp.optional_type.elem_type)
        elif which == "map_type":
            found.add(onnx.TensorProto.DataType.Name(tp.map_type.key_type))
            walk(tp.map_type.value_type)

    for v in [*model.graph.input, *model.graph.output]:
        walk(v.type)
    return found


# ------------------------------------------------------------------------------ comparing


def _dtype_name(a: np.ndarray) -> str:
    return "str" if a.dtype.kind in "USO" else a.dtype.name


def mismatch(ref: Any, got: Any, where: str = "output") -> str:
    """Why ``got`` is not ``ref`` within the tolerances ("" when it matches)."""
    if ref is None or got is None:
        return (
            "" if ref is None and got is None else f"{where}: {got!r:.60} vs reference {ref!r:.60}"
        )
    if isinstance(ref, dict):
        if not isinstance(got, dict) or sorted(ref) != sorted(got):
            return f"{where}: map keys differ"
        for k in ref:
            why = mismatch(np.asarray(ref[k]), np.asarray(got[k]), f"{where}[{k!r}]")
            if why:
                return why
        return ""
    if isinstance(ref, list):
        if isinstance(got, np.ndarray) and ref and len({r.shape for r in ref}) == 1:
            got = list(got)  # an older form: a sequence of equal shapes stacked
        if not isinstance(got, list):
            return f"{where}: a {type(got).__name__} where the reference is a sequence"
        if len(got) != len(ref):
            return f"{where}: sequence of {len(got)} vs reference {len(ref)}"
        for k, (r, g) in enumerate(zip(ref, got, strict=True)):
            why = mismatch(r, g, f"{where}[{k}]")
            if why:
                return why
        return ""
    if isinstance(got, list):
        return f"{where}: a sequence where the reference is a tensor"
    ref, got = np.asarray(ref), np.asarray(got)
    if ref.shape != got.shape:
        return f"{where}: shape {list(got.shape)} vs reference {list(ref.shape)}"
    if _dtype_name(ref) != _dtype_name(got):
        return f"{where}: dtype {got.dtype} vs reference {ref.dtype}"
    if ref.dtype.kind in "USO":
        r = np.vectorize(lambda s: s.decode() if isinstance(s, bytes) else str(s), otypes=[str])
        bad = int(np.sum(r(ref) != r(got))) if ref.size else 0
        return f"{where}: {bad} of {ref.size} strings differ" if bad else ""
    rtol = BFLOAT16_RTOL if ref.dtype.name == "bfloat16" else RTOL
    if ref.dtype.kind == "c":
        r64, g64 = ref.astype(np.complex128), got.astype(np.complex128)
    else:
        r64, g64 = ref.astype(np.float64), got.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: compared by equality
        both_nan = np.isnan(r64) & np.isnan(g64)
        same = (r64 == g64) | both_nan
        err = np.abs(g64 - r64)
        close = err <= ATOL + rtol * np.abs(r64)
    bad_mask = ~(same | (close & np.isfinite(r64) & np.isfinite(g64)))
    if bad_mask.any():
        err = err[bad_mask]
        return (
            f"{where}: {int(bad_mask.sum())} of {ref.size} elements differ "
            f"(max |Δ| {float(np.nanmax(err)) if np.isfinite(err).any() else float('nan'):.3g}, "
            f"rtol {rtol:g}, atol {ATOL:g})"
        )
    return ""


# -------------------------------------------------------------------------- plain ORT stage


_ORT_TYPES = {  # ORT's type string → ONNX type name, for the exotic element types
    "tensor(bfloat16)": "BFLOAT16",
    "tensor(float8e4m3fn)": "FLOAT8E4M3FN",
    "tensor(float8e4m3fnuz)": "FLOAT8E4M3FNUZ",
    "tensor(float8e5m2)": "FLOAT8E5M2",
    "tensor(float8e5m2fnuz)": "FLOAT8E5M2FNUZ",
    "tensor(float8e8m0)": "FLOAT8E8M0",
    "tensor(float4e2m1)": "FLOAT4E2M1",
    "tensor(int4)": "INT4",
    "tensor(uint4)": "UINT4",
    "tensor(int2)": "INT2",
    "tensor(uint2)": "UINT2",
}


def _ort_feed(ort: Any, value: Any, onnx_type: str) -> Any:
    """A reference input as ORT takes it; exotic types as OrtValues built from their codes."""
    import onnx

    if onnx_type not in EXOTIC or not isinstance(value, np.ndarray):
        return value
    type_id = onnx.TensorProto.DataType.Value(onnx_type)
    codes = value.view(np.uint8 if value.dtype.itemsize == 1 else np.uint16)
    bits = SUB_BYTE_BITS.get(onnx_type)
    if bits is None:
        return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(np.ascontiguousarray(codes), type_id)
    per = 8 // bits
    flat = (codes.ravel() & ((1 << bits) - 1)).astype(np.uint8)
    flat = np.concatenate([flat, np.zeros((-flat.size) % per, np.uint8)])
    packed = np.zeros(flat.size // per, np.uint8)
    for k in range(per):
        packed |= flat[k::per] << (k * bits)
    out = ort.OrtValue.ortvalue_from_shape_and_type(list(value.shape), type_id)
    ctypes.memmove(out.data_ptr(), packed.ctypes.data, packed.nbytes)
    return out


def _ort_read(value: Any, ort_type: str) -> Any:
    """An OrtValue output as a typed array (ml_dtypes for the exotic types)."""
    import onnx

    onnx_type = _ORT_TYPES.get(ort_type)
    if onnx_type is None:
        return value.numpy()
    dtype = onnx.helper.tensor_dtype_to_np_dtype(onnx.TensorProto.DataType.Value(onnx_type))
    shape = tuple(value.shape())
    raw = ctypes.string_at(value.data_ptr(), value.tensor_size_in_bytes())
    bits = SUB_BYTE_BITS.get(onnx_type)
    if bits is None:
        return (
            np.frombuffer(raw, np.uint8 if dtype.itemsize == 1 else np.uint16)
            .view(dtype)
            .reshape(shape)
        )
    packed = np.frombuffer(raw, np.uint8)
    per = 8 // bits
    codes = np.stack([(packed >> (k * bits)) & ((1 << bits) - 1) for k in range(per)], 1).ravel()
    n = int(np.prod(shape, dtype=np.int64))
    return codes[:n].astype(np.uint8).view(dtype).reshape(shape)


def ort_check(test: NodeTest) -> tuple[str, str]:
    """(category, detail) of one test in plain ONNX Runtime."""
    import onnx
    import onnxruntime as ort

    model, inputs, ref = read_data(test)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 4
    try:
        sess = ort.InferenceSession(str(test.model), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        return "ort_fails", f"load: {str(exc).strip()[:300]}"
    ins, _ = _graph_types(model)
    feeds = {}
    for v, value in zip(ins, inputs, strict=False):
        tt = v.type.tensor_type.elem_type if v.type.HasField("tensor_type") else 0
        feeds[v.name] = _ort_feed(ort, value, onnx.TensorProto.DataType.Name(tt))
    outs = sess.get_outputs()
    try:
        if any(o.type in _ORT_TYPES for o in outs):
            ov = {
                k: v if isinstance(v, ort.OrtValue) else ort.OrtValue.ortvalue_from_numpy(v)
                for k, v in feeds.items()
            }
            got = [
                _ort_read(r, o.type)
                for r, o in zip(
                    sess.run_with_ort_values([o.name for o in outs], ov), outs, strict=True
                )
            ]
        else:
            got = sess.run(None, feeds)
    except Exception as exc:
        return "ort_fails", f"run: {str(exc).strip()[:300]}"
    for i, (r, g) in enumerate(zip(ref, got, strict=True)):
        why = mismatch(r, g, f"output {i} ({outs[i].name})")
        if why:
            return "ort_differs", why
    return "ok", ""


def _ort_child(folder: str) -> None:
    """Child loop: test names on stdin, one JSON line per test on stdout."""
    import warnings

    warnings.simplefilter("ignore")
    base = Path(folder)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            break
        t0 = time.perf_counter()
        try:
            cat, detail = ort_check(NodeTest(name, base / name))
        except Exception as exc:  # the harness's own failure to read a test: say so
            cat, detail = "ort_fails", f"harness: {type(exc).__name__}: {exc}"[:300]
        print(json.dumps([name, cat, detail, time.perf_counter() - t0]), flush=True)


def run_ort(tests: Sequence[NodeTest], jobs: int) -> dict[str, Outcome]:
    """Plain-ORT verdicts, ``jobs`` child processes at a time; a child that crashes or hangs
    on a test gives that test ``ort_fails`` and is restarted for the rest."""
    if not tests:
        return {}
    folder = str(tests[0].folder.parent)
    results: dict[str, Outcome] = {}
    lock = threading.Lock()
    queue = list(tests)

    def take() -> NodeTest | None:
        with lock:
            return queue.pop(0) if queue else None

    def worker() -> None:
        child: subprocess.Popen[str] | None = None
        try:
            while (test := take()) is not None:
                if child is None:
                    child = subprocess.Popen(
                        [sys.executable, "-m", "tests.conformance", "--ort-child", folder],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        text=True,
                        cwd=Path(__file__).resolve().parents[1],
                    )
                assert child.stdin and child.stdout
                child.stdin.write(test.name + "\n")
                child.stdin.flush()
                ready, _, _ = select.select([child.stdout], [], [], ORT_TIMEOUT_S)
                line = child.stdout.readline() if ready else ""
                if line:
                    name, cat, detail, secs = json.loads(line)
                    out = Outcome(name, cat, "ort", detail, secs)
                else:
                    child.kill()
                    code = child.wait()
                    child = None
                    why = "timed out" if not ready else f"crashed (exit {code})"
                    out = Outcome(test.name, "ort_fails", "ort", f"plain ORT {why}")
                with lock:
                    results[test.name] = out
        finally:
            if child is not None:
                child.stdin.close()  # type: ignore[union-attr]
                child.wait()

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ------------------------------------------------------------------------ inspector stages


def _parser() -> argparse.ArgumentParser:
    from inspector.cli.args import add_run_arguments

    p = argparse.ArgumentParser()
    add_run_arguments(p)
    return p


def _result_values(result: Any) -> dict[str, Any]:
    values = getattr(result, "output_values", None)
    return dict(values() if values else result.output_arrays())


def _own_verdict(check: Any) -> bool | None:
    """The inspector's own expected-outputs verdict (None where it made none)."""
    return None if check is None else bool(check.all_close)


def inspect_library(test: NodeTest) -> Outcome:
    """The library path the CLI takes, on the test's data folder."""
    from inspector.cli import run as cli_run
    from inspector.errors import InspectorError
    from inspector.model.load import load_model
    from inspector.run.execute.runner import run_matrix

    t0 = time.perf_counter()

    def done(cat: str, detail: str = "") -> Outcome:
        return Outcome(test.name, cat, "library", detail, time.perf_counter() - t0)

    args = _parser().parse_args(
        [
            "--input",
            str(test.data),
            "--no-reference",
            "--warmup",
            "1",
            "--runs",
            "1",
            "--profiled-runs",
            "1",
        ]
    )
    try:
        model = load_model(str(test.model))
        if _has_requests():
            from inspector.run.setup.request import RunRequest

            run = RunRequest.from_args(args).resolve(model)
            matrix, inputs, expected = run.matrix, run.inputs, run.expected
        else:  # older code: the CLI's own helpers
            inputs = cli_run.make_inputs(args, model)
            expected = (
                cli_run.expected_outputs(args, model)
                if hasattr(cli_run, "expected_outputs")
                else None
            )
            matrix = cli_run.build_matrix(args)
        (result,) = run_matrix(model, matrix, inputs)
    except InspectorError as exc:
        return done("bug_fails", f"{type(exc).__name__}: {exc}"[:400])
    except Exception as exc:  # our own bug: anything but InspectorError
        return done("bug_fails", f"uncaught {type(exc).__name__}: {exc}"[:400])
    if not result.ok:
        return done("bug_fails", result.error[:400])
    failed_notes = [n for n in result.notes if "failed" in n]
    if failed_notes:
        return done("bug_fails", f"note: {failed_notes[0][:300]}")
    onnx_model, _, ref = read_data(test)
    got = _result_values(result)
    for i, (info, r) in enumerate(zip(onnx_model.graph.output, ref, strict=True)):
        if info.name not in got:
            return done("bug_differs", f"output {i} ({info.name}) not in the result")
        why = mismatch(r, got[info.name], f"output {i} ({info.name})")
        if why:
            return done("bug_differs", why)
    if expected is not None:
        from inspector.run.analyses.compare import check_expected

        verdict = _own_verdict(check_expected(result, expected))
        if verdict is not True:
            return done("bug_differs", "the inspector's expected-outputs check says they differ")
    return done("ok")


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "_"


def _read_saved(folder: Path, stem: str) -> Any:
    """A value the CLI saved under ``stem`` (.npy or an onnx .pb tensor), or ... when absent."""
    import onnx
    from onnx import numpy_helper

    if (folder / f"{stem}.npy").exists():
        return np.load(folder / f"{stem}.npy", allow_pickle=False)
    if (folder / f"{stem}.pb").exists():
        t = onnx.TensorProto()
        t.ParseFromString((folder / f"{stem}.pb").read_bytes())
        return numpy_helper.to_array(t)
    return ...


def read_saved_output(folder: Path, info: Any) -> Any:
    """An output as ``--out`` saved it: NAME.npy / NAME.pb, a sequence as NAME_0, NAME_1 …,
    an empty optional as no file (None)."""
    stem = _safe_name(info.name)
    kind = info.type.WhichOneof("value")
    inner = info.type.optional_type.elem_type if kind == "optional_type" else info.type
    if inner.WhichOneof("value") == "sequence_type":
        items = []
        while (value := _read_saved(folder, f"{stem}_{len(items)}")) is not ...:
            items.append(value)
        if items:
            return items
        value = _read_saved(folder, stem)  # older form: stacked
        if value is not ...:
            return value
        none = kind == "optional_type" or (folder / f"{stem}.empty").exists()
        return None if none else []
    value = _read_saved(folder, stem)
    return None if value is ... else value


def inspect_cli(test: NodeTest, workdir: Path) -> Outcome:
    """``onnx-inspector run MODEL --input test_data_set_0 --json --out DIR`` as a user runs it."""
    t0 = time.perf_counter()
    out = workdir / test.name
    cmd = [
        sys.executable,
        "-m",
        "inspector",
        "run",
        str(test.model),
        "--input",
        str(test.data),
        "--json",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)

    def done(cat: str, detail: str = "") -> Outcome:
        return Outcome(test.name, cat, "cli", detail, time.perf_counter() - t0)

    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        return done("bug_fails", f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    results = doc.get("results", [])
    for r in results:
        if r.get("status") != "ok":
            return done("bug_fails", str(r.get("error", ""))[:400])
    if proc.returncode != 0:
        return done("bug_fails", f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    notes = [n for r in results for n in r.get("notes", []) if "failed" in n]
    if notes:
        return done("bug_fails", f"note: {notes[0][:300]}")
    model, _, ref = read_data(test)
    for k in range(len(results)):
        folder = out / f"run_{k:02d}"
        for i, (info, r) in enumerate(zip(model.graph.output, ref, strict=True)):
            why = mismatch(
                r, read_saved_output(folder, info), f"run_{k:02d} output {i} ({info.name})"
            )
            if why:
                return done("bug_differs", why)
    if _reports_expected():
        checks = doc.get("expected")
        if not isinstance(checks, list) or len(checks) != len(results):
            return done("bug_differs", "the CLI's JSON has no expected-outputs report")
        for c in checks:
            if c is None or not all(
                o.get("status") == "ok" and o.get("allclose") for o in c.get("outputs", [])
            ):
                return done("bug_differs", "the CLI's expected-outputs report says they differ")
    return done("ok")


def _reports_expected() -> bool:
    """Whether this inspector reports expected outputs (the harness also measures older code)."""
    from inspector.cli import run as cli_run

    return _has_requests() or hasattr(cli_run, "expected_outputs")


def _has_requests() -> bool:
    """Whether this inspector builds runs through RunRequest (issue 24)."""
    import importlib.util

    return importlib.util.find_spec("inspector.run.setup.request") is not None


# --------------------------------------------------------------------------------- subsets


def strata(test: NodeTest) -> set[str]:
    """What a test exercises that the CI must always cover."""
    import onnx

    model = onnx.load_model_from_string(test.model.read_bytes())
    found: set[str] = set()

    def nodes(graph: Any) -> Iterable[Any]:
        for n in graph.node:
            yield n
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    yield from nodes(a.g)
                for g in a.graphs:
                    yield from nodes(g)

    ops = {n.op_type for n in nodes(model.graph)}
    for f in model.functions:
        ops |= {n.op_type for n in f.node}
    if ops & CONTROL_FLOW:
        found.add("control_flow")
    kinds = {v.type.WhichOneof("value") for v in [*model.graph.input, *model.graph.output]}
    if kinds - {"tensor_type"} or any(o.startswith(("Sequence", "Optional")) for o in ops):
        found.add("sequence_map_optional")
    types = elem_types(model)
    if "STRING" in types:
        found.add("string")
    if types & EXOTIC:
        found.add("exotic_dtype")
    return found


def subset(tests: Sequence[NodeTest], sample: int = 100, seed: int = 23) -> list[NodeTest]:
    """Every test of a stratum (control flow, sequence/map/optional, string, exotic dtype),
    plus ``sample`` of the rest drawn with ``seed``."""
    picked = [t for t in tests if strata(t)]
    rest = [t for t in tests if not strata(t)]
    rng = random.Random(seed)
    return sorted(picked + rng.sample(rest, min(sample, len(rest))), key=lambda t: t.name)


def cli_sample(tests: Sequence[NodeTest], per_stratum: int, seed: int = 23) -> list[NodeTest]:
    """``per_stratum`` tests of each stratum and of the rest, drawn with ``seed``."""
    rng = random.Random(seed)
    groups: dict[str, list[NodeTest]] = {}
    for t in tests:
        for s in sorted(strata(t)) or ["other"]:
            groups.setdefault(s, []).append(t)
    picked: dict[str, NodeTest] = {}
    for _, group in sorted(groups.items()):
        for t in rng.sample(group, min(per_stratum, len(group))):
            picked[t.name] = t
    return sorted(picked.values(), key=lambda t: t.name)


# ---------------------------------------------------------------------------------- driver


@dataclass
class Report:
    outcomes: dict[str, Outcome]  # the final verdict per test
    cli: dict[str, Outcome]  # the CLI stage's verdicts (its sample)
    seconds: float

    def counts(self) -> Counter[str]:
        return Counter(o.category for o in self.outcomes.values())

    def bugs(self) -> list[Outcome]:
        return sorted(
            (o for o in self.outcomes.values() if o.category in BUGS), key=lambda o: o.name
        )


def run_suite(
    tests: Sequence[NodeTest],
    jobs: int = 2,
    cli_per_stratum: int = 0,
    log: Callable[[str], None] = lambda s: None,
) -> Report:
    """Plain ORT on every test, then the library path on every test ORT gets right, then the
    CLI on ``cli_per_stratum`` of those per stratum (:func:`cli_sample`). A test's verdict is
    its worst."""
    t0 = time.perf_counter()
    log(f"plain ONNX Runtime on {len(tests)} tests …")
    outcomes = run_ort(tests, jobs)
    good = [t for t in tests if outcomes[t.name].category == "ok"]
    log(f"  {len(good)} right ({time.perf_counter() - t0:.0f} s); the library path on them …")
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for o in pool.map(inspect_library, good):
            outcomes[o.name] = o
    cli: dict[str, Outcome] = {}
    chosen = cli_sample(good, cli_per_stratum) if cli_per_stratum > 0 else []
    if chosen:
        log(f"  ({time.perf_counter() - t0:.0f} s) the CLI on {len(chosen)} of them …")
        with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
            with ThreadPoolExecutor(max(1, jobs)) as pool:
                for o in pool.map(lambda t: inspect_cli(t, Path(tmp)), chosen):
                    cli[o.name] = o
                    if o.category != "ok" and outcomes[o.name].category == "ok":
                        outcomes[o.name] = o
    return Report(outcomes, cli, time.perf_counter() - t0)


def print_report(report: Report, verbose: bool = False) -> None:
    counts = report.counts()
    total = sum(counts.values())
    print(f"{total} tests in {report.seconds:.0f} s")
    for cat in CATEGORIES:
        print(f"  {cat:12} {counts.get(cat, 0):5}")
    cli = Counter(o.category for o in report.cli.values())
    if report.cli:
        print(
            f"  (CLI sample: {len(report.cli)} tests: "
            + ", ".join(f"{k} {v}" for k, v in sorted(cli.items()))
            + ")"
        )
    for o in report.bugs():
        print(f"BUG {o.category} [{o.stage}] {o.name}: {o.detail}")
    if verbose:
        for o in sorted(report.outcomes.values(), key=lambda o: o.name):
            if o.category not in BUGS:
                print(f"{o.category:12} {o.name}: {o.detail}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--ort-child"]:
        _ort_child(argv[1])
        return 0
    p = argparse.ArgumentParser(
        prog="python -m tests.conformance", description=__doc__.split("\n")[0]
    )
    p.add_argument("--all", action="store_true", help="every test (default: the CI subset)")
    p.add_argument("-k", metavar="TEXT", help="only tests whose name contains TEXT (a regex)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--sample", type=int, default=100, help="random tests beside the strata")
    p.add_argument(
        "--cli-sample",
        type=int,
        default=4,
        metavar="N",
        help="CLI runs: N tests per stratum and of the rest, among those ORT gets right (0: none)",
    )
    p.add_argument("--json", metavar="FILE", help="write every outcome here")
    p.add_argument("-v", "--verbose", action="store_true", help="list every test's verdict")
    args = p.parse_args(argv)
    every = all_tests(ensure())
    if args.k:
        chosen = [t for t in every if re.search(args.k, t.name)]
    else:
        chosen = every if args.all else subset(every, args.sample)
    report = run_suite(
        chosen, args.jobs, args.cli_sample, log=lambda s: print(s, file=sys.stderr, flush=True)
    )
    print_report(report, args.verbose)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "counts": dict(report.counts()),
                    "seconds": report.seconds,
                    "outcomes": [asdict(o) for o in report.outcomes.values()],
                    "cli": [asdict(o) for o in report.cli.values()],
                },
                indent=1,
            )
        )
    return 1 if report.bugs() else 0


if __name__ == "__main__":
    sys.exit(main())
