"""Issue 23 (timing noise shown as signal) and issue 27 (adaptive repetition): every latency
carries its spread, differences within noise are said to be, and timing stops once the median
is known or its time budget is spent. Behaviour only: no test asserts a wall time."""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector import load_model
from inspector.cli import main
from inspector.run.analyses.compare import NodeTimingRow, node_changes, node_timing_table
from inspector.run.execute.runner import run_matrix
from inspector.run.readout import timing
from inspector.run.readout.results import Latency, RunResult, failed, latency_delta
from inspector.run.readout.summary import RunSummary
from inspector.run.setup.config import ConfigError, Matrix, RunConfig
from tests.conftest import ROOT, SAMPLES
from tests.factories import model, vi

GOLDEN = ROOT / "tests" / "golden"
#: A bundle written by the code before intervals and adaptive timing existed (a CPU run of
#: ep_fallback_det.onnx, 3 timed runs, 1 profiled): it must still open.
OLD_BUNDLE = GOLDEN / "bundle-before-timing-spread.zip"


def _latency(runs: list[float], **kw: object) -> Latency:
    a = np.asarray(runs)
    return Latency(
        median_ms=float(np.median(a)),
        p10_ms=float(np.percentile(a, 10)),
        p90_ms=float(np.percentile(a, 90)),
        p99_ms=float(np.percentile(a, 99)),
        mean_ms=float(a.mean()),
        std_ms=float(a.std()),
        min_ms=float(a.min()),
        runs_ms=tuple(runs),
        **kw,  # type: ignore[arg-type]
    )


def _result(label: str, runs: list[float]) -> RunResult:
    return replace(failed(RunConfig(label=label), "", ""), status="ok", latency=_latency(runs))


class TestMedianInterval:
    @pytest.mark.parametrize("n", [6, 7, 10, 20, 37, 100, 999, 1000])
    def test_ranks_are_the_widest_binomial_tails_within_the_level(self, n):
        lo, hi, coverage = timing.median_ranks(n)
        assert lo + hi == n - 1 and 0 <= lo < hi
        tail = sum(math.comb(n, k) for k in range(lo + 1)) / 2**n
        assert coverage == pytest.approx(1 - 2 * tail) and coverage >= 0.95
        # One rank further in would drop below 95 %.
        assert 1 - 2 * (tail + math.comb(n, lo + 1) / 2**n) < 0.95

    @pytest.mark.parametrize(("n", "coverage"), [(1, 0.0), (2, 0.5), (3, 0.75), (5, 0.9375)])
    def test_too_few_runs_give_min_to_max_and_say_how_sure(self, n, coverage):
        assert timing.median_ranks(n) == (0, n - 1, coverage)

    def test_large_samples_use_the_normal_approximation_without_a_jump(self):
        exact, approx = timing.median_ranks(1000), timing.median_ranks(1001)
        assert abs(exact[0] - approx[0]) <= 1 and approx[2] == 0.95

    def test_the_interval_holds_the_true_median_about_95_percent_of_the_time(self):
        rng = np.random.default_rng(3)
        hits = 0
        for _ in range(2000):  # skewed like run times: log-normal, true median 1.0
            low, high, _ = timing.median_interval(rng.lognormal(0.0, 0.5, 20))
            hits += low <= 1.0 <= high
        assert 0.93 <= hits / 2000 <= 0.99


class FakeClock:
    """Each run takes the next duration (seconds); the clock only moves when a run runs."""

    def __init__(self, durations: list[float]) -> None:
        self.now, self.durations, self.runs = 0, iter(durations), 0

    def clock(self) -> int:
        return self.now

    def run(self) -> None:
        self.runs += 1
        self.now += int(next(self.durations) * 1e9)


def _noisy(n: int, base: float = 0.01) -> list[float]:
    """Run times that never give a tight interval: alternately 1× and 2× ``base``."""
    return [base * (1 + k % 2) for k in range(n)]


