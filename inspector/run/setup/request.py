"""A run as asked for, built and checked once, whoever asks.

A :class:`RunRequest` is the configurations (a :class:`~inspector.run.setup.config.Matrix`), how to
make the inputs (:class:`InputSpec`) and limits lowered for this run (:class:`LimitOverride`).
It is built from the CLI's flags (:meth:`RunRequest.from_args`), the Run lab's form
(:class:`RunForm`, :meth:`RunRequest.from_form`), a matrix file, a session bundle's exact
configurations and inputs (:meth:`RunRequest.from_bundle`, :meth:`RunRequest.exact`) or Python;
what can be checked without the model is checked then (a bad flag, a bad shape text, a matrix
over nothing). :meth:`RunRequest.resolve` checks the rest against a model and returns what the
runner takes: the matrix, the input arrays, the limits and any expected outputs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.limits import (
    CEILINGS,
    DEFAULT_LIMITS,
    ENV_PREFIX,
    RUN_DEFAULTS,
    GiB,
    Limits,
    env_limits,
)
from inspector.model.load import LoadedModel
from inspector.model.overview import ValueInfo
from inspector.run.setup.config import ConfigError, Matrix, RunConfig, load_matrix, parse_key_values
from inspector.run.setup.inputs import (
    InputError,
    InputPlan,
    ResolvedInput,
    check_inputs,
    generate,
    load_expected_outputs,
    load_input_files,
    parse_shape,
    resolve,
    shape_hints,
)
from inspector.run.setup.plan import RunPlan

if TYPE_CHECKING:
    from inspector.bundle import Bundle
    from inspector.run.setup.probe import ProbeResult

#: Tries input sizes until one runs (:func:`inspector.run.setup.probe.probe_sizes` by default; the
#: app queues it as a job instead).
Prober = Callable[[LoadedModel, Sequence[ValueInfo], InputPlan, Limits], "ProbeResult"]


@dataclass(frozen=True, kw_only=True)
class InputSpec:
    """How to make a run's inputs: exact arrays, supplied files, or generated ones (dims by
    name, whole shapes, value ranges and string values by input, a seed; optionally probing
    for sizes that run first). Files or arrays win over the generation settings."""

    dims: tuple[tuple[str, int], ...] = ()
    ranges: tuple[tuple[str, float, float], ...] = ()
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    seed: int = 0
    probe: bool = False
    # .npy/.npz/.pb by file name; a test-data folder's output_<i>.pb are expected outputs
    files: tuple[tuple[str, bytes], ...] = ()
    arrays: Mapping[str, Any] | None = field(default=None, compare=False)  # exact inputs

    def __post_init__(self) -> None:
        if self.files and self.arrays is not None:
            raise InputError("Give the inputs as files or as arrays, not both.")

    def plan(self, hints: Any = None) -> InputPlan:
        return InputPlan.make(
            dict(self.dims),
            {n: (a, b) for n, a, b in self.ranges},
            seed=self.seed,
            shapes=dict(self.shapes),
            values=dict(self.values),
            hints=hints,
        )


@dataclass(frozen=True)
class LimitOverride:
    """One limit lowered (or, where no deployment variable sets it, changed) for this run."""

    name: str  # a Limits field among limits.CEILINGS
    value: int  # for worker_memory_bytes 0 (or less) means no cap
    asked_by: str = ""  # the flag or widget, for the message: "--timeout"

    def __post_init__(self) -> None:
        if self.name not in CEILINGS:
            raise ConfigError(f"{self.name} is not a limit a run may set ({', '.join(CEILINGS)}).")


@dataclass(frozen=True)
class ResolvedRun:
    """A request against one model: what the runner takes, and how the inputs were chosen."""

    matrix: Matrix
    inputs: dict[str, Any]
    limits: Limits
    expected: dict[str, Any] | None = None  # a test-data folder's expected outputs
    generated: tuple[ResolvedInput, ...] = ()  # each generated input's shape and reasons
    probe: ProbeResult | None = None


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """Configurations, inputs and limit overrides, checked when built (see the module)."""

    matrix: Matrix
    inputs: InputSpec = InputSpec()
    limits: tuple[LimitOverride, ...] = ()
    plan: RunPlan | None = None  # what the matrix was built from (flags, a form), if anything

    # ------------------------------------------------------------------ sources

    @classmethod
    def from_plan(
        cls,
        plan: RunPlan,
        inputs: InputSpec | None = None,
        limits: Sequence[LimitOverride] = (),
    ) -> RunRequest:
        return cls(
            matrix=plan.matrix(), inputs=inputs or InputSpec(), limits=tuple(limits), plan=plan
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace, matrix: Matrix | None = None) -> RunRequest:
        """The ``run``/``compare``/``report``/``bundle``/``diff`` flags (a flag a command lacks
        takes its default); ``matrix`` instead of the one the flags or ``--matrix`` give."""
        plan = plan_from_args(args)
        if matrix is None:
            path = getattr(args, "matrix", None)
            matrix = load_matrix(path) if path else plan.matrix()
        return cls(
            matrix=matrix, inputs=inputs_from_args(args), limits=limits_from_args(args), plan=plan
        )

    @classmethod
    def from_form(
        cls, form: RunForm, choices: Mapping[str, str], files: Sequence[tuple[str, bytes]] = ()
    ) -> RunRequest:
        """The Run lab's form; ``choices``: its EP labels → priority lists (:func:`ep_choices`
        of what is usable here); ``files``: uploaded input files by name."""
        unknown = [label for label in form.eps if label not in choices]
        if unknown:
            raise ConfigError(f"EP list {unknown[0]!r} is not available on this server.")
        plan = RunPlan(
            ep_lists=tuple(choices[label] for label in form.eps)
            + ((f"{form.missing_ep},cpu",) if form.missing_ep else ()),
            levels=form.levels,
            strict_variants=form.strict,
            intra_op_threads=form.threads,
            warmup_runs=form.warmup,
            timed_runs=form.runs,
            profiled_runs=form.profiled,
            time_budget_s=form.budget,
            target_ci_pct=form.target,
            disabled_optimizers=tuple(form.disabled.split(",")),
            session_config=tuple(form.session_config.splitlines()),
            ep_options=tuple(form.ep_options.splitlines()),
        )
        inputs = InputSpec(
            dims=form.dims,
            ranges=form.ranges,
            shapes=tuple((n, parse_shape(t, f"Shape of {n}")) for n, t in form.shapes if t.strip()),
            values=tuple(
                (n, tuple(v.strip() for v in text.split(",") if v.strip()))
                for n, text in form.values
            ),
            probe=form.probe,
            files=tuple(files),
        )
        timeout = LimitOverride("run_timeout_s", form.timeout, "the timeout per configuration")
        return cls.from_plan(plan, inputs, (timeout,))

    @classmethod
    def from_matrix_file(cls, path: str | Path, inputs: InputSpec | None = None) -> RunRequest:
        """A matrix written as JSON/YAML (:func:`inspector.run.setup.config.load_matrix`)."""
        return cls(matrix=load_matrix(str(path)), inputs=inputs or InputSpec())

    @classmethod
    def exact(
        cls, configs: Sequence[RunConfig], inputs: Mapping[str, Any], label_prefix: str = ""
    ) -> RunRequest:
        """These configurations on exactly these inputs (a re-run), labels prefixed."""
        return cls(
            matrix=Matrix(tuple(replace(c, label=label_prefix + c.label) for c in configs)),
            inputs=InputSpec(arrays=dict(inputs)),
        )

    @classmethod
    def from_bundle(cls, bundle: Bundle, label_prefix: str = "") -> RunRequest:
        """A session bundle's configurations and exact inputs, to run again here."""
        return cls.exact([r.config for r in bundle.results], bundle.inputs, label_prefix)

    # ------------------------------------------------------------------ against a model

    def run_limits(self, model: LoadedModel) -> Limits:
        """The model's limits with the deployment's ``INSPECTOR_LIMIT_*`` variables, then this
        request's overrides. An override may set its limit freely where no variable sets it
        (whoever runs the CLI is its operator), never above a variable's value: that is the
        deployment's ceiling."""
        try:
            deployment = env_limits()
        except ValueError as exc:
            raise ConfigError(f"{exc}.") from None
        changes: dict[str, int] = dict(deployment)
        for o in self.limits:
            cap = deployment.get(o.name)
            unbounded = o.name == "worker_memory_bytes" and o.value <= 0  # 0: no memory cap
            if cap is not None and (o.value > cap or (unbounded and cap > 0)):
                asked = "no cap" if unbounded else f"{o.name}={o.value:,}"
                raise ConfigError(
                    f"{o.asked_by or o.name} asks for {asked}, over the deployment's "
                    f"{o.name}={cap:,} ({ENV_PREFIX}{o.name.upper()})."
                )
            changes[o.name] = o.value
        return replace(model.limits, **changes)

    def resolve(
        self,
        model: LoadedModel,
        *,
        graph: tuple[Sequence[ValueInfo], Sequence[ValueInfo]] | None = None,
        prober: Prober | None = None,
        on_probe: Callable[[ProbeResult], None] | None = None,
    ) -> ResolvedRun:
        """The matrix, inputs, limits and expected outputs for ``model``: every configuration
        within the limits, the inputs read or generated and checked against the graph.
        ``graph``: its (inputs, outputs) where the caller has them; ``prober`` runs the size
        probe (a job in the app) and ``on_probe`` hears its outcome, found or not."""
        limits = self.run_limits(model)
        for config in self.matrix.configs:
            config.check_limits(limits)
        if graph is None:
            from inspector.model.overview import build_overview

            ov = build_overview(model)
            graph = (ov.inputs, ov.outputs)
        graph_inputs, graph_outputs = graph
        spec = self.inputs
        if spec.arrays is not None:
            check_inputs(spec.arrays, graph_inputs)
            return ResolvedRun(self.matrix, dict(spec.arrays), limits)
        if spec.files:
            files = dict(spec.files)
            arrays = load_input_files(
                files, [v.name for v in graph_inputs], kinds={v.name: v.kind for v in graph_inputs}
            )
            check_inputs(arrays, graph_inputs, dict(spec.dims))
            expected = load_expected_outputs(files, graph_outputs) or None
            return ResolvedRun(self.matrix, arrays, limits, expected)
        plan = spec.plan(shape_hints(model))
        found = None
        if spec.probe:
            if prober is None:
                from inspector.run.setup.probe import probe_sizes

                def prober(m: Any, vi: Any, p: InputPlan, lim: Limits) -> ProbeResult:
                    return probe_sizes(m, vi, p, limits=lim)

            found = prober(model, graph_inputs, plan, limits)
            if on_probe is not None:
                on_probe(found)
            if not found.found:
                raise InputError(f"No input sizes found that run: {found.detail}.")
            plan = replace(plan, shapes=found.shapes)
        resolved = resolve(graph_inputs, plan)
        return ResolvedRun(
            self.matrix, generate(resolved, spec.seed), limits, None, tuple(resolved), found
        )


