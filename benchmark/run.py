"""``bench run``: train what is missing, evaluate every metric of the task, append result records.

    bench run --task {generation,segmentation,clustering,ablation,all} [--dataset PREPARED|synthetic]
              [--methods onegan,finegan,...] [--preset smoke|tiny|paper] [--seeds 0,1,2]
              [--out results/latest] [--work runs] [--force] [--protocol onegan2020|c3gan2022|drc2021]

Cells already recorded in ``<out>/records.jsonl`` are skipped (a killed run resumes where it
stopped); training resumes from each method's last checkpoint under ``<work>``. ``--protocol`` scores
the tasks it defines under that paper's conventions (``bench protocols``); checkpoints are shared, so
a second protocol re-scores trained methods without training them again.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmark import metric_registry, protocols
from benchmark.figures import FigureSource, recorded_checkpoint
from benchmark.launch.options import LaunchOptions, add_launch_arguments, launch_options
from benchmark.launch.status import print_status, remember_plan
from benchmark.methods import METHODS, obtain_method, parse_methods, title_of
from benchmark.presets import RunPreset, get_preset
from benchmark.records import RecordStore, make_records
from benchmark.table import summary_table
from benchmark.tasks import TASKS, EvalOptions
from benchmark.training_progress import checkpoint_progress
from core.contract import Method, TrainRequest
from core.errors import UserError
from core.locking import path_lock
from data_prep.prepared import Prepared, load_prepared
from data_prep.synthetic import write_synthetic

ALL_TASKS = ("generation", "segmentation", "clustering")
# Table 3 and the ablation rows of Tables 1-2 (onegan.config.ABLATIONS names), with the tasks scored.
ABLATION_VARIANTS = ("no-real-recon", "phase1-only", "no-multi-phase", "glu-inorm", "lnorm", "inorm",
                     "no-bypass", "no-mixup12", "no-mixup34", "no-rm", "no-vae", "no-per")
ABLATION_REFERENCE = "reference"  # unablated OneGAN trained with the ablations' budget


@dataclass
class RunContext:
    preset: RunPreset
    prepared: Prepared
    work: Path
    store: RecordStore
    device: str
    force: bool
    evaluator: Path | None = None
    inception_weights: Path | None = None
    protocol: protocols.Protocol = protocols.PROTOCOLS[protocols.DEFAULT]


@dataclass(frozen=True)
class PlannedCell:
    """One cell of the grid: one method (or Table 3 variant) at one seed, and the tasks scored on it."""

    method: str
    variant: str | None
    seed: int
    tasks: tuple[str, ...]
    checkpoint: Path | None = None   # a given --checkpoint (scored as it is, never trained)


def plan_cells(score_tasks: list[str], names: list[str], variants: tuple[str, ...], seeds: list[int],
               ablation: bool, checkpoints: dict[str, Path] | None = None) -> list[PlannedCell]:
    """The grid in the order ``bench run`` works through it: per seed, every method, then Table 3's rows."""
    cells = []
    for seed in seeds:
        if score_tasks:
            cells += [PlannedCell(name, None, seed, tuple(score_tasks), (checkpoints or {}).get(name))
                      for name in names]
        if ablation:
            cells += [PlannedCell("onegan", variant, seed, ALL_TASKS) for variant in variants]
    return cells


def cell_fields(ctx: RunContext, name: str, variant: str | None, seed: int) -> dict:
    """The record fields that identify a cell (``RecordStore.cell_key`` but the task)."""
    return {"method": name, "variant": variant, "dataset_fingerprint": ctx.prepared.fingerprint,
            "seed": seed, "preset": scale_label(ctx, variant), "protocol": ctx.protocol.tag}


def supported_tasks(ctx: RunContext, name: str, tasks: list[str] | tuple[str, ...]) -> list[str]:
    """The tasks of ``tasks`` that method ``name`` is scored on under the run's protocol."""
    return [t for t in tasks if (name.startswith("external:") or t in METHODS[name].tasks)
            and ctx.protocol.defines(t)]


def prepare_dataset(dataset: str, preset: RunPreset, work: Path) -> Prepared:
    """Load a prepared directory, or build the synthetic default when ``dataset == 'synthetic'``."""
    if dataset != "synthetic":
        return load_prepared(dataset)
    s = preset.synthetic
    path = work / f"synthetic-{s.classes}c{s.parents}p{s.images}n{s.size}px"
    if not (path / "meta.json").exists():
        with path_lock(path, "preparing the synthetic dataset"):
            if not (path / "meta.json").exists():  # another process may have built it while we waited
                print(f"preparing the synthetic dataset in {path}")
                write_synthetic(path, classes=s.classes, parents=s.parents, images=s.images, size=s.size, seed=0)
    return load_prepared(path)


