"""onnx's backend node tests, generated from the installed onnx into a cache.

onnx ≥ 1.23 no longer ships the ``node/`` test data, but it ships the case code that makes it:
``onnx.backend.test.case.node.collect_testcases()`` runs every op's ``export_*`` functions,
whose ``expect(node, inputs, outputs, name)`` calls build one single-node model each (plus the
``_expanded`` function-body variants) with numpy-computed reference outputs. :func:`generate`
writes each case the way onnx's test-data folders are laid out::

    <cache>/<test name>/model.onnx
    <cache>/<test name>/test_data_set_0/input_<i>.pb   (graph input i)
    <cache>/<test name>/test_data_set_0/output_<i>.pb  (graph output i: the expected value)

Each ``.pb`` is what the graph's value type calls for: a TensorProto, a SequenceProto, an
OptionalProto or a MapProto. About 1,900 tests in a few seconds; the cache is
``$INSPECTOR_BACKEND_NODE_CACHE`` or ``~/.cache/onnx-inspector/backend-node/<onnx version>``,
written once into a temporary folder, renamed into place (a marker file says it is complete)
and guarded by a file lock, so concurrent test processes generate it once.

``python -m tests.backend_node`` fills the cache (``tests/run.sh`` does, like the real models);
``tests/conformance.py`` runs the suite.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_ENV = "INSPECTOR_BACKEND_NODE_CACHE"
MARKER = "COMPLETE.json"
GENERATE = "python -m tests.backend_node"


def cache_dir() -> Path:
    import onnx

    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    return Path.home() / ".cache/onnx-inspector/backend-node" / onnx.__version__


@dataclass(frozen=True)
class NodeTest:
    name: str
    folder: Path

    @property
    def model(self) -> Path:
        return self.folder / "model.onnx"

    @property
    def data(self) -> Path:
        return self.folder / "test_data_set_0"


def _value_proto(value: Any, type_proto: Any, name: str) -> bytes:
    """One input or output value as the ``.pb`` its graph type calls for."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    which = type_proto.WhichOneof("value")
    if which == "sequence_type":
        return numpy_helper.from_list(list(value), name).SerializeToString()
    if which == "optional_type":
        return numpy_helper.from_optional(value, name).SerializeToString()
    if which == "map_type":
        return numpy_helper.from_dict(value, name).SerializeToString()
    if isinstance(value, onnx.TensorProto):  # exotic types: the case built the proto itself
        tensor = onnx.TensorProto()
        tensor.CopyFrom(value)
        tensor.name = name
        return tensor.SerializeToString()
    return numpy_helper.from_array(np.asarray(value), name).SerializeToString()


def _write_case(case: Any, folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(case.model.SerializeToString())
    graph = case.model.graph
    for k, (inputs, outputs) in enumerate(case.data_sets):
        data = folder / f"test_data_set_{k}"
        data.mkdir()
        for kind, values, infos in (
            ("input", inputs, graph.input),
            ("output", outputs, graph.output),
        ):
            for i, (value, info) in enumerate(zip(values, infos, strict=False)):
                blob = _value_proto(value, info.type, info.name)
                (data / f"{kind}_{i}.pb").write_bytes(blob)


def _generate_into(target: Path) -> int:
    """Collect every node case and write it under ``target`` (a fresh folder). In its own
    process: onnx's case registry is module state that a second collection would duplicate."""
    import warnings

    import onnx
    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cases' numpy divide-by-zero and the like
        cases = node_cases.collect_testcases()
    written = 0
    for case in cases:
        if case.kind != "node" or case.model is None or not case.data_sets:
            continue
        _write_case(case, target / case.name)
        written += 1
    (target / MARKER).write_text(json.dumps({"onnx": onnx.__version__, "tests": written}, indent=1))
    return written


def ensure(quiet: bool = True) -> Path:
    """The cache folder, generated first if it is not complete (once, under a file lock)."""
    folder = cache_dir()
    if (folder / MARKER).exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / MARKER).exists():  # another process generated it meanwhile
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            shutil.rmtree(tmp)
            subprocess.run(
                [sys.executable, "-m", "tests.backend_node", "--into", str(tmp)],
                check=True,
                cwd=Path(__file__).resolve().parents[1],
                stdout=subprocess.DEVNULL if quiet else None,
            )
            if folder.exists():  # an incomplete earlier attempt
                shutil.rmtree(folder)
            tmp.rename(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def tests(folder: Path | None = None) -> list[NodeTest]:
    """Every generated test, by name (generating the cache first if needed)."""
    base = folder or ensure()
    return [
        NodeTest(p.name, p)
        for p in sorted(base.iterdir())
        if p.is_dir() and (p / "model.onnx").exists()
    ]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--into"]:
        target = Path(argv[1])
        target.mkdir(parents=True)
        print(f"{_generate_into(target)} tests written to {target}")
        return 0
    folder = ensure(quiet=False)
    info = json.loads((folder / MARKER).read_text())
    print(f"onnx {info['onnx']} backend node tests: {info['tests']} in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