@dataclass(frozen=True, kw_only=True)
class RunForm:
    """The Run lab's form, as its widgets hold the values (and as the page keeps them for the
    model between visits). :meth:`RunRequest.from_form` turns it into a request."""

    eps: tuple[str, ...] = ()  # labels of ep_choices(); () the page's default
    missing_ep: str = ""  # an EP that is not installed, asked for to show the silent fallback
    levels: tuple[str, ...] = ("disable_all", "all")
    strict: bool = False  # add strict (no CPU fallback) variants
    threads: int = RUN_DEFAULTS.intra_op_threads
    warmup: int = RUN_DEFAULTS.warmup_runs
    runs: int = RUN_DEFAULTS.timed_runs
    profiled: int = RUN_DEFAULTS.profiled_runs
    budget: float = RUN_DEFAULTS.time_budget_s
    target: float = RUN_DEFAULTS.target_ci_pct
    disabled: str = ""  # optimizer passes, comma-separated
    ep_options: str = ""  # EP:key=value per line
    session_config: str = ""  # key=value per line
    timeout: int = DEFAULT_LIMITS.run_timeout_s
    probe: bool = False
    dims: tuple[tuple[str, int], ...] = ()
    shapes: tuple[tuple[str, str], ...] = ()  # shape texts that differ from the suggested
    typed_against: tuple[tuple[str, str], ...] = ()  # the suggested shape each was typed over
    values: tuple[tuple[str, str], ...] = ()  # a string input's values, comma-separated
    ranges: tuple[tuple[str, float, float], ...] = ()

    def shape(self, name: str, suggested: str) -> str:
        """The shape typed for ``name``, while the dims still suggest the shape it was typed
        over; else ``suggested`` (new dims give the input a new shape)."""
        typed = dict(self.shapes).get(name)
        if typed is None or dict(self.typed_against).get(name, suggested) != suggested:
            return suggested
        return typed

    def value_range(self, name: str, default: tuple[float, float]) -> tuple[float, float]:
        return next(((a, b) for n, a, b in self.ranges if n == name), default)


