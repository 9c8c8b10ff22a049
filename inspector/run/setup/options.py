"""Which ONNX Runtime session config entries and EP options a run configuration may carry.

The threat: several ORT config keys and EP options take a *file path* and write to it (memory
statistics, EP context models, engine caches, optimized models, debug dumps). A path chosen by
a browser user, a CLI flag or a matrix file would let them write anywhere the server can — a
``.pth`` file in site-packages whose line was smuggled in through a node name runs code in every
later Python. So nothing free-form reaches ORT: every key must be on the allow-list below, with
a value of the documented type and range, and every file ORT writes (profile, optimized model)
goes to the worker's private folder under names the inspector chooses (``worker.py``).

Each entry says what it does and why it is safe: none names a file, a folder or a library; all
values are checked against a closed set, a numeric range or a character pattern. The worker
checks again before it hands anything to ORT, so a hand-made ``job.json`` gets no further.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from inspector.errors import InspectorError


class OptionError(InspectorError):
    """A session config entry or EP option is not allowed, or its value is invalid."""

    kind = "config"


@dataclass(frozen=True)
class Option:
    """One allowed key: its value kind and why it is safe to accept from a user."""

    key: str
    kind: str  # "flag" (0/1), "bool" (true/false), "int", "choice", "pattern"
    doc: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    pattern: str = ""

    @property
    def values(self) -> str:
        """The accepted values, as the docs and error messages show them."""
        if self.kind == "flag":
            return "0 or 1"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "int":
            return f"an integer {self.low}…{self.high}"
        if self.kind == "choice":
            return " | ".join(self.choices)
        return f"matching {self.pattern}"

    def check(self, value: str, where: str) -> str:
        v = str(value).strip()
        ok = False
        if self.kind == "flag":
            ok = v in ("0", "1")
        elif self.kind == "bool":
            v = v.lower()
            ok = v in ("true", "false")
        elif self.kind == "int":
            ok = re.fullmatch(r"-?[0-9]{1,19}", v) is not None and self.low <= int(v) <= self.high
        elif self.kind == "choice":
            ok = v in self.choices
        elif self.kind == "pattern":
            ok = len(v) <= 256 and re.fullmatch(self.pattern, v) is not None
        if not ok:
            raise OptionError(f"{where} {self.key}={value!r}: the value must be {self.values}.")
        return v


def _flag(key: str, doc: str) -> Option:
    return Option(key, "flag", doc)


#: Session config entries a user may set (``SessionOptions.add_session_config_entry``).
SESSION_KEYS: dict[str, Option] = {
    o.key: o
    for o in (
        _flag("session.intra_op.allow_spinning", "busy-wait in intra-op threads (timing only)"),
        _flag("session.inter_op.allow_spinning", "busy-wait in inter-op threads (timing only)"),
        _flag("session.force_spinning_stop", "stop spinning threads after each run"),
        _flag("session.disable_prepacking", "do not pre-pack constant weights"),
        _flag("session.set_denormal_as_zero", "flush denormal floats to zero (numerics)"),
        _flag("session.disable_quant_qdq", "keep QDQ pairs instead of fusing quantized ops"),
        _flag("session.disable_double_qdq_remover", "keep back-to-back Q/DQ pairs"),
        _flag("session.enable_quant_qdq_cleanup", "remove redundant Q/DQ pairs"),
        _flag("session.disable_qdq_constant_folding", "do not constant-fold DQ of initializers"),
        _flag("session.enable_dq_matmulnbits_fusion", "fuse DequantizeLinear+MatMul to NBits"),
        _flag("session.disable_aot_function_inlining", "do not inline model-local functions"),
        _flag("session.strict_shape_type_inference", "fail on shape/type inference errors"),
        _flag("session.allow_released_opsets_only", "refuse opsets newer than released ones"),
        _flag("session.enable_cpu_mem_arena", "use the CPU memory arena"),
        _flag("session.enable_mem_pattern", "pre-plan memory from the first run"),
        _flag("optimization.enable_gelu_approximation", "replace Gelu with its tanh approximation"),
        _flag("optimization.enable_cast_chain_elimination", "remove chains of Cast nodes"),
        _flag("mlas.disable_kleidiai", "do not use KleidiAI kernels (Arm)"),
        Option(
            "session.qdq_matmulnbits_accuracy_level",
            "int",
            "compute precision of MatMulNBits made from QDQ (0 = unset … 4 = int8)",
            0,
            4,
        ),
        Option(
            "session.graph_optimizations_loop_level",
            "int",
            "how often the optimizer loops over the graph",
            0,
            2,
        ),
        Option(
            "session.dynamic_block_base",
            "int",
            "intra-op thread pool block size for dynamic scheduling (0 = off)",
            0,
            4096,
        ),
        Option(
            "optimization.constant_folding_max_output_size_in_bytes",
            "int",
            "largest constant-folded tensor the optimizer may create",
            0,
            2**31,
        ),
        Option(
            "session.intra_op_thread_affinities",
            "pattern",
            "CPU affinity per intra-op thread, e.g. 1;2 or 1,2;3-4",
            pattern=r"[0-9]+(-[0-9]+)?([,;][0-9]+(-[0-9]+)?)*",
        ),
    )
}

#: Keys the inspector sets itself, or that are known to write or read files: refused with a
#: pointer to what to use instead. Anything else unknown is refused too.
REFUSED_KEYS: dict[str, str] = {
    "session.disable_cpu_ep_fallback": "use the strict option (--strict, 'strict': true)",
    "session.record_ep_graph_assignment_info": "the inspector always records EP assignment",
    "session.optimized_model_filepath": "it writes a file; the inspector saves the optimized "
    "model in the run's private folder itself",
    "session.collect_node_memory_stats_to_file": "it writes a file at a path you choose",
    "session.node_partition_config_file": "it reads a file at a path you choose",
    "session.debug_layout_transformation": "it writes files into the working folder",
    "session.moe_expert_counter_state_file": "it writes a file at a path you choose",
    "optimization.disable_specified_optimizers": "use the disabled optimizers option "
    "(--disable, 'disabled_optimizers')",
    "session.enable_profiling": "use profiled runs; the profile goes to the private folder",
    "session.graph_optimization_level": "use the optimization level option",
    "session.intra_op_num_threads": "use the threads option",
    "session.inter_op_num_threads": "use the threads option",
    "session.execution_mode": "use the execution mode option",
}
_REFUSED_PREFIXES = (
    ("ep.context", "EP context models are written to and read from files"),
    ("session.optimized_model", "the inspector saves the optimized model itself"),
    ("session.moe.offload", "offloading reads and writes files"),
    ("session.save", "it writes files"),
    ("session.load", "it reads files"),
)

#: Provider options a user may pass to each EP. No option naming a file, folder or library
#: (OpenVINO ``cache_dir``/``load_config``, TensorRT ``trt_*_path``/caches, ggml ``dump``).
EP_OPTIONS: dict[str, dict[str, Option]] = {
    ep: {o.key: o for o in options}
    for ep, options in {
        "CPUExecutionProvider": (),
        "ggml": (
            Option("partial", "flag", "take the supported nodes when some are not (1)"),
            Option(
                "device",
                "choice",
                "which ggml backend runs the nodes",
                choices=("auto", "cpu", "gpu"),
            ),
            Option("threads", "int", "ggml CPU threads", 1, 256),
        ),
        "OpenVINOExecutionProvider": (
            Option(
                "device_type",
                "pattern",
                "OpenVINO device (CPU, GPU, NPU, GPU.1, AUTO:GPU,CPU, HETERO:…)",
                pattern=r"[A-Z]+(\.[0-9]+)?(:[A-Z]+(\.[0-9]+)?(,[A-Z]+(\.[0-9]+)?)*)?",
            ),
            Option(
                "precision", "choice", "inference precision", choices=("FP32", "FP16", "ACCURACY")
            ),
            Option("num_of_threads", "int", "OpenVINO CPU threads", 1, 256),
            Option("num_streams", "int", "parallel inference streams", 1, 64),
            Option("enable_qdq_optimizer", "bool", "optimize QDQ graphs for NPU"),
            Option("disable_dynamic_shapes", "bool", "compile for fixed input shapes"),
        ),
        "CUDAExecutionProvider": (
            Option("device_id", "int", "GPU index", 0, 64),
            Option("gpu_mem_limit", "int", "arena size limit in bytes", 0, 2**50),
            Option(
                "arena_extend_strategy",
                "choice",
                "arena growth",
                choices=("kNextPowerOfTwo", "kSameAsRequested"),
            ),
            Option(
                "cudnn_conv_algo_search",
                "choice",
                "cuDNN algorithm search",
                choices=("EXHAUSTIVE", "HEURISTIC", "DEFAULT"),
            ),
            Option("do_copy_in_default_stream", "flag", "copy on the default stream"),
            Option("enable_cuda_graph", "flag", "capture a CUDA graph"),
            Option("use_tf32", "flag", "allow TF32 math"),
            Option("prefer_nhwc", "flag", "prefer NHWC kernels"),
        ),
        "TensorrtExecutionProvider": (
            Option("device_id", "int", "GPU index", 0, 64),
            Option("trt_fp16_enable", "flag", "allow FP16 kernels"),
            Option("trt_max_workspace_size", "int", "builder workspace in bytes", 0, 2**50),
            Option("trt_builder_optimization_level", "int", "builder effort", 0, 5),
            Option("trt_max_partition_iterations", "int", "partitioning iterations", 1, 10000),
            Option("trt_min_subgraph_size", "int", "smallest subgraph TensorRT takes", 1, 100000),
        ),
        "cpu_ep": (),
        "XnnpackExecutionProvider": (
            Option("intra_op_num_threads", "int", "XNNPACK threads", 1, 256),
        ),
    }.items()
}


#: Options the inspector adds for an EP unless the configuration sets them: without
#: ``partial=1`` ggml claims no node of a graph it cannot take whole (and logs why), so a
#: fallback demo would show nothing on ggml.
DEFAULT_EP_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {"ggml": (("partial", "1"),)}


def with_defaults(ep: str, pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    given = {k for k, _ in pairs}
    extra = tuple(kv for kv in DEFAULT_EP_OPTIONS.get(ep, ()) if kv[0] not in given)
    return tuple(sorted((*pairs, *extra)))


def check_session_config(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Validate session config entries; return them normalized and sorted.

    Raises :class:`OptionError` naming the first key that is not allowed or whose value is
    out of range."""
    out: dict[str, str] = {}
    for key, value in pairs:
        k = str(key).strip()
        if k in SESSION_KEYS:
            out[k] = SESSION_KEYS[k].check(str(value), "Session config entry")
            continue
        reason = REFUSED_KEYS.get(k) or next(
            (why for prefix, why in _REFUSED_PREFIXES if k.startswith(prefix)), ""
        )
        shown = k if k.isprintable() else repr(k)
        if reason:
            raise OptionError(f"Session config entry {shown!r} is not accepted: {reason}.")
        raise OptionError(
            f"Session config entry {shown!r} is not on the run lab's allow-list; allowed keys: "
            f"{', '.join(sorted(SESSION_KEYS))} (see docs/run-options.md)."
        )
    return tuple(sorted(out.items()))


