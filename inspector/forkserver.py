"""Starting the onnx fork server of :mod:`inspector.model.native` without importing onnx.

The server is a fresh ``python -I`` that imports onnx once (≈0.6 s) and forks a child per
request. A one-shot CLI command that needs it (``graph``, ``diagnose``, ``compat``…) used to
import onnx itself, parse the model, and only then start the server — paying the import twice,
one after the other. :func:`prestart` starts it first, so its import runs beside the command's
own. Only the standard library is imported here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

SERVER_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); from inspector.model.native import serve; serve()"
)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # the folder holding inspector/

#: CLI commands whose records need onnx's native passes (shape inference, checker, converter).
NATIVE_COMMANDS = frozenset({"graph", "diagnose", "compat", "scopes", "report"})

_ready: list[subprocess.Popen] = []
_lock = threading.Lock()


def start() -> subprocess.Popen:
    """A new fork server process (pipes on stdin/stdout, minimal environment)."""
    from inspector.run.sandbox import minimal_env

    return subprocess.Popen(
        [sys.executable, "-I", "-c", SERVER_CODE, PACKAGE_ROOT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=minimal_env(os.environ.get("TMPDIR", "/tmp")),
    )


def prestart() -> None:
    """Start one server now, for the first :func:`take` (no-op if one is waiting)."""
    with _lock:
        if not _ready:
            _ready.append(start())


def take() -> subprocess.Popen:
    """A prestarted server if one is waiting and alive, else a new one."""
    with _lock:
        while _ready:
            proc = _ready.pop()
            if proc.poll() is None:
                return proc
    return start()
