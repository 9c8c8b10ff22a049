"""Timing statistics: how sure a median latency is, when to stop repeating, and whether two
medians differ by more than noise.

Pure Python and numpy (the worker imports it; no onnx, no onnxruntime).

**The interval.** A configuration's latency is the median of its timed runs, and its spread is
the distribution-free (order-statistic) confidence interval of that median: with the runs
sorted, ``[x_(j), x_(n-j+1)]`` holds the true median with probability ``1 - 2·P(B < j)``,
``B ~ Binomial(n, ½)``, whatever the distribution of run times (they are skewed: a run that
another process interrupts takes 2× as long, never 0.5×). It costs one sort, so the worker can
ask for it between timed runs, and it needs no resampling seed. Below 6 runs no interval
reaches 95 %: the interval is then min..max and its coverage is said.

**When to stop.** :func:`timed_runs` runs until the interval is within ±``target`` of the
median (both sides), or the time budget is spent (or would be by one more run: :func:`spent`),
or the maximum number of runs is reached — never fewer than :data:`MIN_TIMED_RUNS` (the fewest
whose min..max holds the median with 95 %), or :data:`MIN_SLOW_TIMED_RUNS` where those spend the
budget first. A model whose run takes seconds starts from its profiled runs
(:func:`profiled_are_timed`).
It looks at the interval on a geometric schedule (every ~10 % more runs), which keeps the
check cheap on microsecond models and limits the optimism of stopping at a lucky moment.

**Within noise.** Two medians differ when their intervals do not overlap, each first widened
to the floor that two sessions of one configuration show (:data:`SESSION_NOISE`; see
:func:`within_noise` for why this, not a rank test on the runs).
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

#: Why a configuration's timed runs stopped (``Latency.stop``).
STOP_REASONS = ("interval", "budget", "max_runs", "fixed")
#: Coverage of the intervals shown (of a median's, and of a ratio of medians').
CI_LEVEL = 0.95
#: Fewest timed runs an adaptive configuration makes: the fewest whose min..max holds the median
#: with 95 % confidence (5 runs: 93.8 %).
MIN_TIMED_RUNS = 6
#: Fewest timed runs when the time budget is spent before :data:`MIN_TIMED_RUNS` (a model whose
#: run takes seconds): their min..max holds the median with 75 % confidence, which the record
#: says (``ci_level``).
MIN_SLOW_TIMED_RUNS = 3
#: Fewest profiled runs kept when the profiling budget is spent (a median of 3 ignores one
#: interrupted run; see :func:`profiled_budget_s`).
MIN_PROFILED_RUNS = 3


@functools.lru_cache(maxsize=4096)
def median_ranks(n: int, level: float = CI_LEVEL) -> tuple[int, int, float]:
    """0-based ranks ``(lo, hi)`` of the sorted sample that bracket the median with coverage
    at least ``level``, and that coverage; ``(0, n-1, coverage)`` when ``n`` is too small."""
    if n < 1:
        raise ValueError("no samples")
    allowed = (1.0 - level) / 2.0
    if n > 1000:  # normal approximation of Binomial(n, ½): exact sums get slow
        z = statistics.NormalDist().inv_cdf(1.0 - allowed)
        j = max(0, math.floor((n - z * math.sqrt(n)) / 2) - 1)
        return j, n - 1 - j, level
    # The interval [x_(j), x_(n-1-j)] (0-based) misses the median when at most j runs fall on
    # one side of it: probability 2·P(B ≤ j). Take the largest j that keeps that ≤ 1 - level.
    total = 2**n
    cum = 0  # total · P(B ≤ j) of the j taken
    j = -1
    for k in range((n + 1) // 2):
        nxt = cum + math.comb(n, k)
        if nxt / total > allowed:
            break
        cum, j = nxt, k
    if j < 0:  # too few runs for this level: min..max, with the coverage it has
        return 0, n - 1, max(0.0, 1.0 - 2 / total)
    return j, n - 1 - j, 1.0 - (2 * cum) / total


def median_interval(
    samples: Sequence[float], level: float = CI_LEVEL
) -> tuple[float, float, float]:
    """``(low, high, coverage)``: the order-statistic interval of the median of ``samples``."""
    a = sorted(float(x) for x in samples)
    lo, hi, coverage = median_ranks(len(a), level)
    return a[lo], a[hi], coverage


def relative_halfwidth(median: float, low: float, high: float) -> float:
    """The interval's wider side as a fraction of the median (``inf`` for a zero median)."""
    if median <= 0:
        return math.inf
    return max(median - low, high - median) / median


