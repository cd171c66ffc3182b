"""The grid of one ``bench run``: its cells (method or Table 3 variant × seed, with the tasks scored),
the record fields that identify a cell, and the training request each cell makes.

Shared by the in-process run (``benchmark.run``) and the launchers (``benchmark.launch``), which submit
the same cells as jobs: both sides read a cell the same way, so their records are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.methods import record_name, tasks_of
from benchmark.run_context import RunContext
from benchmark.run_options import ABLATION_REFERENCE
from core.contract import TrainRequest


@dataclass(frozen=True)
class PlannedCell:
    """One cell of the grid: one method (or Table 3 variant) at one seed, and the tasks scored on it."""

    method: str
    variant: str | None
    seed: int
    tasks: tuple[str, ...]
    checkpoint: Path | None = None   # a given --checkpoint (scored as it is, never trained)


def plan_cells(plan: dict[str, list[str]], variants: tuple[str, ...], seeds: list[int],
               ablation_tasks: list[str] | None, checkpoints: dict[str, Path] | None = None) -> list[PlannedCell]:
    """The grid in the order ``bench run`` works through it: per seed, every method with something to
    score (``plan``: its tasks), then Table 3's rows (when ``ablation_tasks`` is not None)."""
    cells = []
    for seed in seeds:
        cells += [PlannedCell(name, None, seed, tuple(tasks), (checkpoints or {}).get(name))
                  for name, tasks in plan.items() if tasks]
        if ablation_tasks is not None:
            cells += [PlannedCell("onegan", variant, seed, tuple(ablation_tasks)) for variant in variants]
    return cells


def cell_fields(ctx: RunContext, name: str, variant: str | None, seed: int) -> dict:
    """The record fields that identify a cell (``RecordStore.cell_key`` but the task)."""
    return {"method": record_name(name), "variant": variant, "dataset_fingerprint": ctx.prepared.fingerprint,
            "seed": seed, "preset": scale_label(ctx, variant), "protocol": ctx.protocol.tag}


def supported_tasks(ctx: RunContext, name: str, tasks: list[str] | tuple[str, ...]) -> list[str]:
    """The tasks of ``tasks`` that method ``name`` is scored on under the run's protocol."""
    return [t for t in tasks if t in tasks_of(name) and ctx.protocol.defines(t)]


def scale_label(ctx: RunContext, variant: str | None) -> str:
    """The run preset, plus for ablation variants the scale they train at (so a later run with another
    ``--ablation-preset`` neither resumes nor skips the earlier scale's checkpoints and records)."""
    if variant is None:
        return ctx.preset.name
    scale = ctx.preset.ablation_preset or ctx.preset.method_preset
    budget = f"@{ctx.preset.ablation_iterations}" if ctx.preset.ablation_iterations else ""
    return f"{ctx.preset.name}:{scale}{budget}"


def train_request(ctx: RunContext, name: str, variant: str | None, seed: int) -> TrainRequest:
    iterations = ctx.preset.iterations.get(name)
    ablation, preset = None, ctx.preset.method_preset
    if variant is not None:
        iterations = ctx.preset.ablation_iterations or iterations
        ablation = None if variant == ABLATION_REFERENCE else variant
        preset = ctx.preset.ablation_preset or preset
    run_name = f"{name}" + (f"-{variant}" if variant else "")
    out = ctx.work / "checkpoints" / ctx.prepared.fingerprint / scale_label(ctx, variant) / f"seed{seed}" / run_name
    return TrainRequest(data=ctx.prepared.root, out=out, preset=preset, seed=seed,
                        resume=True, device=ctx.device, max_minutes=ctx.preset.max_minutes,
                        iterations=iterations, ablation=ablation)
