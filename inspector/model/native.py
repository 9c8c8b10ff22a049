"""onnx's C++ passes — shape inference, the checker, the version converter — in a child process.

They are native code fed by untrusted bytes. Measured on onnx 1.23: a 62-byte model with one
``RegexFullMatch`` node whose input is defined nowhere segfaults shape inference, and a 63-byte
model declaring a 2^31-element initializer makes data propagation allocate from the declared
size (9.9 GB in a minute, then the OOM killer). In the server process either one ends every
user's session. Here each runs in a fresh interpreter under an address-space cap and a
wall-clock timeout; a crash, the cap or the timeout becomes a failure text the pages show as a
finding, and the server carries on.

The child gets the payload-free skeleton (:mod:`inspector.model.skeleton`) on stdin and answers
on stdout with one JSON line, then the inferred model's bytes when there is one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx

from inspector.limits import Limits

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

#: The child: caps its own address space first, then imports onnx and runs the requested ops.
_CHILD = r"""
import json, resource, sys
limit = int(sys.argv[1])
if limit > 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path.insert(0, sys.argv[2])
from inspector.model.native import child_main
child_main(json.loads(sys.argv[3]))
"""


@dataclass(frozen=True)
class NativeAnalysis:
    """What the child found; ``failure`` says why it found nothing (crash, memory, time)."""

    inferred: onnx.ModelProto | None  # the skeleton with value_info added (None on failure)
    inference_error: str  # strict-mode message ("" when strict inference passed)
    checker: str  # "passed", the checker's first message, or "not run: …"
    converted: tuple[bool, str] | None  # (ok, detail) when a conversion was asked for
    failure: str  # "" when the child finished


def _out_of_memory(cap: int) -> str:
    return (
        f"onnx needed more than the {cap / 2**30:g} GiB allowed (analysis_memory_bytes); the "
        "model declares tensors far larger than its data"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


def _has_payload(t: onnx.TensorProto) -> bool:
    return (
        any(
            len(getattr(t, f))
            for f in (
                "float_data",
                "int32_data",
                "int64_data",
                "double_data",
                "uint64_data",
                "string_data",
            )
        )
        or t.HasField("raw_data")
        or t.data_location == onnx.TensorProto.EXTERNAL
    )


def _checker_copy(skeleton: onnx.ModelProto) -> onnx.ModelProto:
    """The skeleton's stripped initializers have no values, which the checker rejects; turn
    them into graph inputs of the same type so it judges the graph, not our stripping."""
    model = onnx.ModelProto()
    model.CopyFrom(skeleton)
    kept, stripped = [], []
    for t in model.graph.initializer:
        (kept if _has_payload(t) else stripped).append(t)
    if stripped:
        names = {v.name for v in model.graph.input}
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)
        for t in stripped:
            if t.name not in names:
                model.graph.input.append(
                    onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                )
    return model


def _convert(skeleton: onnx.ModelProto, target: int) -> tuple[bool, str]:
    import re

    try:
        converted = onnx.version_converter.convert_version(skeleton, target)
    except Exception as exc:  # the converter raises RuntimeError/ConvertError/ValidationError
        message = _first_line(exc)
        ops = sorted(
            set(re.findall(r"[Oo]p(?:erator)?\s*[:=]?\s*'?\"?([A-Z][A-Za-z0-9]+)", message))
        )
        blocking = f" (blocking ops: {', '.join(ops)})" if ops else ""
        return False, message[:300] + blocking
    changed = sum(
        1
        for a, b in zip(skeleton.graph.node, converted.graph.node, strict=False)
        if a.SerializeToString() != b.SerializeToString()
    )
    return True, f"converted to opset {target}; {changed} main-graph nodes rewritten"


def child_main(request: dict) -> None:
    """In the child: read the skeleton from stdin, run the ops, answer on stdout."""
    import onnx.checker
    import onnx.shape_inference
    import onnx.version_converter

    skeleton = onnx.ModelProto()
    skeleton.ParseFromString(sys.stdin.buffer.read())
    answer: dict = {}
    inferred = b""
    if request.get("infer"):
        error = ""
        try:
            model = onnx.shape_inference.infer_shapes(skeleton, strict_mode=True, data_prop=True)
        except Exception as exc:  # onnx raises InferenceError, ValidationError, RuntimeError…
            error = _first_line(exc)
            if isinstance(exc, MemoryError) or "bad_alloc" in error:
                error = _out_of_memory(int(request.get("cap", 0)))
            try:
                model = onnx.shape_inference.infer_shapes(
                    skeleton, strict_mode=False, data_prop=False
                )
            except Exception:
                model = skeleton
        answer["inference_error"] = error
        inferred = model.SerializeToString()
    if request.get("check"):
        try:
            onnx.checker.check_model(_checker_copy(skeleton), full_check=False)
            answer["checker"] = "passed"
        except Exception as exc:  # ValidationError and friends
            answer["checker"] = _first_line(exc)
    if request.get("convert") is not None:
        answer["converted"] = list(_convert(skeleton, int(request["convert"])))
    out = sys.stdout.buffer
    out.write(json.dumps(answer).encode() + b"\n")
    out.write(inferred)
    out.flush()


def _env(home: str) -> dict[str, str]:
    from inspector.run.sandbox import minimal_env

    return minimal_env(home)


def analyse(
    skeleton: onnx.ModelProto,
    limits: Limits,
    *,
    infer: bool = True,
    check: bool = True,
    convert: int | None = None,
) -> NativeAnalysis:
    """Run the requested passes on ``skeleton`` in a limited child process."""
    cap = limits.analysis_memory_bytes
    request = {"infer": infer, "check": check, "convert": convert, "cap": cap}
    data = skeleton.SerializeToString()
    with tempfile.TemporaryDirectory(prefix="inspector-onnx-") as home:
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    _CHILD,
                    str(cap),
                    _PACKAGE_ROOT,
                    json.dumps(request),
                ],
                input=data,
                capture_output=True,
                timeout=limits.analysis_timeout_s,
                cwd=home,
                env=_env(home),
            )
        except subprocess.TimeoutExpired:
            return _failed(
                request,
                f"stopped after {limits.analysis_timeout_s} s (analysis_timeout_s): the model "
                "keeps onnx busy too long",
            )
    head, sep, rest = proc.stdout.partition(b"\n")
    if proc.returncode != 0 or not sep:
        return _failed(request, _why(proc.returncode, proc.stderr, cap))
    answer = json.loads(head)
    inferred = None
    if infer:
        inferred = onnx.ModelProto()
        inferred.ParseFromString(rest)
    conv = answer.get("converted")
    return NativeAnalysis(
        inferred,
        answer.get("inference_error", ""),
        answer.get("checker", "not run"),
        (bool(conv[0]), str(conv[1])) if conv else None,
        "",
    )


def _why(code: int, stderr: bytes, cap: int) -> str:
    tail = stderr.decode(errors="replace").strip().splitlines()
    last = tail[-1][:300] if tail else ""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"onnx crashed ({name}) on this model; the app is unaffected"
    if "MemoryError" in last or "bad_alloc" in " ".join(tail):
        return _out_of_memory(cap)
    return f"onnx failed on this model (exit code {code}): {last}".strip()


def _failed(request: dict, why: str) -> NativeAnalysis:
    return NativeAnalysis(
        None,
        f"not run: {why}" if request["infer"] else "",
        f"not run: {why}" if request["check"] else "not run",
        (False, f"not tried: {why}") if request["convert"] is not None else None,
        why,
    )