def ensure_evaluator(ctx: RunContext, given: Path | None) -> Path:
    """The classifier that scores generation: given, cached under ``work``, or trained now."""
    if given is not None:
        if not given.exists():
            raise UserError(f"evaluator checkpoint not found: {given} (train one with `bench train-evaluator`)")
        return given
    from benchmark.features.evaluator import train_evaluator

    path = ctx.work / "evaluators" / f"{ctx.prepared.fingerprint}-{ctx.preset.evaluator_arch}.pt"
    with path_lock(path, "training the evaluator classifier"):
        if not path.exists():
            print(f"training the {ctx.preset.evaluator_arch} evaluator classifier -> {path}")
        return Path(train_evaluator(ctx.prepared.root, arch=ctx.preset.evaluator_arch, out=path,
                                    epochs=ctx.preset.evaluator_epochs, seed=0))


def scale_label(ctx: RunContext, variant: str | None) -> str:
    """The run preset, plus for ablation variants the scale they train at (so a later run with another
    ``--ablation-preset`` neither resumes nor skips the earlier scale's checkpoints and records)."""
    if variant is None:
        return ctx.preset.name
    scale = ctx.preset.ablation_preset or ctx.preset.method_preset
    budget = f"@{ctx.preset.ablation_iterations}" if ctx.preset.ablation_iterations else ""
    return f"{ctx.preset.name}:{scale}{budget}"


def _request(ctx: RunContext, name: str, variant: str | None, seed: int) -> TrainRequest:
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


def evaluate_cells(ctx: RunContext, name: str, variant: str | None, tasks: list[str], seed: int,
                   checkpoint: Path | None = None) -> FigureSource | None:
    """Train/load one method (variant) and score every task not yet recorded for it, holding the cell's
    lock (a second ``bench run`` on the same results waits, then finds the cell done).

    Returns what the figures may be drawn from: the method scored now, or the checkpoint its recorded
    cells were scored with (None when there is neither)."""
    supported = supported_tasks(ctx, name, tasks)
    base = cell_fields(ctx, name, variant, seed)
    scale = base["preset"]
    title = f"{title_of(name, variant)} seed {seed}"
    with ctx.store.claim(base, title):
        todo = [t for t in supported if ctx.force or not ctx.store.is_done({**base, "task": t})]
        if not todo:
            print(f"{title}: {', '.join(supported) or 'nothing'} already recorded")
            return recorded_checkpoint(ctx.store.load(), base)
        torch.manual_seed(seed)
        request = _request(ctx, name, variant, seed)
        started = time.perf_counter()
        method, checkpoint_path = obtain_method(name, request, checkpoint, ctx.prepared, ctx.evaluator)
        train_time = time.perf_counter() - started
        progress = checkpoint_progress(checkpoint_path)
        if progress is not None and progress.cut_short and checkpoint is None:
            print(f"{title}: training cut short at {progress.trained}/{progress.planned} iterations "
                  f"(max_minutes {ctx.preset.max_minutes}); recorded as cut short, the next bench run resumes it")
        elif progress is not None and progress.cut_short:
            print(f"{title}: the given checkpoint {checkpoint} stopped at {progress.trained}/{progress.planned} "
                  "iterations; recorded as cut short")
        options = EvalOptions(device=ctx.device, max_images=ctx.preset.max_eval_images,
                              images_per_class=ctx.preset.images_per_class, evaluator=ctx.evaluator,
                              cache_dir=ctx.work / "stats-cache", seed=seed, inception_weights=ctx.inception_weights,
                              protocol=ctx.protocol.name)
        config = {"run_preset": ctx.preset.to_dict(), **_method_provenance(method, request, checkpoint)}
        for task in todo:
            t0 = time.perf_counter()
            result = TASKS[task](method, ctx.prepared, options)
            records = make_records(method=name, variant=variant, dataset=ctx.prepared.name,
                                   dataset_fingerprint=ctx.prepared.fingerprint, task=task, values=result.values,
                                   seed=seed, preset=scale, config=config,
                                   checkpoint=checkpoint_path, wall_time_s=time.perf_counter() - t0,
                                   options={**result.options, "train_or_load_seconds": round(train_time, 2)},
                                   protocol=ctx.protocol.tag,
                                   progress=None if progress is None else
                                   {**progress.as_record(), "resumable": checkpoint is None})
            ctx.store.append(records)
            headline = metric_registry.shown_metrics(task)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in result.values.items() if k in headline)
            print(f"{title} {task} [{ctx.protocol.tag}]: {shown}")
        return method


