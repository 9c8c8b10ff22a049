"""Project-level promises: limits documented, sample models reproducible, layering kept."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

from inspector.limits import limits_markdown
from tests.conftest import ROOT


def test_every_limit_is_documented():
    assert (ROOT / "docs" / "limits.md").read_text() == limits_markdown(), (
        "docs/limits.md is stale: run `python -m inspector.limits > docs/limits.md`"
    )


def test_sample_models_are_reproducible(tmp_path):
    from sample_models.build import write_all

    written = write_all(tmp_path)
    assert len(written) >= 8
    for path in written:
        checked_in = ROOT / "sample_models" / path.name
        assert (
            hashlib.sha256(path.read_bytes()).digest()
            == hashlib.sha256(checked_in.read_bytes()).digest()
        ), f"{path.name} differs from the checked-in file: run `python -m sample_models.build`"
        assert path.stat().st_size < 1024 * 1024


def test_inspector_is_free_of_streamlit_and_runtime_outside_run():
    for path in (ROOT / "inspector").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+streamlit", text, re.M), path
        if "run" not in path.relative_to(ROOT / "inspector").parts:
            assert not re.search(r"^\s*(import|from)\s+onnxruntime", text, re.M), path


def test_pages_do_not_import_onnx_runtime():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        assert not re.search(r"^\s*(import|from)\s+onnxruntime", path.read_text(), re.M), path


def test_readme_cli_example_runs():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\$ (onnx-inspector .+)$", readme, re.M)
    assert commands, "README has no CLI example"
    for command in commands:
        args = command.split()[1:]
        result = subprocess.run(
            [sys.executable, "-m", "inspector", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, (command, result.stderr)


def test_readme_python_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "no" in capsys.readouterr().out
