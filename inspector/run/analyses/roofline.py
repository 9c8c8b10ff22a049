"""Static cost next to measured time: achieved GFLOP/s, arithmetic intensity and the roofline.

For one configuration's :class:`~inspector.run.readout.results.RunResult` and the model's
:class:`~inspector.model.cost.CostRecord` at the shapes the run fed, each profiled kernel's
median time is joined to the original nodes it computes (the run's derived attribution,
:mod:`inspector.run.readout.origins`). Nodes that share kernels are one **unit**: a node that
ran as its own kernel is a unit of one; a fused, shared or EP-compiled kernel and all the nodes
it computes are one unit, timed by the kernel(s) together, with the nodes' FLOPs and bytes
summed. Splitting a fused kernel's time evenly over its nodes (as the Timing tab does to show
each node a bar) would give a Conv fused with a Sigmoid half the kernel's time and twice its
real rate, above any roof; a unit's rate is what the hardware did.

Per unit:

- **bytes** = parameters read + activations read + written (:class:`~inspector.model.cost.
  NodeCost`'s ``param_bytes + read_bytes + write_bytes``): weights come from memory too, so
  they count; a fused unit's intermediates count as if written, so its intensity is a lower
  bound.
- **arithmetic intensity** = FLOPs / bytes; **achieved GFLOP/s** = FLOPs / time;
- its **roof** = min(peak GFLOP/s, intensity × peak GB/s), the machine's measured peaks
  (:func:`machine_peaks`), and the **fraction** of it the unit reached; **lost µs** = its time
  minus the time it would take at its roof: where a faster kernel would save the most.

Units with 0 FLOPs (data movement), unknown cost, or no time, and ONNX Runtime's own kernels
(no original node), are listed apart with the reason (:class:`Apart`).

The peaks are measured in a fresh Python process (not the server's or the CLI's own, whose
thread pools and allocations would bias them), with as many BLAS and copy threads as the
configuration's intra-op threads, as a worker is a separate process running that many compute
threads: a float32 GEMM with numpy (best of a few repetitions) and a large array copy (bytes
read + written, as STREAM counts a copy). They are measured once per process and thread count,
and the record says how (:attr:`MachinePeaks.how`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inspector.model.cost import CostRecord, NodeCost, build_cost
from inspector.model.load import LoadedModel
from inspector.records import Record, rows_frame
from inspector.run.analyses.peaks import COPY_WINDOW_S, ORT_REPS, conv_flops
from inspector.run.readout.results import RunResult

if TYPE_CHECKING:
    import pandas as pd

#: Kernels (profile op types) that compute in integers: ONNX Runtime's quantized kernels,
#: including those its QDQ fusions make of DequantizeLinear → Conv/MatMul → QuantizeLinear.
INTEGER_KERNEL = re.compile(
    r"QLinear|Integer|^DynamicQuantize(MatMul|LSTM)$|^QGemm$|^QAttention$|^QOrdered"
)

#: GEMM side (float32, n × n @ n × n) and repetitions of the peak-FLOP/s benchmark.
MATMUL_N = 1024
MATMUL_REPS = 5
#: Bytes of the array copied by the bandwidth benchmark (4 × a 32 MiB L3 cache) and repetitions.
COPY_BYTES = 128 * 2**20
COPY_REPS = 5
#: The longest the benchmark process may take, in seconds.
PEAKS_TIMEOUT_S = 120.0


@dataclass(frozen=True, kw_only=True)
class MachinePeaks(Record):
    """The machine's measured peaks (None with ``error`` where the benchmark failed)."""

    gflops: float | None  # float32: the best rate of the GEMM and ONNX Runtime's kernels
    bandwidth_gbs: float | None  # array copy, bytes read + written per second, the best one
    threads: int  # BLAS and copy threads (the configuration's intra-op threads)
    matmul_n: int
    matmul_reps: int
    copy_bytes: int  # the array copied (read once, written once per repetition)
    copy_reps: int
    matmul_s: tuple[float, ...]  # each repetition's time
    copy_s: tuple[float, ...]
    how: str  # the measurement in words
    error: str = ""
    #: Each measured float32 rate, (what, GFLOP/s): numpy's GEMM and ONNX Runtime's MatMul and
    #: Conv; ``gflops`` is the best of them (records from before have none).
    rates: tuple[tuple[str, float], ...] = ()
    #: ONNX Runtime's int8 MatMulInteger, GOP/s: the compute roof of integer kernels (None:
    #: not measured — they then get the memory roof alone).
    int8_gops: float | None = None
    #: Copy bandwidth (GB/s) by working set (bytes read + written) that fits a cache:
    #: ``((4 MiB, 154.3), (16 MiB, 170.4), (64 MiB, 84.2))``. A unit whose bytes fit one is
    #: bounded by the best bandwidth of any working set at least its size (:meth:`bandwidth`).
    cache_bandwidths: tuple[tuple[int, float], ...] = ()

    def bandwidth(self, nbytes: int | None = None) -> float | None:
        """The memory roof's bandwidth for a unit that moves ``nbytes``: the best copy of a
        working set at least that large (it fits there, so data comes from that cache or a
        faster one), else the large copy's (memory). ``None``: the large copy's."""
        if nbytes is None or not self.bandwidth_gbs:
            return self.bandwidth_gbs
        fits = [gbs for size, gbs in self.cache_bandwidths if size >= nbytes]
        return max([*fits, self.bandwidth_gbs])

    @property
    def ridge(self) -> float | None:
        """The intensity (FLOP/byte) where the two roofs meet."""
        if not self.gflops or not self.bandwidth_gbs:
            return None
        return self.gflops / self.bandwidth_gbs

    def roof(
        self, intensity: float, integer: bool = False, nbytes: int | None = None
    ) -> float | None:
        """GFLOP/s the machine allows at ``intensity``: min(peak, intensity × bandwidth) —
        the bandwidth of the cache ``nbytes`` fits (:meth:`bandwidth`; memory's when not
        given); for integer kernels (``integer``) the int8 peak, or the memory roof alone where
        that was not measured: the float32 peak does not bound them (int8 dot products do ~4×
        the float32 multiply-adds per instruction)."""
        bandwidth = self.bandwidth(nbytes)
        if not self.gflops or not bandwidth:
            return None
        memory = intensity * bandwidth
        if integer:
            return min(self.int8_gops, memory) if self.int8_gops else memory
        return min(self.gflops, memory)


