"""Find input sizes a model accepts, by trying them: the fix the run lab proposes when ONNX
Runtime says the sizes do not fit (a stride-32 detector at 16×16, an OCR recognizer trained on
48-pixel-high lines at 224).

Only the dims the inspector chose itself are varied (named or unnamed spatial/sequence dims,
never the batch, never a dim the user set or the model fixes), all to the same candidate size,
smallest first; each try is one run of one configuration in a worker (CPU, level ``all``, one
timed run), sharing one prepared model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from inspector.limits import Limits
from inspector.model.load import LoadedModel
from inspector.model.overview import ValueInfo
from inspector.records import Record
from inspector.run.execute.prepare import prepare
from inspector.run.execute.runner import run_prepared
from inspector.run.readout.results import input_hint
from inspector.run.setup.config import RunConfig
from inspector.run.setup.inputs import InputPlan, ResolvedInput, generate, resolve

#: Sizes tried, smallest first: common strides' multiples and the usual image/text heights.
CANDIDATES = (32, 48, 64, 96, 128, 160, 224, 256, 320, 512, 640)


@dataclass(frozen=True, kw_only=True)
class ProbeResult(Record):
    found: bool
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # input → shape that ran ("" when none)
    tried: tuple[tuple[int, str], ...]  # (candidate size, "ok" or ORT's first line)
    detail: str


def _chosen_dims(vi: ValueInfo, plan: InputPlan) -> list[int]:
    """Indices of the dims of ``vi`` the inspector picks itself (not batch, not fixed, not set)."""
    set_by_user = dict(plan.dims)
    out = []
    for i, d in enumerate(vi.dims or ()):
        if d.kind == "fixed" and isinstance(d.value, int) and d.value >= 0:
            continue
        if d.kind == "symbolic" and d.value in set_by_user:
            continue
        if i == 0 and len(vi.dims or ()) > 1:
            continue  # the batch
        out.append(i)
    return out


def probe_sizes(
    model: LoadedModel,
    inputs: Sequence[ValueInfo],
    plan: InputPlan,
    *,
    candidates: Sequence[int] = CANDIDATES,
    limits: Limits | None = None,
) -> ProbeResult:
    """Try the plan's own sizes, then each candidate size; the first that runs wins."""
    vary = {vi.name: _chosen_dims(vi, plan) for vi in inputs if vi.name not in dict(plan.shapes)}
    vary = {k: v for k, v in vary.items() if v}
    base = resolve(inputs, plan)
    config = RunConfig(opt_level="all", warmup_runs=0, timed_runs=1, profiled_runs=0)
    tried: list[tuple[int, str]] = []
    prepared = prepare(model)
    try:
        sizes: list[int | None] = [None, *candidates]
        for size in sizes:
            resolved = (
                base if size is None else [_resize(r, vary.get(r.name, []), size) for r in base]
            )
            result = run_prepared(
                prepared,
                config,
                generate(resolved, plan.seed),
                prepared.job_dir("probe"),
                limits or model.limits,
                save_optimized=False,
            )
            shapes = tuple((r.name, r.shape) for r in resolved)
            if result.ok:
                tried.append((size or 0, "ok"))
                return ProbeResult(
                    found=True,
                    shapes=shapes,
                    tried=tuple(tried),
                    detail="the suggested sizes run" if size is None else f"runs at {size}",
                )
            first = result.error.split("Status Message: ")[-1].split(" Try: ")[0][:160]
            tried.append((size or 0, first))
            if not input_hint(result.error) or not vary:
                return ProbeResult(
                    found=False,
                    shapes=(),
                    tried=tuple(tried),
                    detail="the failure is not about input sizes: " + first,
                )
        return ProbeResult(
            found=False,
            shapes=(),
            tried=tuple(tried),
            detail=f"no size of {', '.join(map(str, candidates))} runs; set shapes by hand",
        )
    finally:
        prepared.cleanup()


def _resize(r: ResolvedInput, dims: Sequence[int], size: int) -> ResolvedInput:
    shape = list(r.shape)
    for i in dims:
        shape[i] = size
    return replace(r, shape=tuple(shape))
