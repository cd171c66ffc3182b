"""``bench train``: train OneGAN on a prepared dataset (single process, or every process of ``torchrun``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.launching import add_launch_arguments, launch_options
from onegan.config import ABLATIONS, PRECISIONS, PRESETS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="prepared dataset directory (bench prep)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--ablation", choices=sorted(ABLATIONS), default=None,
                        help="one ablation row of the paper's Tables 1-3")
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoint, logs, samples)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if present")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=None,
                        help="override the preset's iteration count (phase boundaries scale with it)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="global batch (the paper: 20; default: the preset's); under torchrun each of the W "
                             "processes takes batch-size/W, and W processes train the model one process would")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="fp32 (default) or bf16 autocast (CPU and CUDA alike; weights and losses stay fp32)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    add_launch_arguments(parser, train=True)


def main(args: argparse.Namespace) -> int:
    from core.contract import TrainRequest
    from core.locking import main_process_lock
    from onegan.api import train

    request = TrainRequest(data=args.data, out=args.out, preset=args.preset, seed=args.seed, resume=args.resume,
                           device=args.device, max_minutes=args.max_minutes, iterations=args.iterations,
                           ablation=args.ablation, batch_size=args.batch_size, precision=args.precision)
    launcher = launch_options(args)
    if launcher is not None:  # a Slurm (or local) job of --tasks-per-node data-parallel ranks
        from onegan.train_job import launch_training

        return launch_training(request, launcher)
    with main_process_lock(args.out, "training OneGAN"):  # rank 0 only: torchrun's ranks train together
        path = train(request)
    print(f"onegan: checkpoint {path}")
    return 0
