"""``bench curve``: a method's metrics at increasing training budgets (learning curves).

    bench curve [--method onegan|finegan] [--preset tiny] [--seeds 0,1,2] [--budgets 1200,2400,4800,9600]
                [--out results/latest/curves] [--work runs] [--plot results/latest/curves/curves.png] [--compare FOLDER]

One long, resumable run per seed: the run preset's config of the method with its schedule extended to
the largest budget (OneGAN: its phase boundaries kept at their iteration, so Phase II starts where the
demo's run starts it; FineGAN∗: the GAN phase extended, each budget's encoders fitted for the preset's
own iterations: ``benchmark.curve_runs``). At every budget the run stops, saves its checkpoint, scores
segmentation (IOU), clustering (child and parent ACC/NMI) and generation (FID, CIS, diversity) with the
benchmark's own tasks, and appends the records (variant ``@<budget>``, with the iterations and the
CPU-minutes trained so far) to ``<out>/records.jsonl``. A killed curve resumes from the last checkpoint
and skips recorded budgets. Every budget's model is kept as ``snapshot_<budget>.pt`` beside the run, so
a task added later is scored on the same model. The floors (centred box, k-means on colour histograms
at k = NC and k = NP) are scored once per dataset into the same file. ``--plot`` draws every metric
against CPU-minutes, floors as lines, one style per method; ``--summary`` prints the Markdown table;
both read every records.jsonl under ``--out``'s folder and the ``--compare`` folders.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.curve_runs import CURVE_METHODS
from benchmark.methods import METHODS, obtain_method
from benchmark.presets import get_preset
from benchmark.records import RecordStore, make_records
from benchmark.run import ensure_evaluator, prepare_dataset
from benchmark.run_context import RunContext
from benchmark.seed_spread import seed_std
from benchmark.tasks import TASKS, EvalOptions
from core.atomic import write_json_atomic
from core.cli_options import cli
from core.contract import TrainRequest
from core.errors import UserError
from data_prep.prepared import Prepared

CURVE_TASKS = ("segmentation", "clustering", "generation")
FLOOR_METHODS = {"centred-box": ("segmentation",), "kmeans-colour": ("clustering",)}
CPU_LOG = "curve_cpu.json"   # CPU seconds trained so far, beside the checkpoint


@dataclass(frozen=True)
class CurveOptions:
    """What ``bench curve`` (and ``curve``) takes; field order is the help's order."""

    method: str = field(default="onegan", metadata=cli(
        "the method whose curve is trained and scored (default onegan)", choices=list(CURVE_METHODS)))
    preset: str = field(default="tiny", metadata=cli("the run preset (benchmark/presets.py; default tiny)",
                                                     choices=["smoke", "tiny", "paper"]))
    seeds: str = field(default="0", metadata=cli("comma-separated seeds (default 0)"))
    budgets: str = field(default="1200,2400,4800,9600", metadata=cli("iteration budgets, comma-separated"))
    out: Path = field(default=Path("results/latest/curves"), metadata=cli(
        "the folder of this curve's records.jsonl (default results/latest/curves)", type=Path))
    work: Path = field(default=Path("runs"), metadata=cli(
        "prepared data, checkpoints and snapshots (default runs)", type=Path))
    device: str = field(default="cpu", metadata=cli("torch device (default cpu)"))
    summary: bool = field(default=False, metadata=cli(
        "only print the Markdown summary of every records.jsonl under --out's folder"))
    figures: int | None = field(default=None, metadata=cli(
        "only draw the figures of the first seed's snapshot at BUDGET into --out's folder/figures", type=int,
        metavar="BUDGET"))
    plot: Path | None = field(default=None, metadata=cli(
        "also draw the curves of every records.jsonl under --out's folder to this PNG", type=Path))
    compare: tuple[Path, ...] = field(default=(), metadata=cli(
        "--summary and --plot also read every records.jsonl under FOLDER (repeatable), e.g. another method's "
        "curves", type=Path, repeat=True, metavar="FOLDER"))


DEFAULTS = CurveOptions()


