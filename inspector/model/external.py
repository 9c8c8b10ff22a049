"""External-data references: every tensor's location checked against the uploaded files.

The checks here are the app's own and do not rely on onnx or ONNX Runtime (see the threat notes
in :mod:`inspector.model.companions`): a location must be a safe relative name, name a companion
file, have integer non-negative ``offset``/``length`` inside that file, and describe exactly
the bytes its shape and type need — onnx silently accepts a short read when ``length`` is
absent. Nothing outside the companion set is opened; only file sizes are needed, so a model
with many GB of external weights is described without reading them.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from inspector.model.companions import location_problem, normalize_location
from inspector.model.dtypes import declared_bytes, dtype_name
from inspector.model.load import LoadedModel
from inspector.model.proto import TensorProto
from inspector.model.walk import iter_tensors, tensors_in, walk
from inspector.records import Record

KNOWN_KEYS = {"location", "offset", "length", "checksum", "basepath"}

#: Severity of each status, worst last; a tensor's status is its worst finding.
STATUS_ORDER = (
    "ok",
    "no_length",
    "unknown_key",
    "size_mismatch",
    "out_of_range",
    "bad_number",
    "missing_file",
    "unsafe_path",
    "no_location",
)
ERROR_STATUSES = {
    "size_mismatch",
    "out_of_range",
    "bad_number",
    "missing_file",
    "unsafe_path",
    "no_location",
}


@dataclass(frozen=True, kw_only=True)
class ExternalTensor(Record):
    key: str  # "<graph id>/<tensor name>" — unique even when names repeat across graphs
    tensor: str
    graph: str
    dtype: str
    shape: tuple[int, ...]
    location: str  # as written in the model
    file: str  # the companion it resolves to ("" if none)
    offset: int | None
    length: int | None
    expected_bytes: int
    status: str
    messages: tuple[str, ...]

    @property
    def usable(self) -> bool:
        return self.status not in ERROR_STATUSES


@dataclass(frozen=True, kw_only=True)
class ExternalFile(Record):
    name: str
    size: int | None  # None: referenced but not present
    tensors: int
    bytes_referenced: int
    overlaps: tuple[tuple[str, str], ...]  # pairs of tensor keys whose ranges overlap (first 100)
    overlap_count: int  # all overlapping pairs
    gap_bytes: int  # bytes of the file no tensor references (alignment padding included)
    referenced: bool


@dataclass(frozen=True, kw_only=True)
class ExternalDataReport(Record):
    tensors: tuple[ExternalTensor, ...]
    files: tuple[ExternalFile, ...]
    unreferenced_files: tuple[str, ...]  # companions no tensor names
    errors: int

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def tensor(self, key: str) -> ExternalTensor | None:
        return next((t for t in self.tensors if t.key == key or t.tensor == key), None)


def _entries(t: TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in t.external_data}


def external_tensors(model: LoadedModel) -> list[tuple[str, str, TensorProto]]:
    """(key, graph id, tensor) for every tensor stored as external data, wherever it sits:
    every graph and function body, a function's default attribute values, training graphs,
    and — so that nothing a runtime could read is left unchecked — any tensor the scope walk
    did not reach (bodies beyond ``max_subgraph_depth``)."""
    out: list[tuple[str, str, TensorProto]] = []

    def add(graph_id: str, tensors: Iterable[TensorProto]) -> None:
        for t in tensors:
            if t.data_location == TensorProto.EXTERNAL:
                out.append((f"{graph_id}/{t.name}", graph_id, t))

    for scope in walk(model.proto, model.limits).scopes:
        graph = scope.graph
        tensors: list[TensorProto] = []
        if graph is not None:
            tensors.extend(graph.initializer)
            for sp in graph.sparse_initializer:
                tensors.extend((sp.values, sp.indices))
        for node in scope.nodes:
            for attr in node.attribute:
                if attr.HasField("t"):
                    tensors.append(attr.t)
                tensors.extend(attr.tensors)
                if attr.HasField("sparse_tensor"):
                    tensors.extend((attr.sparse_tensor.values, attr.sparse_tensor.indices))
                for sp in attr.sparse_tensors:
                    tensors.extend((sp.values, sp.indices))
        add(scope.id, tensors)
        # A model-local function's default attribute values (attribute_proto) are tensors and
        # graphs too: a default can point at /etc/passwd as well as an initializer can.
        for attr in scope.function.attribute_proto if scope.function is not None else ():
            add(f"{scope.id}.default:{attr.name}", tensors_in(attributes=[[attr]]))
    # Training graphs are not run by ONNX Runtime, but their references are still checked:
    # the file names a model carries must be safe wherever they sit.
    for i, info in enumerate(model.proto.training_info):
        for part in ("initialization", "algorithm"):
            add(f"training:{i}.{part}", tensors_in([getattr(info, part)]))
    # Whatever the walk above did not reach (bodies nested past the depth limit) is still
    # checked: the same message objects, so identity tells which were seen.
    seen = {id(t) for _, _, t in out}
    rest = (t for t in iter_tensors(model.proto) if id(t) not in seen)
    add("(nested past max_subgraph_depth)", rest)
    return out


def check_tensor(model: LoadedModel, key: str, graph: str, t: TensorProto) -> ExternalTensor:
    """Validate one external tensor's reference against the companion files."""
    entries = _entries(t)
    messages: list[str] = []
    statuses: list[str] = []

    def flag(status: str, message: str) -> None:
        statuses.append(status)
        messages.append(message)

    expected = declared_bytes(t)
    location = entries.get("location", "")
    file = ""
    size: int | None = None
    if not location:
        flag("no_location", "external data entry has no 'location' key")
    else:
        problem = location_problem(location, model.limits)
        if problem:
            flag("unsafe_path", f"location {location[:200]!r} refused: {problem}")
        else:
            name = normalize_location(location, model.limits)
            size = model.companions.size(name)
            if size is None:
                flag("missing_file", f"file {name!r} was not provided (upload it with the model)")
            else:
                file = name
    for unknown in sorted(set(entries) - KNOWN_KEYS):
        flag("unknown_key", f"unknown external_data key {unknown!r} (ignored by ONNX Runtime)")
    offset = _int_entry(entries, "offset", flag)
    length = _int_entry(entries, "length", flag)
    if "length" not in entries:
        flag("no_length", "no 'length' key: onnx would silently accept a short file")
    if any(d < 0 for d in t.dims):
        flag("size_mismatch", f"negative dims {list(t.dims)}: not a valid shape")
    elif size is not None and offset is not None:
        # Without 'length' the tensor still occupies exactly its expected bytes (ORT reads
        # that many); onnx alone would accept a short file, so check the end explicitly.
        span = length if length is not None else expected
        if offset + span > size:
            flag(
                "out_of_range",
                f"bytes {offset:,}..{offset + span:,} lie beyond the end of "
                f"{file!r} ({size:,} bytes)",
            )
        elif length is not None and length != expected and t.data_type != TensorProto.STRING:
            flag(
                "size_mismatch",
                f"length {length:,} but {dtype_name(t.data_type)} "
                f"{list(t.dims)} needs {expected:,}",
            )
    status = max(statuses, key=STATUS_ORDER.index) if statuses else "ok"
    return ExternalTensor(
        key=key,
        tensor=t.name,
        graph=graph,
        dtype=dtype_name(t.data_type),
        shape=tuple(t.dims),
        location=location,
        file=file,
        offset=offset,
        length=length,
        expected_bytes=expected,
        status=status,
        messages=tuple(messages),
    )


