"""OneGAN training speed in bfloat16 autocast against float32 on this machine (``--precision``).

    .venv/bin/python scripts/bench_onegan_precision.py [--preset tiny] [--rounds 5] [--steps 4] [--threads 2]

Both trainers are built side by side and timed in interleaved rounds (fp32 steps, then bf16 steps,
repeated), in Phase I (generation path only) and Phase II (all three paths), so that the load other
processes put on a shared machine hits both alike. Only the ratio is meaningful on a loaded machine;
the absolute it/s are printed for context. Appends its report to results/bench_onegan_precision.txt.
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

from data_prep.atomic import write_text_atomic
from data_prep.prepared import load_prepared
from data_prep.provenance import git_commit
from data_prep.synthetic import write_synthetic
from onegan.config import OneGANConfig
from onegan.trainer import Trainer


def _timed(trainer: Trainer, iteration: int, steps: int) -> float:
    """Seconds per step of ``steps`` steps all run at ``iteration`` (its phase's paths)."""
    start = time.perf_counter()
    for _ in range(steps):
        trainer.iteration = iteration
        trainer.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="steps per timed block")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/bench_onegan_precision.txt"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    header = (f"# OneGAN bf16 autocast vs fp32, {time.strftime('%Y-%m-%d %H:%M')}, commit {git_commit()}, cpu "
              f"({platform.processor() or platform.machine()}), torch {torch.__version__}, threads "
              f"{torch.get_num_threads()}, preset {args.preset}, {args.rounds} interleaved rounds of "
              f"{args.steps} steps per precision and phase. Shared, loaded machine: only the ratios mean "
              "anything (median of per-round ratios).")
    print(header, flush=True)
    lines = [header]
    with tempfile.TemporaryDirectory() as tmp:
        config = OneGANConfig.preset(args.preset, 12, 4)
        data = Path(tmp) / "synthetic"
        write_synthetic(data, classes=12, parents=4, images=max(96, 4 * config.train.batch_size),
                        size=config.model.image_size)
        prepared = load_prepared(data)
        trainers = {precision: Trainer(dataclasses.replace(config, train=dataclasses.replace(
            config.train, precision=precision)), prepared, Path(tmp) / precision, progress=False)
            for precision in ("fp32", "bf16")}
        for phase, iteration in (("phase I", 0), ("phase II", config.schedule.real_recon_start)):
            seconds: dict[str, list[float]] = {p: [] for p in trainers}
            for trainer in trainers.values():
                _timed(trainer, iteration, 1)  # warm-up
            for _ in range(args.rounds):
                for precision, trainer in trainers.items():
                    seconds[precision].append(_timed(trainer, iteration, args.steps))
            ratios = [f / b for f, b in zip(seconds["fp32"], seconds["bf16"], strict=True)]
            line = (f"{args.preset} {phase:9s} batch {config.train.batch_size}: fp32 "
                    f"{1 / statistics.median(seconds['fp32']):6.2f} it/s, bf16 "
                    f"{1 / statistics.median(seconds['bf16']):6.2f} it/s; bf16/fp32 it/s ratio median "
                    f"{statistics.median(ratios):.2f} (per round: {', '.join(f'{r:.2f}' for r in ratios)})")
            print(line, flush=True)
            lines.append(line)
    previous = args.out.read_text() if args.out.exists() else ""
    write_text_atomic(args.out, previous + "\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