def _options(ctx: RunContext, seed: int) -> EvalOptions:
    return EvalOptions(device=ctx.device, max_images=ctx.preset.max_eval_images,
                       images_per_class=ctx.preset.images_per_class, evaluator=ctx.evaluator,
                       cache_dir=ctx.work / "stats-cache", seed=seed)


def _score_floors(ctx: RunContext, store: RecordStore) -> None:
    for name, tasks in FLOOR_METHODS.items():
        cell = {"method": name, "variant": None, "dataset_fingerprint": ctx.prepared.fingerprint, "seed": 0,
                "preset": f"curve:{ctx.preset.name}", "protocol": ctx.protocol.tag}
        todo = [t for t in tasks if not store.is_done({**cell, "task": t})]
        if not todo:
            continue
        request = TrainRequest(data=ctx.prepared.root, out=ctx.work / "checkpoints" / ctx.prepared.fingerprint
                               / ctx.preset.name / "seed0" / name, preset=ctx.preset.method_preset, seed=0,
                               resume=True, device=ctx.device)
        method, checkpoint = obtain_method(name, request, None, ctx.prepared, ctx.evaluator)
        for task in todo:
            t0 = time.perf_counter()
            result = TASKS[task](method, ctx.prepared, _options(ctx, 0))
            store.append(make_records(method=name, variant=None, dataset=ctx.prepared.name,
                                      dataset_fingerprint=ctx.prepared.fingerprint, task=task, values=result.values,
                                      seed=0, preset=cell["preset"], config=None, checkpoint=checkpoint,
                                      wall_time_s=time.perf_counter() - t0, options=result.options,
                                      protocol=ctx.protocol.tag))


def _cell(ctx: RunContext, method: str, budget: int, seed: int, task: str) -> dict:
    """The record key of one method's task at one budget of the curve."""
    return {"method": method, "variant": f"@{budget}", "dataset_fingerprint": ctx.prepared.fingerprint,
            "task": task, "seed": seed, "preset": f"curve:{ctx.preset.name}", "protocol": ctx.protocol.tag}


def _score_snapshot(ctx: RunContext, name: str, method, snapshot: Path, budget: int, seed: int,
                    tasks: tuple[str, ...], cpu_minutes: float, config) -> None:
    for task in tasks:
        if ctx.store.is_done(_cell(ctx, name, budget, seed, task)):
            continue
        t0 = time.perf_counter()
        result = TASKS[task](method, ctx.prepared, _options(ctx, seed))
        ctx.store.append(make_records(
            method=name, variant=f"@{budget}", dataset=ctx.prepared.name,
            dataset_fingerprint=ctx.prepared.fingerprint, task=task, values=result.values, seed=seed,
            preset=f"curve:{ctx.preset.name}", config={name: config.to_dict(), "run_preset": ctx.preset.to_dict()},
            checkpoint=str(snapshot), wall_time_s=time.perf_counter() - t0,
            options={**result.options, "iteration": budget, "cpu_minutes": round(cpu_minutes, 3)},
            protocol=ctx.protocol.tag))
    print(f"{name} curve seed {seed}: budget {budget} scored ({cpu_minutes:.1f} CPU-min of training)")


