"""Project-level promises: limits documented, sample models reproducible, layering kept."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

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
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "no", out  # installed_loads of too_new_for_runtime.onnx, printed first
    assert any(line.startswith("error ort_refuses ") for line in out), out


def test_installed_runtime_satisfies_every_plugin_eps_pin():
    """The version policy (requirements.txt): plugin EPs pin onnxruntime (ggml 0.2.0:
    >=1.29,<1.31) and we keep the install resolver-consistent instead of forcing a newer
    runtime under them."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.version import Version

    ort = Version(metadata.version("onnxruntime"))
    checked = []
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        if not (name.startswith(("onnxruntime-ep-", "nxrt-ep-")) or name == "onnxruntime-ggml"):
            continue
        for text in dist.requires or ():
            req = Requirement(text)
            if req.name == "onnxruntime" and (req.marker is None or req.marker.evaluate()):
                assert ort in req.specifier, f"{name} needs onnxruntime{req.specifier}, not {ort}"
                checked.append(name)
    import platform
    import sys

    if sys.platform == "linux" and platform.machine() in ("x86_64", "aarch64"):
        assert "onnxruntime-ggml" in checked


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    """pip install . once shipped a wheel without inspector/run/: build it, install it into a
    fresh venv (dependencies from this environment), and run the CLI from another folder."""
    import json
    import shutil
    import subprocess
    import sys
    import sysconfig

    # Build from a clean copy: a stale build/ folder in the checkout would hide a missing package.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "inspector", src / "inspector", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheels.glob("onnx_inspector-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies come from this environment's site-packages (a plain path: its .pth files,
    # among them the editable install of the checkout, are not processed).
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    cli = str(venv / "bin" / "onnx-inspector")
    where = subprocess.run(
        [
            str(py),
            "-c",
            "import inspector.run.execute.runner, inspector; print(inspector.__file__)",
        ],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(site), where
    det = str(ROOT / "sample_models" / "ep_fallback_det.onnx")
    out = subprocess.run([cli, "overview", det], cwd=work, capture_output=True, text=True)
    assert out.returncode == 0 and "ep_fallback_det" in out.stdout, out.stderr
    eps = json.loads(
        subprocess.run([cli, "eps", "--json"], cwd=work, capture_output=True, text=True).stdout
    )
    second = [
        e["name"]
        for e in eps
        if e["usable"]
        and e["name"] != "CPUExecutionProvider"
        and e["name"] != "AzureExecutionProvider"
    ]
    ep = second[0] if second else "CPUExecutionProvider"
    run = subprocess.run(
        [cli, "run", det, "--ep", f"{ep},cpu", "--runs", "1", "--profiled-runs", "0", "--json"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)["results"][-1]
    placed = {a["op_type"]: a["ep"] for a in result["assignment"]}
    assert placed["Det"] == "CPUExecutionProvider"
    if second:
        assert placed["MatMul"] == ep and placed["Softmax"] == ep


def _import_graph() -> dict[str, set[str]]:
    """inspector's modules → the inspector modules they import (top level or in functions)."""
    import ast

    mods = {}
    for p in (ROOT / "inspector").rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from pkg import submodule" imports the submodule, not the package's names
                subs = [f"{node.module}.{a.name}" for a in node.names]
                names = [s for s in subs if s in mods] or [node.module]
            edges[m] |= {n for n in names if n in mods and n != m}
    return edges


def test_no_import_cycles():
    """Issue 9: no module imports a module that imports it back (directly or around a loop)."""
    edges = _import_graph()
    seen_cycles = []

    def visit(start: str, node: str, path: list[str]) -> None:
        for nxt in edges[node]:
            if nxt == start:
                seen_cycles.append(" → ".join([*path, start]))
            elif nxt not in path and len(path) < 8:
                visit(start, nxt, [*path, nxt])

    for m in edges:
        visit(m, m, [m])
    assert seen_cycles == []


#: Layer → what it must never reach, directly or through other inspector modules (issue 24).
LAYERS = {
    "inspector.model": ("inspector.run", "inspector.cli"),
    "inspector.isolation": ("inspector.model", "inspector.run", "inspector.cli"),
    "inspector.run": ("inspector.cli",),
    "inspector": ("streamlit", "pages"),
}


def layer_violations(root: Path) -> list[str]:
    """Each import chain from a module of a layer in :data:`LAYERS` to a module it must not
    reach, as "a → b → c". Imports inside functions and ``TYPE_CHECKING`` blocks count: a lazy
    import is still a dependency."""
    import ast

    mods = {}
    for p in (root / "inspector").rglob("*.py"):
        parts = list(p.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    imports: dict[str, set[str]] = {}
    for m, p in mods.items():
        package = m if p.name == "__init__.py" else m.rpartition(".")[0]
        names: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([base] if base else [])])
                # "from pkg import submodule" imports the submodule, not the package's names
                subs = [f"{base}.{a.name}" for a in node.names]
                names.update([s for s in subs if s in mods] or [base])
        imports[m] = names - {m}

    def forbidden(name: str, banned: tuple[str, ...]) -> bool:
        return any(name == b or name.startswith(b + ".") for b in banned)

    found = []
    for layer, banned in LAYERS.items():
        for start in sorted(m for m in mods if m == layer or m.startswith(layer + ".")):
            paths, todo = {start: [start]}, [start]
            while todo:  # breadth first: the shortest chain to each module
                here = todo.pop(0)
                for name in sorted(imports.get(here, ())):
                    if forbidden(name, banned):
                        found.append(" → ".join([*paths[here], name]))
                    elif name in mods and name not in paths:
                        paths[name] = [*paths[here], name]
                        todo.append(name)
    return found


def test_layers_import_only_downwards():
    """Issue 24: the inspection core (model/) never reaches the run package or the CLI, the
    isolation package none of them, run/ not the CLI, and nothing in inspector/ Streamlit or the
    pages. forkserver.py once imported run/sandbox.py, so every model/ module reached run/."""
    assert layer_violations(ROOT) == []


def test_the_cli_parser_does_not_import_the_run_package():
    """A broken inspector.run must not take down 'overview' (issue 9, item 1)."""
    code = (
        "import sys; from inspector.cli import _parser; _parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('inspector.run')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_mypy_is_clean_and_sees_the_public_names(tmp_path):
    """Issue 9, item 3: ``mypy inspector`` is clean, and ``py.typed`` means something: the
    lazily re-exported names are typed for users (a wrong use is an error, not Any)."""
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    # The pages too (issue 24: a name reused for two things crashed the Run lab on string
    # inputs, and mypy had said so; pages were never checked).
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "pages", "app.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:]
    user = tmp_path / "user.py"
    user.write_text("from inspector import load_model\n\nx: int = load_model('m.onnx')\n")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(user)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert 'has type "LoadedModel"' in run.stdout, run.stdout


def test_the_package_re_exports_exactly_the_public_names():
    """inspector/__init__ lists its lazy names by hand (for type checkers): keep them in step."""
    import inspector
    import inspector.model

    assert set(inspector.__all__) == set(inspector.model.__all__) | {
        "InspectorError",
        "DEFAULT_LIMITS",
        "Limits",
    }
    for name in inspector.__all__:
        assert getattr(inspector, name) is not None


def test_pages_are_forms_of_at_most_150_lines():
    """Issue 24: a page is a form that builds a request and renders records; what it draws
    lives in pages/common/ (a page of 503 lines hid a crash on every string input)."""
    long = {
        p.name: n
        for p in sorted((ROOT / "pages").glob("*.py"))
        if (n := len(p.read_text().splitlines())) > 150
    }
    assert not long, f"pages over 150 lines (move sections into pages/common/): {long}"
