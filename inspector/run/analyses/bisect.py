"""The first intermediate tensor where two runs part, found a chunk at a time.

Both first-divergence searches are this one loop: two configurations of one model
(:func:`inspector.run.analyses.analysis.first_divergence`) and model A against model B
(:func:`inspector.run.analyses.diff.first_pair_divergence`). The caller lists the tensor pairs to
check in topological order and says how each side runs; the loop marks a chunk of them as
extra graph outputs, runs both sides once, compares the chunk in order and stops at the first
pair that differs beyond ``atol + rtol·|ref|`` (:func:`~.compare.agrees` for each
pair, :func:`~.compare.delta`'s statistics for that one only), else goes on with a
bigger chunk (:func:`next_chunk`), so memory stays bounded: never every intermediate of a large
model at once. A run keeps ``max_output_bytes`` of outputs: a tensor it did not keep is marked
again, in a chunk sized by the bytes measured; one that never fits is skipped and said so.
``checked`` counts the pairs compared, nothing else.

A round costs a fresh session and a run of the whole model on each side, whatever it marks
(kokoro-82M, 3.6k nodes: 17 rounds of 64 MiB took 266 s on 2 busy cores): so a chunk takes
what a run keeps (``divergence_chunk_bytes`` defaults to ``max_output_bytes``), both sides run
at once when their threads fit the cores, and the marked model is the model file plus a tail
naming the chunk's outputs, not the model copied and serialized again each round
(:class:`_MarkedFile`).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from inspector.limits import Limits
from inspector.model.proto import ModelProto
from inspector.run.analyses.compare import OutputDelta, agrees, delta
from inspector.run.execute.prepare import PreparedModel
from inspector.run.execute.runner import run_prepared
from inspector.run.readout.results import RunResult
from inspector.run.setup.config import RunConfig


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
    checked: int  # pairs compared, the differing one included
    pair: TensorPair | None = None  # the first pair that differs; None when none does
    error: OutputDelta | None = None  # B's tensor against A's, for ``pair``
    cancelled: bool = False
    failure: str = ""  # "a marked run failed: …" when a run stopped the search
    skipped: tuple[tuple[TensorPair, str], ...] = ()  # pairs never compared, and why

    def notes(self) -> tuple[str, ...]:
        """One line per reason a pair was not compared, naming the first few tensors."""
        by_reason: dict[str, list[str]] = {}
        for p, why in self.skipped:
            by_reason.setdefault(why, []).append(p.a_tensor)
        out = []
        for why, names in by_reason.items():
            shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            tensors = "1 tensor" if len(names) == 1 else f"{len(names)} tensors"
            out.append(f"{tensors} not compared ({why}): {shown}")
        return tuple(out)


#: What the search reports after each chunk that differs nowhere: (pairs done — compared or
#: skipped —, of how many).
BisectProgress = Callable[[int, int], None]


def next_chunk(current: int, returned_bytes: int, marked: int, limits: Limits) -> int:
    """How many tensors the next marked re-run takes: as many as fit
    ``divergence_chunk_bytes`` at the average size just measured, at most 8× the last chunk
    and never fewer than ``divergence_chunk`` (small first, then as big as memory allows)."""
    average = max(returned_bytes / max(marked, 1), 1.0)
    fit = int(limits.divergence_chunk_bytes / average)
    return max(limits.divergence_chunk, min(fit, current * 8))


@dataclass
class _Sizes:
    """What the runs so far measured: each marked tensor's bytes (saved or not: the worker
    lists them all), and the bytes a run keeps for marked tensors once the graph outputs,
    saved first, have taken theirs (``max_output_bytes`` less those)."""

    a: dict[str, int]
    b: dict[str, int]
    room_a: int
    room_b: int
    average: float = 0.0  # bytes per marked tensor in the last run

    def of(self, p: TensorPair) -> int | None:
        """Both tensors' bytes where a run measured them (the larger), else None."""
        if p.a_tensor in self.a and p.b_tensor in self.b:
            return max(self.a[p.a_tensor], self.b[p.b_tensor])
        return None

    def too_big(self, p: TensorPair) -> bool:
        """Whether a run cannot keep this pair's tensors even when they are all it marks."""
        return self.a.get(p.a_tensor, 0) > self.room_a or self.b.get(p.b_tensor, 0) > self.room_b

    def take(self, pending: Sequence[TensorPair], count: int, budget: int) -> int:
        """How many pairs from the front of ``pending`` the next run marks: at most ``count``,
        and within ``budget`` bytes by the measured sizes (by the average for the tensors no
        run has returned yet); always the first."""
        used = 0
        for n, p in enumerate(pending[:count]):
            size = self.of(p)
            used += int(self.average) if size is None else size
            if n and used > budget:
                return n
        return min(count, len(pending))


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
    then :func:`next_chunk`, within ``divergence_chunk_bytes`` by the sizes measured). Both
    sides run once with no warm-up and no profiling. ``cancel``, once set, stops the running
    worker and the search.

    A run keeps ``max_output_bytes`` of outputs: a marked tensor it did not keep is marked
    again at the front of the next chunk, which takes only what fits by its measured size; a
    tensor no run can keep even alone is skipped, and said so (``Bisection.skipped``), never
    counted as agreeing. A pair that differs after one not yet compared is the answer only
    once the earlier ones are compared and agree."""
    # One file per side, rewritten by its tail only (see _MarkedFile); one for both when both
    # sides run one model with the same tensors (the file is then written once a chunk).
    same = b.prepared is a.prepared and all(p.a_tensor == p.b_tensor for p in pairs)
    files_a = _MarkedFile(a.prepared, "marked.onnx")
    files_b = files_a if same else _MarkedFile(b.prepared, "marked_b.onnx")
    try:
        return _search(pairs, a, b, files_a, files_b, atol, rtol, limits, cancel, progress)
    finally:
        files_a.remove()
        files_b.remove()


def _search(
    pairs: Sequence[TensorPair],
    a: Side,
    b: Side,
    files_a: _MarkedFile,
    files_b: _MarkedFile,
    atol: float,
    rtol: float,
    limits: Limits,
    cancel: threading.Event | None,
    progress: BisectProgress | None,
) -> Bisection:
    a_cfg, b_cfg = (replace(s.config, warmup_runs=0, timed_runs=1, profiled_runs=0) for s in (a, b))
    outputs_a = len(a.prepared.original.graph.output)
    outputs_b = len(b.prepared.original.graph.output)
    cap = limits.max_output_bytes
    sizes = _Sizes(a={}, b={}, room_a=cap, room_b=cap)
    chunk = limits.divergence_chunk
    checked = 0
    skipped: list[tuple[TensorPair, str]] = []
    found: tuple[TensorPair, OutputDelta] | None = None  # differs; earlier pairs still pending
    pending = list(pairs)
    concurrent = _side_by_side(a_cfg, b_cfg)
    while pending:
        if cancel is not None and cancel.is_set():
            return Bisection(checked=checked, cancelled=True, skipped=tuple(skipped))
        if sizes.too_big(pending[0]):
            skipped.append((pending.pop(0), _too_big(sizes)))
            continue
        budget = min(limits.divergence_chunk_bytes, sizes.room_a, sizes.room_b)
        part = pending[: sizes.take(pending, chunk, budget)]
        a_tensors = [p.a_tensor for p in part]
        b_tensors = [p.b_tensor for p in part]
        ra, rb = _run_both(
            (a, a_cfg, files_a.mark(a_tensors)),
            (b, b_cfg, files_b.mark(b_tensors) if files_b is not files_a else files_a.path),
            limits,
            cancel,
            concurrent,
        )
        if not (ra.ok and rb.ok):
            bad = ra if not ra.ok else rb
            return Bisection(
                checked=checked,
                failure=f"a marked run failed: {bad.error}",
                skipped=tuple(skipped),
            )
        info_a = {o.name: o for o in ra.outputs[outputs_a:]}
        info_b = {o.name: o for o in rb.outputs[outputs_b:]}
        sizes.a.update((n, o.bytes) for n, o in info_a.items())
        sizes.b.update((n, o.bytes) for n, o in info_b.items())
        sizes.room_a = cap - sum(o.bytes for o in ra.outputs[:outputs_a] if o.saved)
        sizes.room_b = cap - sum(o.bytes for o in rb.outputs[:outputs_b] if o.saved)
        measured = sum(info_a[t].bytes for t in a_tensors if t in info_a)
        sizes.average = measured / len(part)
        chunk = next_chunk(len(part), measured, len(part), limits)
        xa, xb = ra.output_arrays(), rb.output_arrays()
        again: list[TensorPair] = []  # not kept by this run: marked again next
        differs = False
        for n, p in enumerate(part):
            oa, ob = info_a.get(p.a_tensor), info_b.get(p.b_tensor)
            if oa is None or ob is None:
                skipped.append((p, "not among the marked run's outputs"))
            elif p.a_tensor in xa and p.b_tensor in xb:
                checked += 1
                ya, yb = np.asarray(xa[p.a_tensor]), np.asarray(xb[p.b_tensor])
                if not agrees(ya, yb, atol, rtol):
                    found = (p, delta(p.a_tensor, ya, yb, atol, rtol))
                    differs = True
                    break
            elif oa.kind in ("sequence", "none") or ob.kind in ("sequence", "none"):
                skipped.append((p, "a sequence or an empty optional: only tensors are compared"))
            elif n == 0 or sizes.too_big(p):  # all the run could keep, alone or first
                skipped.append((p, _too_big(sizes)))
            else:
                again.append(p)
        # A pair that differs is the answer once the pairs before it are compared: the rest
        # of the list no longer matters.
        pending = again if differs else again + pending[len(part) :]
        if found is not None and not pending:
            break
        if progress is not None and not differs and found is None:
            progress(checked + len(skipped), len(pairs))
    pair, error = found if found is not None else (None, None)
    return Bisection(checked=checked, pair=pair, error=error, skipped=tuple(skipped))


def _too_big(sizes: _Sizes) -> str:
    room = min(sizes.room_a, sizes.room_b)
    return (
        f"each alone is more than the {max(room, 0):,} bytes a run keeps beside the graph "
        "outputs: max_output_bytes"
    )


class _MarkedFile:
    """The prepared model with a chunk's tensors as extra outputs, in a file of its own next to
    the model's data files.

    Protobuf merges a message that occurs twice, appending repeated fields: the model's own
    bytes followed by those of a ModelProto that holds only ``graph.output`` entries parse as
    the model with those outputs after its own. So the model file is copied once per search,
    and each chunk rewrites only its tail (a few KB), where copying the proto and serializing it
    whole cost 0.4 s a chunk on a 92 MB model."""

    def __init__(self, prepared: PreparedModel, name: str) -> None:
        self.prepared = prepared
        self.path = prepared.model_path.with_name(name)
        self.base = -1  # bytes of the model itself, once copied

    def mark(self, tensors: Sequence[str]) -> Path:
        if self.base < 0:
            shutil.copyfile(self.prepared.model_path, self.path)
            self.base = self.path.stat().st_size
        tail = ModelProto()
        for t in tensors:
            tail.graph.output.add().name = t  # untyped outputs: ORT accepts them
        with open(self.path, "r+b") as f:
            f.truncate(self.base)
            f.seek(self.base)
            f.write(tail.SerializeToString())
        return self.path

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _side_by_side(a: RunConfig, b: RunConfig) -> bool:
    """Whether both sides' runs go at once: when their intra-op threads fit this machine's
    cores (0, ORT's default, takes them all), as a matrix pre-starts its next worker. They are
    untimed, so sharing the machine changes no figure, only the wall time (about halved)."""
    threads = [
        t if t > 0 else (os.cpu_count() or 1) for t in (a.intra_op_threads, b.intra_op_threads)
    ]
    return sum(threads) <= (os.cpu_count() or 1)


_Job = tuple[Side, RunConfig, Path]


def _run_both(
    a: _Job, b: _Job, limits: Limits, cancel: threading.Event | None, concurrent: bool
) -> tuple[RunResult, RunResult]:
    """Both sides' runs of one chunk: B's in a thread while A's runs here when ``concurrent``,
    else one after the other. Each runs in a job folder of its own, taken here (job_dir counts
    on the prepared model, which both sides may share)."""
    jobs = [
        (side, config, model, side.prepared.job_dir("divergence")) for side, config, model in (a, b)
    ]

    def run(job: tuple[Side, RunConfig, Path, Path]) -> RunResult:
        side, config, model, folder = job
        return run_prepared(
            side.prepared,
            config,
            side.feeds,
            folder,
            limits,
            save_optimized=False,
            model_path=model,
            cancel=cancel,
        )

    if not concurrent:
        return run(jobs[0]), run(jobs[1])
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(run, jobs[1])
        first = run(jobs[0])
        return first, later.result()