_PEAKS: dict[int, MachinePeaks] = {}
_PEAKS_LOCK = threading.Lock()


def machine_peaks(threads: int = 1) -> MachinePeaks:
    """The host's peak float32 GFLOP/s and copy bandwidth with ``threads`` threads, measured
    once per process (and thread count) in a fresh Python process; later calls return it."""
    threads = max(1, int(threads))
    with _PEAKS_LOCK:
        if threads not in _PEAKS:
            _PEAKS[threads] = measure_peaks(threads)
        return _PEAKS[threads]


def peaks_for(result: RunResult) -> MachinePeaks:
    """:func:`machine_peaks` at ``result``'s intra-op threads (0, ONNX Runtime's default,
    is a thread per core)."""
    return machine_peaks(result.config.intra_op_threads or os.cpu_count() or 1)


def measure_peaks(
    threads: int = 1,
    n: int = MATMUL_N,
    reps: int = MATMUL_REPS,
    copy_bytes: int = COPY_BYTES,
    copy_reps: int = COPY_REPS,
) -> MachinePeaks:
    """Measure now (:func:`machine_peaks` caches this): see the module docstring."""
    from inspector.isolation.spawn import command, minimal_env

    n_threads = str(threads)
    env = {
        **minimal_env(tempfile.gettempdir()),
        "OPENBLAS_NUM_THREADS": n_threads,
        "OMP_NUM_THREADS": n_threads,
        "MKL_NUM_THREADS": n_threads,
    }
    how = (
        f"a fresh Python process with {threads} thread(s): the best float32 rate of a "
        f"{n}×{n} @ {n}×{n} GEMM with numpy's BLAS and ONNX Runtime's own MatMul and 3×3 Conv "
        f"kernels (FLOPs over the best of {reps} GEMMs and of {max(reps, ORT_REPS)} runs of "
        f"each kernel); integer kernels against "
        f"ONNX Runtime's {n}×{n} int8 MatMulInteger; a copy of {copy_bytes / 2**20:.0f} MiB "
        f"with numpy over {threads} thread(s), bytes read + written over the best time "
        f"(memory), and of 4, 16 and 64 MiB working sets copied repeatedly (caches), each "
        f"timed {copy_reps} times a round in rounds over {COPY_WINDOW_S:g} s: a unit is "
        f"bounded by the best copy of a working set it fits"
    )
    empty = MachinePeaks(
        gflops=None,
        bandwidth_gbs=None,
        threads=threads,
        matmul_n=n,
        matmul_reps=reps,
        copy_bytes=copy_bytes,
        copy_reps=copy_reps,
        matmul_s=(),
        copy_s=(),
        how=how,
    )
    argv = command("inspector.run.analyses.peaks", "bench", n, reps, copy_bytes, copy_reps, threads)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=PEAKS_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return _failed(empty, f"the benchmark process did not finish: {e}")
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return _failed(empty, f"the benchmark process failed: {tail[0]}")
    try:
        times = json.loads(done.stdout.strip().splitlines()[-1])
        mm = tuple(float(t) for t in times["matmul_s"])
        cp = tuple(float(t) for t in times["copy_s"])
        flops = {"ort_matmul_s": 2 * n**3, "ort_conv_s": conv_flops()}
        rates = [("numpy GEMM", 2 * n**3 / min(mm) / 1e9)] + [
            (what, flops[key] / min(float(t) for t in times[key]) / 1e9)
            for key, what in _ORT_KERNELS
            if key in flops and times.get(key)
        ]
        int8 = [float(t) for t in times.get("ort_int8_s") or ()]
        cached = tuple(  # a working set is the bytes one copy reads and writes
            (int(size), int(size) / float(t) / 1e9)
            for size, t in times.get("cache_copy", ())
            if float(t) > 0
        )
    except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError) as e:
        return _failed(empty, f"the benchmark printed no times: {e}")
    missing = [what for key, what in _ORT_KERNELS if not times.get(key)]
    if missing:  # the roofs stand without them: say which were not measured
        how += f"; not measured here: {', '.join(missing)}"
        if not int8:
            how += " (int8 kernels get the memory roof alone)"
    return MachinePeaks(
        cache_bandwidths=cached,
        gflops=max(rate for _, rate in rates),
        rates=tuple(rates),
        int8_gops=2 * n**3 / min(int8) / 1e9 if int8 else None,
        bandwidth_gbs=2 * copy_bytes / min(cp) / 1e9,
        threads=threads,
        matmul_n=n,
        matmul_reps=reps,
        copy_bytes=copy_bytes,
        copy_reps=copy_reps,
        matmul_s=mm,
        copy_s=cp,
        how=how,
    )


