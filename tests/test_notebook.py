"""Issue 13 (notebook): notebooks/quickstart.ipynb runs top to bottom in a real Jupyter kernel,
records render as HTML tables, figures as plotly, and nothing raises."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from tests.browser import ROOT


def _text(output) -> str:  # type: ignore[no-untyped-def]
    data = output.get("data", {})
    return output.get("text", "") + data.get("text/html", "") + data.get("text/plain", "")


def test_the_example_notebook_executes_with_rich_outputs():
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    ).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [c.outputs for c in cells]
    assert not [o for out in outputs for o in out if o.output_type == "error"]
    overview, diagnosis, runs, fallback, deltas, timing, figure, report, fd, bundle = (
        " ".join(_text(o) for o in out) for out in outputs
    )
    assert "<caption" in overview and "ep_fallback_det.onnx" in overview  # Record._repr_html_
    assert "loads: yes" in diagnosis and "Diagnosis" in diagnosis
    assert "'ok'" in runs and "reference" in runs
    assert "main:2" in fallback or "ggml" not in runs  # Det falls back where ggml runs
    assert "<table" in deltas and "max_abs" in deltas  # a DataFrame
    assert "<table" in timing and "node_id" in timing
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs[6])
    assert "report:" in report and "bytes" in report
    assert "<caption" in fd and "Divergence" in fd
    assert "re-opened records equal: True" in bundle and "['divergence']" in bundle
