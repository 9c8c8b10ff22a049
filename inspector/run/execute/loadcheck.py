"""Does ONNX Runtime really load this model? Create a session in an isolated worker and say.

The compatibility verdict (:mod:`inspector.model.compat`) judges the IR and opset *stamps*
against a table of releases. That is fast and works for any release, but it cannot see an
unregistered custom op (``ai.onnx.contrib:StringLower``), external data that was not uploaded,
or a kernel that fails at session creation for an environment reason (StringNormalizer and a
missing locale). This check creates a session with the installed onnxruntime (CPU EP, all
optimizations, as a deployment would) in a worker — confined, capped, timed out like any run —
and reports ONNX Runtime's own reason, with a fix where one is known.

A server never calls :func:`check_session` in its own request: :func:`submit_check` queues it
as a task of kind ``load_check`` in the run queue (:mod:`~.jobs`), so it waits for a
run slot and takes its owner's turn like any matrix. Three tabs dropping slow-to-load models
once ran three workers beside a one-slot queue, each with the whole worker cap (issue 22). The
CLI, running alone, calls it directly.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from inspector.limits import Limits
from inspector.model.load import LoadedModel
from inspector.records import Record
from inspector.run.execute.jobs import Job, JobQueue
from inspector.run.execute.prepare import RunError, prepare
from inspector.run.execute.process import Worker, WorkerFileError, read_result, write_job
from inspector.run.readout.results import scrub_paths
from inspector.run.setup.config import RunConfig


@dataclass(frozen=True, kw_only=True)
class SessionCheck(Record):
    ort_version: str
    ok: bool
    # "" when ok; else "external_data", "custom_op", "version", "environment", "crash", ... —
    # or, when the check itself reached no answer, "timeout", "cancelled", "worker_files".
    kind: str
    message: str  # ONNX Runtime's reason (server paths replaced by the model's name)
    fix: str
    seconds: float | None  # session creation time when ok


#: ORT's messages → (kind, fix). First match wins.
_KNOWN: tuple[tuple[str, str, str], ...] = (
    (
        r"ai\.onnx\.contrib|com\.microsoft\.extensions",
        "custom_op",
        "The node comes from onnxruntime-extensions: install it and register its library "
        "(SessionOptions.register_custom_ops_library(onnxruntime_extensions.get_library_path())).",
    ),
    (
        r"is not a registered function/op|Could not find an implementation|No Op registered",
        "custom_op",
        "A node's op (or this version of it) has no kernel in this build: register the custom-op "
        "library that implements it, or re-export with standard ops.",
    ),
    (
        r"Unsupported model IR version|Opset \d+ is under development|not supported by this "
        r"version|onnx opset version",
        "version",
        "The model is stamped newer than this onnxruntime reads: upgrade onnxruntime, or "
        "convert it (see the compatibility verdict's suggestions).",
    ),
    (
        r"locale",
        "environment",
        "A kernel needs a locale this machine lacks (StringNormalizer's 'locale' attribute): "
        "install it (e.g. locales-all) or export with a locale the server has.",
    ),
    (
        r"external data|External data|\.bin|offset|length",
        "external_data",
        "Upload every external-data file the model references, unchanged.",
    ),
)


def _classify(message: str) -> tuple[str, str]:
    for pattern, kind, fix in _KNOWN:
        if re.search(pattern, message):
            return kind, fix
    return "ort_error", ""


#: The kind of a queued load check (:func:`submit_check`).
LOAD_CHECK = "load_check"


def check_session(
    model: LoadedModel, limits: Limits | None = None, cancel: threading.Event | None = None
) -> SessionCheck:
    """Create one onnxruntime session (CPU EP, level 'all') for ``model`` in a worker.
    ``cancel``, once set, stops the worker (the check then says it was cancelled)."""
    limits = limits or model.limits
    try:
        prepared = prepare(model)
    except RunError as exc:
        return _failed("external_data", str(exc), _KNOWN[-1][2])
    try:
        job_dir = prepared.folder / "load_check"
        config = RunConfig(opt_level="all", warmup_runs=0, timed_runs=1, profiled_runs=0)
        write_job(prepared, config, {}, job_dir, limits, save_optimized=False, check_only=True)
        worker = Worker(prepared)
        code = worker.run(job_dir, limits.run_timeout_s, cancel)
        if worker.cancelled:
            return _failed("cancelled", "the check was cancelled; its worker was stopped")
        try:  # a plain file of the worker's own folder only (see read_worker_file)
            data = None if worker.timed_out else read_result(job_dir)
        except WorkerFileError as exc:
            return _failed("worker_files", str(exc))
        if worker.timed_out:  # says nothing about the model but that it is slow to load
            return _failed(
                "timeout",
                f"no answer after {limits.run_timeout_s:g} s",
                "Raise the run timeout, or check it in the run lab with a longer one.",
            )
        if data is None:
            why = f"the worker ended with code {code} while creating the session"
            return _failed("crash", why)
    finally:
        prepared.cleanup()
    version = str(data.get("ort_version", ""))
    if data.get("status") == "ok":
        return SessionCheck(
            ort_version=version,
            ok=True,
            kind="",
            message="",
            fix="",
            seconds=data.get("session_create_s"),
        )
    error = data.get("error", {})
    message = scrub_paths(str(error.get("message", "")), prepared.folder, model.name)
    kind, fix = _classify(message)
    return SessionCheck(
        ort_version=version, ok=False, kind=kind, message=message, fix=fix, seconds=None
    )


def _failed(kind: str, message: str, fix: str = "") -> SessionCheck:
    """A check that got no session from ONNX Runtime (or no answer from its worker)."""
    return SessionCheck(ort_version="", ok=False, kind=kind, message=message, fix=fix, seconds=None)


def submit_check(
    jobs: JobQueue,
    owner: str,
    key: str,
    model: LoadedModel,
    limits: Limits | None = None,
    on_done: Callable[[SessionCheck], None] | None = None,
) -> Job[SessionCheck]:
    """Queue :func:`check_session` for ``owner`` (a task of kind :data:`LOAD_CHECK` about
    ``key``): it starts when a run slot is free and it is ``owner``'s turn; its value is the
    :class:`SessionCheck`, also handed to ``on_done`` unless the job was cancelled."""

    def task(job: Job[SessionCheck]) -> SessionCheck:
        result = check_session(model, limits, cancel=job.cancel_event)
        if on_done is not None and not job.cancel_event.is_set():
            on_done(result)
        return result

    return jobs.submit(owner, key, task, kind=LOAD_CHECK, about=key)
