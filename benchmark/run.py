"""``bench run``: train what is missing, evaluate every metric of the task, append result records.

    bench run --task {generation,segmentation,clustering,ablation,all} [--dataset PREPARED|synthetic]
              [--methods onegan,finegan,...] [--preset smoke|tiny|paper] [--seeds 0,1,2]
              [--out results/latest] [--work runs] [--force] [--protocol onegan2020|c3gan2022|drc2021]

Cells already recorded in ``<out>/records.jsonl`` are skipped (a killed run resumes where it
stopped); training resumes from each method's last checkpoint under ``<work>``. ``--protocol`` scores
the tasks it defines under that paper's conventions (``bench protocols``); checkpoints are shared, so
a second protocol re-scores trained methods without training them again. ``--task all`` scores each
method on the tasks it can do and says which it skips and why; it trains Table 3's ablation variants
only when ``--ablations`` (or ``--ablation-preset``) asks for them.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import torch

from benchmark import metric_registry, protocols
from benchmark.figures import FigureSource, recorded_checkpoint
from benchmark.grid import cell_fields, plan_cells, supported_tasks, train_request
from benchmark.launch.cells import SharedWork
from benchmark.launch.options import LaunchOptions
from benchmark.launch.status import print_status, remember_plan
from benchmark.methods import (
    BUILDERS,
    METHODS,
    built_on_evaluator,
    is_external,
    obtain_method,
    parse_methods,
    record_name,
    tasks_of,
    title_of,
)
from benchmark.presets import RunPreset, get_preset
from benchmark.records import RecordStore, make_records
from benchmark.run_context import RunContext
from benchmark.run_options import ABLATION_REFERENCE, ABLATION_VARIANTS, ALL_TASKS, DEFAULTS
from benchmark.table import summary_table
from benchmark.tasks import TASK_CAPABILITY, TASKS, EvalOptions
from benchmark.tasks.common import no_masks_hint, rows_with_masks
from benchmark.training_progress import checkpoint_progress
from core.contract import Method, TrainRequest
from core.errors import UserError
from core.locking import path_lock
from data_prep.prepared import Prepared, load_prepared
from data_prep.synthetic import write_synthetic


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


def evaluator_path(ctx: RunContext) -> Path:
    """Where the run's evaluator classifier is kept under ``work`` (one per dataset and architecture)."""
    return ctx.work / "evaluators" / f"{ctx.prepared.fingerprint}-{ctx.preset.evaluator_arch}.pt"


def ensure_evaluator(ctx: RunContext, given: Path | None) -> Path:
    """The classifier that scores generation: given, cached under ``work``, or trained now."""
    if given is not None:
        if not given.exists():
            raise UserError(f"evaluator checkpoint not found: {given} (train one with `bench train-evaluator`)")
        return given
    from benchmark.evaluator_training import train_evaluator

    path = evaluator_path(ctx)
    with path_lock(path, "training the evaluator classifier"):
        if not path.exists():
            print(f"training the {ctx.preset.evaluator_arch} evaluator classifier -> {path}")
        return Path(train_evaluator(ctx.prepared.root, arch=ctx.preset.evaluator_arch, out=path,
                                    epochs=ctx.preset.evaluator_epochs, seed=0))


def shared_work(ctx: RunContext, generation: bool) -> None:
    """What a grid's cells share, done once: the evaluator classifier (unless given) and, when generation
    is scored, Table 1's Dataset row. A launched grid runs it as the first task of its job array (never on
    the submitting machine, a login node on a cluster); the cells take the evaluator when they need it
    (``evaluate_cells``), waiting on its lock while this trains it."""
    ctx.evaluator = ensure_evaluator(ctx, ctx.evaluator)
    if generation:
        from benchmark.tasks.generation import evaluate_dataset_reference

        evaluate_dataset_reference(ctx)


def shared_work_done(ctx: RunContext, generation: bool) -> bool:
    """Whether ``shared_work`` has nothing left to do."""
    if ctx.evaluator is None and not evaluator_path(ctx).exists():
        return False
    from benchmark.tasks.generation import dataset_reference_cell

    return not generation or ctx.store.is_done(dataset_reference_cell(ctx))