class TestStopping:
    def test_a_steady_model_stops_at_the_target_after_the_fewest_runs(self):
        c = FakeClock([0.01] * 1000)
        times, stop, detail = timing.timed_runs(
            c.run, max_runs=100, budget_s=10, target=0.02, clock=c.clock
        )
        assert stop == "interval" and len(times) == timing.MIN_TIMED_RUNS == c.runs
        assert detail == f"interval ±0.0 % after {timing.MIN_TIMED_RUNS} runs"

    def test_a_noisy_model_stops_when_its_budget_is_spent(self):
        c = FakeClock(_noisy(1000, base=0.5))
        times, stop, detail = timing.timed_runs(
            c.run, max_runs=1000, budget_s=10, target=0.02, clock=c.clock
        )
        assert stop == "budget" and timing.MIN_TIMED_RUNS <= len(times) < 1000
        # It stopped once one more run as long as the median would end past the budget, and
        # not before (a run longer than the median may still end past it).
        assert sum(times) + np.median(times) > 10_000
        assert sum(times[:-1]) + np.median(times[:-1]) <= 10_000
        assert detail.startswith(f"budget 10 s spent after {len(times)} runs (interval ±")

    def test_runs_that_spend_the_budget_before_six_stop_at_three_and_say_how_sure(self):
        """A model whose run takes seconds: three runs (min..max holds the median 75 % of the
        time, which the detail says) rather than six that take twice the budget."""
        c = FakeClock(_noisy(100, base=5.0))
        times, stop, detail = timing.timed_runs(
            c.run, max_runs=100, budget_s=1, target=0.02, clock=c.clock
        )
        assert stop == "budget" and len(times) == timing.MIN_SLOW_TIMED_RUNS == 3
        assert "75 % interval" in detail

    def test_runs_already_timed_count_first(self):
        """The profiled runs of a slow model (timing.profiled_are_timed) seed the loop: a
        budget they spent stops it at once; otherwise it goes on from them."""
        c = FakeClock([2.0] * 10)
        seed = [2000.0, 2100.0, 1900.0]
        times, stop, _ = timing.timed_runs(
            c.run, max_runs=100, budget_s=5, target=0.02, clock=c.clock, seed=seed, seed_s=6.0
        )
        assert (times, stop, c.runs) == (seed, "budget", 0)
        times, stop, _ = timing.timed_runs(
            c.run, max_runs=100, budget_s=10, target=0.02, clock=c.clock, seed=seed, seed_s=6.0
        )
        # 6 s + a 2 s run = 8 s; 8 + the median 2 s is not past 10 s: one more, then 10 s.
        assert times[:3] == seed and c.runs == 2 and len(times) == 5 and stop == "budget"

    @pytest.mark.parametrize(
        ("nodes", "run_ms", "timed"),
        [(3614, 3000.0, True), (323, 13.0, False), (385, 3.5, False), (0, 3000.0, False)],
        ids=["tts-3.6k-nodes", "detector", "minilm", "no-nodes"],
    )
    def test_profiled_runs_count_as_timed_only_where_the_profiler_costs_under_2_percent(
        self, nodes, run_ms, timed
    ):
        assert timing.profiled_are_timed(nodes, run_ms) is timed

    def test_never_more_than_the_maximum(self):
        c = FakeClock(_noisy(100))
        times, stop, detail = timing.timed_runs(
            c.run, max_runs=8, budget_s=100, target=0.001, clock=c.clock
        )
        assert stop == "max_runs" and len(times) == 8
        assert detail.startswith("maximum of 8 runs reached (interval ±")

    def test_a_maximum_below_the_minimum_is_kept(self):
        c = FakeClock([0.01] * 10)
        times, stop, detail = timing.timed_runs(
            c.run, max_runs=3, budget_s=10, target=0.02, clock=c.clock
        )
        assert len(times) == 3 and stop == "max_runs" and "75 % interval" in detail

    def test_no_target_and_no_budget_make_exactly_the_runs_asked(self):
        c = FakeClock([0.01] * 50)
        times, stop, detail = timing.timed_runs(
            c.run, max_runs=20, budget_s=0, target=0, clock=c.clock
        )
        assert stop == "fixed" and len(times) == 20 and detail.startswith("fixed 20 runs")

    def test_the_interval_is_checked_on_a_geometric_schedule(self):
        """Cheap on µs models: the checks between runs grow ~10 % apart."""
        checks = []
        real = timing.median_interval

        def counting(samples, level=timing.CI_LEVEL):  # type: ignore[no-untyped-def]
            checks.append(len(samples))
            return real(samples, level)

        c = FakeClock(_noisy(1000))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(timing, "median_interval", counting)
            timing.timed_runs(c.run, max_runs=1000, budget_s=0, target=1e-6, clock=c.clock)
        assert checks[0] == timing.MIN_TIMED_RUNS and len(checks) < 80  # not one per run


