"""The chunked first-divergence loop both searches share (run/bisect.py): chunk growth,
progress, cancel and a failed run, on real runs of a five-node chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from inspector.limits import DEFAULT_LIMITS
from inspector.model.diff import diff_models
from inspector.run.bisect import Side, first_differing
from inspector.run.config import RunConfig
from inspector.run.diff import _tensor_pairs
from inspector.run.prepare import PreparedModel, prepare
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