def check_ep_options(ep: str, pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Validate one EP's provider options; return them normalized and sorted."""
    pairs = list(pairs)
    if not pairs:
        return ()
    allowed = EP_OPTIONS.get(ep)
    if allowed is None:
        key = str(pairs[0][0])
        raise OptionError(
            f"{ep} option {key if key.isprintable() else repr(key)!r} is refused: the run lab "
            f"passes {ep} no provider options, only those it knows to be safe for the EPs in "
            "docs/run-options.md."
        )
    out: dict[str, str] = {}
    for key, value in pairs:
        k = str(key).strip()
        if k not in allowed:
            shown = k if k.isprintable() else repr(k)
            known = ", ".join(sorted(allowed)) or "none"
            raise OptionError(
                f"{ep} option {shown!r} is not on the run lab's allow-list (allowed: {known})."
            )
        out[k] = allowed[k].check(str(value), f"{ep} option")
    return tuple(sorted(out.items()))


#: OpenVINO's ``precision`` option is ignored by its plugin EP (ONNX Runtime logs "Provider
#: option precision is ignored. Please set it via the load_config as: INFERENCE_PRECISION_HINT"):
#: the inspector turns it into OpenVINO properties in a ``load_config`` JSON file it writes
#: itself, in the worker's private folder (no user path ever reaches the EP).
OPENVINO = "OpenVINOExecutionProvider"
_OV_PRECISION = {
    "FP32": {"INFERENCE_PRECISION_HINT": "f32"},
    "FP16": {"INFERENCE_PRECISION_HINT": "f16"},
    "ACCURACY": {"EXECUTION_MODE_HINT": "ACCURACY"},
}


def openvino_load_config(
    pairs: Iterable[tuple[str, str]],
) -> tuple[tuple[tuple[str, str], ...], dict[str, dict[str, str]] | None]:
    """OpenVINO options with ``precision`` taken out, and the ``load_config`` content that
    sets it instead: ``{device: {property: value}}`` for each device ``device_type`` names
    (``AUTO:GPU,CPU`` → GPU and CPU; default CPU). None when no precision was asked for."""
    options = dict(pairs)
    precision = options.pop("precision", None)
    if precision is None:
        return tuple(sorted(options.items())), None
    if precision not in _OV_PRECISION:
        raise OptionError(f"OpenVINO precision {precision!r} is not one of FP32, FP16, ACCURACY.")
    device = options.get("device_type", "CPU")
    names = device.split(":", 1)[1] if ":" in device else device
    devices = [d.split(".")[0] for d in names.split(",") if d]
    return tuple(sorted(options.items())), {d: dict(_OV_PRECISION[precision]) for d in devices}


def precision_note(requested: str | None, cpu_flags: Iterable[str] = ()) -> str:
    """What precision OpenVINO's CPU plugin computes in, for a result whose outputs differ:
    the one asked for, or its default — bf16 where the CPU has AMX or AVX-512 BF16, else f32
    (f16 where it has AVX-512 FP16 or AMX-FP16 and a hint asks for it)."""
    if requested:
        return f"OpenVINO computed in {requested} (precision={requested}, set through load_config)."
    flags = set(cpu_flags)
    if flags & {"amx_bf16", "avx512_bf16"}:
        return (
            "OpenVINO's CPU plugin computes in bf16 by default on this CPU (it has "
            f"{', '.join(sorted(flags & {'amx_bf16', 'avx512_bf16'}))}): outputs differ from "
            "CPU's float32 by bf16's 8-bit mantissa. Set precision=FP32 to compare like with like."
        )
    return "OpenVINO's CPU plugin computes in f32 by default on this CPU (no bf16 units)."


#: EP options that set a thread count: the deployment's ``max_threads`` caps them as it caps
#: the session's own threads (``RunConfig.check_limits``), within the ranges above.
THREAD_OPTIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("ggml", "threads"),
        ("OpenVINOExecutionProvider", "num_of_threads"),
        ("OpenVINOExecutionProvider", "num_streams"),
        ("XnnpackExecutionProvider", "intra_op_num_threads"),
    }
)