class TestWithinNoise:
    def test_the_same_runs_are_within_noise(self):
        runs = list(np.random.default_rng(0).lognormal(0.0, 0.2, 40))
        vs = latency_delta(_result("a", runs), _result("b", runs))
        assert vs is not None and vs.within_noise and vs.verdict == "within noise"
        assert vs.ratio == 1.0 and vs.ratio_ci[0] <= 1.0 <= vs.ratio_ci[1]

    def test_a_shift_below_the_session_floor_is_within_noise_even_with_tight_intervals(self):
        """Two sessions of one configuration land a few per cent apart (layout, other load):
        a 3 % shift between two very tight intervals is not called a difference."""
        a = _result("a", [10.0 + 0.001 * k for k in range(50)])
        b = _result("b", [10.3 + 0.001 * k for k in range(50)])
        vs = latency_delta(a, b)
        assert vs is not None and vs.within_noise

    def test_sessions_timed_for_a_few_ms_get_the_wider_floor(self):
        """A session timed in a few ms sits inside one of the host's speed episodes: two such
        sessions of one configuration were measured 1.19× apart (timing.SHORT_SESSION_NOISE).
        The same shift over a second of timed runs each is a difference."""
        fast = [0.300 + 1e-5 * k for k in range(30)]
        slow = [1.18 * x for x in fast]
        for window, called in ((0.009, False), (1.0, True)):
            a, b = _result("a", fast), _result("b", slow)
            assert a.latency is not None and b.latency is not None
            a = replace(a, latency=replace(a.latency, timed_s=window))
            b = replace(b, latency=replace(b.latency, timed_s=window))
            vs = latency_delta(a, b)
            assert vs is not None and vs.within_noise is not called, (window, vs)
        # A record from before timed_s: its runs' sum is its window (9 ms here: short).
        vs = latency_delta(_result("a", fast), _result("b", slow))
        assert vs is not None and vs.within_noise

    def test_a_real_difference_is_named_with_its_direction(self):
        runs = [10.0 + 0.01 * k for k in range(30)]
        a = _result("a", runs)
        slow = latency_delta(a, _result("b", [1.3 * x for x in runs]))
        fast = latency_delta(a, _result("c", [x / 2 for x in runs]))
        assert slow is not None and not slow.within_noise and slow.verdict == "1.30× slower"
        assert fast is not None and not fast.within_noise and fast.verdict == "2.00× faster"

    def test_the_vs_reference_column_states_every_speed_in_the_same_words(self):
        """A column held "0.97× · within noise" beside "2.00× faster": one a ratio of times,
        the other of speeds. Every row now says faster or slower with a factor of at least 1,
        within noise or not."""
        runs = [10.0 + 0.01 * k for k in range(30)]
        rows = RunSummary.of(
            [
                _result("a", runs),
                _result("b", [0.97 * x for x in runs]),
                _result("c", [1.02 * x for x in runs]),
                _result("d", [x / 2 for x in runs]),
            ]
        ).rows
        assert [r.versus for r in rows] == [
            "",
            "within noise · medians 1.03× faster",
            "within noise · medians 1.02× slower",
            "2.00× faster",
        ]

    def test_a_session_that_waited_for_a_core_is_not_held_against_the_other(self):
        """One thread, 30 % of its time waiting for a core: 1.3× slower is what it waited."""
        runs = [10.0 + 0.001 * k for k in range(50)]
        a = _result("a", runs)
        slow = _result("b", [1.3 * x for x in runs])
        assert slow.latency is not None
        waited = replace(slow, latency=replace(slow.latency, timed_s=0.65, cpu_s=0.45))
        vs = latency_delta(a, waited)
        assert vs is not None and vs.within_noise and "b waited for a core" in vs.verdict
        busy = replace(slow, latency=replace(slow.latency, timed_s=0.65, cpu_s=0.65))
        assert not latency_delta(a, busy).within_noise  # type: ignore[union-attr]
        short = replace(slow, latency=replace(slow.latency, timed_s=0.01, cpu_s=0.005))
        assert not latency_delta(a, short).within_noise  # type: ignore[union-attr]

    def test_the_worker_notes_contention_only_where_it_can_tell(self):
        assert "got 60 % of a core" in timing.contention_note(0.6, 1.0, threads=1)
        assert timing.contention_note(0.95, 1.0, threads=1) == ""
        assert timing.contention_note(0.6, 1.0, threads=4) == ""  # CPU time is not one core's
        assert timing.contention_note(0.001, 0.002, threads=1) == ""  # one scheduler tick

    def test_no_verdict_without_a_latency(self):
        a = _result("a", [1.0] * 6)
        assert latency_delta(a, failed(RunConfig(label="x"), "crash", "boom")) is None