def _needs_evaluator(name: str, tasks: list[str]) -> bool:
    # k-means on the evaluator's features needs it for any task it is scored on
    return "generation" in tasks or (built_on_evaluator(name) and bool(tasks))


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
    if not supported:
        print(f"{title}: skipped: it cannot {_abilities(tasks)}")
        return None
    external, fingerprints = None, {}
    if is_external(name):  # reading the spec's files is cheap: their hashes decide what is done
        external, _ = obtain_method(name, train_request(ctx, name, variant, seed), None, ctx.prepared)
        fingerprints = {t: external.fingerprint(TASK_CAPABILITY[t]) for t in supported}
    with ctx.store.claim(base, title):
        todo = [t for t in supported
                if ctx.force or not ctx.store.is_done({**base, "task": t}, fingerprints.get(t))]
        if not todo:
            print(f"{title}: {', '.join(supported)} already recorded")
            return external if external is not None else recorded_checkpoint(ctx.store.load(), base)
        if ctx.evaluator is None and built_on_evaluator(name):  # a launched cell: the shared task's
            ctx.evaluator = ensure_evaluator(ctx, None)
        torch.manual_seed(seed)
        request = train_request(ctx, name, variant, seed)
        started = time.perf_counter()
        method, checkpoint_path = (external, None) if external is not None else \
            obtain_method(name, request, checkpoint, ctx.prepared, ctx.evaluator)
        train_time = time.perf_counter() - started
        if ctx.evaluator is None and _needs_evaluator(name, todo):  # a launched cell, after its training:
            ctx.evaluator = ensure_evaluator(ctx, None)  # the shared task has trained it by now (or holds it)
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
        if external is not None:
            config["external_spec"] = name  # where the files were read from (the record's method omits paths)
        for task in todo:
            t0 = time.perf_counter()
            result = TASKS[task](method, ctx.prepared, options)
            records = make_records(method=base["method"], variant=variant, dataset=ctx.prepared.name,
                                   dataset_fingerprint=ctx.prepared.fingerprint, task=task, values=result.values,
                                   seed=seed, preset=scale, config=config,
                                   checkpoint=checkpoint_path, wall_time_s=time.perf_counter() - t0,
                                   options={**result.options, "train_or_load_seconds": round(train_time, 2)},
                                   protocol=ctx.protocol.tag,
                                   progress=None if progress is None else
                                   {**progress.as_record(), "resumable": checkpoint is None})
            if task in fingerprints:
                records = [{**r, "predictions_fingerprint": fingerprints[task]} for r in records]
            ctx.store.append(records)
            headline = metric_registry.shown_metrics(task)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in result.values.items() if k in headline)
            print(f"{title} {task} [{ctx.protocol.tag}]: {shown}")
        return method


_VERBS = {"generation": "generate images", "segmentation": "segment images", "clustering": "cluster images"}


def _abilities(tasks: list[str]) -> str:
    return " or ".join(_VERBS[t] for t in tasks)


def _skip_reason(name: str, task: str) -> str:
    """Why ``name`` is not scored on ``task``: a known method's class lacks the capability; an external
    method's spec names no file for it."""
    if is_external(name):
        key = {"generation": "images=DIR", "segmentation": "masks=DIR", "clustering": "clusters=FILE"}[task]
        return f"{title_of(name)} cannot {_VERBS[task]} (its spec gives no {key})"
    return f"{title_of(name)} cannot {_VERBS[task]}"


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


def _check_checkpoints(checkpoints: dict[str, Path], names: list[str], tasks: list[str]) -> None:
    """``--checkpoint METHOD=FILE`` must name a method this run scores that has a checkpoint."""
    for method, path in checkpoints.items():
        if method not in names:
            raise UserError(f"--checkpoint {method}={path}: {method!r} is not in --methods "
                            f"({','.join(title_of(n) if is_external(n) else n for n in names)}); add it there or "
                            "drop the option")
        if method in BUILDERS or method not in METHODS:
            raise UserError(f"--checkpoint {method}={path}: {method} has no checkpoint (nothing is trained)")
        if not any(t in ALL_TASKS for t in tasks):
            raise UserError(f"--checkpoint {method}={path}: --task ablation trains its own variants; the "
                            "option applies to --task generation, segmentation, clustering or all")