def _int_entry(entries: dict[str, str], key: str, flag: Callable[[str, str], None]) -> int | None:
    if key not in entries:
        return 0 if key == "offset" else None
    raw = entries[key]
    try:
        value = int(raw)
    except ValueError:
        flag("bad_number", f"{key} {raw[:40]!r} is not an integer")
        return None
    if value < 0:
        flag("bad_number", f"{key} is negative ({value})")
        return None
    return value


def build_external_data(model: LoadedModel) -> ExternalDataReport:
    """Check every external reference and summarise use of each companion file."""
    rows = [check_tensor(model, key, graph, t) for key, graph, t in external_tensors(model)]
    by_file: dict[str, list[ExternalTensor]] = defaultdict(list)
    for row in rows:
        if row.file:
            by_file[row.file].append(row)
        elif row.status == "missing_file":
            by_file[normalize_location(row.location, model.limits)].append(row)
    files = []
    for name, tensors in sorted(by_file.items()):
        size = model.companions.size(name)
        ranges = sorted(
            (
                r.offset or 0,
                (r.offset or 0) + (r.length if r.length is not None else r.expected_bytes),
                r.key,
            )
            for r in tensors
            if r.offset is not None
        )
        overlaps: list[tuple[str, str]] = []
        overlap_count = 0
        covered = reach = 0
        open_ranges: list[tuple[int, str]] = []  # min-heap of (end, key) still open
        for start, end, key in ranges:
            while open_ranges and open_ranges[0][0] <= start:
                heapq.heappop(open_ranges)
            overlap_count += len(open_ranges)
            if len(overlaps) < model.limits.max_overlap_pairs:
                overlaps.extend(
                    (k, key)
                    for _, k in sorted(open_ranges)[
                        : model.limits.max_overlap_pairs - len(overlaps)
                    ]
                )
            heapq.heappush(open_ranges, (end, key))
            if size is not None:  # bytes beyond the end of the file cover nothing
                start, end = min(start, size), min(end, size)
            covered += max(0, end - max(start, reach))
            reach = max(reach, end)
        referenced = sum(end - start for start, end, _ in ranges)
        gap = max(size - covered, 0) if size is not None else 0
        files.append(
            ExternalFile(
                name=name,
                size=size,
                tensors=len(tensors),
                bytes_referenced=referenced,
                overlaps=tuple(overlaps),
                overlap_count=overlap_count,
                gap_bytes=gap,
                referenced=True,
            )
        )
    model_name = model.name
    unreferenced = tuple(
        n
        for n in model.companions.names()
        if n not in by_file and n != model_name and not n.endswith(".onnx")
    )
    errors = sum(1 for r in rows if not r.usable)
    return ExternalDataReport(
        tensors=tuple(rows), files=tuple(files), unreferenced_files=unreferenced, errors=errors
    )