OPTIMIZER_NAME = re.compile(r"[A-Za-z0-9_]{1,128}")
#: Most distinct pass names one configuration may disable: ONNX Runtime 1.31 has about a
#: hundred; each is one more configuration in an ablation.
MAX_OPTIMIZER_NAMES = 200


def check_optimizer_names(names: Iterable[str]) -> tuple[str, ...]:
    """Optimizer pass names go into a ';'-separated ORT entry: letters, digits and '_' only
    (each once, in the order given; at most :data:`MAX_OPTIMIZER_NAMES`)."""
    out: dict[str, None] = {}
    for n in names:
        n = str(n).strip()
        if not OPTIMIZER_NAME.fullmatch(n):
            raise OptionError(
                f"Optimizer pass name {n!r} is not valid: use letters, digits and '_' "
                "(e.g. GeluFusionL1, NchwcTransformer)."
            )
        out[n] = None
        if len(out) > MAX_OPTIMIZER_NAMES:
            raise OptionError(
                f"More than {MAX_OPTIMIZER_NAMES} optimizer pass names: ONNX Runtime has about "
                "a hundred; list the ones to disable."
            )
    return tuple(out)


def as_json() -> dict[str, object]:
    """The allow-lists as data (``onnx-inspector run-options --json``)."""

    def row(o: Option) -> dict[str, str]:
        return {"key": o.key, "values": o.values, "doc": o.doc}

    return {
        "session_config": [row(o) for o in SESSION_KEYS.values()],
        "refused": REFUSED_KEYS | {p + "*": why for p, why in _REFUSED_PREFIXES},
        "ep_options": {ep: [row(o) for o in opts.values()] for ep, opts in EP_OPTIONS.items()},
    }