#: The child's keys for ONNX Runtime's kernels, and the kernels in words.
_ORT_KERNELS = (
    ("ort_matmul_s", "ONNX Runtime MatMul"),
    ("ort_conv_s", "ONNX Runtime Conv 3×3"),
    ("ort_int8_s", "ONNX Runtime MatMulInteger"),
)


def _failed(empty: MachinePeaks, error: str) -> MachinePeaks:
    from dataclasses import replace

    return replace(empty, error=error)


# ---------------------------------------------------------------- the join


@dataclass(frozen=True, kw_only=True)
class RoofPoint(Record):
    """One unit (a node, or the nodes one fused kernel computes) on the roofline."""

    key: str  # its first node's id ("main:3")
    label: str  # the node's name (unnamed: "op id"); a fused unit: "a + b + c"
    node_ids: tuple[str, ...]
    op_type: str  # "Conv"; a unit of several: its op types by FLOPs, "Conv+Sigmoid"
    kernels: tuple[str, ...]  # the kernels whose times make its time
    eps: tuple[str, ...]
    how: str  # "" for a node that ran as its own kernel; how the kernels cover the nodes
    time_us: float  # median per run
    macs: int
    flops: int
    param_bytes: int
    bytes: int  # parameters + activations read + written
    intensity: float  # FLOPs per byte
    gflops: float  # achieved
    gbs: float  # bytes per second achieved, in GB/s
    roof_gflops: float | None  # min(peak, intensity × bandwidth); None without peaks
    fraction: float | None  # gflops / roof_gflops
    lost_us: float | None  # time_us minus the time at its roof
    integer: bool = False  # an int8 kernel computes it: its compute roof is the int8 peak


@dataclass(frozen=True, kw_only=True)
class Apart(Record):
    """A unit, node or kernel left off the roofline, and why."""

    key: str
    label: str
    op_type: str
    why: str
    time_us: float | None  # its time where it has one


@dataclass(frozen=True, kw_only=True)
class OpRoof(Record):
    """The units of one op type (or one fused combination) together."""

    op_type: str
    units: int
    nodes: int
    time_us: float
    flops: int
    bytes: int
    intensity: float | None
    gflops: float | None  # achieved: their FLOPs over their time
    gbs: float | None
    roof_gflops: float | None
    fraction: float | None
    lost_us: float | None  # summed over its units