def _method_provenance(method: Method, request: TrainRequest, given: Path | None) -> dict:
    """What the scored model is: the training request it was trained (or resumed) from, or, for a
    checkpoint given with ``--checkpoint``, that file and the config stored in it (the request was not
    used then, and the checkpoint may come from another preset or a paper-silent switch)."""
    if given is None:
        return {"train_request": {k: str(v) if isinstance(v, Path) else v
                                  for k, v in dataclasses.asdict(request).items()}}
    config = getattr(method, "config", None)
    if dataclasses.is_dataclass(config):
        config = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    return {"given_checkpoint": str(given), "checkpoint_config": config if isinstance(config, dict) else None}


def parse_ablations(ablations: str | None) -> tuple[str, ...]:
    """``--ablations``: a comma list of Table 3 rows (``reference`` and ``ABLATION_VARIANTS``), in
    Table 3's order; None: every row. Separate processes on separate rows share one ``--out``."""
    every = (ABLATION_REFERENCE, *ABLATION_VARIANTS)
    if ablations is None:
        return every
    asked = [a.strip() for a in ablations.split(",") if a.strip()]
    unknown = [a for a in asked if a not in every]
    if unknown or not asked:
        raise UserError(f"unknown ablation {unknown[0] if unknown else ablations!r}; choose from {', '.join(every)}")
    return tuple(v for v in every if v in asked)