class TestLatencyRecord:
    def test_interval_fields_are_filled_from_the_runs_and_ordered(self):
        lat = _latency([3.0, 1.0, 2.0, 5.0, 4.0, 2.5, 3.5])
        assert lat.ci_low_ms is not None and lat.ci_high_ms is not None
        assert lat.ci_low_ms <= lat.median_ms <= lat.ci_high_ms
        assert lat.ci_level is not None and lat.ci_level >= 0.95
        assert lat.cv == pytest.approx(lat.std_ms / lat.mean_ms)
        assert lat.spread.startswith("±") and "7 runs" in lat.spread

    def test_given_fields_are_kept(self):
        lat = _latency([1.0] * 6, ci_low_ms=0.5, ci_high_ms=2.0, ci_level=0.9, stop="budget")
        assert lat.interval == (0.5, 2.0) and lat.ci_level == 0.9 and lat.stop == "budget"


class TestNodeChanges:
    @staticmethod
    def _row(name: str, times, lows, highs, runtime=False) -> NodeTimingRow:  # type: ignore[no-untyped-def]
        return NodeTimingRow(
            node_id="" if runtime else f"main:{name}",
            node=name,
            op_type="Conv",
            times_us=tuple(times),
            eps=("CPU", "CPU"),
            label=name,
            runtime=runtime,
            lows_us=tuple(lows),
            highs_us=tuple(highs),
        )

    def test_within_noise_differences_are_never_ranked_as_regressions(self):
        rows = [
            self._row("jitter", (100.0, 115.0), (98.0, 113.0), (102.0, 117.0)),  # 15 %: noise
            self._row("slower", (50.0, 80.0), (49.0, 78.0), (51.0, 82.0)),
            self._row("faster", (90.0, 40.0), (88.0, 39.0), (92.0, 41.0)),
            self._row("tiny", (1.0, 2.0), (1.0, 2.0), (1.0, 2.0)),  # the profiler's 1 µs
            self._row("old", (10.0, 30.0), (None, None), (None, None)),  # no spread recorded
            # ReorderOutput_token_238 names another Reorder in the next session: not judged.
            self._row("token", (7.0, 24.0), (7.0, 23.0), (8.0, 37.0), runtime=True),
        ]
        changes = node_changes(rows)
        assert [c.label for c in changes if not c.within_noise] == ["slower", "faster"]
        assert [c.label for c in changes[:2]] == ["slower", "faster"]  # regressions first
        by = {c.label: c for c in changes}
        assert by["jitter"].within_noise and by["tiny"].within_noise
        assert by["old"].within_noise and not by["old"].judged
        assert by["token"].within_noise and not by["token"].judged

    def test_a_real_run_twice_has_node_intervals_and_no_change_beyond_noise_on_most(self):
        m = load_model(SAMPLES / "cnn_conv_bn_relu.onnx")
        config = RunConfig(opt_level="all", warmup_runs=1, timed_runs=6, profiled_runs=5)
        feeds = {"image": np.random.default_rng(0).random((1, 3, 32, 32), np.float32)}
        results = run_matrix(
            m, Matrix((replace(config, label="a"), replace(config, label="b"))), feeds
        )
        assert all(r.ok for r in results), [r.error for r in results]
        for t in results[0].profile.nodes:
            assert t.ci_low_us is not None and t.ci_high_us is not None
            assert t.ci_low_us <= t.median_us <= t.ci_high_us and t.cv is not None
        _, rows = node_timing_table(results)
        assert all(r.interval(0) for r in rows if r.times_us[0] is not None)
        changes = node_changes(rows)
        assert changes and all(c.judged for c in changes if c.node_id)


