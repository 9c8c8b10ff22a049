"""Issue 22: the server reads a worker's results as plain files of the worker's own folder.

A worker runs ONNX Runtime on an uploaded model and may write anything in its folder. Files
here are planted the way a subverted worker would (symbolic links to another run's outputs or
to server files, absolute or ``..`` names in result.json, a FIFO, a hard link, a zip bomb): the
configuration's record must say why it was refused and hold nothing from elsewhere.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from inspector import load_model
from inspector.limits import DEFAULT_LIMITS
from inspector.run.execute.prepare import prepare
from inspector.run.execute.process import WorkerFileError, read_result, read_worker_file
from inspector.run.execute.runner import run_matrix, run_prepared
from inspector.run.readout.results import to_record
from inspector.run.setup.config import Matrix, RunConfig
from tests.factories import linear

CONFIG = RunConfig(opt_level="all", warmup_runs=0, timed_runs=2, profiled_runs=2)
SECRET = b"secret held by the server, never by this run"


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> tuple[Path, object]:
    """One real run kept on disk (result.json, outputs.npz, the profile, optimized.onnx):
    its folder is what a well-behaved worker leaves."""
    out = tmp_path_factory.mktemp("honest")
    m = load_model(linear().SerializeToString(), {}, name="linear.onnx")
    feeds = {"x": np.ones((2, 4), np.float32)}
    (r,) = run_matrix(m, Matrix((CONFIG,)), feeds, out_dir=out)
    assert r.ok, r.error
    return Path(r.results_dir), m


@pytest.fixture
def job(honest, tmp_path) -> tuple[Path, dict, object]:
    """A copy of the honest run's folder to tamper with, its result.json and the model."""
    src, m = honest
    dst = tmp_path / "private" / "run_00"
    shutil.copytree(src, dst)
    return dst, json.loads((dst / "result.json").read_text()), m


def record(job_dir: Path, data: dict, m) -> object:  # type: ignore[no-untyped-def]
    prepared_names = {n.name: f"main:{i}" for i, n in enumerate(m.proto.graph.node)}
    return to_record(CONFIG, data, job_dir, prepared_names, False, m.proto)


def other_run(tmp_path: Path) -> Path:
    """Another user's run folder beside this one, with outputs and a profile of its own."""
    other = tmp_path / "other-user" / "run_00"
    other.mkdir(parents=True)
    np.savez(other / "outputs.npz", o0=np.frombuffer(SECRET, np.uint8))
    (other / "profile.json").write_text(json.dumps([{"cat": "Session", "name": SECRET.decode()}]))
    (other / "secret.txt").write_bytes(SECRET)
    return other


