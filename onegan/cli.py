"""``bench train``: train OneGAN on a prepared dataset (single process, or every process of ``torchrun``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.launching import add_launch_arguments, launch_options
from onegan.config import ABLATIONS, PRECISIONS, PRESETS


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    from core.training_run import DEFAULT_CHECKPOINT_MINUTES

    parser.add_argument("--data", type=Path, required=True, help="prepared dataset directory (bench prep)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--ablation", choices=sorted(ABLATIONS), default=None,
                        help="one ablation row of the paper's Tables 1-3")
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoint, logs, samples)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the run in OUT from its checkpoint (a larger --iterations extends it); "
                            "without --resume or --restart an existing run in OUT is refused")
    again.add_argument("--restart", action="store_true", help="delete the run in OUT and start over")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=_non_negative, default=None,
                        help="override the preset's iteration count (a fresh run scales the phase boundaries "
                             "with it; a resumed run keeps its own); 0 saves the untrained model")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="global batch (the paper: 20; default: the preset's); under torchrun each of the W "
                             "processes takes batch-size/W, and W processes train the model one process would")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="fp32 (default) or bf16 autocast (CPU and CUDA alike; weights and losses stay fp32)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    parser.add_argument("--checkpoint-every", type=_positive, default=None, metavar="N",
                        help="also save every N iterations (default: the preset's)")
    parser.add_argument("--checkpoint-minutes", type=float, default=None, metavar="M",
                        help=f"also save every M minutes of wall time (default {DEFAULT_CHECKPOINT_MINUTES:g}; "
                             "0: never). SIGTERM, SIGINT (Ctrl-C), SIGUSR1 and SIGUSR2 save at once and stop")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    add_launch_arguments(parser, train=True)


def main(args: argparse.Namespace) -> int:
    from core.contract import TrainRequest
    from core.errors import UserError
    from core.locking import is_main_process, main_process_lock
    from onegan.api import train
    from onegan.checkpoint import load_checkpoint

    if args.checkpoint_minutes is not None and args.checkpoint_minutes < 0:
        raise UserError(f"--checkpoint-minutes must be 0 (never) or more; got {args.checkpoint_minutes}")
    request = TrainRequest(data=args.data, out=args.out, preset=args.preset, seed=args.seed, resume=args.resume,
                           restart=args.restart, device=args.device, max_minutes=args.max_minutes,
                           iterations=args.iterations, ablation=args.ablation, batch_size=args.batch_size,
                           precision=args.precision, checkpoint_every=args.checkpoint_every,
                           checkpoint_minutes=args.checkpoint_minutes)
    launcher = launch_options(args)
    if launcher is not None:  # a Slurm (or local) job of --tasks-per-node data-parallel ranks
        from onegan.train_job import launch_training

        return launch_training(request, launcher)
    with main_process_lock(args.out, "training OneGAN"):  # rank 0 only: torchrun's ranks train together
        path = train(request)
    if is_main_process():
        state = load_checkpoint(path)
        print(f"onegan: checkpoint {path} (iteration {state['iteration']} of "
              f"{state['config']['schedule']['iterations']})")
    return 0
