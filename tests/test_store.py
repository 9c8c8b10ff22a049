"""The store (inspector.store): models kept once by content, jobs that survive a reopen of the
database (a restart), unfinished jobs ending 'interrupted', share links that expire, are
revocable only by their owner and never are the owner token, and retention by age and size."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from inspector.errors import InspectorError
from inspector.store import INTERRUPTED, Store


def test_jobs_and_models_survive_a_reopen(tmp_path):
    store = Store(tmp_path)
    store.put_model("k1", "a.onnx", b"model-bytes", [("a.bin", b"weights")])
    store.put_model("k1", "a.onnx", b"model-bytes", [("a.bin", b"weights")])  # once
    store.job_queued("j1", "owner", "k1", "matrix", "", 1.0, request=b"req", configs=[{"x": 1}])
    store.job_ended("j1", "done", 2.0, result=b"bundle")
    store.job_queued("j2", "owner", "k1", "divergence", "a → b", 3.0)
    store.close()

    again = Store(tmp_path)  # a new process opening the same folder
    (job,) = again.jobs("owner")  # j2 never ended: not listed until it does (or is interrupted)
    assert (job.id, job.state, job.result, job.request, job.configs) == (
        "j1",
        "done",
        b"bundle",
        b"req",
        ({"x": 1},),
    )
    model = again.model("k1")
    assert model is not None and model.data == b"model-bytes"
    assert model.companions == (("a.bin", b"weights"),)
    assert again.interrupt_unfinished() == 1
    states = {j.id: (j.state, j.error) for j in again.jobs("owner")}
    assert states["j2"][0] == INTERRUPTED and "stopped" in states["j2"][1]
    assert again.jobs("someone else") == []
    assert stat.S_IMODE(os.stat(again.path).st_mode) == 0o600


def test_the_token_secret_is_kept(tmp_path):
    first = Store(tmp_path).secret()
    assert len(first) == 32 and Store(tmp_path).secret() == first


def test_share_links_expire_and_only_their_owner_revokes_them(tmp_path):
    store = Store(tmp_path)
    share = store.share("owner", "k1", "Compare", with_model=False, ttl_s=60)
    assert share.token != "owner" and len(share.token) >= 32
    assert store.shared(share.token) == share
    assert store.shared("not-a-token") is None
    assert not store.revoke("intruder", share.token)  # not theirs
    assert store.shared(share.token) is not None
    assert store.revoke("owner", share.token)
    assert store.shared(share.token) is None
    short = store.share("owner", "k1", "Compare", with_model=True, ttl_s=60)
    assert store.shared(short.token) is not None
    assert store.shared(short.token, now=time.time() + 61) is None  # a minute later
    with pytest.raises(InspectorError, match="expire"):
        store.share("owner", "k1", "Compare", with_model=False, ttl_s=0)


def test_forget_drops_an_owners_jobs_and_shares_of_a_model(tmp_path):
    store = Store(tmp_path)
    store.put_model("k1", "a.onnx", b"m", [])
    store.job_queued("j1", "owner", "k1", "matrix", "", 1.0)
    store.job_ended("j1", "done", 2.0, result=b"r")
    share = store.share("owner", "k1", "Compare", with_model=False, ttl_s=60)
    store.forget("owner", "k1")
    assert store.jobs("owner") == [] and store.shared(share.token) is None


def test_retention_by_age_then_size_and_unused_blobs_go(tmp_path):
    store = Store(tmp_path)
    now = time.time()
    store.put_model("k1", "a.onnx", b"m" * 1000, [])
    for i, age_days in enumerate((40, 5, 1)):
        store.job_queued(f"j{i}", "owner", "k1", "matrix", "", now - age_days * 86400)
        store.job_ended(f"j{i}", "done", now, result=bytes([i]) * 10_000)
    assert store.size() == 1000 + 3 * 10_000
    assert store.clean(max_age_s=30 * 86400, max_bytes=10**9, now=now) == 1  # j0: 40 days
    assert [j.id for j in store.jobs("owner")] == ["j1", "j2"]
    assert store.size() == 1000 + 2 * 10_000  # j0's result blob went with it
    assert store.clean(max_age_s=30 * 86400, max_bytes=15_000, now=now) == 1  # oldest first
    assert [j.id for j in store.jobs("owner")] == ["j2"]
    assert store.clean(max_age_s=30 * 86400, max_bytes=0, now=now) == 1
    assert store.jobs("owner") == [] and store.model("k1") is None and store.size() == 0


def test_an_interrupted_matrix_comes_back_and_runs_again(samples):
    """AppTest: a matrix the store holds as queued when the server stopped (interrupted at the
    next start) comes back on its owner's next session as a failed job that says why, and the
    Run lab's 'Run it again' runs its configurations and inputs."""
    from streamlit.testing.v1 import AppTest

    from inspector import load_model, tokens
    from inspector.bundle import write_bundle
    from inspector.run.setup.config import RunConfig
    from inspector.run.setup.inputs import default_inputs
    from inspector.store import DATA_DIR_ENV
    from pages.common.models import make_source
    from tests.conftest import ROOT

    kept = Store(Path(os.environ[DATA_DIR_ENV]))
    tokens.use_secret(kept.secret())  # the app signs with the store's secret, as this does
    owner = tokens.issue("")  # AppTest has no XSRF cookie: its browser key is ""
    data = (samples / "mlp_gelu_layernorm.onnx").read_bytes()
    source = make_source("mlp_gelu_layernorm.onnx", data, {})
    model = load_model(data, {}, name=source.name)
    config = RunConfig(timed_runs=2, profiled_runs=0, label="stopped · CPU")
    kept.put_model(source.key, source.name, source.data, ())
    kept.job_queued(
        "was-running",
        owner,
        source.key,
        "matrix",
        "",
        time.time(),
        request=write_bundle(model, (), default_inputs(model), model_bytes=data),
        configs=[config.to_dict()],
    )
    assert kept.interrupt_unfinished() >= 1  # what a starting server does

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["s"] = owner
    at.run()
    at.switch_page("pages/6_Run_lab.py").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error).replace("\\", "")
    assert "The run failed: interrupted: the server stopped while it was queued" in errors, errors
    at.button(key="rl_again").click().run()
    from pages.common.server import job_queue

    job = job_queue().jobs(owner)[-1]
    assert job_queue().wait(job, timeout=120) and job.state == "done", job.error
    assert [r.label for r in job.results] == ["stopped · CPU"] and job.results[0].ok