def run_curve(preset: str, seeds: tuple[int, ...], budgets: tuple[int, ...], out: Path, work: Path,
              device: str = DEFAULTS.device, tasks: tuple[str, ...] = CURVE_TASKS,
              method: str = DEFAULTS.method) -> Path:
    """Train/score every (seed, budget) of ``method`` (a name in ``CURVE_METHODS``) not yet recorded
    for ``tasks`` (those the method can do); returns the records file. ``bench curve``'s defaults are
    ``CurveOptions``' (``curve``)."""
    if method not in CURVE_METHODS:
        raise UserError(f"bench curve knows {', '.join(CURVE_METHODS)}, not {method!r}")
    curve = CURVE_METHODS[method]
    tasks = tuple(t for t in tasks if t in METHODS[method].tasks)
    budgets = tuple(sorted(set(budgets)))
    if not budgets or budgets[0] < 1:
        raise UserError("--budgets needs positive iteration counts")
    run_preset = get_preset(preset)
    prepared = prepare_dataset("synthetic", run_preset, work)
    store = RecordStore(out)
    ctx = RunContext(preset=run_preset, prepared=prepared, work=work, store=store, device=device, force=False)
    if "generation" in tasks:
        ctx.evaluator = ensure_evaluator(ctx, None)
    _score_floors(ctx, store)
    config = curve.config(preset, prepared, budgets[-1])
    for seed in seeds:
        run_dir = _run_dir(work, prepared, preset, seed, method)
        pending = [b for b in budgets if not all(store.is_done(_cell(ctx, method, b, seed, t)) for t in tasks)]
        if not pending:
            print(f"{method} curve seed {seed}: every budget already recorded")
            continue
        cpu_file = run_dir / CPU_LOG
        cpu_log = json.loads(cpu_file.read_text()) if cpu_file.exists() else {}
        run = None
        for budget in pending:
            snapshot = run_dir / f"snapshot_{budget:07d}.pt"
            if not snapshot.exists():
                if run is None:
                    run = curve.start(config, prepared, run_dir, seed, device)
                if run.iteration > budget:
                    raise UserError(f"{run_dir}: the run is at iteration {run.iteration}, past budget {budget}, "
                                    "which has no snapshot; remove the run directory to redo it")
                # CPU spent up to the last snapshot at or before the resumed iteration (work lost to a
                # kill after it is redone, and counted once).
                cpu_seconds = max((v for k, v in cpu_log.items() if int(k) <= run.iteration), default=0.0)
                started = time.process_time()
                run.train_until(budget)
                cpu_log[str(budget)] = cpu_seconds + time.process_time() - started
                write_json_atomic(cpu_file, cpu_log)
                run.write_snapshot(budget, snapshot)
            # Training CPU behind the snapshot: the run up to the budget plus what making the snapshot
            # took (FineGAN∗'s encoder fitting), read back from the logs so a resumed curve counts it too.
            snapshot_cpu = curve.snapshot_cpu(run_dir, budget)
            _score_snapshot(ctx, method, curve.load(snapshot, device), snapshot, budget, seed, tasks,
                            (cpu_log[str(budget)] + snapshot_cpu) / 60, config)
    return out / "records.jsonl"


def _run_dir(work: Path, prepared: Prepared, preset: str, seed: int, method: str) -> Path:
    return work / "curves" / prepared.fingerprint / preset / f"seed{seed}" / method