def pct(x: float) -> str:
    """A relative half-width as the run records say it: ``±1.3 %``."""
    return "±?" if not math.isfinite(x) else f"±{100 * x:.1f} %"


def timed_runs(
    run_once: Callable[[], object],
    *,
    max_runs: int,
    budget_s: float,
    target: float,
    min_runs: int = MIN_TIMED_RUNS,
    clock: Callable[[], int] = time.perf_counter_ns,
    seed: Sequence[float] = (),
    seed_s: float = 0.0,
) -> tuple[list[float], str, str]:
    """Time ``run_once`` until the median's interval is within ±``target`` (a fraction; 0: do
    not stop on it), ``budget_s`` seconds of timed runs are spent or would be by the next run
    (:func:`spent`; 0: no budget) or ``max_runs`` were made; never fewer than
    ``min(min_runs, max_runs)`` — or :data:`MIN_SLOW_TIMED_RUNS` when the budget is spent
    first. ``seed``: runs already timed (ms; the profiled runs of a model whose profiler costs
    nothing measurable, see :func:`profiled_are_timed`) that count as the first ones, and
    ``seed_s`` the seconds they took.

    Returns the run times (ms), why it stopped (``"interval"``, ``"budget"``, ``"max_runs"``,
    or ``"fixed"`` when neither target nor budget was set) and that said in words
    ("interval ±1.3 % after 37 runs"). Only ``run_once`` is inside the timed region; the
    interval is computed between runs, and only on a geometric schedule."""
    adaptive = target > 0 or budget_s > 0
    floor = min(min_runs, max_runs)
    times: list[float] = list(seed)[:max_runs]
    start = clock() - int(seed_s * 1e9)
    next_check = floor
    reason = "fixed" if not adaptive else "max_runs"
    slow_floor = min(MIN_SLOW_TIMED_RUNS, floor)
    if times and budget_s > 0 and len(times) >= slow_floor and spent(seed_s, times, budget_s):
        return times, "budget", stop_detail(times, "budget", budget_s)
    while len(times) < max_runs:
        t = clock()
        run_once()
        end = clock()
        times.append((end - t) / 1e6)
        n = len(times)
        if not adaptive or n < slow_floor:
            continue
        if target > 0 and n >= max(next_check, floor):
            next_check = n + max(1, n // 10)
            low, high, coverage = median_interval(times)
            half = relative_halfwidth(float(np.median(times)), low, high)
            if coverage >= CI_LEVEL and half <= target:
                reason = "interval"
                break
        if budget_s > 0 and spent((end - start) / 1e9, times, budget_s):
            reason = "budget"
            break
    return times, reason, stop_detail(times, reason, budget_s)


def spent(elapsed_s: float, times_ms: Sequence[float], budget_s: float) -> bool:
    """Whether a budget of ``budget_s`` is spent after ``elapsed_s``, or would be by one more
    run as long as the median so far: a run is not started that would end well past the
    budget (on a model whose run takes 2.5 s, a 10 s budget makes 4 runs, not 5 ending at
    12.5 s)."""
    if elapsed_s >= budget_s:
        return True
    if not times_ms or elapsed_s + 2 * times_ms[-1] / 1e3 <= budget_s:
        return False  # far from the end: no median needed (µs models make 1,000 runs)
    return elapsed_s + float(np.median(times_ms)) / 1e3 > budget_s


#: Shortest timed phase whose CPU share says anything: in a few ms one scheduler tick is most
#: of the difference between CPU and wall time.
MIN_CONTENTION_WINDOW_S = 0.1


def contention_note(cpu_s: float, wall_s: float, threads: int) -> str:
    """A note when the timed runs got less than 85 % of a core ("" otherwise, or with more than
    one intra-op thread, where CPU time is not one core's). Without spinning, one thread runs
    the whole model, so CPU time short of wall time is time spent waiting for a core that
    other processes held: such a session's times are inflated, and differ from another's."""
    if threads != 1 or wall_s < MIN_CONTENTION_WINDOW_S:
        return ""
    share = cpu_s / wall_s
    if share >= 0.85:
        return ""
    return (
        f"its timed runs got {100 * share:.0f} % of a core: other processes competed for the "
        "CPU, so these times are inflated (run it again when the machine is quieter)"
    )


def stop_detail(times: Sequence[float], reason: str, budget_s: float) -> str:
    """Why a configuration's timing stopped, in words, with its interval."""
    n = len(times)
    runs = f"{n} run{'s' if n != 1 else ''}"
    if not n:
        return "no timed runs"
    low, high, coverage = median_interval(times)
    half = pct(relative_halfwidth(float(np.median(times)), low, high))
    level = "" if coverage >= CI_LEVEL else f", {100 * coverage:.0f} % interval"
    if reason == "interval":
        return f"interval {half} after {runs}"
    if reason == "budget":
        return f"budget {budget_s:g} s spent after {runs} (interval {half}{level})"
    if reason == "max_runs":
        return f"maximum of {runs} reached (interval {half}{level})"
    return f"fixed {runs} (interval {half}{level})"


#: Share of the time budget the warm-up may spend, counting the first run (the one whose outputs
#: are kept), before it stops short of the warm-up runs asked for.
WARMUP_SHARE = 0.1


def warm_up(
    run_once: Callable[[], object],
    *,
    runs: int,
    budget_s: float,
    spent_s: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> int:
    """Warm-up runs: ``runs`` of them, or fewer once the warm-up has taken :data:`WARMUP_SHARE`
    of ``budget_s`` (0: no budget, all ``runs``); ``spent_s`` is what the first run took.
    Returns how many were made.

    A warm-up run only settles ORT's allocations and the caches; after the first run of a
    session that is done. On a model whose run takes seconds (a 3.6k-node TTS export: 1–5 s)
    three more warm-up runs cost as much as half the timed runs, and the median of the timed
    runs does not move with them: such a model's first timed run follows the first run."""
    limit = budget_s * WARMUP_SHARE if budget_s > 0 else math.inf
    start = clock() - spent_s
    made = 0
    while made < runs and clock() - start < limit:
        run_once()
        made += 1
    return made


#: What ONNX Runtime's profiler adds to a run per node, µs: medians of 5.7 (a MiniLM export) and
#: 8.7 (a YOLOv8n detector) measured, profiled against unprofiled sessions (bench_run.py
#: --profiler; bench/README.md); rounded up.
PROFILER_US_PER_NODE = 10.0
#: The profiler's share of a run below which profiled runs count as timed runs: under half the
#: ±5 % that two sessions of one configuration differ by (SESSION_NOISE), so no comparison can
#: see it.
PROFILER_NEGLIGIBLE = 0.02


def profiler_share(nodes: int, run_ms: float) -> float:
    """What the profiler adds to a run of ``run_ms`` of a model of ``nodes`` nodes, as a share
    of the run (:data:`PROFILER_US_PER_NODE`)."""
    return nodes * PROFILER_US_PER_NODE / 1e3 / run_ms if run_ms > 0 else math.inf


def profiled_are_timed(nodes: int, run_ms: float) -> bool:
    """Whether profiled runs of a model of ``nodes`` nodes whose run takes ``run_ms`` can count
    as timed runs: the profiler's cost (:func:`profiler_share`) is under 2 % of a run — a
    3.6k-node TTS export's 3 s run (1.2 %), not a 13 ms detector's (25 %). A model whose run
    takes seconds then spends its time budget once, not once profiled and once timed."""
    return nodes > 0 and profiler_share(nodes, run_ms) < PROFILER_NEGLIGIBLE


def profiled_budget_s(time_budget_s: float) -> float:
    """Seconds of profiled runs a configuration spends before it stops at
    :data:`MIN_PROFILED_RUNS` (0: no budget, all profiled runs). A quarter of the timing
    budget: profiled runs only apportion a run's time among nodes (the timed runs measure it),
    and each costs ~5 µs per node event more than a timed run plus ~5 KB of trace per event
    for the server to read."""
    return time_budget_s / 4 if time_budget_s > 0 else 0.0


#: How far apart two sessions of one configuration may land on the same machine, as a fraction
#: of the median: each session has its own memory layout, and on a shared host the other
#: processes move between sessions. Measured here (bench/bench_timing.py, docs/BENCHMARKS.md):
#: up to ±1.3 % on a 21 ms detector, ±5 % to ±11 % on 7–25 µs models, while each session's own
#: interval was ±0.4 % to ±2 %. An interval says nothing about that, so a comparison widens
#: each to at least this much before it calls two medians different.
SESSION_NOISE = 0.05
#: The floor for a session whose timed runs spanned less than :data:`SHORT_WINDOW_S`. This
#: host's speed moves in episodes of ~0.1–1 s: one session of a 0.3 ms model (8 MatMuls) read
#: 0.303 ms for a while, then 0.33–0.35 ms, within one process. A session timed in a few ms sits
#: inside one episode, so its interval is tight and its median is that episode's: of 30 pairs of
#: sessions of one configuration (6–100 runs each, 2–30 ms of timed runs), 5 differed by
#: 1.13–1.19× and were called different at ±5 %. ±10 % covers them (1.22× before a
#: difference is called).
SHORT_SESSION_NOISE = 0.10
#: Timed runs shorter than this (s) cannot average over the host's episodes.
SHORT_WINDOW_S = 0.1


#: The rule in words, as every page, report and CLI table says it.
NOISE_RULE = (
    f"the intervals overlap once each is at least ±{100 * SESSION_NOISE:g} % "
    f"(±{100 * SHORT_SESSION_NOISE:g} % for timed runs under {SHORT_WINDOW_S:g} s: "
    "two sessions of one configuration differ by that much on a shared machine)"
)


def session_noise(window_s: float) -> float:
    """The floor two sessions' medians are widened to, for timed runs that took ``window_s``
    seconds: :data:`SESSION_NOISE`, or :data:`SHORT_SESSION_NOISE` for a short window."""
    return SHORT_SESSION_NOISE if window_s < SHORT_WINDOW_S else SESSION_NOISE


#: The same for one node's time across the profiled runs of two sessions: a kernel of a few µs
#: moves with what ran before it and where its buffers landed. Measured on the detector (six
#: pairs of sessions of one configuration, ~950 node pairs per level): 3–4 node pairs beyond a
#: ±5 % floor, 1–4 beyond ±10 %, none beyond ±20 %.
NODE_SESSION_NOISE = 0.20
#: The smallest difference a comparison resolves, in ms: ONNX Runtime's profiler writes whole
#: µs, and ``sess.run``'s own overhead (a few µs) moves by about that much between sessions.
RESOLUTION_MS = 0.001


def noise_interval(
    median: float,
    low: float,
    high: float,
    resolution: float = RESOLUTION_MS,
    floor: float | None = None,
) -> tuple[float, float]:
    """The interval a comparison uses: the median's own, widened to at least ±``floor``
    (default :data:`SESSION_NOISE`) of the median and ±``resolution`` (in the median's unit)."""
    rel = SESSION_NOISE if floor is None else floor
    least = max(rel * abs(median), resolution)
    return min(low, median - least), max(high, median + least)


def within_noise(
    a: tuple[float, float, float],
    b: tuple[float, float, float],
    resolution: float = RESOLUTION_MS,
    floor: float | None = None,
) -> bool:
    """Whether two medians, each given as ``(median, low, high)``, are indistinguishable: their
    :func:`noise_interval` overlap.

    Why not a rank test (Mann–Whitney) on the runs: two configurations are timed one after the
    other, in different sessions, so their runs are not two samples of one process — the
    session's layout and the host's other load move every run of a session together. With
    hundreds of runs a rank test calls such a shift significant; on this machine it flagged 4
    to 8 of 10 pairs of sessions of the *same* configuration (bench/bench_timing.py). Overlap
    of two 95 % intervals is the stricter rule (about p < 0.006 for equal widths), and the
    session floor covers what no interval of one session can see."""
    la, ha = noise_interval(*a, resolution=resolution, floor=floor)
    lb, hb = noise_interval(*b, resolution=resolution, floor=floor)
    return la <= hb and lb <= ha


def ratio_interval(
    base_ms: Sequence[float], other_ms: Sequence[float], level: float = CI_LEVEL, n: int = 2000
) -> tuple[float, float]:
    """Bootstrap interval of median(other) / median(base) (fixed seed: reproducible)."""
    rng = np.random.default_rng(0)
    a, b = np.asarray(base_ms, np.float64), np.asarray(other_ms, np.float64)
    ma = np.median(rng.choice(a, (n, a.size)), axis=1)
    mb = np.median(rng.choice(b, (n, b.size)), axis=1)
    ratios = mb / np.where(ma > 0, ma, np.nan)
    lo, hi = np.nanpercentile(ratios, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)
