"""ONNX Runtime profiler output → per-node timings (pure JSON parsing, no ORT).

Chrome-trace events: ``cat == "Session"`` with ``name == "model_run"`` per run and
``cat == "Node"`` named ``<node>_kernel_time`` with ``args.op_name, provider, ...``. Node
events are assigned to runs by the ``model_run`` interval holding their timestamp; the first
run is a warm-up and dropped.

An If/Loop/Scan node's event spans its body's nodes, which have events of their own (on the
same thread, inside its interval). Counting both counted the body twice (a VAD's node times
summed to 2.0× its run, its If showed a 48 % share), so a control-flow node's time here is
its own: its event less the events directly inside it (``inclusive_us`` keeps the whole).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.records import Record
from inspector.run.readout.timing import median_interval


@dataclass(frozen=True, kw_only=True)
class NodeTiming(Record):
    node: str  # runtime node name (after optimization), or an EP-compiled subgraph
    op_type: str
    ep: str
    runs: int
    median_us: float
    mean_us: float
    share: float  # of the summed median node time
    input_shapes: str
    output_shapes: str
    inclusive_us: float | None = None  # If/Loop/Scan: median of its whole event, body included
    # Spread across the profiled runs' events (timing.median_interval): the median's interval
    # and its coverage (min..max below 6 events), and std / mean. None in records made before.
    ci_low_us: float | None = None
    ci_high_us: float | None = None
    ci_level: float | None = None
    cv: float | None = None


@dataclass(frozen=True, kw_only=True)
class OpTiming(Record):
    op_type: str
    ep: str
    nodes: int
    median_us: float  # summed per-node medians
    share: float


@dataclass(frozen=True, kw_only=True)
class Profile(Record):
    nodes: tuple[NodeTiming, ...]  # slowest first
    op_types: tuple[OpTiming, ...]
    runs: int  # profiled runs used (warm-up dropped)
    run_median_us: float  # median model_run duration
    node_sum_us: float  # sum of per-node medians (a control-flow node's own time only)
    coverage: float  # node_sum / run median (how much of a run the node events explain)


#: Below this many values numpy sums them one after another, as Python does (from 8 on it
#: sums in blocks): :func:`_mean_std` takes the Python route there, to the same bits.
_SEQUENTIAL_SUM = 8


def _mean_std(values: list[float]) -> tuple[float, float]:
    """``np.mean`` and ``np.std`` of ``values``, to the bit; a few profiled runs per node, on
    thousands of nodes, cost a numpy call's overhead each (0.1 s on a 3.6k-node model)."""
    n = len(values)
    if n >= _SEQUENTIAL_SUM:
        a = np.asarray(values, dtype=np.float64)
        return float(a.mean()), float(a.std())
    mean = 0.0
    for v in values:
        mean += v
    mean /= n
    sq = 0.0
    for v in values:
        d = v - mean
        sq += d * d
    return mean, math.sqrt(sq / n)


def _median(values: list[float]) -> float:
    """``np.median`` of ``values`` (the middle value, or the mean of the two middle ones)."""
    a = sorted(values)
    mid = len(a) // 2
    return float(a[mid]) if len(a) % 2 else (a[mid - 1] + a[mid]) / 2.0


def _shapes(value: object) -> str:
    if not isinstance(value, list):
        return ""
    parts = []
    for item in value:
        if isinstance(item, dict):
            for dtype, dims in item.items():
                parts.append(f"{dtype}{list(dims) if isinstance(dims, list) else dims}")
    return ", ".join(parts)


def trace_events(raw: bytes) -> list[dict]:
    """The profiler's events from the trace file's bytes. ORT 1.30 writes node names with raw
    control characters (a name with a newline makes the file invalid JSON), so strings are
    read leniently. Raises ValueError (or RecursionError) for what is not JSON at all."""
    events = json.loads(raw.decode(errors="replace"), strict=False)
    if isinstance(events, dict):  # some versions wrap events
        events = events.get("traceEvents", [])
    if not isinstance(events, list):
        return []
    return [e for e in events if isinstance(e, dict)]


def load_trace(path: str | Path) -> list[dict]:
    """The profiler's events from a trace file (one the caller trusts: a run's profile is read
    from its worker's folder with :func:`inspector.run.execute.process.read_worker_file`)."""
    return trace_events(Path(path).read_bytes())


CONTROL_FLOW_OPS = ("If", "Loop", "Scan")


