"""Every model the installed onnx wheel ships is described without an exception."""

from __future__ import annotations

import json
import os

import pytest

import inspector as I
from tests.conftest import backend_models, real_model_params

MODELS = backend_models()


def test_the_wheel_ships_models():
    assert len(MODELS) >= 100


@pytest.mark.parametrize(
    "path",
    MODELS,
    ids=lambda p: os.path.relpath(p, os.path.dirname(os.path.dirname(os.path.dirname(p)))),
)
def test_every_record(path):
    m = I.load_model(path)
    records = [
        I.build_overview(m),
        I.build_graph(m),
        I.build_subgraphs(m),
        I.build_initializers(m),
        I.build_external_data(m),
        I.build_compat(m),
        I.diagnose(m),
    ]
    for r in records:
        json.dumps(r.to_dict())
    ov, graph = records[0], records[1]
    assert ov.counts.nodes_total == len(graph.nodes)
    table = records[3]
    for row in table.rows[:3]:  # statistics decode real weights
        stats = I.tensor_stats(m, row.key)
        assert stats.error == "" and stats.count == row.elements


# ------------------------------------------------- real exported models (tests/real_models.json)


def test_the_real_model_set_spans_ten_wheels():
    from tests.realmodels import catalogue

    models = catalogue()
    assert len({m.package for m in models if not m.optional}) >= 10
    assert len({m.id for m in models}) == len(models)


@pytest.mark.parametrize("model", real_model_params())
def test_each_real_model_runs_in_plain_ort_on_its_inputs(model):
    """The manifest's inputs make sense to the model: plain ONNX Runtime runs it and every
    floating output is finite (deltas between garbage outputs would be noise)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    from tests.realmodels import inputs

    proto = onnx.load(str(model.path), load_external_data=False)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(str(model.path), options, providers=["CPUExecutionProvider"])
    outputs = session.run(None, inputs(model, proto))
    assert outputs
    for out in outputs:
        if out.dtype.kind == "f":
            assert np.isfinite(out).all()
