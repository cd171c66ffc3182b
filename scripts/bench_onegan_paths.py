"""OneGAN training paths side by side on this machine: the reference path against the fast path
(float32, same model to float tolerance) and the fast path in bfloat16 autocast (``--precision bf16``,
opt-in: a different model).

    .venv/bin/python scripts/bench_onegan_paths.py [--preset tiny] [--rounds 10] [--steps 2] [--threads 1]
                                                   [--compile] [--device cpu]

The reference path is ``Trainer(fast=False)``: contiguous NCHW tensors and Adam's per-tensor loop, the
code as it was before the fast path. All trainers are built in one process and timed in interleaved
rounds (a few steps of each, repeated), in Phase I (generation path only) and Phase II (all three
paths), so that the load other processes put on a shared machine hits all alike. Only the ratios
(median of the per-round ratios) are meaningful on a loaded machine; absolute it/s are context.
``--compile`` adds the fast fp32 path with every network wrapped in ``torch.compile`` (inductor), a
candidate the trainer does not use; its compile time is printed apart and left out of the rates.
Appends its report to results/studies/speed/bench_onegan_paths.txt.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from core.atomic import write_text_atomic
from core.provenance import git_commit
from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from onegan.config import OneGANConfig
from onegan.step_timing import seconds_per_step
from onegan.trainer import Trainer

# name -> (Trainer(fast=...), TrainConfig.precision)
PATHS = {"reference fp32": (False, "fp32"), "fast fp32": (True, "fp32"), "fast bf16": (True, "bf16")}
RATIOS = (("fast fp32", "reference fp32"), ("fast bf16", "fast fp32"), ("fast bf16", "reference fp32"))
COMPILED = "fast fp32 compiled"


def _compile_networks(trainer: Trainer) -> None:
    """Wrap every parameterised network of ``trainer`` (generators, encoders, discriminators) in
    ``torch.compile``; the losses and optimisers stay eager."""
    for name, module in list(trainer.model.named_children()):
        if any(True for _ in module.parameters()):
            setattr(trainer.model, name, torch.compile(module))
    for pair in trainer.discriminators.values():
        pair.background, pair.child = torch.compile(pair.background), torch.compile(pair.child)


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2, help="steps per timed block")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results/studies/speed/bench_onegan_paths.txt"))
    parser.add_argument("--compile", action="store_true", help="also time the fast fp32 path under torch.compile")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    header = (f"# OneGAN training paths, {time.strftime('%Y-%m-%d %H:%M')}, commit {git_commit()}, "
              f"{_device_name(args.device)}, torch {torch.__version__}, threads "
              f"{torch.get_num_threads()}, preset {args.preset}, {args.rounds} interleaved rounds of "
              f"{args.steps} steps per path and phase. Shared, loaded machine: only the ratios mean anything "
              "(median of per-round ratios of it/s).")
    print(header, flush=True)
    lines = [header]
    with tempfile.TemporaryDirectory() as tmp:
        config = OneGANConfig.preset(args.preset, 12, 4)
        data = Path(tmp) / "synthetic"
        write_synthetic(data, classes=12, parents=4, images=max(96, 4 * config.train.batch_size),
                        size=config.model.image_size)
        prepared = load_prepared(data)
        trainers = {name: Trainer(dataclasses.replace(config, train=dataclasses.replace(
            config.train, precision=precision)), prepared, Path(tmp) / name.replace(" ", "_"), fast=fast,
            device=args.device, progress=False) for name, (fast, precision) in PATHS.items()}
        ratios_shown = RATIOS
        if args.compile:
            trainers[COMPILED] = Trainer(config, prepared, Path(tmp) / "compiled", device=args.device,
                                        progress=False)
            _compile_networks(trainers[COMPILED])
            ratios_shown = (*RATIOS, (COMPILED, "fast fp32"))
        for phase, iteration in (("phase I", 0), ("phase II", config.schedule.real_recon_start)):
            seconds: dict[str, list[float]] = {name: [] for name in trainers}
            for name, trainer in trainers.items():
                warm = seconds_per_step(trainer, iteration, 1)  # warm-up (and compilation)
                if name == COMPILED:
                    lines.append(f"{args.preset} {phase}: first compiled step (compilation) {warm:.1f} s")
                    print(lines[-1], flush=True)
            for _ in range(args.rounds):
                for name, trainer in trainers.items():
                    seconds[name].append(seconds_per_step(trainer, iteration, args.steps))
            speeds = ", ".join(f"{name} {1 / statistics.median(s):.2f} it/s" for name, s in seconds.items())
            lines.append(f"{args.preset} {phase}, batch {config.train.batch_size}: {speeds}")
            for new, old in ratios_shown:
                ratios = [o / n for n, o in zip(seconds[new], seconds[old], strict=True)]
                lines.append(f"  {new} / {old} it/s: median {statistics.median(ratios):.2f} "
                             f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})")
            print("\n".join(lines[-1 - len(ratios_shown):]), flush=True)
    previous = args.out.read_text() if args.out.exists() else ""
    write_text_atomic(args.out, previous + "\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