def _matmul_chain(links: int = 8, d: int = 128) -> bytes:
    """~0.3 ms of steady compute here (8 MatMuls of 128×128: not µs-scale noise, but timed in
    a few ms, so its sessions get the short-window floor)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array((rng.standard_normal((d, d)) / d**0.5).astype(np.float32), f"w{i}")
        for i in range(links)
    ]
    nodes = [
        helper.make_node("MatMul", ["x" if i == 0 else f"h{i}", f"w{i}"], [f"h{i + 1}"])
        for i in range(links)
    ]
    nodes.append(helper.make_node("Identity", [f"h{links}"], ["y"]))
    proto = model(nodes, [vi("x", TensorProto.FLOAT, [d, d])], [vi("y")], inits)
    return proto.SerializeToString()


class TestWorker:
    """The loop runs in the worker: what it made and why it stopped come back in the record."""

    @pytest.fixture(scope="class")
    def chain(self):  # type: ignore[no-untyped-def]
        m = load_model(_matmul_chain(), {}, name="chain.onnx")
        return m, {"x": np.random.default_rng(1).random((128, 128), np.float32)}

    def test_defaults_stop_on_the_interval_or_the_budget_within_the_run_bounds(self, chain):
        m, feeds = chain
        (r,) = run_matrix(m, Matrix((RunConfig(opt_level="all", profiled_runs=0),)), feeds)
        assert r.ok, r.error
        lat = r.latency
        assert lat.stop in ("interval", "budget", "max_runs")
        assert timing.MIN_TIMED_RUNS <= len(lat.runs_ms) <= r.config.timed_runs
        assert lat.ci_low_ms <= lat.median_ms <= lat.ci_high_ms
        assert f"{len(lat.runs_ms)} runs" in lat.stop_detail
        assert lat.timed_s is not None and lat.cpu_s is not None

    def test_a_spent_budget_stops_it_and_says_so(self, chain):
        m, feeds = chain
        config = RunConfig(timed_runs=1000, time_budget_s=0.001, target_ci_pct=0, profiled_runs=0)
        (r,) = run_matrix(m, Matrix((config,)), feeds)
        assert r.ok, r.error
        assert r.latency.stop == "budget" and len(r.latency.runs_ms) == timing.MIN_SLOW_TIMED_RUNS
        assert r.latency.stop_detail.startswith("budget 0.001 s spent after 3 runs")

    def test_fixed_runs_when_target_and_budget_are_off(self, chain):
        m, feeds = chain
        config = RunConfig(timed_runs=7, time_budget_s=0, target_ci_pct=0, profiled_runs=0)
        (r,) = run_matrix(m, Matrix((config,)), feeds)
        assert r.latency.stop == "fixed" and len(r.latency.runs_ms) == 7

    def test_profiled_runs_stop_at_three_once_their_budget_is_spent(self, chain):
        m, feeds = chain
        config = RunConfig(timed_runs=6, time_budget_s=0.001, profiled_runs=10)
        (r,) = run_matrix(m, Matrix((config,)), feeds)
        assert r.ok, r.error
        assert r.profile is not None and r.profile.runs == timing.MIN_PROFILED_RUNS
        assert any("profiled 3 of 10 runs" in n for n in r.notes)

    def test_a_slow_models_profiled_runs_are_its_first_timed_runs(self):
        """9 nodes whose run takes tens of ms: the profiler's ~10 µs a node is under 2 % of a
        run, so the one session's first run is its first profiled run and the profiled runs
        count as timed runs (the budget they spent stops timing at once); the note says so and
        the profile holds all three."""
        m = load_model(_matmul_chain(links=8, d=512), {}, name="slow.onnx")
        feeds = {"x": np.random.default_rng(1).random((512, 512), np.float32)}
        config = RunConfig(
            intra_op_threads=1, timed_runs=50, profiled_runs=3, time_budget_s=0.01, target_ci_pct=0
        )
        (r,) = run_matrix(m, Matrix((config,)), feeds)
        assert r.ok, r.error
        said = "the first run and the 2 profiled runs after it count as timed runs"
        assert any(said in n for n in r.notes), r.notes
        assert r.profile is not None and r.profile.runs == 3
        assert r.latency is not None and len(r.latency.runs_ms) == 3 and r.latency.stop == "budget"
        # The profile's runs are the timed ones: their medians agree.
        assert r.profile.run_median_us / 1e3 == pytest.approx(r.latency.median_ms, rel=0.25)

    def test_a_fast_models_timed_runs_follow_its_profiled_runs_unprofiled(self, chain):
        m, feeds = chain
        config = RunConfig(timed_runs=20, profiled_runs=3, time_budget_s=0, target_ci_pct=0)
        (r,) = run_matrix(m, Matrix((config,)), feeds)
        assert r.ok and r.profile is not None and r.profile.runs == 3
        assert len(r.latency.runs_ms) == 20 and not any("count as timed" in n for n in r.notes)

    def test_two_identical_configurations_are_within_noise(self, chain):
        m, feeds = chain
        config = RunConfig(opt_level="all", profiled_runs=0)
        results = run_matrix(
            m, Matrix((replace(config, label="a"), replace(config, label="b"))), feeds
        )
        vs = latency_delta(*results)
        assert vs is not None and vs.within_noise, (vs, [r.notes for r in results])


class TestConfig:
    @pytest.mark.parametrize(
        ("setting", "message"),
        [
            ({"time_budget_s": -1}, "time_budget_s must be ≥ 0"),
            ({"time_budget_s": float("nan")}, "time_budget_s must be ≥ 0"),
            ({"target_ci_pct": 101}, "target_ci_pct must be between 0 and 100"),
            ({"target_ci_pct": "2"}, "target_ci_pct must be a number"),
            ({"time_budget_s": 10**6}, "over the limit max_time_budget_s"),
        ],
        ids=["negative", "nan", "target", "not-a-number", "over-limit"],
    )
    def test_bad_values_are_refused_naming_the_setting(self, setting, message):
        with pytest.raises(ConfigError, match=message):
            RunConfig(**setting)

    def test_the_worker_gets_the_target_as_a_fraction(self):
        from inspector.run.execute.protocol import job_config

        cfg = job_config(RunConfig(time_budget_s=3, target_ci_pct=1.5))
        assert cfg["time_budget_s"] == 3.0 and cfg["target_ci"] == pytest.approx(0.015)


class TestBundles:
    def test_a_bundle_written_before_intervals_opens_with_them(self):
        from inspector.bundle import read_bundle

        b = read_bundle(OLD_BUNDLE.read_bytes())
        manifest = json.loads(zipfile.ZipFile(OLD_BUNDLE).read("manifest.json"))
        assert "ci_low_ms" not in manifest["results"][0]["latency"]  # truly the old format
        assert "time_budget_s" not in manifest["results"][0]["config"]
        assert len(b.results) == 2  # the reference and CPU · all
        for r in b.results:
            lat = r.latency
            assert lat.ci_low_ms <= lat.median_ms <= lat.ci_high_ms and lat.stop == ""
            assert r.config.timed_runs == 3 and r.config.time_budget_s == 10.0
            assert all(t.ci_low_us is None for t in r.profile.nodes)
        vs = latency_delta(*b.results)  # compared as today's, from the runs it kept
        assert vs is not None and vs.verdict

    def test_a_bundle_without_the_new_fields_opens(self):
        """The same as above, built here: today's bundle with every new field removed."""
        from inspector.bundle import read_bundle, write_bundle
        from tests.test_bundle import _manifest

        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        feeds = {"x": np.random.default_rng(0).standard_normal((2, 4, 4)).astype(np.float32)}
        results = run_matrix(m, Matrix((RunConfig(timed_runs=6, profiled_runs=2),)), feeds)
        new = ("ci_low_ms", "ci_high_ms", "ci_level", "cv", "stop", "stop_detail")

        def strip(manifest):  # type: ignore[no-untyped-def]
            for r in manifest["results"]:
                for key in (*new, "timed_s", "cpu_s"):
                    r["latency"].pop(key)
                for key in ("time_budget_s", "target_ci_pct"):
                    r["config"].pop(key)
                for t in r["profile"]["nodes"]:
                    for key in ("ci_low_us", "ci_high_us", "ci_level", "cv"):
                        t.pop(key)

        back = read_bundle(_manifest(write_bundle(m, results, feeds), strip)).results[0]
        assert back.latency.median_ms == results[0].latency.median_ms
        assert back.latency.interval == results[0].latency.interval  # recomputed, the same
        assert back.latency.stop == "" and back.config.target_ci_pct == 2.0

    def test_todays_bundle_round_trips_every_timing_field(self):
        from inspector.bundle import read_bundle, write_bundle

        m = load_model(SAMPLES / "ep_fallback_det.onnx")
        feeds = {"x": np.random.default_rng(0).standard_normal((2, 4, 4)).astype(np.float32)}
        config = RunConfig(timed_runs=6, profiled_runs=2, time_budget_s=2.5, target_ci_pct=1)
        results = run_matrix(m, Matrix((config,)), feeds)
        back = read_bundle(write_bundle(m, results, feeds)).results
        assert back == results and back[0].latency.stop_detail