@dataclass(frozen=True, kw_only=True)
class Roofline(Record):
    """One configuration's units against the machine's roofs (see the module docstring)."""

    label: str  # the configuration
    peaks: MachinePeaks
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...]  # the shapes the cost is for
    points: tuple[RoofPoint, ...]  # slowest first
    apart: tuple[Apart, ...]
    by_op: tuple[OpRoof, ...]  # by time
    time_us: float  # every profiled kernel's median summed
    placed_us: float  # the points' time
    flops: int  # the points' FLOPs
    gflops: float | None  # the points' FLOPs over their time

    def far_below(self, top: int = 15) -> tuple[RoofPoint, ...]:
        """The units furthest below their roof by the time a kernel at the roof would save
        (a 1 µs node at 1 % of its roof matters less than a 2 ms Conv at 50 %)."""
        ranked = [p for p in self.points if p.lost_us is not None]
        ranked.sort(key=lambda p: (-(p.lost_us or 0.0), p.key))
        return tuple(ranked[:top])

    def frame(self) -> pd.DataFrame:
        """The points as a DataFrame."""
        return rows_frame(self.points)

    def summary(self, top: int = 10) -> dict[str, Any]:
        """The totals, the peaks, the op-type table and the ``top`` units furthest below
        their roof, as JSON types (what ``run --json`` prints per configuration)."""
        from inspector.records import to_jsonable

        return {
            "label": self.label,
            "input_shapes": {k: list(v) for k, v in self.input_shapes},
            "gflops": self.gflops,
            "flops": self.flops,
            "time_us": self.time_us,
            "placed_us": self.placed_us,
            "points": len(self.points),
            "apart": len(self.apart),
            "peaks": to_jsonable(self.peaks),
            "by_op": to_jsonable(self.by_op),
            "far_below": to_jsonable(self.far_below(top)),
        }


def _kernel_ids(result: RunResult) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Kernel → (kind, original node ids); records from before kernels were kept use
    ``origins`` (several ids: fused)."""
    if result.kernels:
        return {k.kernel: (k.kind, k.ids) for k in result.kernels}
    return {kernel: ("fused" if len(ids) > 1 else "renamed", ids) for kernel, ids in result.origins}


class _Units:
    """Union-find over node ids: nodes one kernel computes are one unit."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, ids: Sequence[str]) -> None:
        first = self.find(ids[0])
        for x in ids[1:]:
            self.parent[self.find(x)] = first


def _order(node_id: str) -> tuple[int, str]:
    head, _, tail = node_id.rpartition(":")
    return (int(tail), head) if tail.isdigit() else (1 << 30, node_id)


