"""Run configurations: which EPs, optimization level, threads and options one session uses.

A configuration is plain data (JSON round-trips), so the parent can hand it to a worker process
and the CLI can read a matrix from a file. A matrix (EPs × levels × option variants) expands
into configurations; one is the reference for comparisons.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from inspector.errors import InspectorError
from inspector.limits import (
    ENV_PREFIX,
    RUN_DEFAULTS,
    Limits,
    deployment_limits,
    thread_limit,
)
from inspector.run.setup.options import (
    THREAD_OPTIONS,
    OptionError,
    check_ep_options,
    check_optimizer_names,
    check_session_config,
    with_defaults,
)

#: ORT's GraphOptimizationLevel values by our names.
OPT_LEVELS: dict[str, int] = {"disable_all": 0, "basic": 1, "extended": 2, "layout": 3, "all": 99}
LEVEL_ALIASES = {
    "0": "disable_all",
    "1": "basic",
    "2": "extended",
    "3": "layout",
    "99": "all",
    "ort_disable_all": "disable_all",
    "ort_enable_basic": "basic",
    "ort_enable_extended": "extended",
    "ort_enable_layout": "layout",
    "ort_enable_all": "all",
    "none": "disable_all",
    "disabled": "disable_all",
}
EP_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "azure": "AzureExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
    "ggml": "ggml",
    "nxrt": "cpu_ep",
}


EP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


class ConfigError(InspectorError):
    """A run configuration or matrix file is invalid."""

    kind = "config"


@dataclass(frozen=True)
class EpSpec:
    """One execution provider in a priority list, with its provider options."""

    name: str
    options: tuple[tuple[str, str], ...] = ()

    @property
    def short(self) -> str:
        return self.name.removesuffix("ExecutionProvider")


#: Numeric settings of a configuration and the limit (inspector/limits.py) that caps each.
_CAPPED = (
    ("intra_op_threads", "max_threads"),
    ("inter_op_threads", "max_threads"),
    ("warmup_runs", "max_warmup_runs"),
    ("timed_runs", "max_timed_runs"),
    ("profiled_runs", "max_profiled_runs"),
    ("time_budget_s", "max_time_budget_s"),
)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one session and how it is timed."""

    eps: tuple[EpSpec, ...] = (EpSpec("CPUExecutionProvider"),)
    opt_level: str = "disable_all"
    intra_op_threads: int = RUN_DEFAULTS.intra_op_threads  # pinned (see RunDefaults)
    inter_op_threads: int = 1
    execution_mode: str = "sequential"  # or "parallel"
    disabled_optimizers: tuple[str, ...] = ()
    session_config: tuple[tuple[str, str], ...] = ()  # extra session config entries
    strict: bool = False  # session.disable_cpu_ep_fallback=1: refuse if anything falls back
    warmup_runs: int = RUN_DEFAULTS.warmup_runs
    # Timed runs stop once the median's 95 % interval is within ±target_ci_pct % or
    # time_budget_s is spent (never below timing.MIN_TIMED_RUNS, or MIN_SLOW_TIMED_RUNS when
    # those spend it; never above timed_runs); both 0: exactly timed_runs. Profiled runs get
    # a quarter of the budget (timing.py).
    timed_runs: int = RUN_DEFAULTS.timed_runs
    profiled_runs: int = RUN_DEFAULTS.profiled_runs
    label: str = ""
    time_budget_s: float = RUN_DEFAULTS.time_budget_s
    target_ci_pct: float = RUN_DEFAULTS.target_ci_pct

    def __post_init__(self) -> None:
        if self.opt_level not in OPT_LEVELS:
            raise ConfigError(
                f"Unknown optimization level {self.opt_level!r}; use one of "
                f"{', '.join(OPT_LEVELS)}."
            )
        if not self.eps:
            raise ConfigError("A configuration needs at least one execution provider.")
        if self.execution_mode not in ("sequential", "parallel"):
            raise ConfigError(
                f"execution_mode must be 'sequential' or 'parallel', not {self.execution_mode!r}."
            )
        for name in (
            "intra_op_threads",
            "inter_op_threads",
            "warmup_runs",
            "timed_runs",
            "profiled_runs",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be ≥ 0 (got {getattr(self, name)}).")
        for name, high in (("time_budget_s", math.inf), ("target_ci_pct", 100.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number (got {value!r}).")
            if not (0 <= value <= high):  # NaN fails too
                bounds = "≥ 0" if high == math.inf else f"between 0 and {high:g}"
                raise ConfigError(f"{name} must be {bounds} (got {value!r}); 0 turns it off.")
            object.__setattr__(self, name, float(value))
        if self.strict and all(e.name == "CPUExecutionProvider" for e in self.eps):
            raise ConfigError("Strict mode (no CPU fallback) needs an EP other than CPU.")
        if self.timed_runs < 1:
            raise ConfigError("timed_runs must be at least 1.")
        # The deployment's ceilings hold for every configuration, wherever it comes from (a
        # page, a CLI flag, a matrix file, a bundle): 4,000 threads aborted ONNX Runtime.
        self.check_limits(deployment_limits())
        # Allow-lists (options.py): nothing free-form reaches ONNX Runtime.
        try:
            object.__setattr__(self, "session_config", check_session_config(self.session_config))
            object.__setattr__(
                self, "disabled_optimizers", check_optimizer_names(self.disabled_optimizers)
            )
            object.__setattr__(
                self,
                "eps",
                tuple(
                    EpSpec(e.name, with_defaults(e.name, check_ep_options(e.name, e.options)))
                    for e in self.eps
                ),
            )
        except OptionError as exc:
            raise ConfigError(str(exc)) from None
        if not self.label:
            object.__setattr__(self, "label", self.default_label())

    def check_limits(self, limits: Limits) -> None:
        """Refuse a number over ``limits`` (ConfigError naming the limit and its variable):
        threads, warm-up, timed and profiled runs, and EP options that set a thread count."""
        numbers = [(name, getattr(self, name), limit) for name, limit in _CAPPED]
        numbers += [
            (f"{e.short} option {key}", int(value), "max_threads")
            for e in self.eps
            for key, value in e.options
            if (e.name, key) in THREAD_OPTIONS
        ]
        for name, value, limit in numbers:
            cap = thread_limit(limits) if limit == "max_threads" else getattr(limits, limit)
            if value > cap:
                raise ConfigError(
                    f"{name}={value:,} is over the limit {limit}={cap:,} "
                    f"({ENV_PREFIX}{limit.upper()} sets it for a deployment; docs/limits.md)."
                )

    def default_label(self) -> str:
        eps = "+".join(e.short for e in self.eps)
        parts = [eps, self.opt_level]
        if self.disabled_optimizers:
            parts.append("-" + ",".join(self.disabled_optimizers))
        if self.session_config:
            parts.append(",".join(f"{k.split('.')[-1]}={v}" for k, v in self.session_config))
        if self.strict:
            parts.append("strict")
        return " · ".join(parts)

    @property
    def level_value(self) -> int:
        return OPT_LEVELS[self.opt_level]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Build from JSON-like data; EPs may be names, ``{"name":..., "options":{...}}``."""
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed - {"ep", "level"}
        if unknown:
            raise ConfigError(f"Unknown configuration keys: {', '.join(sorted(unknown))}.")
        d = dict(data)
        if "ep" in d:
            d["eps"] = d.pop("ep")
        if "level" in d:
            d["opt_level"] = d.pop("level")
        if "eps" in d:
            d["eps"] = parse_eps(d["eps"])
        if "opt_level" in d:
            d["opt_level"] = parse_level(d["opt_level"])
        for key in ("disabled_optimizers",):
            if key in d:
                d[key] = tuple(d[key])
        if "session_config" in d:
            sc = d["session_config"]
            d["session_config"] = text_pairs(sc)
        try:
            return cls(**d)
        except TypeError as exc:
            raise ConfigError(f"Invalid configuration: {exc}.") from None


def parse_level(value: str | int) -> str:
    key = str(value).strip().lower()
    key = LEVEL_ALIASES.get(key, key)
    if key not in OPT_LEVELS:
        raise ConfigError(
            f"Unknown optimization level {value!r}; use one of "
            f"{', '.join(OPT_LEVELS)} (or 0/1/2/3/99)."
        )
    return key


def text_pairs(items: Mapping[Any, Any] | Iterable[tuple[Any, Any]]) -> tuple[tuple[str, str], ...]:
    """Options (provider options, session config entries) as a configuration holds them:
    ``(key, value)`` text pairs sorted by key, from a mapping or from pairs."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return tuple(sorted((str(k), str(v)) for k, v in pairs))


def parse_ep(value: str | Mapping[str, Any] | EpSpec) -> EpSpec:
    if isinstance(value, EpSpec):
        return value
    if isinstance(value, Mapping):
        name = str(value.get("name", ""))
        options = value.get("options", {}) or {}
        return EpSpec(
            EP_ALIASES.get(name.lower(), name),
            text_pairs(options),
        )
    name = str(value).strip()
    if not name:
        raise ConfigError("Empty execution provider name.")
    if not EP_NAME.fullmatch(name):
        raise ConfigError(f"{name!r} is not an execution provider name.")
    return EpSpec(EP_ALIASES.get(name.lower(), name))


def parse_key_values(items: Iterable[str], what: str) -> dict[str, str]:
    """``["key=value", ...]`` (blank items skipped) → a dict; a clear error for other shapes."""
    out = {}
    for item in items:
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {item.strip()!r} must be key=value.")
        out[key.strip()] = value.strip()
    return out


def parse_ep_options(items: Iterable[str], what: str = "EP option") -> dict[str, dict[str, str]]:
    """``["ggml:threads=2", ...]`` → {canonical EP name: {key: value}}, each checked against
    the allow-list (an option for an EP no list mentions is still checked, not ignored)."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        if not item.strip():
            continue
        ep, sep, rest = item.partition(":")
        key, sep2, value = rest.partition("=")
        if not (sep and sep2 and ep.strip() and key.strip()):
            raise ConfigError(f"{what} {item.strip()!r} must look like EP:KEY=VALUE.")
        out.setdefault(parse_ep(ep).name, {})[key.strip()] = value.strip()
    for ep, options in out.items():
        try:
            check_ep_options(ep, options.items())
        except OptionError as exc:
            raise ConfigError(str(exc)) from None
    return out


def parse_eps(value: str | Sequence[Any]) -> tuple[EpSpec, ...]:
    """``"openvino,cpu"`` or ``["OpenVINOExecutionProvider", {"name": "cpu"}]``."""
    items = [v for v in re.split(r"[,+]", value) if v.strip()] if isinstance(value, str) else value
    eps = tuple(parse_ep(v) for v in items)
    if not eps:
        raise ConfigError("No execution provider given.")
    return eps


#: The reference configuration's EPs and label (CPU, disable_all). Not a module-level RunConfig:
#: one built at import would fail to import wherever a deployment lowers a run limit below the
#: defaults.
REFERENCE_EPS = (EpSpec("CPUExecutionProvider"),)
REFERENCE_LABEL = "reference · CPU · disable_all"


@dataclass(frozen=True)
class Matrix:
    """Configurations to run, and which one is the reference for comparisons."""

    configs: tuple[RunConfig, ...]
    reference: int = 0

    def __post_init__(self) -> None:
        if not self.configs:
            raise ConfigError("The matrix has no configurations.")
        labels = [c.label for c in self.configs]
        dupes = {x for x in labels if labels.count(x) > 1}
        if dupes:
            raise ConfigError(f"Configuration labels must be unique: {', '.join(sorted(dupes))}.")
        if not 0 <= self.reference < len(self.configs):
            raise ConfigError("The reference index is outside the matrix.")


def expand_matrix(
    ep_lists: Iterable[str | Sequence[Any]],
    levels: Iterable[str | int],
    variants: Sequence[Mapping[str, Any]] = ({},),
    base: RunConfig | None = None,
    include_reference: bool = True,
) -> Matrix:
    """EPs × levels × option variants; the reference (CPU, disable_all) comes first."""
    base = base or RunConfig()
    configs: list[RunConfig] = []
    if include_reference:
        configs.append(
            replace(
                base,
                eps=REFERENCE_EPS,
                opt_level="disable_all",
                label=REFERENCE_LABEL,
                strict=False,
                disabled_optimizers=(),
                session_config=(),
            )
        )
    for eps, level, variant in itertools.product(list(ep_lists), list(levels), list(variants)):
        data = {f: getattr(base, f) for f in base.__dataclass_fields__ if f != "label"}
        data["eps"] = parse_eps(eps)
        data["opt_level"] = parse_level(level)
        config = _from_parts(data, variant)
        if any(
            c.label == config.label or replace(c, label="") == replace(config, label="")
            for c in configs
        ):
            continue  # the same session as one already listed (e.g. the reference)
        configs.append(config)
    return Matrix(tuple(configs), 0)


def _from_parts(data: dict[str, Any], variant: Mapping[str, Any]) -> RunConfig:
    d = dict(data)
    d["eps"] = tuple(d["eps"])
    if "session_config" in variant:
        sc = variant["session_config"]
        d["session_config"] = text_pairs(sc)
    if "disabled_optimizers" in variant:
        d["disabled_optimizers"] = tuple(variant["disabled_optimizers"])
    d["label"] = str(variant.get("label", ""))
    if d["label"]:
        d["label"] = f"{'+'.join(e.short for e in d['eps'])} · {d['opt_level']} · {d['label']}"
    return RunConfig(**d)


def load_matrix(path: str | Path) -> Matrix:
    """Read a matrix from JSON (or YAML when PyYAML is installed).

    Format: ``{"eps": [["openvino", "cpu"], ["cpu"]], "levels": ["disable_all", "all"],
    "variants": [{}, {"session_config": {...}}], "runs": {...base config...}}`` or
    ``{"configs": [{...}, ...], "reference": 0}``.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"Cannot read matrix file {str(p)!r}: {exc.strerror}.") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml  # optional dependency

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ImportError:
        raise ConfigError("Reading YAML needs PyYAML (pip install pyyaml); or use JSON.") from None
    except Exception as exc:
        kind = "YAML" if p.suffix.lower() in (".yaml", ".yml") else "JSON"
        raise ConfigError(f"{p.name} is not valid {kind}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p.name} must hold an object with 'configs' or 'eps'/'levels'.")
    if "configs" in data:
        return Matrix(
            tuple(RunConfig.from_dict(c) for c in data["configs"]), int(data.get("reference", 0))
        )
    base = RunConfig.from_dict(data.get("base", {}))
    return expand_matrix(
        data.get("eps", [["cpu"]]),
        data.get("levels", ["disable_all"]),
        data.get("variants", [{}]),
        base,
        bool(data.get("include_reference", True)),
    )


def with_strict_variants(matrix: Matrix) -> Matrix:
    """The matrix plus a strict copy (no CPU fallback) of every configuration that prefers a
    non-CPU EP — the CPU EP is dropped from those copies, as ORT refuses it alongside strict."""
    extra = []
    for c in matrix.configs:
        accel = tuple(e for e in c.eps if e.name != "CPUExecutionProvider")
        if accel and not c.strict:
            extra.append(replace(c, eps=accel, strict=True, label=""))
    labels = {c.label for c in matrix.configs}
    return Matrix(
        matrix.configs + tuple(c for c in extra if c.label not in labels), matrix.reference
    )
