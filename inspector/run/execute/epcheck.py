"""Which execution providers take this model, and why not — without running it.

For each usable second EP, one session ``EP → CPU`` at level all is created in a worker and not
run (the load check's job: :mod:`.loadcheck`), and its assignment and EP log are read as a
run's (:func:`inspector.run.readout.results.to_record`): nodes per EP, and per op type what the
EP claimed and its reason where it gives one (:mod:`inspector.run.readout.eplog`). On a model
whose runs take seconds that is the answer in seconds; on AMD hosts, where no installable
second EP takes nodes of real models today (ggml claims none of a 3,614-node TTS export: it
lacks ops and claims nothing unless ``partial=1``), it says so per EP with the EP's own reason
(issue 25) before anyone waits for a matrix.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

from inspector.limits import Limits
from inspector.model.load import LoadedModel
from inspector.run.execute.runner import run_matrix
from inspector.run.readout.results import RunResult
from inspector.run.setup.config import Matrix, RunConfig, expand_matrix

#: The kind of the queued task (:mod:`.jobs`) the Run lab submits.
EP_CHECK = "ep_check"


def check_matrix(eps: Sequence[str]) -> Matrix:
    """One configuration per EP: it first, CPU for the rest, level all (as a deployment would),
    labelled ``<EP> check``."""
    base = RunConfig(warmup_runs=0, timed_runs=1, profiled_runs=0)
    configs = expand_matrix(
        [f"{ep},cpu" for ep in eps], ["all"], [{}], base, include_reference=False
    ).configs
    return Matrix(
        tuple(
            replace(c, label=f"{c.eps[0].name.removesuffix('ExecutionProvider')} check")
            for c in configs
        )
    )


def check_eps(
    model: LoadedModel,
    eps: Sequence[str],
    limits: Limits | None = None,
    cancel: threading.Event | None = None,
) -> tuple[RunResult, ...]:
    """The sessions of :func:`check_matrix` created, not run: each result has no latency and
    no outputs, only ``fallback`` (nodes per EP), ``ep_reports`` and ``ep_log`` — or the
    failure an EP caused at session creation."""
    if not eps:
        return ()
    return run_matrix(
        model,
        check_matrix(eps),
        {},
        limits=limits or model.limits,
        cancel=cancel,
        save_optimized=False,
        check_only=True,
    )