class TestCli:
    def test_run_json_and_table_carry_the_spread_and_the_stop(self, capsys, tmp_path):
        model = str(SAMPLES / "cnn_conv_bn_relu.onnx")
        argv = ["run", model, "--level", "all", "--profiled-runs", "0", "--warmup", "1"]
        assert main([*argv, "--runs", "40", "--time-budget", "5", "--target-ci", "3"]) == 0
        out = capsys.readouterr().out
        assert "95% CI" in out and "vs ref" in out and "timing (stopped when" in out
        assert main([*argv, "--runs", "8", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        ref, cand = doc["summary"]
        for row in (ref, cand):
            low, high = row["ci_ms"]
            assert low <= row["median_ms"] <= high and 6 <= row["runs"] <= 8 and row["stop"]
        assert "vs_ref" not in ref and isinstance(cand["vs_ref"]["within_noise"], bool)
        assert doc["results"][1]["config"]["target_ci_pct"] == 2.0
        lat = doc["results"][1]["latency"]
        assert lat["ci_low_ms"] <= lat["median_ms"] <= lat["ci_high_ms"] and lat["stop"]

    def test_the_flags_reach_the_configuration(self, capsys):
        from inspector.cli import _parser
        from inspector.run.setup.request import plan_from_args

        args = _parser().parse_args(
            ["run", "m.onnx", "--runs", "50", "--time-budget", "2.5", "--target-ci", "1"]
        )
        base = plan_from_args(args).base()
        assert (base.timed_runs, base.time_budget_s, base.target_ci_pct) == (50, 2.5, 1.0)

    def test_compare_says_within_noise_and_lists_node_changes(self, capsys):
        model = str(SAMPLES / "cnn_conv_bn_relu.onnx")
        argv = ["compare", model, "--ref", "cpu@all", "--cand", "cpu@all", "--runs", "20"]
        assert main([*argv, "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert isinstance(doc["latency"]["within_noise"], bool) and doc["latency"]["verdict"]
        assert all("within_noise" in c for c in doc["node_changes"])
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "candidate / reference:" in out and "Per-node changes beyond noise" in out


def test_the_old_bundle_fixture_is_what_the_old_code_wrote():
    """Guard against regenerating the fixture with today's code by mistake."""
    names = zipfile.ZipFile(io.BytesIO(OLD_BUNDLE.read_bytes())).namelist()
    assert "manifest.json" in names and Path(OLD_BUNDLE).stat().st_size < 20_000
