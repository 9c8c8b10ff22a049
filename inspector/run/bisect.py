"""The first intermediate tensor where two runs part, found a chunk at a time.

Both first-divergence searches are this one loop: two configurations of one model
(:func:`inspector.run.analysis.first_divergence`) and model A against model B
(:func:`inspector.run.diff.first_pair_divergence`). The caller lists the tensor pairs to
check in topological order and says how each side runs; the loop marks a chunk of them as
extra graph outputs, runs both sides once, compares the chunk in order and stops at the first
pair that differs beyond ``atol + rtol·|ref|``, else goes on with a bigger chunk
(:func:`next_chunk`), so memory stays bounded: never every intermediate of a large model at
once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from inspector.limits import Limits
from inspector.run.compare import OutputDelta, delta
from inspector.run.config import RunConfig
from inspector.run.prepare import PreparedModel
from inspector.run.results import RunResult
from inspector.run.runner import run_prepared


@dataclass(frozen=True, kw_only=True)
class TensorPair:
    """An output of A's node ``a_node`` and the output of B's ``b_node`` it is checked against
    (the same node and tensor when both sides run one model)."""

    a_node: int  # index in the main graph
    b_node: int
    a_tensor: str
    b_tensor: str


@dataclass(frozen=True, kw_only=True)
class Side:
    """How one side runs: its prepared model under ``config`` on ``feeds``."""

    prepared: PreparedModel
    config: RunConfig
    feeds: Mapping[str, np.ndarray]


@dataclass(frozen=True, kw_only=True)
class Bisection:
    checked: int  # pairs looked at, the differing one included
    pair: TensorPair | None = None  # the first pair that differs; None when none does
    error: OutputDelta | None = None  # B's tensor against A's, for ``pair``
    cancelled: bool = False
    failure: str = ""  # "a marked run failed: …" when a run stopped the search


#: What the search reports after each chunk that differs nowhere: (pairs checked, of how many).
BisectProgress = Callable[[int, int], None]


def next_chunk(current: int, returned_bytes: int, marked: int, limits: Limits) -> int:
    """How many tensors the next marked re-run takes: as many as fit
    ``divergence_chunk_bytes`` at the average size just measured, at most 8× the last chunk
    and never fewer than ``divergence_chunk`` (small first, then as big as memory allows)."""
    average = max(returned_bytes / max(marked, 1), 1.0)
    fit = int(limits.divergence_chunk_bytes / average)
    return max(limits.divergence_chunk, min(fit, current * 8))


def first_differing(
    pairs: Sequence[TensorPair],
    a: Side,
    b: Side,
    *,
    atol: float,
    rtol: float,
    limits: Limits,
    cancel: threading.Event | None = None,
    progress: BisectProgress | None = None,
) -> Bisection:
    """The first of ``pairs`` whose B tensor differs from its A tensor, each side run once a
    chunk with the chunk's tensors marked as outputs (``limits.divergence_chunk`` tensors first,
    then :func:`next_chunk`). Both sides run once with no warm-up and no profiling. ``cancel``,
    once set, stops the running worker and the search."""
    a_cfg, b_cfg = (replace(s.config, warmup_runs=0, timed_runs=1, profiled_runs=0) for s in (a, b))
    chunk = limits.divergence_chunk
    checked = start = 0
    while start < len(pairs):
        if cancel is not None and cancel.is_set():
            return Bisection(checked=checked, cancelled=True)
        part = pairs[start : start + chunk]
        start += len(part)
        a_tensors = [p.a_tensor for p in part]
        b_tensors = [p.b_tensor for p in part]
        a_model = _marked(a.prepared, a_tensors)
        ra = _run(a, a_cfg, a_model, limits, cancel)
        one_model = b.prepared is a.prepared and b_tensors == a_tensors  # written once
        b_model = a_model if one_model else _marked(b.prepared, b_tensors)
        rb = _run(b, b_cfg, b_model, limits, cancel)
        if not (ra.ok and rb.ok):
            bad = ra if not ra.ok else rb
            return Bisection(checked=checked, failure=f"a marked run failed: {bad.error}")
        xa, xb = ra.output_arrays(), rb.output_arrays()
        returned = sum(np.asarray(xa[t]).nbytes for t in a_tensors if t in xa)
        chunk = next_chunk(len(part), returned, len(part), limits)
        for p in part:
            checked += 1
            if p.a_tensor not in xa or p.b_tensor not in xb:
                continue
            ya, yb = np.asarray(xa[p.a_tensor]), np.asarray(xb[p.b_tensor])
            d = delta(p.a_tensor, ya, yb, atol, rtol)
            if d.status != "ok" or not d.allclose:
                return Bisection(checked=checked, pair=p, error=d)
        if progress is not None:
            progress(checked, len(pairs))
    return Bisection(checked=checked)


def _marked(prepared: PreparedModel, tensors: Sequence[str]) -> Path:
    """The prepared model with ``tensors`` as extra outputs, written next to its data files."""
    marked = onnx.ModelProto()
    marked.CopyFrom(prepared.original)
    for t in tensors:
        marked.graph.output.add().name = t  # untyped outputs: ORT accepts them
    path = prepared.model_path.with_name("marked.onnx")
    path.write_bytes(marked.SerializeToString())
    return path


def _run(
    side: Side, config: RunConfig, model: Path, limits: Limits, cancel: threading.Event | None
) -> RunResult:
    return run_prepared(
        side.prepared,
        config,
        side.feeds,
        side.prepared.job_dir("divergence"),
        limits,
        save_optimized=False,
        model_path=model,
        cancel=cancel,
    )