def parse_ablations(ablations: str | None) -> tuple[str, ...]:
    """``--ablations``: a comma list of Table 3 rows (``reference`` and ``ABLATION_VARIANTS``), in
    Table 3's order, or ``all``; None: every row (under ``--task ablation``; ``--task all`` then
    leaves Table 3 out). Separate processes on separate rows share one ``--out``."""
    every = (ABLATION_REFERENCE, *ABLATION_VARIANTS)
    if ablations is None or ablations.strip() == "all":
        return every
    asked = [a.strip() for a in ablations.split(",") if a.strip()]
    unknown = [a for a in asked if a not in every]
    if unknown or not asked:
        raise UserError(f"unknown ablation {unknown[0] if unknown else ablations!r}; choose from {', '.join(every)}")
    return tuple(v for v in every if v in asked)


def run(task: str = DEFAULTS.task, dataset: str = DEFAULTS.dataset, methods: str | None = DEFAULTS.methods,
        preset: str = DEFAULTS.preset, seeds: str = DEFAULTS.seeds, out: str | Path = DEFAULTS.out,
        work: str | Path = DEFAULTS.work, force: bool = DEFAULTS.force, device: str | None = DEFAULTS.device,
        evaluator: str | Path | None = DEFAULTS.evaluator, checkpoints: dict[str, Path] | None = DEFAULTS.checkpoints,
        figures: bool = DEFAULTS.figures, inception_weights: str | Path | None = DEFAULTS.inception_weights,
        ablation_preset: str | None = DEFAULTS.ablation_preset, protocol: str = DEFAULTS.protocol,
        ablations: str | None = DEFAULTS.ablations, launcher: LaunchOptions | None = DEFAULTS.launcher) -> list[dict]:
    """The API behind ``bench run``: the options of ``benchmark.run_options.RunOptions`` (declared there
    once, with their defaults and help). Returns all records in ``out``.

    ``launcher`` (``benchmark.launch``): run the cells not yet done as jobs (Slurm or local processes)
    instead of one after another in this process; None runs them here.

    ``task="all"`` scores each method on the tasks it can do (saying which it skips and why), and
    Table 3's ablation variants only when they are asked for (``ablations`` or ``ablation_preset``
    given); a dataset without masks skips segmentation up front."""
    run_preset = get_preset(preset, ablation_preset)
    variants = parse_ablations(ablations)
    work = Path(work)
    if task == "all":
        asked = ablations is not None or ablation_preset is not None
        tasks = list(ALL_TASKS) + (["ablation"] if asked else [])
    else:
        tasks = [task]
    unknown = [t for t in tasks if t not in (*ALL_TASKS, "ablation")]
    if unknown:
        raise UserError(f"unknown task {unknown[0]!r}; choose generation, segmentation, clustering, ablation or all")
    names = parse_methods(methods)  # before anything slow: a bad --methods is one line at once
    checkpoints = dict(checkpoints or {})
    _check_checkpoints(checkpoints, names, tasks)
    seed_list = [int(s) for s in str(seeds).split(",") if s.strip()]
    from core.device import pick_device

    device_given = device is not None  # launched cells pick their own device where they run
    device = str(pick_device(device))
    scoring = protocols.get(protocol)
    skipped = [t for t in tasks if t in ALL_TASKS and not scoring.defines(t)]
    if skipped:
        print(f"protocol {scoring.tag} defines no {', '.join(skipped)} scores: skipped")
    tasks = [t for t in tasks if t == "ablation" or scoring.defines(t)]
    defined = [t for t in ALL_TASKS if scoring.defines(t)]
    if launcher is not None and launcher.kind != "status":
        from benchmark.launch.submit import before_preparing

        # --dry-run prints the plan before the dataset is read (masks not yet known: every task)
        preliminary = plan_cells({name: [t for t in tasks if t in defined and t in tasks_of(name)] for name in names},
                                 variants, seed_list, defined if "ablation" in tasks else None, checkpoints)
        if before_preparing(run_preset, preliminary, launcher, dataset, scoring):
            return []
    status_only = launcher is not None and launcher.kind == "status"
    if not status_only:  # absolute paths: bench status may run from another directory
        data_arg = dataset if dataset == "synthetic" else str(Path(dataset).absolute())
        remember_plan(out, {"task": task, "dataset": data_arg, "methods": methods, "preset": preset, "seeds": seeds,
                            "work": str(work.absolute()), "ablation_preset": ablation_preset, "protocol": protocol,
                            "ablations": ablations})
    ctx = RunContext(run_preset, prepare_dataset(dataset, run_preset, work), work, RecordStore(out), device, force,
                     protocol=scoring)
    if inception_weights is not None:
        from benchmark.features.inception import resolve_weights

        ctx.inception_weights = resolve_weights(inception_weights)  # fails early, naming the file
    # The tasks this dataset can be scored on: segmentation needs masks (Dogs and Cars prepared
    # without pseudo-masks have none). Decided before any training.
    dataset_tasks = [t for t in ALL_TASKS if scoring.defines(t)]
    if "segmentation" in dataset_tasks and len(rows_with_masks(ctx.prepared)) == 0:
        if tasks == ["segmentation"]:
            raise UserError(no_masks_hint(ctx.prepared))
        if "segmentation" in tasks or "ablation" in tasks:
            print(f"skipped: segmentation: {no_masks_hint(ctx.prepared)}")
        dataset_tasks.remove("segmentation")
    score_tasks = [t for t in tasks if t in dataset_tasks]
    plan = {name: [t for t in score_tasks if t in tasks_of(name)] for name in names}
    for name in names:
        for t in score_tasks:
            if t not in plan[name]:
                print(f"skipped: {_skip_reason(name, t)}")
    cells = plan_cells(plan, variants, seed_list, dataset_tasks if "ablation" in tasks else None, checkpoints)
    scored = {t for name in names for t in plan[name]} | (set(dataset_tasks) if "ablation" in tasks else set())
    needs_generation = "generation" in scored
    needs_evaluator = any(_needs_evaluator(name, plan[name]) for name in names) or needs_generation
    shared = None if not needs_evaluator else SharedWork(
        functools.partial(shared_work, generation=needs_generation),
        functools.partial(shared_work_done, generation=needs_generation))
    if status_only:  # bench status: where each planned cell stands, nothing run
        launcher.status_counts.update(print_status(ctx, cells, shared))
        return ctx.store.load()
    launched = launcher is not None and launcher.kind != "inprocess"
    if evaluator:
        ctx.evaluator = ensure_evaluator(ctx, Path(evaluator))  # a given file: checked here, at once
    if needs_evaluator and not launched:
        shared_work(ctx, needs_generation)
    if launched:
        from benchmark.launch.submit import launch

        if not launch(ctx, cells, launcher, device_given=device_given, evaluate=evaluate_cells, shared=shared):
            return ctx.store.load()  # --no-wait: submitted; `bench status` follows the cells
        ctx.force = False  # every cell is recorded now: the pass below only gathers the figures' sources
    figure_sources: dict[str, FigureSource] = {}  # the first seed's scored models, by method
    for cell in cells:
        source = evaluate_cells(ctx, cell.method, cell.variant, list(cell.tasks), cell.seed, cell.checkpoint)
        if source is not None and cell.variant is None:
            figure_sources.setdefault(record_name(cell.method), source)
    records = ctx.store.load()
    print(summary_table(records, ctx.prepared.fingerprint))
    if figures:
        from benchmark.figures import write_figures

        write_figures(ctx, figure_sources, Path(out) / "figures")
    print(f"records: {ctx.store.path}")
    return records

