"""onnx's backend node tests through the inspector, every CI run (issue 23).

The CI subset of :mod:`tests.conformance`: every control-flow (If/Loop/Scan), sequence / map /
optional, string and exotic-dtype (bfloat16, float8*, float4, int4/uint4, int2/uint2) test,
plus a seeded sample of the rest — each first through plain ONNX Runtime, then, where ORT
gets the reference answer, through the library path ``onnx-inspector run --input
test_data_set_0`` takes, and for a stratified sample through the CLI itself. A test fails only
where the inspector fails or differs while plain ORT is right; ORT's own failures are counted,
not ours. The whole suite: ``python -m tests.conformance --all`` (docs/conformance.md), or this
file with ``INSPECTOR_CONFORMANCE_FULL=1``.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests import conformance as C
from tests.backend_node import GENERATE, NodeTest
from tests.backend_node import tests as generated

FULL = os.environ.get("INSPECTOR_CONFORMANCE_FULL") == "1"
#: Random tests beside the strata, and CLI runs per stratum (and of the rest).
SAMPLE, CLI_PER_STRATUM = 100, 2


def _chosen() -> tuple[list[NodeTest], str]:
    try:
        every = generated()  # generated into the cache on first use (~10 s), under a lock
    except Exception as exc:  # noqa: BLE001 - say why at collection, skip the tests
        return [], f"the backend node tests could not be generated ({exc}); run {GENERATE}"
    return (every if FULL else C.subset(every, SAMPLE)), ""


CHOSEN, WHY_NOT = _chosen()


@pytest.fixture(scope="module")
def report() -> C.Report:
    if WHY_NOT:
        pytest.skip(WHY_NOT)
    jobs = max(1, min(os.cpu_count() or 1, 4))
    return C.run_suite(CHOSEN, jobs, CLI_PER_STRATUM)


@pytest.mark.parametrize("name", [t.name for t in CHOSEN] or ["(none)"])
def test_backend_node(report: C.Report, name: str) -> None:
    o = report.outcomes[name]
    assert o.category not in C.BUGS, f"{o.category} at the {o.stage} stage: {o.detail}"


def test_the_subset_reaches_the_inspector_in_every_stratum(report: C.Report) -> None:
    """Not vacuous: in each stratum the inspector itself ran tests (ORT got them right), and
    the CLI ran some of each."""
    ran: Counter[str] = Counter()
    for t in CHOSEN:
        if report.outcomes[t.name].category == "ok":
            for s in C.strata(t) or {"other"}:
                ran[s] += 1
    minimum = {
        "control_flow": 15,
        "sequence_map_optional": 20,
        "string": 15,
        "exotic_dtype": 60,
        "other": 75,
    }
    assert all(ran[s] >= n for s, n in minimum.items()), ran
    assert len(report.cli) >= 8 and all(o.category == "ok" for o in report.cli.values())


def test_the_harness_catches_what_it_is_for(tmp_path) -> None:
    """The comparison itself: values within onnx's tolerances match, codes do not pass for
    values, a stacked sequence is accepted only where the elements' shapes agree."""
    import ml_dtypes
    import numpy as np

    x = np.array([1.0, 2.0, np.nan, np.inf], np.float32)
    assert C.mismatch(x, x + np.float32(1e-4)) == ""
    assert "differ" in C.mismatch(x, x + np.float32(1e-2))
    assert "differ" in C.mismatch(x, np.array([1.0, 2.0, np.nan, -np.inf], np.float32))
    f8 = x[:2].astype(ml_dtypes.float8_e4m3fn)
    assert "dtype uint8" in C.mismatch(f8, f8.view(np.uint8))
    b16 = np.array([1.0, 2.0], ml_dtypes.bfloat16)
    assert C.mismatch(b16, (np.array([1.0, 2.0]) * (1 + 2**-7)).astype(ml_dtypes.bfloat16)) == ""
    seq = [np.zeros((2, 2)), np.ones((1, 2))]
    assert C.mismatch(seq, seq) == ""
    assert "sequence" in C.mismatch(seq, seq[:1])
    assert C.mismatch(None, None) == "" and C.mismatch(None, x) != ""
