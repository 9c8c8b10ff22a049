import glob
import os
from pathlib import Path

import onnx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"


def backend_models() -> list[str]:
    """Every model the installed onnx wheel ships under onnx/backend/test/data/."""
    base = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    return sorted(glob.glob(f"{base}/**/*.onnx", recursive=True))


@pytest.fixture
def samples() -> Path:
    return SAMPLES
