"""The chunked first-divergence loop both searches share (run/bisect.py): chunk growth,
progress, cancel and a failed run, on real runs of a five-node chain; and what a run does not
keep (max_output_bytes) is compared later or said to be skipped, never counted as agreeing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from inspector.limits import DEFAULT_LIMITS
from inspector.model.diff import diff_models
from inspector.run.analyses import bisect
from inspector.run.analyses.analysis import first_divergence
from inspector.run.analyses.bisect import Side, first_differing
from inspector.run.analyses.diff import _tensor_pairs, first_pair_divergence
from inspector.run.execute.prepare import PreparedModel, prepare
from inspector.run.execute.runner import run_matrix, run_prepared
from inspector.run.setup.config import Matrix, RunConfig
from tests.factories import model, vi
from tests.test_diff import X, chain, load

CONFIG = RunConfig(label="bisect")


@pytest.fixture
def sides() -> Iterator[tuple[list, PreparedModel, PreparedModel]]:
    """A's chain and B's, whose LeakyRelu (the third node, tensor h2) has another alpha."""
    a, b = load(chain(), "a.onnx"), load(chain(0.2), "b.onnx")
    pa, pb = prepare(a), prepare(b)
    try:
        yield _tensor_pairs(diff_models(a, b), pa.original.graph, pb.original.graph), pa, pb
    finally:
        pa.cleanup()
        pb.cleanup()


#: One tensor first, then two: each tensor is 4×8 float32 = 128 bytes.
GROWING_TO_TWO = replace(DEFAULT_LIMITS, divergence_chunk=1, divergence_chunk_bytes=256)


def side(prepared: PreparedModel, feeds=None) -> Side:  # type: ignore[no-untyped-def]
    return Side(prepared=prepared, config=CONFIG, feeds={"x": X} if feeds is None else feeds)


def search(pairs, a: Side, b: Side, *, atol=1e-6, cancel=None):  # type: ignore[no-untyped-def]
    """The search in chunks of one tensor, then two, and what it reported after each chunk
    that agreed; ``cancel`` is set at the first report."""
    heard: list[tuple[int, int]] = []

    def progress(done: int, of: int) -> None:
        heard.append((done, of))
        if cancel is not None:
            cancel.set()

    found = first_differing(
        pairs, a, b, atol=atol, rtol=0.0, limits=GROWING_TO_TWO, cancel=cancel, progress=progress
    )
    return found, heard


def test_the_first_differing_pair_in_a_later_chunk(sides):
    pairs, pa, pb = sides
    assert [p.a_tensor for p in pairs] == ["h0", "h1", "h2", "h3"]
    found, heard = search(pairs, side(pa), side(pb))
    # chunk [h0] agrees, chunk [h1, h2] holds the change: h3 is never looked at
    assert heard == [(1, 4)]
    assert found.pair is not None and found.pair.a_tensor == "h2" and found.checked == 3
    assert found.error is not None and found.error.max_abs > 0 and not found.cancelled


def test_one_model_against_itself_checks_every_pair(sides):
    pairs, pa, _ = sides
    found, heard = search(pairs, side(pa), side(pa), atol=0.0)
    assert heard == [(1, 4), (3, 4), (4, 4)]  # chunks of 1, 2, then the last one
    assert found.pair is None and found.checked == 4 and found.failure == ""


def test_cancel_stops_between_chunks(sides):
    pairs, pa, pb = sides
    found, heard = search(pairs, side(pa), side(pb), cancel=threading.Event())
    assert heard == [(1, 4)]
    assert found.cancelled and found.pair is None and found.checked == 1


def test_a_failed_run_ends_the_search_and_says_why(sides):
    pairs, pa, pb = sides
    found, heard = search(pairs, side(pa), side(pb, feeds={}))
    assert heard == [] and found.pair is None and found.checked == 0 and not found.cancelled
    assert found.failure.startswith("a marked run failed: bisect: ")
    assert "Required inputs (['x']) are missing" in found.failure


# --- Outputs over max_output_bytes -------------------------------------------------------------
#
# picodet_layout_cdla (1,493 nodes): its first 576 tensors are 9 MiB, all 1,489 are 1,000 MiB.
# A chunk of 913 marked tensors returned more than a run keeps (max_output_bytes): the reader
# refused what the worker kept (its .npy headers counted against the cap), and the tensors the
# worker did not keep were counted as checked without being compared.


def test_outputs_right_at_the_cap_are_read():
    """32 outputs of 128 bytes with max_output_bytes = 4,096: the worker keeps all of them, and
    the reader takes them, .npy headers (128 bytes each) and all."""
    outputs = [f"y{i}" for i in range(32)]
    nodes = [helper.make_node("Mul", ["x", "k"], [y]) for y in outputs]
    ks = [numpy_helper.from_array(np.array(2.0, np.float32), "k")]
    m = load(
        model(nodes, [vi("x", shape=[4, 8])], [vi(y, shape=[4, 8]) for y in outputs], ks), "cap"
    )
    limits = replace(DEFAULT_LIMITS, max_output_bytes=32 * X.nbytes)
    prepared = prepare(m)
    try:
        config = replace(CONFIG, warmup_runs=0, timed_runs=1, profiled_runs=0)
        r = run_prepared(prepared, config, {"x": X}, prepared.job_dir(), limits)
    finally:
        prepared.cleanup()
    assert r.ok, r.error
    assert [o.saved for o in r.outputs] == [True] * 32
    got = r.output_arrays()
    assert all(np.array_equal(got[y], 2 * X) for y in outputs)


def capped(alpha: float = 0.1, rows: int = 0) -> onnx.ModelProto:
    """x (4×8) → a0 → t1 (64×8: 2 KiB) → t2 (2 KiB) → big (512×8: 16 KiB) → s4 (rows
    ``rows``…``rows``+3 of big) → l5 (LeakyRelu ``alpha``) → y = l5 + a0. Every tensor but a0,
    s4, l5 and y is over a quarter of the cap the tests set (2,500 bytes)."""
    init = [
        numpy_helper.from_array(np.array([16, 1], np.int64), "reps16"),
        numpy_helper.from_array(np.array([8, 1], np.int64), "reps8"),
        numpy_helper.from_array(np.array([rows], np.int64), "start"),
        numpy_helper.from_array(np.array([rows + 4], np.int64), "end"),
        numpy_helper.from_array(np.array([0], np.int64), "axis"),
    ]
    nodes = [
        helper.make_node("Relu", ["x"], ["a0"], name="relu"),
        helper.make_node("Tile", ["a0", "reps16"], ["t1"], name="tile16"),
        helper.make_node("Sin", ["t1"], ["t2"], name="sin"),
        helper.make_node("Tile", ["t2", "reps8"], ["big"], name="tile8"),
        helper.make_node("Slice", ["big", "start", "end", "axis"], ["s4"], name="slice"),
        helper.make_node("LeakyRelu", ["s4"], ["l5"], name="leaky", alpha=alpha),
        helper.make_node("Add", ["l5", "a0"], ["y"], name="add"),
    ]
    return model(nodes, [vi("x", shape=[4, 8])], [vi("y", shape=[4, 8])], init)


#: y (128 bytes) leaves 2,372 of them: t1 or t2 fits alone, not both; big never fits.
CAPPED = replace(DEFAULT_LIMITS, max_output_bytes=2_500)


@pytest.fixture
def compared(monkeypatch) -> list[str]:
    """The tensors the search really compared, in order (every comparison goes through
    compare.agrees)."""
    seen: list[str] = []
    real = bisect.agrees

    def counting(ref, got, atol, rtol):  # type: ignore[no-untyped-def]
        seen.append(ref.shape)
        return real(ref, got, atol, rtol)

    monkeypatch.setattr(bisect, "agrees", counting)
    return seen


def test_first_divergence_compares_what_the_cap_held_back_and_skips_what_never_fits(compared):
    m = load(capped(), "capped")
    feeds = {"x": X}
    ref, cand = run_matrix(
        m,
        Matrix(
            tuple(
                RunConfig(label=label, opt_level="disable_all", timed_runs=1, profiled_runs=0)
                for label in ("ref", "cand")
            )
        ),
        feeds,
    )
    d = first_divergence(m, ref, cand, feeds, atol=0.0, rtol=0.0, limits=CAPPED)
    assert not d.found and d.candidate_tensors == 6
    # a0, t1, s4 in the first run (t2, l5 held back by the cap); t2, l5 in the second
    assert d.checked_tensors == len(compared) == 5
    assert [s for s in compared if s == (64, 8)] == [(64, 8), (64, 8)]
    assert d.skipped == (
        "1 tensor not compared (each alone is more than the 2,372 bytes a run keeps beside "
        "the graph outputs: max_output_bytes): big",
    )
    assert d.detail == "no intermediate tensor of the 5 compared diverges; outputs agree too"


def test_a_pair_that_differs_waits_for_the_pairs_before_it(compared):
    """B's Slice takes other rows: s4 differs in the first run, while t2, before it, was held
    back by the cap. s4 is the answer once t2 is compared (and agrees); l5 never is."""
    a, b = load(capped(), "a.onnx"), load(capped(rows=1), "b.onnx")
    pa, pb = prepare(a), prepare(b)
    try:
        found = first_pair_divergence(
            diff_models(a, b), pa, pb, CONFIG, {"x": X}, {"x": X}, 0.0, 0.0, CAPPED
        )
    finally:
        pa.cleanup()
        pb.cleanup()
    assert found.found and found.a_tensor == "s4" and found.error is not None
    assert found.checked == len(compared) == 4  # a0, t1, s4; then t2
    assert found.candidates == 6
    assert found.skipped == (
        "1 tensor not compared (each alone is more than the 2,372 bytes a run keeps beside "
        "the graph outputs: max_output_bytes): big",
    )


def test_a_search_that_agrees_everywhere_says_what_it_did_not_compare(sides, compared):
    """The chain against itself, with a cap that keeps only the graph output: nothing is
    compared, and the search does not say that nothing differs."""
    pairs, pa, _ = sides
    lim = replace(GROWING_TO_TWO, max_output_bytes=X.nbytes)
    found = first_differing(pairs, side(pa), side(pa), atol=0.0, rtol=0.0, limits=lim)
    assert found.pair is None and found.checked == len(compared) == 0
    assert [p.a_tensor for p, _ in found.skipped] == ["h0", "h1", "h2", "h3"]
    assert found.notes() == (
        "4 tensors not compared (each alone is more than the 0 bytes a run keeps beside the "
        "graph outputs: max_output_bytes): h0, h1, h2, h3",
    )


# --- The search's pre-check: compare.agrees is delta's verdict without its statistics --------


def _cases() -> list:  # type: ignore[type-arg]
    import ml_dtypes

    rng = np.random.default_rng(3)
    r = rng.standard_normal(1000).astype(np.float32)
    tol = 1e-5 + 1e-3 * np.abs(r)
    edge = (r + tol * rng.choice([0.999, 1.001], 1000)).astype(np.float32)
    inf, nan = np.float32(np.inf), np.float32(np.nan)
    f = lambda *v: np.array(v, np.float32)  # noqa: E731
    return [
        pytest.param(r, r.copy(), id="equal"),
        pytest.param(r, (r * (1 + 1e-4)).astype(np.float32), id="within"),
        pytest.param(r, edge, id="at-the-tolerance"),
        pytest.param(r, np.where(np.arange(1000) == 7, r + 2 * tol, r), id="one-outside"),
        pytest.param(f(1, nan, 3), f(1, nan, 3), id="nan-nan"),
        pytest.param(f(1, nan, 3), f(1, 2, 3), id="nan-number"),
        pytest.param(f(1, 2, 3), f(1, nan, 3), id="number-nan"),
        pytest.param(f(1, nan), f(1, inf), id="nan-inf"),
        pytest.param(f(1, inf, -inf), f(1, inf, -inf), id="inf-inf"),
        pytest.param(f(1, inf), f(1, -inf), id="inf-minus-inf"),
        pytest.param(f(1, inf), f(1, 3e38), id="inf-finite"),
        pytest.param(f(1, 3e38), f(1, inf), id="finite-inf"),
        pytest.param(f(3e38, -3e38), f(-3e38, 3e38), id="overflowing-error"),
        pytest.param(np.array([1 + 1j, 2j]), np.array([1 - 1j, -2j]), id="complex-magnitudes"),
        pytest.param(np.array([1 + 1j, 2j]), np.array([1 + 2j, 2j]), id="complex-differs"),
        pytest.param(np.arange(5, dtype=np.int32), np.arange(5, dtype=np.int32), id="int-equal"),
        pytest.param(np.arange(5), np.arange(5) + (np.arange(5) == 4), id="int-differs"),
        pytest.param(np.array([True, False]), np.array([True, True]), id="bool"),
        pytest.param(r.astype(ml_dtypes.bfloat16), edge.astype(ml_dtypes.bfloat16), id="bf16"),
        pytest.param(np.array(["a", "b"]), np.array(["a", "b"]), id="text-equal"),
        pytest.param(np.array(["a", "b"]), np.array(["a", "c"]), id="text-differs"),
        pytest.param(r, r[:10], id="shape"),
        pytest.param(r, r.astype(np.float64), id="dtype"),
        pytest.param(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), id="empty"),
        pytest.param(np.float32(2.0), np.float32(2.5), id="scalar"),
    ]


@pytest.mark.parametrize("tolerances", [(1e-5, 1e-3), (0.0, 0.0), (1.0, 0.0)], ids=str)
@pytest.mark.parametrize(("ref", "got"), _cases())
def test_agrees_is_deltas_verdict(ref, got, tolerances):
    from inspector.run.analyses.compare import agrees, delta

    atol, rtol = tolerances
    d = delta("t", np.asarray(ref), np.asarray(got), atol, rtol)
    verdict = d.status == "ok" and bool(d.allclose)
    assert agrees(np.asarray(ref), np.asarray(got), atol, rtol) == verdict