def roofline(
    result: RunResult,
    cost: CostRecord,
    peaks: MachinePeaks | None = None,
) -> Roofline:
    """``result``'s profiled time per unit next to ``cost`` (the model's cost at the shapes
    the run fed); ``peaks`` defaults to :func:`machine_peaks` at the configuration's intra-op
    threads."""
    if peaks is None:
        peaks = peaks_for(result)
    kernel_ids = _kernel_ids(result)
    costs = {c.id: c for c in cost.nodes}
    units = _Units()
    timed: list[tuple[str, float, str, str, tuple[str, ...]]] = []  # kernel, µs, ep, kind, ids
    integer_kernels: set[str] = set()
    apart: list[Apart] = []
    total = 0.0
    for t in result.profile.nodes if result.profile else ():
        total += t.median_us
        kind, ids = kernel_ids.get(t.node, ("unmapped", ()))
        if not ids:
            apart.append(
                Apart(
                    key=t.node,
                    label=t.node,
                    op_type=t.op_type,
                    why="ONNX Runtime's own kernel: no original node (layout Reorder, inserted "
                    "Reshape or copy)"
                    if kind == "runtime"
                    else "no original node found for this kernel",
                    time_us=t.median_us,
                )
            )
            continue
        units.join(ids)
        timed.append((t.node, t.median_us, t.ep, kind, ids))
        if INTEGER_KERNEL.search(t.op_type):
            integer_kernels.add(t.node)
    members: dict[str, set[str]] = defaultdict(set)
    for node_id in units.parent:
        members[units.find(node_id)].add(node_id)
    unit_time: dict[str, float] = defaultdict(float)
    unit_kernels: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for kernel, us, ep, kind, ids in timed:
        root = units.find(ids[0])
        unit_time[root] += us
        unit_kernels[root].append((kernel, ep, kind))
    points: list[RoofPoint] = []
    for root, nodes_set in members.items():
        nodes = sorted(nodes_set, key=_order)
        rows = [costs.get(n) for n in nodes]
        us = unit_time[root]
        kernels = unit_kernels[root]
        label = _label(nodes, rows)
        op_type = _op_type(rows)
        missing = [n for n, c in zip(nodes, rows, strict=True) if c is None]
        unknown = [c for c in rows if c is not None and not c.known]
        known = [c for c in rows if c is not None]
        flops = sum(c.flops or 0 for c in known)
        nbytes = sum(c.param_bytes + (c.read_bytes or 0) + (c.write_bytes or 0) for c in known)
        if missing:
            why = f"{missing[0]} is not a main-graph node (nodes inside bodies are not costed)"
        elif unknown:
            why = f"cost unknown: {unknown[0].id} ({unknown[0].op_type}): {unknown[0].why}"
        elif any(c.read_bytes is None or c.write_bytes is None for c in known):
            why = "the size of an activation it reads or writes is unknown"
        elif flops == 0:
            why = "0 FLOPs: it only moves data"
        elif us <= 0:
            why = "its time rounds to 0 µs (the profiler's resolution is 1 µs)"
        elif nbytes == 0:
            why = "it reads and writes 0 bytes"
        else:
            why = ""
        if why:
            apart.append(Apart(key=nodes[0], label=label, op_type=op_type, why=why, time_us=us))
            continue
        intensity = flops / nbytes
        gflops = flops / (us * 1e3)
        integer = any(k in integer_kernels for k, _, _ in kernels)
        roof = peaks.roof(intensity, integer, nbytes)
        points.append(
            RoofPoint(
                key=nodes[0],
                label=label,
                node_ids=tuple(nodes),
                op_type=op_type,
                kernels=tuple(k for k, _, _ in kernels),
                eps=tuple(dict.fromkeys(ep for _, ep, _ in kernels)),
                how=_how(nodes, kernels),
                time_us=us,
                macs=sum(c.macs or 0 for c in known),
                flops=flops,
                param_bytes=sum(c.param_bytes for c in known),
                bytes=nbytes,
                intensity=intensity,
                gflops=gflops,
                gbs=nbytes / (us * 1e3),
                roof_gflops=roof,
                fraction=gflops / roof if roof else None,
                lost_us=max(0.0, us - flops / (roof * 1e3)) if roof else None,
                integer=integer,
            )
        )
    timed_ids = set(units.parent)
    for c in cost.nodes:
        if c.id not in timed_ids:
            apart.append(
                Apart(
                    key=c.id,
                    label=c.name or f"{c.op_type} {c.id}",
                    op_type=c.op_type,
                    why="no kernel's time reached it (removed or folded by the optimizer, or "
                    "not profiled)",
                    time_us=None,
                )
            )
    points.sort(key=lambda p: (-p.time_us, p.key))
    placed = sum(p.time_us for p in points)
    flops = sum(p.flops for p in points)
    return Roofline(
        label=result.label,
        peaks=peaks,
        input_shapes=cost.input_shapes,
        points=tuple(points),
        apart=tuple(sorted(apart, key=lambda a: (-(a.time_us or 0.0), _order(a.key)))),
        by_op=_by_op(points),
        time_us=total,
        placed_us=placed,
        flops=flops,
        gflops=flops / (placed * 1e3) if placed > 0 else None,
    )


def _label(nodes: Sequence[str], rows: Sequence[NodeCost | None]) -> str:
    names = [
        (c.name or f"{c.op_type} {c.id}") if c is not None else n
        for n, c in zip(nodes, rows, strict=True)
    ]
    if len(names) <= 3:
        return " + ".join(names)
    return f"{names[0]} + {len(names) - 1} more"


def _op_type(rows: Sequence[NodeCost | None]) -> str:
    """A unit's op type: its nodes' op types, the most FLOPs first ("Conv+Sigmoid+Mul")."""
    flops: dict[str, int] = {}
    for c in rows:
        if c is not None:
            flops[c.op_type] = flops.get(c.op_type, 0) + (c.flops or 0)
        else:
            flops.setdefault("?", 0)
    return "+".join(sorted(flops, key=lambda op: -flops[op]))


