"""Issue 24: every child process starts one way (``inspector/isolation/spawn.py``): an isolated
interpreter running a real module's function, never a string of code, with a minimal
environment, and it runs this checkout's package however the caller's path and folder look.
What a child does to confine itself is tested in ``test_confinement.py`` and ``test_security.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.isolation import forkserver, start
from inspector.isolation.spawn import START, command, spawn
from inspector.run.execute.process import WORKER, worker_command
from inspector.run.setup.eps import PROBE
from tests.conftest import ROOT

#: Run by the child through ``runpy.run_path``: what its interpreter looks like from inside.
REPORT = """
import json, os, sys
print(json.dumps({"isolated": sys.flags.isolated, "path": sys.path, "env": dict(os.environ),
                  "cwd": os.getcwd(), "inspector": "inspector" in sys.modules}))
"""


@pytest.fixture
def decoy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a fake ``inspector`` package that leaves a mark when imported, named by
    the caller's PYTHONPATH and used as the child's working folder."""
    folder = tmp_path / "decoy"
    (folder / "inspector" / "run").mkdir(parents=True)
    mark = tmp_path / "decoy-imported"
    for init in (folder / "inspector" / "__init__.py", folder / "inspector" / "run" / "eps.py"):
        init.write_text(f"open({str(mark)!r}, 'w').close()\n")
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.setenv("INSPECTOR_TEST_SECRET", "do-not-leak")
    return folder


def finish(proc: subprocess.Popen[bytes]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode()


class TestEveryLauncherStartsAModule:
    def test_workers_and_the_fork_server_start_the_start_file_isolated(self, tmp_path):
        server = forkserver.start()
        try:
            argvs = {
                "worker": worker_command(tmp_path, "--stdin", str(tmp_path)),
                "fork server": [str(a) for a in server.args],
                "EP probe": command(*PROBE, []),
            }
        finally:
            server.kill()
            server.wait()
        for who, argv in argvs.items():
            assert argv[:3] == [sys.executable, "-I", START], who
            assert "-c" not in argv, who
        assert argvs["worker"][3:5] == list(WORKER)
        assert argvs["fork server"][3:5] == list(forkserver.SERVER)
        assert Path(START).is_file() and Path(START).parent == ROOT / "inspector" / "isolation"

    def test_no_module_of_the_package_runs_a_code_string(self):
        for path in (ROOT / "inspector").rglob("*.py"):
            assert not re.search(r"""["']-c["']""", path.read_text()), path


class TestTheChildIsIsolated:
    def test_isolated_mode_minimal_environment_and_no_package_folder_on_its_path(
        self, tmp_path, decoy
    ):
        script = tmp_path / "report.py"
        script.write_text(REPORT)
        home = tmp_path / "home"
        home.mkdir()
        proc = spawn(
            "runpy",
            "run_path",
            str(script),
            home=str(home),
            cwd=decoy,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        seen = json.loads(finish(proc))
        assert seen["isolated"] == 1
        assert seen["cwd"] == str(decoy)
        assert str(ROOT) not in seen["path"]  # taken off again once the module was imported
        assert str(decoy) not in seen["path"] and "" not in seen["path"]
        assert "PYTHONPATH" not in seen["env"] and "INSPECTOR_TEST_SECRET" not in seen["env"]
        assert seen["env"]["HOME"] == seen["env"]["TMPDIR"] == str(home)
        assert not seen["inspector"]

    def test_it_runs_this_checkout_beside_a_decoy_package(self, tmp_path, decoy):
        proc = spawn(
            *PROBE,
            [],
            home=str(tmp_path),
            cwd=decoy,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        answer = json.loads(finish(proc).strip().splitlines()[-1])
        assert "CPUExecutionProvider" in answer["available"]
        assert not (tmp_path / "decoy-imported").exists()

    def test_a_module_that_fails_to_import_leaves_the_path_as_it_was(self):
        before = list(sys.path)
        with pytest.raises(ModuleNotFoundError):
            start.main(["inspector.no_such_module", "main", "[]"])
        assert sys.path == before
