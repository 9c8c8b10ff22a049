"""Process isolation: every child process that touches an untrusted model starts and is confined
here, the same way.

* :mod:`~inspector.isolation.spawn` — the one way a child is started: a fresh ``python -I``
  running a real module's function, with a minimal environment (no PYTHONPATH, no credentials);
* :mod:`~inspector.isolation.start` — the first code such a child runs (finds this package,
  imports the module, calls the function);
* :mod:`~inspector.isolation.sandbox` — what a child does to itself before it reads the model:
  Landlock, no capabilities, the seccomp filter;
* :mod:`~inspector.isolation.forkserver` — the onnx fork server's start, ahead of its first use.

Its children: run workers (``run.execute.worker``, also for ONNX Runtime's load check), the
EP discovery probe (``run.setup.eps``) and onnx's analysis server
(``inspector.model.native``). This package imports only the standard library, none of them: it
sits below ``model/`` and ``run/``, which both use it.
"""
