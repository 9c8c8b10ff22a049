"""Worker processes: how they start (isolated, confined), get their job and are stopped."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from inspector.isolation.spawn import command, spawn
from inspector.limits import Limits, worker_memory
from inspector.model.proto import AttributeProto, ModelProto
from inspector.run.execute.prepare import PreparedModel, RunError
from inspector.run.execute.protocol import JobInput, WorkerJob, WorkerResult, job_config
from inspector.run.setup.config import RunConfig
from inspector.run.setup.eps import plugin_libraries

if TYPE_CHECKING:
    import numpy as np

#: The worker's entry: an isolated interpreter (:mod:`inspector.isolation.spawn`) imports it,
#: and it confines itself to its private folder before it touches the model.
WORKER = ("inspector.run.execute.worker", "confined_main")


def _worker_args(private: Path, args: tuple[str, ...]) -> tuple[str, list[str], list[str]]:
    """:func:`inspector.run.execute.worker.confined_main`'s arguments: the folder it may write, the
    files it may read besides Python and the system folders, and its own argv."""
    reads = sorted({str(Path(lib).resolve()) for _, lib in plugin_libraries()})
    return str(private), reads, list(args)


def worker_command(private: Path, *args: str) -> list[str]:
    """The argv that starts a confined worker: it may write ``private`` and read Python, the
    system folders and the plugin EP library files it may load.

    Each library is granted as a file, never its folder: ``INSPECTOR_EP_LIBRARIES=x=/tmp/x.so``
    made all of ``/tmp`` — other runs' folders included — readable to every worker. A plugin
    that loads companions from its own folder must live where workers read anyway (its wheel in
    site-packages, ``/opt``, ``/usr``), as the ggml and OpenVINO wheels do (measured with only
    their file granted: ggml registers and runs, OpenVINO registers as it does unconfined)."""
    return command(*WORKER, *_worker_args(private, args))


class WorkerFileError(RunError):
    """A file a worker left in its folder is not a plain file of its own: a link, a path that
    leads elsewhere, something other than a regular file, or too big. The configuration's
    result is refused rather than read from wherever the worker pointed."""

    kind = "worker_files"


#: result.json: latency, notes and one assignment row per node (300,000 nodes ~ 40 MB).
MAX_RESULT_BYTES = 128 << 20


def bare_name(name: object) -> str:
    """``name`` when it is a plain file name (no folder, no ``..``, no NUL); else refused.
    A worker reports some names in result.json (the profile's): they are taken as names inside
    its own folder, never as paths."""
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or len(name) > 255
    ):
        raise WorkerFileError(
            f"the worker named {str(name)[:80]!r}: not a plain file name inside its folder"
        )
    return name


def read_worker_file(
    folder: Path, name: str, max_bytes: int, *, tail: bool = False
) -> bytes | None:
    """The bytes of ``name``, a file a worker wrote in ``folder``; None when there is none.

    A worker may write anything in its own folder, including a symbolic link to another run's
    outputs or to a server file, or a FIFO that blocks whoever opens it. So the folder is
    opened without following a link (O_DIRECTORY|O_NOFOLLOW), the file relative to it without
    following one either (O_NOFOLLOW, and O_NONBLOCK so a FIFO cannot hang the server), and
    what was opened must be a regular file with no other name (a hard link could be another
    file's content) of at most ``max_bytes`` — or only its last ``max_bytes`` when ``tail``
    (a log). Anything else raises :class:`WorkerFileError` naming what was wrong."""
    bare_name(name)
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise WorkerFileError(
                f"the worker's folder {folder.name!r} is not a plain folder (a link?)"
            ) from None
        raise
    try:
        try:
            fd = os.open(
                name,
                os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                dir_fd=dir_fd,
            )
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise WorkerFileError(f"{name} in the worker's folder is a symbolic link") from None
            raise WorkerFileError(
                f"{name} in the worker's folder cannot be opened: {exc}"
            ) from None
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise WorkerFileError(f"{name} in the worker's folder is not a regular file")
        if st.st_nlink != 1:
            raise WorkerFileError(
                f"{name} in the worker's folder has {st.st_nlink} names (a hard link)"
            )
        if tail:
            os.lseek(fd, max(0, st.st_size - max_bytes), os.SEEK_SET)
        elif st.st_size > max_bytes:
            raise WorkerFileError(
                f"{name} in the worker's folder holds {st.st_size:,} bytes "
                f"(at most {max_bytes:,} are read)"
            )
        chunks, left = [], max_bytes
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if not tail and left == 0 and os.read(fd, 1):  # grew after fstat
            raise WorkerFileError(f"{name} in the worker's folder is over {max_bytes:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_result(job_dir: Path) -> WorkerResult | None:
    """The worker's result.json (read as :func:`read_worker_file` does); None without one."""
    raw = read_worker_file(job_dir, "result.json", MAX_RESULT_BYTES)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise WorkerFileError(
            f"result.json in the worker's folder is not valid JSON: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise WorkerFileError("result.json in the worker's folder is not a JSON object")
    return cast(WorkerResult, data)


def check_can_start_workers() -> None:
    """Refuse early, with the reason, where workers would run as root unconfined."""
    from inspector.isolation.sandbox import landlock_abi, unconfined_root_allowed

    if os.geteuid() == 0 and landlock_abi() == 0 and not unconfined_root_allowed():
        from inspector.run.execute.worker import UNCONFINED_ROOT

        raise RunError(f"Cannot run: {UNCONFINED_ROOT}")


def has_bodies(model: ModelProto) -> bool:
    """Whether the main graph has If/Loop/Scan bodies (graph-valued attributes)."""
    kinds = (AttributeProto.GRAPH, AttributeProto.GRAPHS)
    return any(a.type in kinds for n in model.graph.node for a in n.attribute)


def write_job(
    prepared: PreparedModel,
    config: RunConfig,
    inputs: Mapping[str, Any],
    job_dir: Path,
    limits: Limits,
    save_optimized: bool,
    check_only: bool = False,
    model_path: Path | None = None,
) -> None:
    """Write ``job.json`` and ``inputs.npz`` into ``job_dir`` for a worker. An input is an
    array, a list of arrays (a sequence) or None (an empty optional)."""
    import numpy as np  # here, not at the top: a CLI run starts its first worker before numpy

    job_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    layout: dict[str, JobInput] = {}

    def put(value: Any) -> str:
        arr = np.asarray(value)
        if arr.dtype == object:  # strings: saved as unicode, never pickled
            arr = arr.astype(np.str_)
        elif type(arr.dtype).__module__.startswith("ml_dtypes") or arr.dtype.kind == "V":
            # bfloat16/float8 (ml_dtypes): .npy cannot read them back;
            # their bits travel as unsigned ints and the worker restores the ONNX type
            arr = arr.view(np.uint8 if arr.dtype.itemsize == 1 else np.uint16)
        key = f"a{len(arrays)}"
        arrays[key] = arr
        return key

    for name, value in inputs.items():
        if value is None:
            layout[name] = JobInput(kind="none", keys=[])
        elif isinstance(value, list):
            layout[name] = JobInput(kind="sequence", keys=[put(v) for v in value])
        else:
            layout[name] = JobInput(kind="tensor", keys=[put(value)])
    np.savez(job_dir / "inputs.npz", **arrays)  # type: ignore[arg-type]  # numpy stub
    job = WorkerJob(
        model=str(model_path or prepared.model_path),
        config=job_config(config),
        plugins=plugin_libraries(),
        memory_limit_bytes=worker_memory(limits),
        max_output_bytes=limits.max_output_bytes,
        input_types=prepared.input_types,
        save_optimized=save_optimized,
        optimized_inline=has_bodies(prepared.original),
        check_only=check_only,
        nodes=len(prepared.runtime_names),
        inputs=layout,
        max_ep_log_lines=limits.max_ep_log_lines,
        max_ep_log_bytes=limits.max_ep_log_bytes,
    )
    (job_dir / "job.json").write_text(json.dumps(job))


class Worker:
    """One worker process, started ahead of its job so interpreter and onnxruntime imports
    (~0.16 s) overlap the previous configuration (started as every isolated child is:
    :func:`inspector.isolation.spawn.spawn`)."""

    def __init__(self, prepared: PreparedModel | Path) -> None:
        """A worker for ``prepared``, or for the model a run folder (``prepare.run_folder``)
        will hold: it may start before the model is written, as it reads nothing before its
        job."""
        check_can_start_workers()
        folder = prepared if isinstance(prepared, Path) else prepared.folder
        self.log_path = Path(tempfile.mkstemp(prefix="worker-", suffix=".log", dir=folder)[1])
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in finish()
        model_dir = folder / "model"
        self.proc = spawn(
            *WORKER,
            *_worker_args(folder, ("--stdin", str(model_dir))),
            home=str(folder),
            cwd=model_dir,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.timed_out = False
        self.cancelled = False

    def run(self, job_dir: Path, timeout_s: float, cancel: threading.Event | None = None) -> int:
        """Hand the job over and wait; kill after ``timeout_s``, or as soon as ``cancel`` is
        set (a cancelled job: ``cancelled`` is then True)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(f"{job_dir}\n".encode())
            self.proc.stdin.close()
        except BrokenPipeError:  # the worker died before its job: reported by the exit code
            pass

        def kill() -> None:
            self.timed_out = True
            self.proc.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            if cancel is None:
                return self.proc.wait()
            while True:  # poll: a cancel must stop the worker within a fraction of a second
                try:
                    return self.proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    if cancel.is_set():
                        self.cancelled = True
                        self.proc.kill()
        finally:
            timer.cancel()
            self._log.close()

    def discard(self) -> None:
        """Stop a worker that never got a job."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()  # EOF: the worker exits
            self.proc.wait(10)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
        self._log.close()


def prestart(prepared: PreparedModel) -> None:
    """Start ``prepared``'s first worker now (a fresh confined interpreter importing numpy and
    onnxruntime, ~0.3 s), so that it overlaps what the caller still does before the run —
    making the inputs — instead of following it. :func:`~.runner.run_matrix` takes it
    (``prepared.take_spares()``); ``prepared.cleanup()`` stops it if no run did. It serves one
    job of this model only, as every worker: nothing but the wait for its job is shared. Where
    workers may not start at all, nothing is started: the run says why."""
    try:
        prepared.spares.append(Worker(prepared))
    except RunError:
        pass
