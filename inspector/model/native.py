"""onnx's C++ passes — shape inference, the checker, the version converter — in a child process.

They are native code fed by untrusted bytes. Measured on onnx 1.23: a 62-byte model with one
``RegexFullMatch`` node whose input is defined nowhere segfaults shape inference, and a 63-byte
model declaring a 2^31-element initializer makes data propagation allocate from the declared
size (9.9 GB in a minute, then the OOM killer). In the server process either one ends every
user's session. Here each runs in a fresh interpreter under an address-space cap and a
wall-clock timeout; a crash, the cap or the timeout becomes a failure text the pages show as a
finding, and the server carries on.

Children are forked from a small *fork server*: a clean, single-threaded interpreter
(``python -I``, started on first use by :mod:`inspector.isolation.forkserver`) that has imported
onnx once (0.7 s) and forks a fresh child per request (a few ms). Nothing of the calling process
— Streamlit's threads, other users' models — is in it. The server reads a request (a JSON line,
then the payload-free skeleton of :mod:`inspector.model.skeleton`) on stdin, forks, lets the
child write its answer into a pipe, waits for it (killing it at the timeout) and relays the
answer with the child's exit status. One server serves one request at a time; a pool starts more
for concurrent users. (``multiprocessing``'s forkserver would re-run the caller's ``__main__``
in every child.)

Each child confines itself before it parses a byte of the model, as a run worker does
(:mod:`inspector.isolation.sandbox`): no new privileges, every capability dropped, Landlock
read-only (the Python and system folders; it writes nowhere, not even its working directory), no
TCP, and the seccomp filter: no socket of any kind, no new process. Then the address-space cap.
The server itself stays unconfined, since it must fork; it never parses a model. A child that
cannot be confined exits with :data:`_UNCONFINED_EXIT` and the analysis is reported as not run;
so does one running as root where the kernel has no Landlock (uid 0 without capabilities still
writes every file root owns), unless the deployment set ``INSPECTOR_ALLOW_UNCONFINED_ROOT=1``,
the same policy as for workers.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import asdict, dataclass
from typing import Any

from inspector.isolation.sandbox import Confinement, confine, unconfined_root_allowed
from inspector.limits import Limits
from inspector.model.proto import ModelProto, TensorProto

#: A child's exit code when it could not confine itself (it analysed nothing).
_UNCONFINED_EXIT = 3


@dataclass(frozen=True)
class NativeAnalysis:
    """What the child found; ``failure`` says why it found nothing (crash, memory, time)."""

    inferred: ModelProto | None  # the skeleton with value_info added (None on failure)
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


def _checker_copy(skeleton: ModelProto) -> ModelProto:
    """The skeleton's stripped tensors have no values, which the checker rejects, so it would
    judge our stripping, not the model. Stripped main-graph initializers become graph inputs of
    the same type; stripped tensors elsewhere (large Constant nodes, subgraph initializers)
    get a zero-sized first dim, which the checker accepts without data."""
    from onnx.helper import make_tensor_value_info

    from inspector.model.skeleton import STRIPPED
    from inspector.model.walk import iter_tensors

    model = ModelProto()
    model.CopyFrom(skeleton)
    kept: list[TensorProto] = []
    stripped: list[TensorProto] = []
    for t in model.graph.initializer:
        (stripped if t.doc_string == STRIPPED else kept).append(t)
    if stripped:
        names = {v.name for v in model.graph.input}
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)
        for t in stripped:
            if t.name not in names:
                model.graph.input.append(make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for t in iter_tensors(model):
        if t.doc_string == STRIPPED and len(t.dims):
            t.dims[0] = 0
    return model


def _convert(skeleton: ModelProto, target: int) -> tuple[bool, str]:
    import re

    try:
        import onnx.version_converter

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


def _analyse_here(request: dict, data: bytes) -> tuple[dict, bytes]:
    """In the forked child: the passes themselves; (answer, inferred model bytes)."""
    import onnx.checker
    import onnx.shape_inference
    import onnx.version_converter

    cap = int(request["cap"])
    skeleton = ModelProto()
    skeleton.ParseFromString(data)
    answer: dict = {}
    inferred = b""
    if request.get("infer"):
        error = ""
        try:
            model = onnx.shape_inference.infer_shapes(skeleton, strict_mode=True, data_prop=True)
        except Exception as exc:  # onnx raises InferenceError, ValidationError, RuntimeError…
            error = _first_line(exc)
            if isinstance(exc, MemoryError) or "bad_alloc" in error:
                error = _out_of_memory(cap)
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
        answer["converted"] = _convert(skeleton, int(request["convert"]))
    return answer, inferred


def _probe_here(probe: dict, state: Confinement) -> dict:
    """In the forked child, for tests only (:func:`probe_confinement`): what a confined child
    can do, tried from the inside. Each attempt's outcome is "ok" or the error's name."""
    import errno
    import socket

    def attempt(action: Any) -> str:
        try:
            action()
            return "ok"
        except OSError as exc:
            return errno.errorcode.get(exc.errno or 0, type(exc).__name__)

    def write(path: str) -> None:
        with open(path, "x") as f:
            f.write("written by onnx's analysis child")

    def tcp(port: int) -> None:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()

    def udp(port: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"from onnx's analysis child", ("127.0.0.1", port))

    def unix(path: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)

    def fork() -> None:
        if os.fork() == 0:
            os._exit(0)

    with open("/proc/self/status") as f:
        status = f.read()
    return {
        "status": status,
        "confinement": asdict(state),
        "write": {path: attempt(lambda p=path: write(p)) for path in probe.get("write", [])},
        "tcp": attempt(lambda: tcp(int(probe["tcp"]))) if probe.get("tcp") else "",
        "udp": attempt(lambda: udp(int(probe["udp"]))) if probe.get("udp") else "",
        "unix": attempt(lambda: unix(str(probe["unix"]))) if probe.get("unix") else "",
        "fork": attempt(fork),
    }


def _read_exact(stream: Any, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve() -> None:
    """The fork server's loop (:data:`inspector.isolation.forkserver.SERVER`): one request at a
    time."""
    import resource
    import select
    import time

    import onnx.checker  # noqa: F401 - imported once here, inherited by every child
    import onnx.shape_inference  # noqa: F401
    import onnx.version_converter  # noqa: F401

    import inspector.model.skeleton  # noqa: F401 - the checker's copy needs these two
    import inspector.model.walk  # noqa: F401

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        line = inp.readline()
        if not line:
            return
        request = json.loads(line)
        data = _read_exact(inp, int(request["size"]))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(r)
            code = 0
            try:
                try:  # before it parses anything: read-only, no network, no process
                    state = confine(write=[], devices=False)
                except BaseException:  # noqa: BLE001 - reported as an exit status
                    os._exit(_UNCONFINED_EXIT)
                if not state.confined and state.uid == 0 and not unconfined_root_allowed():
                    os._exit(_UNCONFINED_EXIT)
                cap = int(request["cap"])
                if cap > 0:
                    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
                if "probe" in request:
                    answer, inferred = _probe_here(request["probe"], state), b""
                else:
                    answer, inferred = _analyse_here(request, data)
                head = json.dumps(answer).encode() + b"\n"
                with os.fdopen(w, "wb") as pipe:
                    pipe.write(head + inferred)
            except BaseException:  # noqa: BLE001 - reported as an exit status
                code = 1
            os._exit(code)
        os.close(w)
        del data
        deadline = time.monotonic() + float(request["timeout"])
        chunks, timed_out = [], False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        body = b"".join(chunks)
        reply = {
            "timed_out": timed_out,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "size": len(body),
        }
        out.write(json.dumps(reply).encode() + b"\n" + body)
        out.flush()


class _Server:
    """One fork server process; used by one caller at a time (see :class:`_Pool`)."""

    def __init__(self) -> None:
        from inspector.isolation.forkserver import take

        self.proc = take()  # a prestarted one (the CLI), else a new one

    def request(self, request: dict, data: bytes) -> tuple[dict, bytes]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({**request, "size": len(data)}).encode() + b"\n")
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or b"null")
        if reply is None:
            raise EOFError("the fork server ended")
        return reply, _read_exact(self.proc.stdout, int(reply["size"]))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class _Pool:
    """Idle fork servers; a caller takes one (or starts one) and gives it back."""

    def __init__(self) -> None:
        self._idle: list[_Server] = []
        self._lock = threading.Lock()

    def run(self, request: dict, data: bytes) -> tuple[dict, bytes]:
        with self._lock:
            server = self._idle.pop() if self._idle else None
        server = server if server and server.proc.poll() is None else _Server()
        try:
            result = server.request(request, data)
        except (EOFError, OSError, ValueError):
            server.close()
            raise
        with self._lock:
            if len(self._idle) < 4:
                self._idle.append(server)
                server = None
        if server is not None:
            server.close()
        return result


_POOL = _Pool()


def analyse(
    skeleton: ModelProto,
    limits: Limits,
    *,
    infer: bool = True,
    check: bool = True,
    convert: int | None = None,
) -> NativeAnalysis:
    """Run the requested passes on ``skeleton`` in a limited child process."""
    cap = limits.analysis_memory_bytes
    request = {
        "infer": infer,
        "check": check,
        "convert": convert,
        "cap": cap,
        "timeout": limits.analysis_timeout_s,
    }
    try:
        reply, body = _POOL.run(request, skeleton.SerializeToString())
    except (EOFError, OSError, ValueError) as exc:
        return _failed(request, f"the onnx helper process failed ({exc})")
    if reply["timed_out"]:
        return _failed(
            request,
            f"stopped after {limits.analysis_timeout_s} s (analysis_timeout_s): the model "
            "keeps onnx busy too long",
        )
    head, sep, rest = body.partition(b"\n")
    if reply["signal"] or reply["code"] != 0 or not sep:
        return _failed(request, _why(-reply["signal"] if reply["signal"] else reply["code"], cap))
    answer = json.loads(head)
    inferred = None
    if infer:
        inferred = ModelProto()
        inferred.ParseFromString(rest)
    conv = answer.get("converted")
    return NativeAnalysis(
        inferred,
        answer.get("inference_error", ""),
        answer.get("checker", "not run"),
        (bool(conv[0]), str(conv[1])) if conv else None,
        "",
    )


def probe_confinement(write: list[str], *, tcp: int = 0, udp: int = 0, unix: str = "") -> dict:
    """For tests only: have a fork server child, confined exactly as for an analysis, report
    its ``/proc/self/status`` and try to write each path in ``write``, connect to 127.0.0.1
    ``tcp``, send a datagram to 127.0.0.1 ``udp``, connect to the UNIX socket ``unix`` and
    fork (``tests/test_confinement.py``). Returns the child's answer; raises where it gave
    none."""
    request = {
        "infer": False,
        "check": False,
        "convert": None,
        "cap": 0,
        "timeout": 60,
        "probe": {"write": write, "tcp": tcp, "udp": udp, "unix": unix},
    }
    reply, body = _POOL.run(request, b"")
    head, sep, _ = body.partition(b"\n")
    if reply["timed_out"] or reply["signal"] or reply["code"] != 0 or not sep:
        raise RuntimeError(f"the probe child gave no answer: {reply}")
    answer: dict = json.loads(head)
    return answer


def _why(code: int | None, cap: int) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return (
                f"onnx was killed (SIGKILL), most likely for memory; the cap is "
                f"{cap / 2**30:g} GiB (analysis_memory_bytes)"
            )
        return f"onnx crashed ({name}) on this model; the app is unaffected"
    if code == _UNCONFINED_EXIT:
        return (
            "onnx's analysis child could not confine itself, so it did not run: as root it "
            "needs Landlock (kernel 5.13+); run the app as an unprivileged user, or set "
            "INSPECTOR_ALLOW_UNCONFINED_ROOT=1 to accept the risk (README: Security)"
        )
    return (
        f"onnx ended without an answer (exit code {code}), most likely out of the "
        f"{cap / 2**30:g} GiB allowed (analysis_memory_bytes); the app is unaffected"
    )


def _failed(request: dict, why: str) -> NativeAnalysis:
    return NativeAnalysis(
        None,
        f"not run: {why}" if request["infer"] else "",
        f"not run: {why}" if request["check"] else "not run",
        (False, f"not tried: {why}") if request["convert"] is not None else None,
        why,
    )