def _nested_time(timed: list[tuple[str, dict]], control: set[str]) -> dict[int, float]:
    """Index of each control-flow event → summed durations of the events directly inside it
    (same process and thread, starting inside its interval: its body's nodes)."""
    order = sorted(
        range(len(timed)),
        key=lambda k: (
            str(timed[k][1].get("pid")),
            str(timed[k][1].get("tid")),
            timed[k][1].get("ts", 0),
            -timed[k][1].get("dur", 0),
        ),
    )
    inside: dict[int, float] = {}
    stack: list[int] = []  # open control-flow events, innermost last
    thread: tuple[str, str] | None = None
    for k in order:
        e = timed[k][1]
        here = (str(e.get("pid")), str(e.get("tid")))
        if here != thread:
            stack, thread = [], here
        ts, end = e.get("ts", 0), e.get("ts", 0) + e.get("dur", 0)
        while stack:
            top = timed[stack[-1]][1]
            top_end = top.get("ts", 0) + top.get("dur", 0)
            # Times are whole µs: a body's last node may end a µs after its parent's event.
            if top.get("ts", 0) <= ts < top_end and end <= top_end + 1:
                break
            stack.pop()
        if stack:
            parent = stack[-1]
            inside[parent] = inside.get(parent, 0.0) + float(e.get("dur", 0))
        if timed[k][0] in control:
            inside.setdefault(k, 0.0)
            stack.append(k)
    return inside


def parse_profile(path: str | Path, drop_warmup: int = 1) -> Profile:
    return parse_events(load_trace(path), drop_warmup)


def parse_events(events: list[dict], drop_warmup: int = 1) -> Profile:
    """Per-node and per-op timings from the profiler's events (the first run dropped)."""
    runs = sorted(
        (e["ts"], e["ts"] + e.get("dur", 0))
        for e in events
        if e.get("cat") == "Session" and e.get("name") == "model_run"
    )
    kept = runs[drop_warmup:] if len(runs) > drop_warmup else runs
    per_node: dict[str, list[float]] = defaultdict(list)
    whole: dict[str, list[float]] = defaultdict(list)
    meta: dict[str, tuple[str, str, str, str]] = {}
    timed: list[tuple[str, dict]] = []
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        ts = e.get("ts", 0)
        if not any(start <= ts <= end for start, end in kept):
            continue
        name = e["name"].removesuffix("_kernel_time")
        args = e.get("args", {})
        if not isinstance(args, dict):
            args = {}
        timed.append((name, e))
        meta.setdefault(
            name,
            (
                args.get("op_name", ""),
                args.get("provider", ""),
                _shapes(args.get("input_type_shape")),
                _shapes(args.get("output_type_shape")),
            ),
        )
    nested = _nested_time(timed, {n for n, m in meta.items() if m[0] in CONTROL_FLOW_OPS})
    for k, (name, e) in enumerate(timed):
        dur = float(e.get("dur", 0))
        if k in nested:
            whole[name].append(dur)
            dur = max(0.0, dur - nested[k])
        per_node[name].append(dur)
    medians = {n: _median(v) for n, v in per_node.items()}
    stats = {n: _mean_std(v) for n, v in per_node.items()}
    spread = {
        n: (*median_interval(v), stats[n][1] / stats[n][0] if stats[n][0] > 0 else 0.0)
        for n, v in per_node.items()
    }
    total = sum(medians.values()) or 1.0
    nodes = sorted(
        (
            NodeTiming(
                node=n,
                op_type=meta[n][0],
                ep=meta[n][1],
                runs=len(v),
                median_us=medians[n],
                mean_us=stats[n][0],
                share=medians[n] / total,
                input_shapes=meta[n][2],
                output_shapes=meta[n][3],
                inclusive_us=_median(whole[n]) if n in whole else None,
                ci_low_us=spread[n][0],
                ci_high_us=spread[n][1],
                ci_level=spread[n][2],
                cv=spread[n][3],
            )
            for n, v in per_node.items()
        ),
        key=lambda t: (-t.median_us, t.node),
    )
    by_op: dict[tuple[str, str], list[NodeTiming]] = defaultdict(list)
    for t in nodes:
        by_op[(t.op_type, t.ep)].append(t)
    ops = sorted(
        (
            OpTiming(
                op_type=op,
                ep=ep,
                nodes=len(ts),
                median_us=sum(t.median_us for t in ts),
                share=sum(t.median_us for t in ts) / total,
            )
            for (op, ep), ts in by_op.items()
        ),
        key=lambda o: (-o.median_us, o.op_type),
    )
    run_median = float(np.median([end - start for start, end in kept])) if kept else 0.0
    node_sum = sum(medians.values())
    return Profile(
        nodes=tuple(nodes),
        op_types=tuple(ops),
        runs=len(kept),
        run_median_us=run_median,
        node_sum_us=node_sum,
        coverage=node_sum / run_median if run_median else 0.0,
    )
