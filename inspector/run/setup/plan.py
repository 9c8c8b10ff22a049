"""What a user asks the run lab for, and what a session keeps of the answer.

:class:`RunPlan` is the one translation from user input — the CLI's flags or the Run lab's
widgets — to a :class:`~inspector.run.setup.config.Matrix`, so both parse and check the same way.
:class:`StoredRuns` is what the app keeps per model after a run (typed, not a loose dict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from inspector.limits import RUN_DEFAULTS
from inspector.run.readout.results import RunResult
from inspector.run.setup.config import (
    ConfigError,
    Matrix,
    RunConfig,
    expand_matrix,
    parse_ep_options,
    parse_eps,
    parse_key_values,
    parse_level,
    with_strict_variants,
)


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    ep_lists: tuple[str, ...] = ("cpu",)  # priority lists, e.g. "ggml,cpu"
    levels: tuple[str, ...] = ("all",)
    include_reference: bool = True  # CPU, disable_all, first (and CPU at each level: matrix)
    strict: bool = False  # every configuration with an EP other than CPU refuses CPU fallback
    strict_variants: bool = False  # add a strict copy of each configuration with a second EP
    intra_op_threads: int = RUN_DEFAULTS.intra_op_threads
    warmup_runs: int = RUN_DEFAULTS.warmup_runs
    timed_runs: int = RUN_DEFAULTS.timed_runs  # the most: see target_ci_pct, time_budget_s
    profiled_runs: int = RUN_DEFAULTS.profiled_runs
    time_budget_s: float = RUN_DEFAULTS.time_budget_s
    target_ci_pct: float = RUN_DEFAULTS.target_ci_pct
    disabled_optimizers: tuple[str, ...] = ()
    session_config: tuple[str, ...] = ()  # "key=value" entries
    ep_options: tuple[str, ...] = ()  # "EP:key=value" entries

    def base(self) -> RunConfig:
        """The options every configuration shares (raises ConfigError with the reason)."""
        return RunConfig(
            intra_op_threads=self.intra_op_threads,
            warmup_runs=self.warmup_runs,
            timed_runs=self.timed_runs,
            profiled_runs=self.profiled_runs,
            time_budget_s=self.time_budget_s,
            target_ci_pct=self.target_ci_pct,
            disabled_optimizers=tuple(p.strip() for p in self.disabled_optimizers if p.strip()),
            session_config=tuple(
                sorted(parse_key_values(self.session_config, "Session config entry").items())
            ),
        )

    def strictly(self, config: RunConfig) -> RunConfig:
        """``config`` under this plan's ``strict``: with an EP other than CPU, a strict copy
        without the CPU EP (ORT refuses CPU alongside strict); CPU alone has no fallback to
        forbid and stays as it is."""
        accel = tuple(e for e in config.eps if e.name != "CPUExecutionProvider")
        if not (self.strict and accel):
            return config
        return replace(config, eps=accel, strict=True, label="")

    def eps_with_options(self, eps: str) -> list[dict[str, Any]]:
        """One priority list with this plan's provider options attached to its EPs."""
        options = parse_ep_options(self.ep_options)
        return [{"name": e.name, "options": options.get(e.name, {})} for e in parse_eps(eps)]

    def matrix(self) -> Matrix:
        """EP lists × levels (plus the reference and strict copies as asked). With the
        reference, a list that names an EP other than CPU also brings CPU alone at each level
        (after the reference, once): whatever that EP takes or fails at, Compare has a CPU
        configuration at the candidate's level. Without the reference: the lists alone."""
        parse_ep_options(self.ep_options)  # checked even for EPs no list mentions
        base = self.base()
        lists = [self.eps_with_options(e) for e in self.ep_lists]
        if self.strict and not needs_cpu_baseline(lists):
            raise ConfigError("Strict mode (no CPU fallback) needs an EP other than CPU.")
        matrix = expand_matrix(
            lists, self.levels, [{}], base, include_reference=self.include_reference
        )
        ref, *rest = matrix.configs
        configs = [ref if self.include_reference else self.strictly(ref)]
        if self.include_reference and needs_cpu_baseline(lists):
            cpu = expand_matrix(["cpu"], self.levels, [{}], base, include_reference=False)
            same = {replace(c, label="") for c in matrix.configs}
            configs += [c for c in cpu.configs if replace(c, label="") not in same]
        matrix = Matrix((*configs, *(self.strictly(c) for c in rest)))
        return with_strict_variants(matrix) if self.strict_variants else matrix

    def config(self, spec: str) -> RunConfig:
        """``ggml,cpu@all`` → one configuration with this plan's options (EPs, then the level
        after ``@``; cpu and all where left out), unlabelled."""
        eps, _, level = spec.partition("@")
        config = replace(
            self.base(),
            eps=parse_eps(self.eps_with_options(eps or "cpu")),
            opt_level=parse_level(level or "all"),
            label="",
        )
        return self.strictly(config)


def needs_cpu_baseline(ep_lists: Iterable[str | Sequence[Any]]) -> bool:
    """True when some priority list names an EP other than CPU (``"ggml,cpu"``; parsed lists
    too), so a default matrix adds CPU alone at each of its levels."""
    return any(e.name != "CPUExecutionProvider" for eps in ep_lists for e in parse_eps(eps))


def ep_choices(eps: Iterable[Any]) -> dict[str, str]:
    """What a page offers to run on: label → EP priority list, CPU alone first, then each
    usable EP ahead of CPU (``"OpenVINO → CPU": "OpenVINOExecutionProvider,cpu"``). ``eps``:
    :func:`inspector.run.setup.eps.discover`'s records (Azure is a remote service, not a device)."""
    skip = ("CPUExecutionProvider", "AzureExecutionProvider")
    return {"CPU": "cpu"} | {
        f"{e.name.removesuffix('ExecutionProvider')} → CPU": f"{e.name},cpu"
        for e in eps
        if e.usable and e.name not in skip
    }


@dataclass(frozen=True)
class StoredRuns:
    """The last run-lab results of one model in a session."""

    matrix: Matrix
    results: tuple[RunResult, ...]
    inputs: Mapping[str, np.ndarray]
