"""Run configurations in isolated worker processes and collect their results as records.

Per matrix, the model (with every node given a unique name) and its *validated* external-data
files are written to a private temporary folder; each configuration then runs in its own child
process whose working directory is that folder, under an address-space cap and a wall-clock
timeout. A crash, an out-of-memory and a timeout each come back as a specific error naming the
configuration; the caller keeps working. Temporary files are removed afterwards unless an
output folder was given.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from inspector.limits import DEFAULT_LIMITS, Limits
from inspector.model.load import LoadedModel
from inspector.run.execute.prepare import PreparedModel, RunError, prepare, unique_names
from inspector.run.execute.process import (
    Worker,
    WorkerFileError,
    check_can_start_workers,
    read_result,
    read_worker_file,
    worker_command,
    write_job,
)
from inspector.run.readout.results import (
    Fallback,
    Latency,
    NodeEp,
    OutputInfo,
    RunResult,
    failed,
    fallback_summary,
    refused,
    scrub_paths,
    to_record,
)
from inspector.run.setup.config import Matrix, RunConfig

__all__ = [
    "Fallback",
    "Latency",
    "NodeEp",
    "OutputInfo",
    "PreparedModel",
    "RunError",
    "RunResult",
    "Executor",
    "Worker",
    "check_can_start_workers",
    "fallback_summary",
    "prepare",
    "run_matrix",
    "run_prepared",
    "scrub_paths",
    "unique_names",
    "worker_command",
]


def run_prepared(
    prepared: PreparedModel,
    config: RunConfig,
    inputs: Mapping[str, np.ndarray],
    job_dir: Path,
    limits: Limits | None = None,
    save_optimized: bool = True,
    keep: bool = False,
    worker: Worker | None = None,
    on_started: Callable[[], None] | None = None,
    model_path: Path | None = None,
    cancel: threading.Event | None = None,
    check_only: bool = False,
) -> RunResult:
    """Run one configuration in a child process and turn what it wrote into a record.
    ``model_path``: another model file in the prepared folder (first divergence's marked
    copies), so the prepared model itself stays as it is. ``check_only``: create the session
    and stop — the record has the EP assignment and log, no latency and no outputs
    (:mod:`.epcheck`)."""
    limits = limits or DEFAULT_LIMITS
    write_job(
        prepared,
        config,
        inputs,
        job_dir,
        limits,
        save_optimized,
        model_path=model_path,
        check_only=check_only,
    )
    worker = worker or Worker(prepared)
    if on_started:
        on_started()
    code = worker.run(job_dir, limits.run_timeout_s, cancel)
    if worker.cancelled:
        return failed(config, "cancelled", f"{config.label}: cancelled; the worker was stopped.")
    if worker.timed_out:
        return failed(
            config,
            "timeout",
            f"{config.label}: no result after "
            f"{limits.run_timeout_s:g} s; the worker was killed (raise the timeout "
            "for slow models).",
        )
    try:
        data = read_result(job_dir)
    except WorkerFileError as exc:
        return refused(config, str(exc))
    if data is None:
        if code is not None and code < 0:
            sig = (
                signal.Signals(-code).name
                if -code in signal.Signals._value2member_map_
                else str(-code)
            )
            return failed(
                config,
                "crash",
                f"{config.label}: the worker crashed ({sig}) inside "
                "ONNX Runtime; other configurations are unaffected.",
            )
        try:  # the worker's stdout and stderr: it could replace the file, so read it as one.
            # The log sits in the prepared folder itself, which the worker cannot replace (its
            # parent is not the worker's to write), so a folder the user linked is followed.
            folder = worker.log_path.parent.resolve()
            log = read_worker_file(folder, worker.log_path.name, 600, tail=True)
            tail = (log or b"").decode(errors="replace").strip()
        except WorkerFileError as exc:
            tail = f"(its log was refused: {exc})"
        return failed(
            config,
            "crash",
            f"{config.label}: the worker exited with code {code} without a result. {tail}".strip(),
        )
    if isinstance(data.get("error"), dict):
        err = data["error"]
        err["message"] = scrub_paths(str(err.get("message", "")), prepared.folder, prepared.name)
        err.pop("traceback", None)  # our code's internals: in the worker log, not on screen
    return to_record(
        config,
        data,
        job_dir,
        prepared.runtime_names,
        keep,
        prepared.original,
        limits,
        shown=prepared.shown,
    )


ProgressFn = Callable[[int, int, str, str], None]


class Executor(Protocol):
    """Runs a matrix somewhere — :func:`run_matrix` on this machine's workers,
    :func:`inspector.run.execute.cluster.run_matrix_ray` on a Ray cluster — and behaves the same:
    ``progress(i, n, label, phase)`` with "start" and "done" per configuration, ``on_result``
    with each result as its configuration finished (in the matrix's order), and ``cancel``,
    once set, stops the running configuration (its result says "cancelled") and starts no
    further one. Returns the results made."""

    def __call__(
        self,
        model: LoadedModel,
        matrix: Matrix,
        inputs: Mapping[str, np.ndarray],
        *,
        limits: Limits | None = None,
        progress: ProgressFn | None = None,
        on_result: Callable[[RunResult], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[RunResult, ...]: ...


def run_matrix(
    model: LoadedModel,
    matrix: Matrix,
    inputs: Mapping[str, np.ndarray],
    *,
    limits: Limits | None = None,
    out_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    prepared: PreparedModel | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    cancel: threading.Event | None = None,
    parallel: int = 1,
    save_optimized: bool = True,
    check_only: bool = False,
) -> tuple[RunResult, ...]:
    """Run every configuration; one failing never stops the others.

    ``progress(i, n, label, phase)`` is called with phase "start" and "done" per configuration.
    ``limits`` default to the model's (``run_timeout_s``, ``worker_memory_bytes``,
    ``max_output_bytes``). ``prepared``: a model already prepared (by the caller, who cleans it
    up), to share one private folder with other runs and analyses. ``on_result`` gets each
    result as soon as its configuration finished; ``cancel``, once set, stops the running worker
    and every configuration after it (the results so far are returned). ``parallel`` > 1 runs
    that many configurations at once (each result then says its timings shared the machine).
    ``save_optimized`` False: no optimized graph is saved, so the results carry no optimized
    node counts, ops or origins of fused kernels (a caller that shows none of them, e.g. the
    CLI's text summary). ``check_only``: each configuration's session is created, not run
    (:func:`run_prepared`).
    """
    if parallel > 1 and not check_only:
        return _run_parallel(
            model,
            matrix,
            inputs,
            limits or model.limits,
            progress,
            prepared,
            on_result,
            cancel,
            parallel,
            save_optimized,
        )
    limits = limits or model.limits
    owner = prepared is None
    if prepared is None:
        prepared = prepare(model, Path(out_dir) if out_dir else None)
    results = []
    spare = [w for w in prepared.take_spares() if isinstance(w, Worker)]
    try:
        n = len(matrix.configs)
        for i, config in enumerate(matrix.configs):
            if cancel is not None and cancel.is_set():
                break
            if progress:
                progress(i, n, config.label, "start")
            worker = spare.pop() if spare else Worker(prepared)

            def prestart(i: int = i, config: RunConfig = config) -> None:
                # Start the next worker while this one runs, only if a core is spare: its
                # imports then do not compete with the timed runs.
                if i + 1 < n and config.intra_op_threads < (os.cpu_count() or 1):
                    spare.append(Worker(prepared))

            job = prepared.job_dir()
            results.append(
                run_prepared(
                    prepared,
                    config,
                    inputs,
                    job,
                    limits,
                    save_optimized=save_optimized,
                    keep=out_dir is not None,
                    worker=worker,
                    on_started=prestart,
                    cancel=cancel,
                    check_only=check_only,
                )
            )
            if on_result:
                on_result(results[-1])
            if progress:
                progress(i, n, config.label, "done")
    finally:
        for w in spare:
            w.discard()
        if owner:
            prepared.cleanup()
    return tuple(results)


def _run_parallel(
    model: LoadedModel,
    matrix: Matrix,
    inputs: Mapping[str, np.ndarray],
    limits: Limits,
    progress: ProgressFn | None,
    prepared: PreparedModel | None,
    on_result: Callable[[RunResult], None] | None,
    cancel: threading.Event | None,
    parallel: int,
    save_optimized: bool = True,
) -> tuple[RunResult, ...]:
    """Configurations ``parallel`` at a time, each in its own worker, in one prepared folder."""
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    owner = prepared is None
    prep = prepared or prepare(model)
    n = len(matrix.configs)
    note = (
        f"ran concurrently with other configurations ({parallel} at a time): its timings "
        "shared the machine"
    )
    lock = threading.Lock()
    jobs = [prep.job_dir() for _ in matrix.configs]

    def one(i: int) -> RunResult | None:
        config = matrix.configs[i]
        if cancel is not None and cancel.is_set():
            return None
        if progress:
            progress(i, n, config.label, "start")
        r = run_prepared(
            prep, config, inputs, jobs[i], limits, save_optimized=save_optimized, cancel=cancel
        )
        r = replace(r, notes=(*r.notes, note))
        with lock:
            if on_result:
                on_result(r)
            if progress:
                progress(i, n, config.label, "done")
        return r

    try:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            done = list(pool.map(one, range(n)))
    finally:
        if owner:
            prep.cleanup()
    return tuple(r for r in done if r is not None)