def _how(nodes: Sequence[str], kernels: Sequence[tuple[str, str, str]]) -> str:
    """How the unit's kernels cover its nodes ("" for a node that is its own kernel)."""
    kinds = {kind for _, _, kind in kernels}
    if len(nodes) == 1 and len(kernels) == 1 and kinds <= {"own", "renamed"}:
        return ""
    names = ", ".join(repr(k) for k, _, _ in kernels[:3]) + (
        f" and {len(kernels) - 3} more" if len(kernels) > 3 else ""
    )
    if "fused" in kinds:
        return f"{len(nodes)} nodes fused into {names}: timed together"
    if "compiled" in kinds:
        return f"{len(nodes)} nodes compiled into {names} (an EP's subgraph): timed together"
    return f"{len(nodes)} node(s) computed by {len(kernels)} kernel(s) {names}: times added"


def _by_op(points: Sequence[RoofPoint]) -> tuple[OpRoof, ...]:
    groups: dict[str, list[RoofPoint]] = defaultdict(list)
    for p in points:
        groups[p.op_type].append(p)
    out = []
    for op, ps in groups.items():
        us = sum(p.time_us for p in ps)
        flops = sum(p.flops for p in ps)
        nbytes = sum(p.bytes for p in ps)
        intensity = flops / nbytes if nbytes else None
        gflops = flops / (us * 1e3) if us > 0 else None
        # The group's roof: the rate at which its units' FLOPs would take, each at its own
        # roof, the time they would together — units differ in the cache they fit and some
        # may be int8 kernels, so no single intensity's roof is theirs.
        roofed = [p for p in ps if p.roof_gflops]
        at_roof_us = sum(p.flops / (p.roof_gflops * 1e3) for p in roofed if p.roof_gflops)
        roof = sum(p.flops for p in roofed) / (at_roof_us * 1e3) if at_roof_us > 0 else None
        lost = [p.lost_us for p in ps if p.lost_us is not None]
        out.append(
            OpRoof(
                op_type=op,
                units=len(ps),
                nodes=sum(len(p.node_ids) for p in ps),
                time_us=us,
                flops=flops,
                bytes=nbytes,
                intensity=intensity,
                gflops=gflops,
                gbs=nbytes / (us * 1e3) if us > 0 else None,
                roof_gflops=roof,
                fraction=gflops / roof if gflops is not None and roof else None,
                lost_us=sum(lost) if lost else None,
            )
        )
    out.sort(key=lambda o: (-o.time_us, o.op_type))
    return tuple(out)


# ---------------------------------------------------------------- for notebooks and the CLI


def input_shapes(inputs: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The shapes of a run's inputs (tensors only: sequences and empty optionals have none)."""
    out = {}
    for name, value in inputs.items():
        shape = getattr(value, "shape", None)
        if shape is not None and not isinstance(value, (list, tuple)):
            out[name] = tuple(int(d) for d in shape)
    return out


def suggested_shapes(model: LoadedModel) -> dict[str, tuple[int, ...]]:
    """The input shapes a run uses when nobody chose any (those of
    :func:`inspector.run.setup.inputs.default_inputs`, without making the arrays).

    Raises:
        InputError: an input cannot be generated (its message says which and why).
    """
    from inspector.model.overview import build_overview
    from inspector.run.setup.inputs import InputPlan, resolve, shape_hints

    plan = InputPlan.make(hints=shape_hints(model))
    return {
        r.name: r.shape for r in resolve(build_overview(model).inputs, plan) if r.kind == "tensor"
    }


def rooflines(
    model: LoadedModel,
    results: Sequence[RunResult],
    inputs: Mapping[str, Any] | None = None,
    cost: CostRecord | None = None,
) -> tuple[Roofline, ...]:
    """A :class:`Roofline` per configuration that ran with a profile: ``cost`` (or the
    model's cost at the shapes of ``inputs``, the arrays the runs fed; without them, the
    suggested input sizes, :func:`suggested_shapes`).

    In a notebook::

        results = run_matrix(model, matrix, inputs)
        for r in rooflines(model, results, inputs):
            print(r.label, r.gflops, [p.label for p in r.far_below(5)])
    """
    if cost is None:
        shapes = suggested_shapes(model) if inputs is None else input_shapes(inputs)
        cost = build_cost(model, shapes)
    return tuple(roofline(r, cost) for r in results if r.ok and r.profile and r.profile.nodes)
