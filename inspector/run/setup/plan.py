"""What a user asks the run lab for, and what a session keeps of the answer.

:class:`RunPlan` is the one translation from user input — the CLI's flags or the Run lab's
widgets — to a :class:`~inspector.run.setup.config.Matrix`, so both parse and check the same way.
:class:`StoredRuns` is what the app keeps per model after a run (typed, not a loose dict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from inspector.limits import RUN_DEFAULTS
from inspector.run.readout.results import RunResult
from inspector.run.setup.config import (
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
    include_reference: bool = True  # CPU, disable_all, first
    strict: bool = False  # every configuration refuses CPU fallback
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
            strict=self.strict,
        )

    def eps_with_options(self, eps: str) -> list[dict[str, Any]]:
        """One priority list with this plan's provider options attached to its EPs."""
        options = parse_ep_options(self.ep_options)
        return [{"name": e.name, "options": options.get(e.name, {})} for e in parse_eps(eps)]

    def matrix(self) -> Matrix:
        """EP lists × levels (plus the reference and strict copies as asked)."""
        parse_ep_options(self.ep_options)  # checked even for EPs no list mentions
        matrix = expand_matrix(
            [self.eps_with_options(e) for e in self.ep_lists],
            self.levels,
            [{}],
            self.base(),
            include_reference=self.include_reference,
        )
        return with_strict_variants(matrix) if self.strict_variants else matrix

    def config(self, spec: str) -> RunConfig:
        """``ggml,cpu@all`` → one configuration with this plan's options (EPs, then the level
        after ``@``; cpu and all where left out), unlabelled."""
        eps, _, level = spec.partition("@")
        return replace(
            self.base(),
            eps=parse_eps(self.eps_with_options(eps or "cpu")),
            opt_level=parse_level(level or "all"),
            label="",
        )


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