def snapshot_figures(preset: str, work: Path, seed: int, budget: int, out_dir: Path, device: str = "cpu",
                     method: str = "onegan") -> list[Path]:
    """The benchmark's figures (generation: a child code per row, a different z per column;
    segmentation; OneGAN's reconstruction and translation) of one kept snapshot of ``method``."""
    from benchmark.figures import method_figures

    run_preset = get_preset(preset)
    prepared = prepare_dataset("synthetic", run_preset, work)
    snapshot = _run_dir(work, prepared, preset, seed, method) / f"snapshot_{budget:07d}.pt"
    if not snapshot.exists():
        raise UserError(f"no snapshot {snapshot}; run `bench curve --method {method}` with that budget first")
    ctx = RunContext(preset=run_preset, prepared=prepared, work=work, store=None, device=device, force=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    return method_figures(ctx, method, CURVE_METHODS[method].load(snapshot, device), out_dir)


SUMMARY_METRICS = ("iou", "acc", "nmi", "parent_acc", "parent_nmi", "diversity", "fid")


def summary_markdown(records: list[dict]) -> str:
    """Markdown: each curve method's metrics (mean ± std over seeds) at each of its budgets, one row
    per (method, budget), beside the floors; then the demo's claims (``benchmark.claims``, OneGAN's)
    at each OneGAN budget."""
    from tabulate import tabulate

    from benchmark.claims import evaluate_claims, variants_with_records
    from benchmark.curve_plot import curve_methods, curve_points, floor_values
    from benchmark.methods import title_of

    floors = floor_values(records)
    rows = []
    for method in curve_methods(records):
        points = curve_points(records, method)
        for variant in (v for v in variants_with_records(records, method) if v and v.startswith("@")):
            iteration = int(variant[1:])
            row = [title_of(method), iteration]
            cpu = [p[1] for seeds in points.get("iou", {}).values() for p in seeds if p[0] == iteration]
            row.append(f"{np.mean(cpu):.1f}" if cpu else "–")
            for metric in SUMMARY_METRICS:
                values = [p[2] for seeds in points.get(metric, {}).values() for p in seeds if p[0] == iteration]
                row.append(f"{np.mean(values):.3g} ± {seed_std(values):.2g} ({len(values)})" if values else "–")
            rows.append(row)
    floor_row = ["floor", "–", "–", *(f"{floors[k]:.3g}" if k in floors else "–" for k in (
        ("centred-box", "iou"), ("kmeans-colour", "acc"), ("kmeans-colour", "nmi"), ("kmeans-colour", "parent_acc"),
        ("kmeans-colour", "parent_nmi")))]
    rows.append(floor_row + ["0.5 (claim), 1 (reals)", "–"])
    text = tabulate(rows, headers=["method", "iterations", "CPU-min", *SUMMARY_METRICS], tablefmt="github")
    claim_rows = []
    for variant in (v for v in variants_with_records(records) if v and v.startswith("@")):
        for result in evaluate_claims(records, variant=variant):
            claim_rows.append([variant[1:], result.claim.text, f"{result.mean:.3g} ± {result.std:.2g}"
                               if result.mean is not None else "–",
                               f"{result.floor:.3g}" if result.floor is not None else "–", result.status])
    if not claim_rows:
        return text
    claims = tabulate(claim_rows, headers=["iterations", "claim (mean − std > floor)", "OneGAN", "floor", "status"],
                      tablefmt="github")
    return text + "\n\n" + claims


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"{flag} takes comma-separated integers, got {text!r}") from None


def _records_files(out: Path, compare: list[Path] | tuple[Path, ...]) -> list[Path]:
    """Every records.jsonl under ``out``'s folder and the ``compare`` folders (each file once)."""
    folders = [Path(out).parent, *map(Path, compare)]
    return sorted({f.resolve(): f for folder in folders for f in folder.rglob("records.jsonl")}.values())


def curve(method: str = DEFAULTS.method, preset: str = DEFAULTS.preset, seeds: str = DEFAULTS.seeds,
          budgets: str = DEFAULTS.budgets, out: str | Path = DEFAULTS.out, work: str | Path = DEFAULTS.work,
          device: str = DEFAULTS.device, summary: bool = DEFAULTS.summary, figures: int | None = DEFAULTS.figures,
          plot: str | Path | None = DEFAULTS.plot, compare: list[Path] | tuple[Path, ...] = DEFAULTS.compare
          ) -> Path | list[Path]:
    """The API behind ``bench curve`` (the options of ``CurveOptions``): train and score ``method``'s
    curve (``run_curve``; prints the records file as JSON), or with ``summary`` only print the Markdown
    summary, or with ``figures`` only draw one snapshot's figures; ``plot`` also draws the curves.
    Returns the records file (or the figures drawn, or the files summarised)."""
    out, work = Path(out), Path(work)
    if figures is not None:
        seed = _ints(seeds, "--seeds")[0]
        paths = snapshot_figures(preset, work, seed, figures, out.parent / "figures", device, method)
        for path in paths:
            print(path)
        return paths
    if summary:
        from core.atomic import read_jsonl

        files = _records_files(out, compare)
        print(summary_markdown([r for f in files for r in read_jsonl(f)]))
        _plot(out, compare, plot)  # --summary --plot redraws from the records, training nothing
        return files
    records = run_curve(preset, _ints(seeds, "--seeds"), _ints(budgets, "--budgets"), out, work, device,
                        method=method)
    _plot(out, compare, plot)
    print(json.dumps({"records": str(records)}))
    return records


def _plot(out: Path, compare: list[Path] | tuple[Path, ...], plot: str | Path | None) -> None:
    if plot is not None:
        from benchmark.curve_plot import plot_curves

        plot_curves(_records_files(out, compare), Path(plot))
        print(f"plot: {plot}")
