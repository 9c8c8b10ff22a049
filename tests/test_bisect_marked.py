"""What makes a first-divergence search's rounds cheap (run/analyses/bisect.py, issue 27): the
marked model is the model's own bytes plus a tail naming the chunk's outputs, rewritten per
chunk; both sides run side by side when their threads fit the cores; the marked files go when
the search ends; a chunk takes up to the bytes a run keeps. The answer is the one a search
with one run after the other gives."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest

from inspector import load_model
from inspector.limits import DEFAULT_LIMITS, MiB
from inspector.model.diff import diff_models
from inspector.run.analyses import bisect
from inspector.run.analyses.bisect import Side, first_differing, next_chunk
from inspector.run.analyses.diff import _tensor_pairs
from inspector.run.execute.prepare import prepare
from inspector.run.execute.runner import run_prepared
from inspector.run.setup.config import RunConfig
from tests.test_bisect import GROWING_TO_TWO
from tests.test_diff import X, chain, load

ONE_RUN = RunConfig(label="marked", warmup_runs=0, timed_runs=1, profiled_runs=0)


@pytest.mark.parametrize("external", [False, True], ids=["inline", "external-data"])
def test_a_marked_file_is_the_model_with_the_chunks_outputs_after_its_own(tmp_path, external):
    if external:  # every weight in a data file beside the model: the marked copy finds it
        onnx.save(chain(), tmp_path / "c.onnx", save_as_external_data=True, size_threshold=0)
        m = load_model(tmp_path / "c.onnx")
    else:
        m = load(chain(), "c.onnx")
    prepared = prepare(m)
    try:
        marked = bisect._MarkedFile(prepared, "marked.onnx")
        for tensors in (["h1", "h0", "h2"], ["h3"]):  # a shorter tail after a longer one
            path = marked.mark(tensors)
            expected = onnx.ModelProto()
            expected.CopyFrom(prepared.original)
            for t in tensors:
                expected.graph.output.add().name = t
            assert onnx.load(str(path), load_external_data=False) == expected
            r = run_prepared(prepared, ONE_RUN, {"x": X}, prepared.job_dir(), model_path=path)
            assert r.ok, r.error
            assert [o.name for o in r.outputs] == ["y", *tensors]
        assert prepared.model_path.read_bytes() == prepared.original.SerializeToString()
        plain = run_prepared(prepared, ONE_RUN, {"x": X}, prepared.job_dir())
        assert np.array_equal(r.output_arrays()["y"], plain.output_arrays()["y"])
        marked.remove()
        assert sorted(p.name for p in prepared.model_path.parent.glob("*.onnx")) == ["model.onnx"]
    finally:
        prepared.cleanup()


def _pair_search(
    config: RunConfig, feeds_b: dict | None = None
) -> tuple[bisect.Bisection, list[Path]]:
    """The chain against one whose LeakyRelu has another alpha (h2 differs), and the .onnx
    files left in either prepared folder afterwards."""
    a, b = load(chain(), "a.onnx"), load(chain(0.2), "b.onnx")
    pa, pb = prepare(a), prepare(b)
    try:
        pairs = _tensor_pairs(diff_models(a, b), pa.original.graph, pb.original.graph)
        found = first_differing(
            pairs,
            Side(prepared=pa, config=config, feeds={"x": X}),
            Side(prepared=pb, config=config, feeds={"x": X} if feeds_b is None else feeds_b),
            atol=1e-6,
            rtol=0.0,
            limits=GROWING_TO_TWO,
        )
        left = [*pa.folder.rglob("*.onnx"), *pb.folder.rglob("*.onnx")]
        return found, sorted(p for p in left if p.name != "model.onnx")
    finally:
        pa.cleanup()
        pb.cleanup()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="side by side needs two cores")
def test_both_sides_run_at_once_when_their_threads_fit_and_find_what_one_by_one_finds(
    monkeypatch,
):
    spans: list[tuple[float, float]] = []
    real = bisect.run_prepared

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.monotonic()
        result = real(*args, **kwargs)
        spans.append((start, time.monotonic()))
        return result

    monkeypatch.setattr(bisect, "run_prepared", timed)
    one_thread = replace(ONE_RUN, intra_op_threads=1)
    all_cores = replace(ONE_RUN, intra_op_threads=0)  # ORT's default: every core
    assert bisect._side_by_side(one_thread, one_thread)
    assert not bisect._side_by_side(all_cores, one_thread)
    together, left = _pair_search(one_thread)
    assert left == []  # the marked copies went with the search
    # each chunk's two runs overlapped: B's started before A's ended
    rounds = [spans[i : i + 2] for i in range(0, len(spans), 2)]
    assert rounds and all(b[0] < a[1] and a[0] < b[1] for a, b in rounds)
    spans.clear()
    apart, left = _pair_search(all_cores)
    assert left == []
    rounds = [spans[i : i + 2] for i in range(0, len(spans), 2)]
    assert rounds and all(b[0] >= a[1] or a[0] >= b[1] for a, b in rounds)
    assert together.pair is not None and together.pair.a_tensor == "h2"
    assert (together.pair, together.checked) == (apart.pair, apart.checked)
    assert together.error is not None and apart.error is not None
    assert together.error.max_abs == apart.error.max_abs > 0


def test_a_failed_search_leaves_no_marked_file():
    found, left = _pair_search(ONE_RUN, feeds_b={})  # B's run lacks its input
    assert found.failure.startswith("a marked run failed") and found.checked == 0
    assert left == []


def test_a_chunk_takes_what_a_run_keeps():
    """By default a chunk's bytes are a run's output cap: 1 MiB tensors go 256 to a run (the
    chunk can at most grow 8×), and a run keeps all of them."""
    assert DEFAULT_LIMITS.divergence_chunk_bytes == DEFAULT_LIMITS.max_output_bytes
    assert next_chunk(64, 64 * MiB, 64, DEFAULT_LIMITS) == 256
    assert next_chunk(64, 64 * 64, 64, DEFAULT_LIMITS) == 512  # small ones: 8× the last