# ---------------------------------------------------------------------- the CLI's flags


def plan_from_args(args: argparse.Namespace) -> RunPlan:
    """The command line's configuration flags as a :class:`RunPlan`."""
    d = RunPlan()
    return RunPlan(
        ep_lists=tuple(getattr(args, "ep", None) or d.ep_lists),
        levels=tuple(getattr(args, "level", None) or d.levels),
        include_reference=not getattr(args, "no_reference", False),
        strict=getattr(args, "strict", False),
        intra_op_threads=getattr(args, "threads", d.intra_op_threads),
        warmup_runs=getattr(args, "warmup", d.warmup_runs),
        timed_runs=getattr(args, "runs", d.timed_runs),
        profiled_runs=getattr(args, "profiled_runs", d.profiled_runs),
        time_budget_s=getattr(args, "time_budget", d.time_budget_s),
        target_ci_pct=getattr(args, "target_ci", d.target_ci_pct),
        disabled_optimizers=tuple(getattr(args, "disable", ())),
        session_config=tuple(getattr(args, "config", ())),
        ep_options=tuple(getattr(args, "ep_option", ())),
    )


def input_files(entries: Sequence[str]) -> tuple[tuple[str, bytes], ...]:
    """``--input`` files by name; a folder gives its ``.pb`` files (a test-data folder)."""
    files: dict[str, bytes] = {}
    for entry in entries:
        path = Path(entry)
        for f in sorted(path.glob("*.pb")) if path.is_dir() else [path]:
            try:
                files[f.name] = f.read_bytes()
            except OSError as exc:
                raise InputError(f"Cannot read input file {str(f)!r}: {exc.strerror}.") from None
    return tuple(files.items())


