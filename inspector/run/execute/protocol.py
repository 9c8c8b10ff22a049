"""The hand-off between the runner and a worker: ``job.json`` in, ``result.json`` out.

Both sides import these types (no onnxruntime here), so a key renamed on one side is a type
error on the other, not a silent ``KeyError`` in a child process.
"""

from __future__ import annotations

from typing import Any, TypedDict


class JobEp(TypedDict):
    name: str
    options: list[tuple[str, str]]


class JobConfig(TypedDict):
    """:class:`inspector.run.setup.config.RunConfig` as data, plus the level's ORT value."""

    label: str
    eps: list[JobEp]
    opt_level: str
    level_value: int
    intra_op_threads: int
    inter_op_threads: int
    execution_mode: str
    disabled_optimizers: list[str]
    session_config: list[tuple[str, str]]
    strict: bool
    warmup_runs: int
    timed_runs: int  # the most timed runs (fewer when the interval is tight or time is up)
    profiled_runs: int
    time_budget_s: float  # seconds of timed runs before it stops (0: no budget)
    target_ci: float  # stop once the median's interval is within ± this fraction (0: never)


class JobInput(TypedDict):
    """Where one input's value is in inputs.npz: a tensor, a sequence of tensors, or None."""

    kind: str  # "tensor", "sequence" or "none" (an empty optional)
    keys: list[str]


class WorkerJob(TypedDict):
    """What the runner hands a worker in ``job.json`` (one configuration, or a load check)."""

    model: str  # path of the prepared model inside the private folder
    config: JobConfig
    plugins: list[list[str]]  # [[ep name, library path], ...]
    memory_limit_bytes: int
    max_output_bytes: int
    input_types: dict[str, str]  # input name → ONNX element type name
    save_optimized: bool
    # Save it with its weights inside, not in optimized.data: ORT 1.30 writes the initializers of
    # If/Loop/Scan bodies twice when it writes them to a data file (the model does not load).
    optimized_inline: bool
    check_only: bool  # create the session and stop (the load check)
    nodes: int  # the model's nodes, bodies included (what the profiler costs: timing.py)
    inputs: dict[str, JobInput]  # input name → its arrays in inputs.npz
    max_ep_log_lines: int  # the EP log lines kept in result.json (Limits.max_ep_log_lines)
    max_ep_log_bytes: int


class WorkerError(TypedDict, total=False):
    kind: str
    stage: str
    message: str
    traceback: str


class OutputMeta(TypedDict):
    """One output in outputs.npz: ``o<i>``, or a sequence's elements ``o<i>_0``, ``o<i>_1`` …"""

    name: str
    dtype: str  # numpy's name; ml_dtypes' (bfloat16, float8_e4m3fn, int4 …) for saved codes
    shape: list[int]  # a sequence: [number of elements]
    bytes: int
    saved: bool
    note: str
    kind: str  # "tensor", "sequence" (of tensors), "map" (made an array), "none" (empty optional)
    shapes: list[list[int]]  # a sequence's element shapes


class WorkerResult(TypedDict, total=False):
    label: str
    status: str  # "ok" or "error"
    notes: list[str]
    ort_version: str
    error: WorkerError
    session_create_s: float
    # Resident memory (bytes): before the session, the high-water marks of session creation
    # and of the runs, and whether the mark was reset between them (else the runs' is both's).
    memory: dict[str, Any]
    providers_active: list[str]
    assignment: list[dict[str, str]]
    outputs: list[OutputMeta]
    latency: dict[str, Any]
    profile: str  # file name of the profile in the job folder
    # Its first runs to drop as warm-up: 1 (the session's first run), 0 where the first run is
    # one of the profiled and timed runs (a model whose run takes seconds: worker.py).
    profile_warmup_runs: int
    # What ORT and plugin EPs logged from plugin registration through the first run, the
    # lines about EPs only (inspector.run.readout.eplog.log_lines); on failures too.
    ep_log: list[str]


def job_config(config: Any) -> JobConfig:
    """A :class:`~inspector.run.setup.config.RunConfig` as the worker reads it."""
    return JobConfig(
        label=config.label,
        eps=[JobEp(name=e.name, options=list(e.options)) for e in config.eps],
        opt_level=config.opt_level,
        level_value=config.level_value,
        intra_op_threads=config.intra_op_threads,
        inter_op_threads=config.inter_op_threads,
        execution_mode=config.execution_mode,
        disabled_optimizers=list(config.disabled_optimizers),
        session_config=list(config.session_config),
        strict=config.strict,
        warmup_runs=config.warmup_runs,
        timed_runs=config.timed_runs,
        profiled_runs=config.profiled_runs,
        time_budget_s=config.time_budget_s,
        target_ci=config.target_ci_pct / 100,
    )