def markdown() -> str:
    """docs/run-options.md: every accepted key, its values, and why it is safe."""
    lines = [
        "# Run options the inspector accepts",
        "",
        "Generated from `inspector/run/setup/options.py` (a test fails when this file is stale).",
        "Every other session config key or EP option is refused with a message naming it: no",
        "accepted key names a file, folder or library, and every value is checked against a",
        "closed set, a range or a pattern, so a user cannot make ONNX Runtime read or write a",
        "path of their choosing. Files ORT writes (profile, optimized model) go to the worker's",
        "private folder under fixed names.",
        "",
        "## Session config entries",
        "",
        "| key | values | what it does |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{o.key}` | {o.values.replace('|', '/')} | {o.doc} |" for o in SESSION_KEYS.values()
    ]
    lines += ["", "### Refused on purpose", "", "| key | why |", "|---|---|"]
    lines += [f"| `{k}` | {why} |" for k, why in REFUSED_KEYS.items()]
    lines += [f"| `{p}*` | {why} |" for p, why in _REFUSED_PREFIXES]
    lines += ["", "## EP options", ""]
    for ep, options in EP_OPTIONS.items():
        lines += [f"### {ep}", ""]
        if not options:
            lines += ["No options.", ""]
            continue
        lines += ["| option | values | what it does |", "|---|---|---|"]
        lines += [
            f"| `{o.key}` | {o.values.replace('|', '/')} | {o.doc} |" for o in options.values()
        ]
        lines.append("")
    lines += ["Any other EP takes no options through the inspector.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
