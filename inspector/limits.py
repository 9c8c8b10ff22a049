"""Every limit ONNX Inspector enforces, in one place, with the reason for each.

The defaults live in :data:`DEFAULT_LIMITS`. ``docs/limits.md`` is generated from this module
(``python -m inspector.limits > docs/limits.md``) and a test fails when the two disagree, so a
limit cannot be added without being documented. Where a limit bites, the error message names it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

GiB = 1024**3
MiB = 1024**2


def _limit(default: int, help: str) -> int:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Limits:
    """Limits for one inspection. Pass a modified copy (``dataclasses.replace``) to change one."""

    max_model_bytes: int = _limit(
        2 * GiB - 1,
        "Largest `.onnx` file accepted. Protobuf cannot represent a message of 2 GiB or more; "
        "bigger models must keep their weights in external-data files.",
    )
    max_nodes: int = _limit(
        300_000,
        "Most nodes in one model (all graphs and functions): a million nodes took minutes of "
        "CPU and gigabytes of server memory to describe.",
    )
    max_companion_files: int = _limit(
        10_000, "Most companion (external-data) files considered for one model."
    )
    max_companion_name_chars: int = _limit(
        1_024, "Longest companion file name or external-data `location` accepted."
    )
    max_subgraph_depth: int = _limit(
        100,
        "Deepest nesting of If/Loop/Scan bodies and function calls walked. Protobuf itself "
        "refuses models nested deeper than 100 messages (about 33 nested If levels).",
    )
    max_stats_tensor_bytes: int = _limit(
        1 * GiB,
        "Most memory decoding one tensor for its statistics and histogram may take, counted "
        "as its values in float64 (a packed INT4 tensor takes 16× its size); bigger tensors "
        "get a message instead.",
    )
    histogram_bins: int = _limit(50, "Bins in a tensor value histogram.")
    max_attribute_summary_chars: int = _limit(
        200, "Longest attribute summary shown per node; longer ones are cut with an ellipsis."
    )
    max_wire_scan_fields: int = _limit(
        2_000_000,
        "Most protobuf fields walked when explaining why a file does not parse "
        "(truncation, nesting); beyond it the explanation is less specific.",
    )
    run_timeout_s: int = _limit(
        300,
        "Wall-clock seconds one configuration's worker may take before it is killed. A "
        "ceiling: a user may lower it per run (the Run lab's timeout, `--timeout`), never raise "
        "it above the deployment's value.",
    )
    max_threads: int = _limit(
        0,
        "Most intra-op (and inter-op) threads one configuration may ask for (0: 4 per CPU core, "
        "at least 4, at most 256). More threads than cores only measure oversubscription; "
        "4,000 made ONNX Runtime start 844 threads, then abort.",
    )
    max_warmup_runs: int = _limit(
        100, "Most warm-up runs per configuration (they are not measured)."
    )
    max_timed_runs: int = _limit(
        1_000,
        "Most timed runs per configuration: 1,000 give a steady p99; more only hold a run "
        "slot longer.",
    )
    max_profiled_runs: int = _limit(
        100,
        "Most profiled runs per configuration: each writes about 5 KB of trace per node "
        "(100 runs of a 1,000-node model: ~500 MB for the server to read); 300,000 ran until "
        "killed.",
    )
    max_time_budget_s: int = _limit(
        120,
        "Most seconds of timed runs a configuration may be given (its time budget: timing "
        "stops earlier once the median's interval is tight, never after max_timed_runs). The "
        "worker's whole run is still bounded by run_timeout_s.",
    )
    worker_memory_bytes: int = _limit(
        8 * GiB,
        "Address-space cap (RLIMIT_AS) of a worker process: running out becomes an "
        "out-of-memory error for that configuration, not a dead server. Never more than an "
        "equal share of the machine's RAM among the run slots and the server.",
    )
    max_output_bytes: int = _limit(
        256 * MiB,
        "Output bytes kept per configuration for comparisons; bigger outputs are "
        "listed but not compared.",
    )
    max_ep_log_lines: int = _limit(
        200,
        "Most lines ONNX Runtime and plugin EPs logged while a configuration's session was set "
        "up that are kept with its result (warnings, errors, the EP's lines about the nodes it "
        "claims). A real detector logs under 10; a model with thousands of unused "
        "initializers logs one warning each, which would only bury the EP's reasons.",
    )
    max_ep_log_bytes: int = _limit(
        64 * 1024,
        "Most bytes of those lines kept per configuration (each line at most 2,000 "
        "characters): they travel in result.json and are shown on the page.",
    )
    max_input_bytes: int = _limit(
        1 * GiB,
        "Largest input tensor generated or read from an uploaded .npy/.npz/.pb file "
        "(checked from the file's header before anything is allocated).",
    )
    divergence_chunk: int = _limit(
        64,
        "Intermediate tensors marked as outputs in the first re-run of a first-divergence "
        "search; later re-runs mark as many as fit divergence_chunk_bytes (at most 8× more "
        "each time).",
    )
    divergence_chunk_bytes: int = _limit(
        256 * MiB,
        "Bytes of marked intermediate tensors one first-divergence re-run may return "
        "(bounds memory; measured from the previous re-run's tensors; a re-run keeps "
        "max_output_bytes at most in any case). Each re-run costs a session and a run of the "
        "whole model: bigger chunks, fewer re-runs.",
    )
    divergence_max_tensors: int = _limit(
        5_000, "Most intermediate tensors checked by one first-divergence search."
    )
    analysis_memory_bytes: int = _limit(
        4 * GiB,
        "Address-space cap of the child process that runs onnx shape inference, the checker "
        "and the version converter: a model that declares huge tensors gets a finding, not a "
        "server out of memory.",
    )
    analysis_timeout_s: int = _limit(
        120, "Wall-clock seconds onnx shape inference and the checker may take for one model."
    )
    max_overlap_pairs: int = _limit(
        100, "Overlapping external-data ranges listed per file (all of them are counted)."
    )
    large_inline_warning_bytes: int = _limit(
        1 * GiB,
        "Inline weights from which diagnose warns: protobuf cannot save 2 GiB or more.",
    )
    overlay_max_nodes: int = _limit(
        400,
        "Nodes per part of the Compare page's coloured graph (laid out in the browser).",
    )
    graph_node_budget: int = _limit(
        1000,
        "Main-graph nodes Netron is given at once: above it the Graph page opens the name-scope "
        "tree and draws one scope (or a node's neighbourhood) at a time (bench/bench_graph.py).",
    )
    static_file_bytes: int = _limit(
        200 * MiB,
        "Largest file Streamlit serves from static/: bigger models reach Netron without "
        "weights, bigger data files not at all.",
    )
    max_session_upload_bytes: int = _limit(
        4 * GiB,
        "Models and data files one browser session may hold open at once; a drop beyond it "
        "is refused with a message (close a model to make room).",
    )
    max_bundle_bytes: int = _limit(
        1 * GiB,
        "Bytes a session bundle may unpack to in all — manifest, profiles, model files and "
        "every array, counted from zip directories and array headers before anything is "
        "decoded. In the app a bundle also counts against max_session_upload_bytes.",
    )
    max_bundle_manifest_bytes: int = _limit(
        32 * MiB,
        "Largest manifest.json in a session bundle. Parsed JSON takes up to ~22× its size in "
        "memory (a list of empty lists); a 10,000-node model's 4 configurations need ~28 MB.",
    )
    max_bundle_members: int = _limit(
        2_000,
        "Most members in a session bundle's zip (and arrays in each of its .npz files), read "
        "from the zip's end record before its directory is parsed.",
    )
    max_concurrent_runs: int = _limit(
        0,
        "Jobs running at once on this server — run-lab matrices, analyses, the Overview's load "
        "check, the size probe (0: one per CPU core, at most one per 4 GiB of RAM); further "
        "jobs wait in a queue that takes one per user in turn.",
    )
    session_grace_s: int = _limit(
        120,
        "Seconds a user's run-lab jobs and published graphs outlive their last connected "
        "browser tab: a reload within it finds them, after it the jobs' workers are stopped "
        "and their files removed.",
    )
    store_max_age_days: int = _limit(
        30,
        "Days a finished run or analysis is kept in the server's store (INSPECTOR_DATA_DIR, "
        "SQLite) after it was queued; older ones are deleted when a server starts.",
    )
    store_max_bytes: int = _limit(
        5 * GiB,
        "Most bytes of models and results the store keeps; past it the oldest jobs go first "
        "(checked when a server starts and as jobs end).",
    )
    share_link_ttl_s: int = _limit(
        7 * 24 * 3600,
        "Seconds a read-only share link works after it was made (its owner can revoke it sooner).",
    )
    max_inline_tensor_for_inference_bytes: int = _limit(
        64 * 1024,
        "Tensors larger than this are passed to shape inference and the checker without "
        "their values (shapes only); shape tensors are far smaller.",
    )


DEFAULT_LIMITS = Limits()

#: Prefix of the environment variables that set a limit for a deployment:
#: ``INSPECTOR_LIMIT_MAX_CONCURRENT_RUNS=4`` sets ``max_concurrent_runs``.
ENV_PREFIX = "INSPECTOR_LIMIT_"


def limits_from_env(
    environ: Mapping[str, str] | None = None, base: Limits = DEFAULT_LIMITS
) -> Limits:
    """``base`` with every ``INSPECTOR_LIMIT_<NAME>`` variable applied (how a deployment sets
    its limits for the app). A name that is not a limit, or a value that is not a whole number
    ≥ 0, raises ValueError naming the variable: a typo must not silently keep the default."""
    return dataclasses.replace(base, **env_limits(environ))


def env_limits(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """The limits the ``INSPECTOR_LIMIT_<NAME>`` variables set, by name (ValueError as
    :func:`limits_from_env`)."""
    environ = os.environ if environ is None else environ
    names = {f.name for f in dataclasses.fields(Limits)}
    changes: dict[str, int] = {}
    for var, raw in environ.items():
        if not var.startswith(ENV_PREFIX):
            continue
        name = var[len(ENV_PREFIX) :].lower()
        if name not in names:
            raise ValueError(f"{var}: there is no limit {name!r} (see docs/limits.md)")
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ValueError(f"{var}={raw!r}: expected a whole number") from None
        if value < 0:
            raise ValueError(f"{var}={raw!r}: a limit cannot be negative")
        changes[name] = value
    return changes


def host_memory_bytes() -> int:
    """Physical memory of this machine (0 where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def run_slots(limits: Limits) -> int:
    """Runs at once on this server: ``max_concurrent_runs``, or one per core but no more than
    the memory holds at 4 GiB each."""
    if limits.max_concurrent_runs > 0:
        return limits.max_concurrent_runs
    cores = os.cpu_count() or 1
    memory = host_memory_bytes()
    return max(1, min(cores, memory // (4 * GiB))) if memory else cores


def thread_limit(limits: Limits) -> int:
    """Most threads a configuration may ask for here: ``max_threads``, or 4 per CPU core
    (at least 4, at most 256) when it is 0."""
    if limits.max_threads > 0:
        return limits.max_threads
    return max(4, min(256, 4 * (os.cpu_count() or 1)))


def deployment_limits(environ: Mapping[str, str] | None = None) -> Limits:
    """The limits this process runs under: :data:`DEFAULT_LIMITS` with the deployment's
    ``INSPECTOR_LIMIT_*`` variables applied (the defaults where a variable is malformed: the
    app names that variable on every page, the CLI's run commands refuse with it)."""
    try:
        return limits_from_env(environ)
    except ValueError:
        return DEFAULT_LIMITS


#: Limits a caller may lower for one run (a page's timeout, ``--timeout``) but never raise above
#: the deployment's: :func:`within` applies them. For worker memory, 0 means no cap.
CEILINGS = (
    "run_timeout_s",
    "worker_memory_bytes",
    "max_output_bytes",
    "max_input_bytes",
    "divergence_chunk",
    "divergence_chunk_bytes",
    "divergence_max_tensors",
    "max_warmup_runs",
    "max_timed_runs",
    "max_profiled_runs",
    "max_time_budget_s",
)


def within(requested: Limits, ceiling: Limits) -> Limits:
    """``requested`` with every limit in :data:`CEILINGS` (and the thread limit) at most
    ``ceiling``'s: a job's timeout is min(the user's, the deployment's)."""
    changes: dict[str, int] = {}
    for name in CEILINGS:
        mine, cap = getattr(requested, name), getattr(ceiling, name)
        if name == "worker_memory_bytes" and cap <= 0:
            continue  # the deployment sets no cap
        if name == "worker_memory_bytes" and mine <= 0:
            changes[name] = cap
        elif mine > cap:
            changes[name] = cap
    threads = min(thread_limit(requested), thread_limit(ceiling))
    if threads != requested.max_threads:
        changes["max_threads"] = threads
    return dataclasses.replace(requested, **changes) if changes else requested


def worker_memory(limits: Limits) -> int:
    """A worker's address-space cap on this machine: ``worker_memory_bytes``, but never more
    than an equal share of the RAM among the run slots and the server (slots + 1): two users'
    memory bombs below a fixed 8 GB cap could otherwise exhaust a 24 GB host together."""
    cap = limits.worker_memory_bytes
    memory = host_memory_bytes()
    if cap <= 0 or not memory:
        return cap
    return min(cap, max(512 * MiB, memory // (run_slots(limits) + 1)))


#: Default tolerances for output comparisons (Compare page, ``compare``/``run`` gates, first
#: divergence): |got − ref| ≤ atol + rtol·|ref|.
DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-3


@dataclass(frozen=True)
class RunDefaults:
    """What one configuration does unless asked otherwise: RunConfig's fields, the CLI's flag
    defaults and the Run lab's widgets all start here (each bounded by a limit above)."""

    intra_op_threads: int = 1  # pinned: on 2 cores ORT's default is slower and noisier
    warmup_runs: int = 3
    timed_runs: int = 100  # the most: timing stops at target_ci_pct or time_budget_s
    profiled_runs: int = 5
    time_budget_s: float = 10.0
    target_ci_pct: float = 2.0


RUN_DEFAULTS = RunDefaults()
#: Where the server's and the CLI's configurations run when set: a Ray cluster's address
#: (:mod:`~inspector.run.execute.cluster`); here so the CLI parser names it without importing run/.
RAY_ADDRESS_ENV = "INSPECTOR_RAY_ADDRESS"


def limits_markdown(limits: Limits = DEFAULT_LIMITS) -> str:
    """The documentation table of all limits (the content of ``docs/limits.md``)."""
    lines = [
        "# Limits",
        "",
        "Generated by `python -m inspector.limits > docs/limits.md`; a test keeps it in step "
        "with `inspector/limits.py`.",
        "",
        f"A deployment sets any of them for the app with an environment variable "
        f"`{ENV_PREFIX}<NAME>` (e.g. `{ENV_PREFIX}MAX_CONCURRENT_RUNS=4`); an unknown name or "
        "a value that is not a whole number stops the app with a message naming the variable.",
        "",
        "| limit | default | what it bounds |",
        "| --- | ---: | --- |",
    ]
    for f in dataclasses.fields(limits):
        value = getattr(limits, f.name)
        lines.append(f"| `{f.name}` | {value:,} | {f.metadata['help']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(limits_markdown(), end="")
