"""The one way a child process is started: ``python -I`` running a real module's function, with
a minimal environment.

Every child that touches an untrusted model or loads native code we do not trust to stay up —
run workers, the EP discovery probe, onnx's analysis fork server — is started by :func:`spawn`.
It is a plain child interpreter, not ``multiprocessing``: nothing of the caller — Streamlit's
threads, its ``__main__``, other users' models — is inherited or re-imported, and a segfault is
just an exit code. ``-I`` (isolated mode) ignores PYTHONPATH, PYTHONSTARTUP, the user site and the
current folder, and the environment is rebuilt from an allow-list (:func:`minimal_env`), so
neither a writable folder nor a credential reaches the child. The child finds this package
through :mod:`inspector.isolation.start`, run by its path; what it does to confine itself is
:mod:`inspector.isolation.sandbox`.

Only the standard library is imported here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

#: The child's first code, run by its path (``python -I`` puts no folder of ours on sys.path).
START = str(Path(__file__).resolve().with_name("start.py"))

#: Where a child's stdin, stdout or stderr goes: ``subprocess.PIPE``/``DEVNULL``/``STDOUT``, an
#: open file, or None (the caller's).
Stream = int | IO[Any] | None

#: What a child inherits from the server's environment: locale, time zone, library search paths
#: and the runtimes' own knobs. Nothing else — no PYTHONPATH or PYTHONSTARTUP pointing at
#: writable folders, no credentials.
ENV_KEYS = ("PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "INSPECTOR_ALLOW_UNCONFINED_ROOT")
ENV_PREFIXES = ("LC_", "CUDA_", "OMP_", "KMP_", "ORT_", "OV_", "GGML_", "INSPECTOR_WORKER_")


def minimal_env(home: str) -> dict[str, str]:
    """The environment of a worker or probe; HOME and TMPDIR point into its private folder."""
    env = {k: v for k, v in os.environ.items() if k in ENV_KEYS or k.startswith(ENV_PREFIXES)}
    env.update(
        HOME=home,
        TMPDIR=home,
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
        # numpy's BLAS would start threads before the confinement, which binds only threads
        # started after it; workers need no BLAS parallelism.
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def command(module: str, function: str, *args: object) -> list[str]:
    """The argv that runs ``module.function(*args)`` in an isolated interpreter; ``args`` (JSON
    values) travel as one JSON argument."""
    return [sys.executable, "-I", START, module, function, json.dumps(args)]


def spawn(
    module: str,
    function: str,
    *args: object,
    home: str,
    cwd: str | Path | None = None,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
) -> subprocess.Popen[bytes]:
    """Start ``module.function(*args)`` in a new isolated interpreter (:func:`command`) whose
    environment is :func:`minimal_env` with ``home`` as HOME and TMPDIR; ``cwd`` defaults to
    the caller's folder. The function confines the child itself, if it should be."""
    return subprocess.Popen(
        command(module, function, *args),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=minimal_env(home),
    )
