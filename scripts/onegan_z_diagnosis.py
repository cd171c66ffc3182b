"""Why did the tiny OneGAN ignore z? A diagnostic run: train OneGAN (default: the ``tiny`` preset,
1,200 iterations, one thread) with config overrides, then measure

- ``spread``: mean pairwise pixel distance of 8 samples sharing a child code (8 z's) over the same for
  8 real images of that class, averaged over the classes (the pixel-space cousin of the benchmark's
  ``diversity`` score, which uses evaluator features);
- IOU of ``segment`` > 0.5 (per-image mean) and child/parent ACC/NMI of ``cluster`` on the object images.

The base is the current ``tiny`` preset, which has the nuisance augmentation on; rows named before it
was (everything but ``nuis*``) ran the paper's Eq. 12: add ``--set loss.nuisance_augmentation=false``
to rerun them as they were. ``--per-code CHECKPOINT ...`` prints each code's spread (the figure's rows);
``--parent-code-scales 0.5,1,2`` adds each parent's mask spread with its code v_p rescaled.

``REPO=/path/to/checkout`` runs another checkout's code (e.g. the networks before the FineGAN
topology, commit b140446) with this script. Appends one JSON line per run to ``--result``.

    .venv/bin/python scripts/onegan_z_diagnosis.py --name tiny_p1 --set schedule.reconstruction=false
    .venv/bin/python scripts/onegan_z_diagnosis.py --name ce01 --set model.ndf=16 --classification-scale 0.1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

if os.environ.get("REPO"):
    sys.path.insert(0, os.environ["REPO"])

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmark.metrics.clustering import clustering_accuracy, nmi  # noqa: E402
from benchmark.seed_spread import seed_std  # noqa: E402
from core.atomic import append_jsonl, read_jsonl  # noqa: E402
from core.errors import UserError  # noqa: E402
from core.provenance import compute_environment, git_commit, package_versions  # noqa: E402
from data_prep.datasets import ObjectImages  # noqa: E402
from data_prep.prepared import load_prepared, parent_of  # noqa: E402
from data_prep.synthetic import write_synthetic  # noqa: E402
from onegan import losses  # noqa: E402
from onegan.config import OneGANConfig  # noqa: E402
from onegan.inference import OneGAN  # noqa: E402
from onegan.model import to_unit_range  # noqa: E402
from onegan.trainer import Trainer  # noqa: E402


def _override(config: OneGANConfig, assignment: str) -> OneGANConfig:
    """``section.field=json`` -> a copy of ``config`` with that field replaced."""
    key, value = assignment.split("=", 1)
    section, name = key.split(".")
    value = json.loads(value)
    value = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **{name: value})})


def _mean_pairwise(x: torch.Tensor) -> float:
    x = x.flatten(1)
    return float(torch.cdist(x, x).sum() / (x.shape[0] * (x.shape[0] - 1)))


@torch.no_grad()
def per_code_spread(method: OneGAN, device: str) -> list[float]:
    """Per child code, the mean pairwise pixel distance of 8 samples sharing it (8 fixed z's)."""
    m, generator, spreads = method.config.model, torch.Generator().manual_seed(123), []
    for c in range(m.num_classes):
        child = torch.full((8,), c)
        z = torch.randn(8, m.z_dim, generator=generator)
        parent = parent_of(child, m.num_classes, m.num_parents)
        out = method.model.generate(child.to(device), parent.to(device), z.to(device))
        spreads.append(_mean_pairwise(to_unit_range(out.image).cpu()))
    return spreads


@torch.no_grad()
def parent_code_scaling(method: OneGAN, scales: list[float], device: str) -> list[str]:
    """Per parent: |v_p| and the mask spread (mean pairwise distance of I_m over 8 fixed z's, with the
    parent's first child code) when v_p is multiplied by each scale at inference. A spread that falls
    as the code grows says the code's length, not only its direction, sets how much z moves the shape."""
    m, embeddings = method.config.model, method.model.embeddings
    foreground, lines = method.model.foreground_generator, []
    z = torch.randn(8, m.z_dim, generator=torch.Generator().manual_seed(123)).to(device)
    for p in range(m.num_parents):
        v_p = embeddings.parent.weight[p].expand(8, -1)
        v_c = embeddings.child(torch.full((8,), p * max(m.num_classes // m.num_parents, 1), device=device))
        spreads = []
        for scale in scales:
            shaped = foreground.shape(foreground.preimage(v_p * scale, z), v_p * scale)
            spreads.append(_mean_pairwise(foreground.style(shaped, v_c)[1].cpu()))
        lines.append(f"  parent {p}: |v_p| {float(v_p[0].norm()):.2f}, mask spread "
                     + ", ".join(f"x{scale:g} {spread:.1f}" for scale, spread in zip(scales, spreads, strict=True)))
    return lines


def _score(trainer: Trainer, config: OneGANConfig, prepared, device: str) -> dict:
    """Spread, IOU and child/parent ACC/NMI of the trainer's current model (see the module docstring)."""
    method = OneGAN(trainer.model, config, device)
    items = [it for it in ObjectImages(prepared, role="fg")]
    images = torch.stack([it["image"] for it in items])
    gt = torch.stack([it["mask"] for it in items]).numpy() > 0.5
    children = np.array([it["class_id"] for it in items])
    parents = np.array([it["parent_id"] for it in items])
    masks = method.segment(images).numpy() > 0.5
    union = (masks | gt).sum((1, 2, 3))
    iou = float(np.mean(np.where(union > 0, (masks & gt).sum((1, 2, 3)) / np.maximum(union, 1), 1.0)))
    clusters = method.cluster(images)
    size, m = config.model.image_size, config.model
    small = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                                            align_corners=False)
    fake = per_code_spread(method, device)
    real = [_mean_pairwise(small[np.flatnonzero(children == c)[:8]]) for c in range(m.num_classes)]
    trainer.model.train()  # OneGAN() switched it to eval; training may go on
    return {"spread": round(float(np.mean(fake) / np.mean(real)), 3),
            # the least diverse code's spread over the real classes' mean: a per-code collapse (one
            # parent's rows alike along z) that the mean above averages over
            "spread_min_code": round(float(np.min(fake) / np.mean(real)), 3), "iou": round(iou, 3),
            "acc": round(clustering_accuracy(children, clusters.child.numpy()), 3),
            "nmi": round(nmi(children, clusters.child.numpy()), 3),
            "parent_acc": round(clustering_accuracy(parents, clusters.parent.numpy()), 3),
            "parent_nmi": round(nmi(parents, clusters.parent.numpy()), 3)}


SUMMARY_METRICS = ("iou", "acc", "nmi", "parent_acc", "parent_nmi", "spread")


def summary(rows: list[dict], name: str) -> str:
    """Markdown: mean ± std over the seeds of one variant's runs (rows named ``name`` or
    ``name_s<seed>``), one line per iteration count (a seed's last row at that count)."""
    from tabulate import tabulate

    runs: dict[int, dict[int, dict]] = {}
    for r in rows:
        if r["name"] == name or r["name"].startswith(f"{name}_s"):
            runs.setdefault(r["iterations"], {})[r["seed"]] = r
    table = []
    # rows written before spread_min_code existed lack it: the column appears when every row has it
    ours = [r for by_seed in runs.values() for r in by_seed.values()]
    metrics = SUMMARY_METRICS + (("spread_min_code",) if all("spread_min_code" in r for r in ours) else ())
    for iterations, by_seed in sorted(runs.items()):
        cells = []
        for metric in metrics:
            values = np.array([r[metric] for r in by_seed.values()])
            std = f" ± {seed_std(values):.3f}" if len(values) > 1 else ""
            cells.append(f"{values.mean():.3f}{std}")
        table.append([iterations, len(by_seed), *cells])
    return tabulate(table, headers=["iterations", "seeds", *metrics], tablefmt="github")


def _scales(text: str) -> list[float]:
    """``--parent-code-scales``: comma-separated positive numbers."""
    try:
        scales = [float(s) for s in text.split(",")]
    except ValueError:
        scales = []
    if not scales or any(s <= 0 for s in scales):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive numbers, got {text!r}")
    return scales


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", help="the run's name (required but with --per-code)")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides section.field=json")
    parser.add_argument("--classification-scale", type=float, default=None, help="scale L_E (Eq. 12)")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--budgets", default=None,
                        help="comma-separated iterations to score one run at (the schedule's phase "
                             "boundaries stay where the preset puts them; the run extends to the last)")
    parser.add_argument("--deadline-minutes", type=float, default=None,
                        help="stop training after this wall time and score where the run stands")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path("/tmp/onegan_z_diagnosis/synthetic"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/onegan_z_diagnosis/runs"))
    parser.add_argument("--result", type=Path, default=Path("results/studies/z_diagnosis/onegan_z_diagnosis.jsonl"))
    parser.add_argument("--summary", action="store_true",
                        help="only print mean ± std over seeds, per iteration count, of --result's rows whose "
                             "name is --name or --name_s<seed>")
    parser.add_argument("--per-code", nargs="+", type=Path, metavar="CHECKPOINT",
                        help="only print each checkpoint's per-code spread (before the ratio to the real images')")
    parser.add_argument("--parent-code-scales", type=_scales, default=None, metavar="S1,S2,...",
                        help="with --per-code: also print each parent's mask spread with v_p scaled by each S")
    args = parser.parse_args()
    if args.parent_code_scales and not args.per_code:
        parser.error("--parent-code-scales needs --per-code CHECKPOINT")
    if args.per_code:
        for path in args.per_code:
            try:
                method = OneGAN.from_checkpoint(path, args.device)
            except UserError as err:
                parser.error(str(err))
            print(path, " ".join(f"{v:.1f}" for v in per_code_spread(method, args.device)))
            if args.parent_code_scales:
                print("\n".join(parent_code_scaling(method, args.parent_code_scales, args.device)))
        return
    if not args.name:
        parser.error("--name is required")
    if args.summary:
        print(summary(read_jsonl(args.result), args.name))
        return
    torch.set_num_threads(args.threads)
    if not (args.data / "meta.json").exists():
        write_synthetic(args.data, seed=0)
    prepared = load_prepared(args.data)
    config = OneGANConfig.preset("tiny", prepared.num_classes, prepared.num_parents)
    if args.iterations:
        config = config.with_iterations(args.iterations)
    for assignment in args.set:
        config = _override(config, assignment)
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else [config.schedule.iterations]
    config = dataclasses.replace(config, schedule=dataclasses.replace(config.schedule, iterations=max(budgets)))
    if args.classification_scale is not None:
        original, scale = losses.classification_loss, args.classification_scale
        losses.classification_loss = lambda *a: scale * original(*a)
    trainer = Trainer(config, prepared, args.work / args.name, seed=args.seed, device=args.device, progress=False)
    trainer.resume(extend=True)  # a larger last budget extends a finished run
    start, cpu = time.monotonic(), time.process_time()
    for budget in budgets:
        out_of_time = False
        while trainer.iteration < budget and not out_of_time:
            trainer.run(until=min(budget, trainer.iteration + 100))
            out_of_time = (args.deadline_minutes is not None
                           and time.monotonic() - start > 60 * args.deadline_minutes)
        row = {"name": args.name, "code": os.environ.get("REPO", "this checkout"), "set": args.set,
               "classification_scale": args.classification_scale, "seed": args.seed,
               "iterations": trainer.iteration, "device": args.device,
               "cpu_minutes": round((time.process_time() - cpu) / 60, 2),
               "wall_minutes": round((time.monotonic() - start) / 60, 2),
               "git_commit": git_commit(os.environ.get("REPO")), "versions": package_versions(),
               "compute": compute_environment(), "dataset_fingerprint": prepared.fingerprint,
               **_score(trainer, config, prepared, args.device)}
        print(json.dumps(row), flush=True)
        args.result.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(args.result, row)  # locked: sweeps run many of these on one file
        if out_of_time:
            break


if __name__ == "__main__":
    main()
