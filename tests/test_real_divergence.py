"""First divergence, CPU disable_all against CPU all, on the larger real models
(tests/real_models.json) with a run's output cap well under what their intermediates return.

picodet_layout_cdla (1,493 nodes) returned 1,000 MiB of marked tensors in one chunk: the search
failed ("the worker's results were refused"), and the tensors a run did not keep counted as
checked without being compared. Here every search must finish, count as checked exactly the
pairs it compared, and report a pair as differing only when its comparison said so.

Each model's search runs twice, with the cap and without: the verdict must not change.
Cost, measured on 2 shared cores: about 40 s for the two models.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest

from inspector import load_model
from inspector.limits import MiB
from inspector.run.analyses import bisect
from inspector.run.analyses.analysis import first_divergence
from inspector.run.execute.runner import run_matrix
from inspector.run.setup.config import Matrix, RunConfig
from tests.conftest import real_model_params
from tests.realmodels import RealModel, inputs

#: A detector (CNN, big feature maps) and a transformer.
LARGER = ("picodet_layout_cdla", "minilm_l6_int8w")
#: Under what picodet's first chunk of 64 tensors returns (about 290 MiB).
CAP = 32 * MiB


@pytest.mark.parametrize("real", [p for p in real_model_params() if p.id in LARGER])
def test_first_divergence_counts_what_it_compared(real: RealModel, monkeypatch):
    verdicts: list[bool] = []
    real_agrees = bisect.agrees

    def counting(ref: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> bool:
        verdicts.append(real_agrees(ref, got, atol, rtol))
        return verdicts[-1]

    monkeypatch.setattr(bisect, "agrees", counting)
    feeds = inputs(real, onnx.load(str(real.path), load_external_data=False))
    model = load_model(real.path)
    configs = tuple(
        RunConfig(label=level, opt_level=level, warmup_runs=0, timed_runs=1, profiled_runs=0)
        for level in ("disable_all", "all")
    )
    ref, cand = run_matrix(model, Matrix(configs), feeds)
    assert ref.ok and cand.ok, (ref.error, cand.error)
    uncapped = first_divergence(model, ref, cand, feeds)
    verdicts.clear()
    d = first_divergence(
        model, ref, cand, feeds, limits=replace(model.limits, max_output_bytes=CAP)
    )
    assert not d.detail.startswith("a marked run failed"), d.detail
    assert d.checked_tensors == len(verdicts) > 0
    # the differing pair is the one comparison that said so; none said so when none differs
    assert verdicts.count(False) == (1 if d.found else 0)
    if d.found:
        assert d.error is not None and not d.error.allclose
    # what the cap held back was compared later: the verdict is the one without the cap
    if not any("not compared" in s for s in d.skipped):
        assert (d.found, d.tensor) == (uncapped.found, uncapped.tensor)
