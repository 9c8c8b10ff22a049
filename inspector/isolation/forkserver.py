"""Starting the onnx fork server of :mod:`inspector.model.native` without importing onnx.

The server is a fresh isolated interpreter (:func:`inspector.isolation.spawn.spawn`) that imports
onnx once (≈0.6 s) and forks a child per request. A one-shot CLI command that needs it
(``graph``, ``diagnose``, ``compat``…) used to import onnx itself, parse the model, and only then
start the server — paying the import twice, one after the other. :func:`prestart` starts it
first, so its import runs beside the command's own. Only the standard library is imported here:
the server's module is named, not imported.
"""

from __future__ import annotations

import os
import subprocess
import threading

from inspector.isolation.spawn import spawn

#: The server's loop: ``inspector.model.native.serve()``.
SERVER = ("inspector.model.native", "serve")

#: CLI commands whose records need onnx's native passes (shape inference, checker, converter);
#: ``compare`` and ``bundle`` for their analyses and the inputs they generate. ``run`` needs
#: them only for ``--json``/``--out`` (the roofline's cost counts): its inputs ask for shape
#: inference only where a table's size is known no other way
#: (:func:`inspector.run.setup.inputs.shape_hints`; the server then starts on demand), and a
#: server started for nothing took a core from the run for its ~0.6 s onnx import.
NATIVE_COMMANDS = frozenset(
    {"graph", "diagnose", "compat", "scopes", "report", "compare", "bundle"}
)

_ready: list[subprocess.Popen[bytes]] = []
_lock = threading.Lock()


def start() -> subprocess.Popen[bytes]:
    """A new fork server process (pipes on stdin/stdout, minimal environment)."""
    return spawn(
        *SERVER,
        home=os.environ.get("TMPDIR", "/tmp"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def prestart() -> None:
    """Start one server now, for the first :func:`take` (no-op if one is waiting)."""
    with _lock:
        if not _ready:
            _ready.append(start())


def take() -> subprocess.Popen[bytes]:
    """A prestarted server if one is waiting and alive, else a new one."""
    with _lock:
        while _ready:
            proc = _ready.pop()
            if proc.poll() is None:
                return proc
    return start()
