"""Every model the installed onnx wheel ships is described without an exception."""

from __future__ import annotations

import json
import os

import pytest

import inspector as I
from tests.conftest import backend_models

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
