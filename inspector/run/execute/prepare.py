"""The model as workers see it: a private folder with the model (every node uniquely and safely
named) and its validated external-data files, prepared once per matrix or analysis."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from inspector.errors import InspectorError
from inspector.model.companions import DirectoryCompanions
from inspector.model.dtypes import dtype_name
from inspector.model.external import build_external_data
from inspector.model.load import LoadedModel
from inspector.model.proto import ModelProto
from inspector.model.walk import walk


class Spare(Protocol):
    """A worker started ahead of its run (``process.prestart``): all this module needs."""

    def discard(self) -> None: ...


class RunError(InspectorError):
    """A run could not be started at all (e.g. the model's external data is unusable)."""

    kind = "run"


def _safe_runtime_name(name: str) -> bool:
    """Whether ORT may see this node name as is. ORT 1.30 writes node names into the profile
    without escaping: a quote or a newline in a name forges or breaks its JSON."""
    return name.isprintable() and '"' not in name and "\\" not in name and len(name) <= 512


def unique_names(model: ModelProto) -> tuple[ModelProto, dict[str, str]]:
    """Copy of ``model`` where every node has a unique name; and runtime name → node id.

    Profiler events and EP assignments are keyed by node name; unnamed nodes would appear as
    ``<OpType>_<index>`` and could not be joined to the graph. Names ORT cannot be trusted to
    write safely (quotes, backslashes, control characters) are replaced the same way. Names
    users see are unchanged in the records: the mapping leads back to the original node ids.
    ``model`` itself (no copy) where every name is already unique and safe."""
    names: dict[str, str] = {}
    renamed: dict[tuple[int, int], str] = {}  # (scope index, node index) → new name
    scopes = walk(model).scopes
    taken = Counter(n.name for s in scopes for n in s.nodes if n.name)
    for si, scope in enumerate(scopes):
        for i, node in enumerate(scope.nodes):
            nid = scope.node_id(i)
            name = node.name
            if not name or taken[name] > 1 or name in names or not _safe_runtime_name(name):
                base = f"{node.op_type}__{nid}"
                name, k = base, 1
                while name in names or name in taken:
                    k += 1
                    name = f"{base}_{k}"
                renamed[si, i] = name
            names[name] = nid
    if not renamed:
        return model, names
    copy = ModelProto()
    copy.CopyFrom(model)
    copied = walk(copy).scopes  # the same walk, in the same order: the copy's own node lists
    for (si, i), name in renamed.items():
        copied[si].nodes[i].name = name
    return copy, names


def given_names(model: ModelProto) -> dict[str, str]:
    """Node id → the name the model gave the node, where it is one a table may show (printable,
    not over 512 characters); duplicates included: tables tell them apart by id."""
    out: dict[str, str] = {}
    for scope in walk(model).scopes:
        for i, node in enumerate(scope.nodes):
            if node.name and node.name.isprintable() and len(node.name) <= 512:
                out[scope.node_id(i)] = node.name
    return out


def _write_companions(model: LoadedModel, target: Path) -> None:
    report = build_external_data(model)
    bad = [t for t in report.tensors if not t.usable]
    if bad:
        first = bad[0]
        raise RunError(
            f"Cannot run: external tensor {first.tensor!r} is unusable "
            f"({'; '.join(first.messages)}). Fix or upload the data files first."
        )
    for f in report.files:
        dest = target / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        comp = model.companions
        if isinstance(comp, DirectoryCompanions):
            src = comp.root / f.name
            try:
                os.link(src, dest)  # same file system: no copy (ORT rejects symlinks)
                continue
            except OSError:
                shutil.copyfile(src, dest, follow_symlinks=False)
                continue
        size = comp.size(f.name) or 0
        with open(dest, "wb") as fh:
            fh.write(comp.read(f.name, 0, size))


@dataclass
class PreparedModel:
    """The model as the workers see it: a private folder with the model and its data."""

    folder: Path
    model_path: Path
    runtime_names: dict[str, str]  # runtime node name → original node id
    input_types: dict[str, str]
    owned: bool  # remove the folder when done
    original: ModelProto  # with the unique names the workers see
    name: str = "model.onnx"  # the user's name for the model (messages show it, not our paths)
    jobs: int = 0  # job folders handed out so far
    shown: dict[str, str] | None = None  # node id → its name in the model (see given_names)
    spares: list[Spare] = field(default_factory=list)  # started ahead (process.prestart)

    def job_dir(self, kind: str = "run") -> Path:
        """A fresh job folder: one prepared model serves a matrix, a first-divergence search
        and an ablation without their files meeting."""
        path = self.folder / f"{kind}_{self.jobs:02d}"
        self.jobs += 1
        return path

    def take_spares(self) -> list[Spare]:
        """The workers ``process.prestart`` started, handed over (this model keeps none)."""
        taken, self.spares = self.spares, []
        return taken

    def cleanup(self) -> None:
        for worker in self.take_spares():
            worker.discard()
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def run_folder(work_dir: Path | None = None) -> Path:
    """A run's private folder (a new temporary one without ``work_dir``), with its empty
    ``model/`` folder: a worker can be started in it before the model is written."""
    root = Path(tempfile.mkdtemp(prefix="inspector-run-")) if work_dir is None else Path(work_dir)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    (root / "model").mkdir(exist_ok=True)
    return root


def prepare(
    model: LoadedModel, work_dir: Path | None = None, *, owned: bool | None = None
) -> PreparedModel:
    """Write ``model`` (with unique node names) and its data into a private folder: a new
    temporary one, or ``work_dir`` (:func:`run_folder`). ``owned``: remove the folder in
    :meth:`PreparedModel.cleanup` (default: when it was made here)."""
    owned = work_dir is None if owned is None else owned
    root = run_folder(work_dir)
    folder = root / "model"
    try:
        _write_companions(model, folder)
        named, mapping = unique_names(model.proto)
        path = folder / "model.onnx"
        # The bytes as loaded where no name changed (serializing a 92 MB model took 0.23 s).
        if named is not model.proto or not model.write_original(path):
            path.write_bytes(named.SerializeToString())
    except BaseException:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
        raise
    initializers = {t.name for t in model.proto.graph.initializer}
    types = {
        v.name: dtype_name(v.type.tensor_type.elem_type)
        for v in model.proto.graph.input
        if v.name not in initializers and v.type.HasField("tensor_type")
    }
    return PreparedModel(
        root, path, mapping, types, owned, named, model.name, shown=given_names(model.proto)
    )