def assert_refused(r, why: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status == "error" and r.error_kind == "worker_files", r.error
    assert why in r.error, r.error
    assert r.output_arrays() == {} and r.profile_trace() == b"" and r.optimized_model() == b""
    assert SECRET.decode() not in repr(r)


class TestHonestWorker:
    def test_its_files_make_a_full_record(self, job):
        job_dir, data, m = job
        r = record(job_dir, data, m)
        assert r.ok and r.output_arrays() and r.profile is not None and r.optimized_nodes


class TestLinksAndPaths:
    """What the issue saw: another run's outputs returned, /etc/hostname parsed."""

    def test_outputs_linked_to_another_run_are_refused(self, job, tmp_path):
        job_dir, data, m = job
        other = other_run(tmp_path)
        (job_dir / "outputs.npz").unlink()
        (job_dir / "outputs.npz").symlink_to(other / "outputs.npz")
        data["outputs"] = [
            {"name": "y", "dtype": "uint8", "shape": [len(SECRET)], "bytes": 1, "saved": True}
        ]
        assert_refused(record(job_dir, data, m), "outputs.npz in the worker's folder is a symbolic")

    @pytest.mark.parametrize(
        "reported", ["/etc/hostname", "../../other-user/run_00/profile.json", "a/b.json", ".."]
    )
    def test_a_profile_path_outside_the_folder_is_refused_unread(self, job, tmp_path, reported):
        job_dir, data, m = job
        other_run(tmp_path)
        data["profile"] = reported
        assert_refused(record(job_dir, data, m), "not a plain file name inside its folder")

    def test_a_profile_name_that_is_a_link_is_refused(self, job, tmp_path):
        job_dir, data, m = job
        other = other_run(tmp_path)
        (job_dir / "evil.json").symlink_to(other / "profile.json")
        data["profile"] = "evil.json"
        assert_refused(record(job_dir, data, m), "evil.json in the worker's folder is a symbolic")

    def test_a_profile_it_reported_but_did_not_write_is_an_error(self, job):
        job_dir, data, m = job
        data["profile"] = "missing.json"
        assert_refused(record(job_dir, data, m), "'missing.json' it reported is not in its folder")

    def test_optimized_model_linked_elsewhere_is_refused(self, job, tmp_path):
        job_dir, data, m = job
        other = other_run(tmp_path)
        (job_dir / "optimized.onnx").unlink()
        (job_dir / "optimized.onnx").symlink_to(other / "secret.txt")
        assert_refused(record(job_dir, data, m), "optimized.onnx in the worker's folder is a")

    def test_a_hard_link_is_refused(self, job, tmp_path):
        job_dir, data, m = job
        other = other_run(tmp_path)
        (job_dir / "optimized.onnx").unlink()
        os.link(other / "secret.txt", job_dir / "optimized.onnx")
        assert_refused(record(job_dir, data, m), "has 2 names (a hard link)")

    def test_the_job_folder_replaced_by_a_link_is_refused(self, job, tmp_path):
        job_dir, data, m = job
        other = other_run(tmp_path)
        shutil.rmtree(job_dir)
        job_dir.symlink_to(other)
        assert_refused(record(job_dir, data, m), "is not a plain folder")
        with pytest.raises(WorkerFileError, match="not a plain folder"):
            read_result(job_dir)


class TestNotPlainFiles:
    def test_a_fifo_does_not_hang_the_server(self, job):
        job_dir, data, m = job
        (job_dir / "outputs.npz").unlink()
        os.mkfifo(job_dir / "outputs.npz")
        done: list[object] = []
        t = threading.Thread(target=lambda: done.append(record(job_dir, data, m)), daemon=True)
        t.start()
        t.join(10)
        assert done, "reading a FIFO the worker planted blocked the server"
        assert_refused(done[0], "outputs.npz in the worker's folder is not a regular file")

    def test_a_folder_in_place_of_a_file_is_refused(self, job):
        job_dir, data, m = job
        (job_dir / "optimized.onnx").unlink()
        (job_dir / "optimized.onnx").mkdir()
        assert_refused(record(job_dir, data, m), "optimized.onnx in the worker's folder is not a")


class TestSizes:
    def test_deflated_outputs_bomb_is_refused_before_it_expands(self, job):
        job_dir, data, m = job
        limits = replace(DEFAULT_LIMITS, max_output_bytes=1 << 20)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("o0.npy", _npy_header((64 << 20,)) + bytes(64 << 20))
        (job_dir / "outputs.npz").write_bytes(buf.getvalue())
        assert (job_dir / "outputs.npz").stat().st_size < (1 << 20)
        r = to_record(CONFIG, data, job_dir, {}, False, m.proto, limits)
        assert_refused(r, "unpacks to 67,108,")

    def test_files_over_their_limit_are_not_read(self, job):
        job_dir, data, m = job
        limits = replace(DEFAULT_LIMITS, max_output_bytes=1000)
        np.savez(job_dir / "outputs.npz", o0=np.zeros(1 << 20, np.uint8))
        r = to_record(CONFIG, data, job_dir, {}, False, m.proto, limits)
        assert_refused(r, "at most")

    def test_read_worker_file_tail_reads_only_the_end(self, tmp_path):
        (tmp_path / "w.log").write_bytes(b"x" * 5000 + b"the end")
        assert read_worker_file(tmp_path, "w.log", 7, tail=True) == b"the end"
        assert read_worker_file(tmp_path, "none.log", 7) is None


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


class _HostileWorker:
    """Stands in for a started worker: its "run" plants files as a subverted worker would."""

    def __init__(self, plant) -> None:  # type: ignore[no-untyped-def]
        self.plant = plant
        self.timed_out = self.cancelled = False
        self.log_path = Path()

    def run(self, job_dir: Path, timeout_s: float, cancel=None) -> int:  # type: ignore[no-untyped-def]
        self.log_path = job_dir.parent / "worker-x.log"
        self.log_path.write_bytes(b"")
        self.plant(job_dir, self.log_path)
        return 1


class TestThroughTheRunner:
    """run_prepared reads result.json and the worker's log the same way."""

    def _run(self, plant, tmp_path):  # type: ignore[no-untyped-def]
        m = load_model(linear().SerializeToString(), {}, name="linear.onnx")
        prepared = prepare(m, tmp_path / "private")
        feeds = {"x": np.ones((2, 4), np.float32)}
        return run_prepared(
            prepared, CONFIG, feeds, prepared.job_dir(), worker=_HostileWorker(plant)
        )

    def test_result_json_linked_to_another_runs_result_is_refused(self, honest, tmp_path):
        src, _ = honest

        def plant(job_dir: Path, log: Path) -> None:
            (job_dir / "result.json").symlink_to(src / "result.json")

        r = self._run(plant, tmp_path)
        assert_refused(r, "result.json in the worker's folder is a symbolic link")

    def test_a_log_linked_to_a_server_file_is_not_shown(self, tmp_path):
        other = other_run(tmp_path)

        def plant(job_dir: Path, log: Path) -> None:
            log.unlink()
            log.symlink_to(other / "secret.txt")

        r = self._run(plant, tmp_path)
        assert r.error_kind == "crash" and "its log was refused" in r.error, r.error
        assert SECRET.decode() not in r.error


class TestEpLibraryGrant:
    """Issue 22: ``INSPECTOR_EP_LIBRARIES=name=/tmp/x.so`` made the library's whole folder —
    there /tmp, with other runs' folders — readable to every worker. The file is granted, not
    its folder. The worker is asked to load a model from each place: a file ORT can open runs,
    one Landlock hides cannot be opened."""

    def test_a_worker_reads_the_library_file_but_not_its_neighbours(self, tmp_path, monkeypatch):
        from inspector.isolation.sandbox import landlock_abi

        if landlock_abi() == 0:
            pytest.skip("no Landlock on this kernel: workers are not confined")
        plugins = tmp_path / "shared"
        plugins.mkdir()
        model_bytes = linear().SerializeToString()
        (plugins / "plugin.so").write_bytes(model_bytes)  # a model named like a library
        (plugins / "other-run.onnx").write_bytes(model_bytes)  # what sits beside it
        monkeypatch.setenv("INSPECTOR_EP_LIBRARIES", f"fake={plugins / 'plugin.so'}")
        m = load_model(model_bytes, {}, name="linear.onnx")
        prepared = prepare(m, tmp_path / "private")
        feeds = {"x": np.ones((2, 4), np.float32)}
        config = RunConfig(opt_level="all", warmup_runs=0, timed_runs=1, profiled_runs=0)

        def run(path: Path):  # type: ignore[no-untyped-def]
            job = prepared.job_dir()
            return run_prepared(prepared, config, feeds, job, save_optimized=False, model_path=path)

        granted = run(plugins / "plugin.so")
        assert granted.ok, granted.error  # the library file itself stays readable
        neighbour = run(plugins / "other-run.onnx")
        assert not neighbour.ok and "system error number 13" in neighbour.error, neighbour.error


def test_the_load_check_reads_result_json_the_same_way(honest, tmp_path, monkeypatch):
    """The Overview's load check reads its worker's result.json: a link to another run's
    (successful) result must not make the check say the model loads."""
    import inspector.run.execute.loadcheck as loadcheck

    src, m = honest

    class Hostile(_HostileWorker):
        def __init__(self, prepared) -> None:  # type: ignore[no-untyped-def]
            super().__init__(
                lambda job_dir, log: (job_dir / "result.json").symlink_to(src / "result.json")
            )

    monkeypatch.setattr(loadcheck, "Worker", Hostile)
    check = loadcheck.check_session(m)
    assert not check.ok and check.kind == "worker_files", check
    assert "result.json in the worker's folder is a symbolic link" in check.message