def run(task: str = "all", dataset: str = "synthetic", methods: str | None = None, preset: str = "tiny",
        seeds: str = "0", out: str | Path = "results/latest", work: str | Path = "runs", force: bool = False,
        device: str | None = None, evaluator: str | Path | None = None,
        checkpoints: dict[str, Path] | None = None, figures: bool = True,
        inception_weights: str | Path | None = None, ablation_preset: str | None = None,
        protocol: str = protocols.DEFAULT, ablations: str | None = None,
        launcher: LaunchOptions | None = None) -> list[dict]:
    """The API behind ``bench run`` (same names as the CLI flags). Returns all records in ``out``.

    ``launcher`` (``benchmark.launch``): run the cells not yet done as jobs (Slurm or local processes)
    instead of one after another in this process; None runs them here."""
    run_preset = get_preset(preset, ablation_preset)
    variants = parse_ablations(ablations)
    work = Path(work)
    if task == "all":
        tasks = list(ALL_TASKS) + (["ablation"] if run_preset.all_includes_ablation else [])
    else:
        tasks = [task]
    unknown = [t for t in tasks if t not in (*ALL_TASKS, "ablation")]
    if unknown:
        raise UserError(f"unknown task {unknown[0]!r}; choose generation, segmentation, clustering, ablation or all")
    seed_list = [int(s) for s in str(seeds).split(",") if s.strip()]
    device_given = device is not None  # launched cells pick their own device where they run
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    scoring = protocols.get(protocol)
    skipped = [t for t in tasks if t in ALL_TASKS and not scoring.defines(t)]
    if skipped:
        print(f"protocol {scoring.tag} defines no {', '.join(skipped)} scores: skipped")
    tasks = [t for t in tasks if t == "ablation" or scoring.defines(t)]
    names = parse_methods(methods)
    cells = plan_cells([t for t in tasks if t in ALL_TASKS], names, variants, seed_list, "ablation" in tasks,
                       checkpoints)
    if launcher is not None and launcher.kind != "status":
        from benchmark.launch.submit import before_preparing

        if before_preparing(run_preset, cells, launcher, dataset, scoring):  # --dry-run: printed the plan
            return []
    status_only = launcher is not None and launcher.kind == "status"
    if not status_only:  # absolute paths: bench status may run from another directory
        data_arg = dataset if dataset == "synthetic" else str(Path(dataset).absolute())
        remember_plan(out, {"task": task, "dataset": data_arg, "methods": methods, "preset": preset, "seeds": seeds,
                            "work": str(work.absolute()), "ablation_preset": ablation_preset, "protocol": protocol,
                            "ablations": ablations})
    ctx = RunContext(run_preset, prepare_dataset(dataset, run_preset, work), work, RecordStore(out), device, force,
                     protocol=scoring)
    if status_only:  # bench status: where each planned cell stands, nothing run
        launcher.status_counts.update(print_status(ctx, cells))
        return ctx.store.load()
    if inception_weights is not None:
        from benchmark.features.inception import resolve_weights

        ctx.inception_weights = resolve_weights(inception_weights)  # fails early, naming the file
    needs_generation = scoring.defines("generation") and ("generation" in tasks or "ablation" in tasks)
    if needs_generation or "kmeans-features" in names:
        ctx.evaluator = ensure_evaluator(ctx, Path(evaluator) if evaluator else None)
    if needs_generation:
        from benchmark.tasks.generation import evaluate_dataset_reference

        evaluate_dataset_reference(ctx)
    if launcher is not None and launcher.kind != "inprocess":
        from benchmark.launch.submit import launch

        if not launch(ctx, cells, launcher, device_given=device_given):
            return ctx.store.load()  # --no-wait: submitted; `bench status` follows the cells
        ctx.force = False  # every cell is recorded now: the pass below only gathers the figures' sources
    figure_sources: dict[str, FigureSource] = {}  # the first seed's scored models, by method
    for cell in cells:
        source = evaluate_cells(ctx, cell.method, cell.variant, list(cell.tasks), cell.seed, cell.checkpoint)
        if source is not None and cell.variant is None:
            figure_sources.setdefault(cell.method, source)
    records = ctx.store.load()
    print(summary_table(records, ctx.prepared.fingerprint))
    if figures:
        from benchmark.figures import write_figures

        write_figures(ctx, figure_sources, Path(out) / "figures")
    print(f"records: {ctx.store.path}")
    return records


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="all", choices=[*ALL_TASKS, "ablation", "all"])
    parser.add_argument("--dataset", default="synthetic", help="a prepared directory, or 'synthetic' (default)")
    parser.add_argument("--methods", default=None, help=f"comma list of {', '.join(METHODS)} or external:SPEC")
    parser.add_argument("--preset", default="tiny", choices=["smoke", "tiny", "paper"])
    parser.add_argument("--ablation-preset", default=None, choices=["smoke", "tiny", "paper"],
                        help="train the ablation variants at this OneGAN preset's full budget "
                             "(default: the run preset's choice; tiny's demo uses smoke)")
    parser.add_argument("--seeds", default="0", help="comma list; tables report mean ± std over seeds")
    parser.add_argument("--out", default="results/latest", help="where records.jsonl and figures go")
    parser.add_argument("--work", default="runs", help="prepared data, checkpoints, evaluator, caches")
    parser.add_argument("--force", action="store_true", help="recompute cells already recorded")
    parser.add_argument("--device", default=None)
    parser.add_argument("--evaluator", default=None, help="evaluator checkpoint (default: train one)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="METHOD=PATH",
                        help="use this checkpoint instead of training METHOD")
    parser.add_argument("--inception-weights", default=None, metavar="FILE",
                        help="also score FID/CFID with the standard FID InceptionV3 "
                             "(weights-inception-2015-12-05-6726825d.pth; or env ONEGAN_INCEPTION_WEIGHTS)")
    parser.add_argument("--protocol", default=protocols.DEFAULT, choices=protocols.names(),
                        help="score under this paper's conventions (see `bench protocols`)")
    parser.add_argument("--ablations", default=None, metavar="ROWS",
                        help="only these Table 3 rows (comma list of reference, "
                             f"{', '.join(ABLATION_VARIANTS)}); processes on different rows may share --out")
    parser.add_argument("--no-figures", action="store_true")
    add_launch_arguments(parser)


def main(args: argparse.Namespace) -> int:
    checkpoints = {}
    for item in args.checkpoint:
        if "=" not in item:
            raise UserError(f"--checkpoint takes METHOD=PATH, got {item!r}")
        key, value = item.split("=", 1)
        checkpoints[key] = Path(value)
    run(task=args.task, dataset=args.dataset, methods=args.methods, preset=args.preset, seeds=args.seeds,
        out=args.out, work=args.work, force=args.force, device=args.device, evaluator=args.evaluator,
        checkpoints=checkpoints, figures=not args.no_figures,
        inception_weights=args.inception_weights or os.environ.get("ONEGAN_INCEPTION_WEIGHTS"),
        ablation_preset=args.ablation_preset, protocol=args.protocol, ablations=args.ablations,
        launcher=launch_options(args))
    return 0