def inputs_from_args(args: argparse.Namespace) -> InputSpec:
    """``--dim``, ``--range``, ``--shape``, ``--values``, ``--input``, ``--seed``, ``--probe``."""
    try:
        dims = {k: int(v) for k, v in parse_key_values(getattr(args, "dim", []), "--dim").items()}
    except ValueError:
        raise InputError("--dim values must be integers, e.g. --dim batch=2.") from None
    ranges = []
    for name, value in parse_key_values(getattr(args, "range", []), "--range").items():
        low, _, high = value.partition(":")
        try:
            ranges.append((name, float(low), float(high)))
        except ValueError:
            raise InputError(f"--range {name}={value}: use LOW:HIGH, e.g. 0:100.") from None
    shapes = {
        name: parse_shape(value, f"--shape {name}={value}")
        for name, value in parse_key_values(getattr(args, "shape", []), "--shape").items()
    }
    values = parse_key_values(getattr(args, "values", []), "--values")
    return InputSpec(
        dims=tuple(sorted(dims.items())),
        ranges=tuple(sorted(ranges)),
        shapes=tuple(sorted(shapes.items())),
        values=tuple(sorted((k, tuple(v.split(","))) for k, v in values.items())),
        seed=getattr(args, "seed", 0),
        probe=getattr(args, "probe", False),
        files=input_files(getattr(args, "input", None) or ()),
    )


def limits_from_args(args: argparse.Namespace) -> tuple[LimitOverride, ...]:
    """``--timeout`` and ``--memory-gb`` (0: no memory cap)."""
    out = []
    if getattr(args, "timeout", None) is not None:
        out.append(LimitOverride("run_timeout_s", args.timeout, "--timeout"))
    if getattr(args, "memory_gb", None) is not None:
        out.append(LimitOverride("worker_memory_bytes", int(args.memory_gb * GiB), "--memory-gb"))
    return tuple(out)
