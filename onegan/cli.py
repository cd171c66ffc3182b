"""``bench train``: train OneGAN on a prepared dataset (single process, or every process of ``torchrun``).
Its options (``TrainOptions``) and the function it calls (``train_onegan``), which the Python API exposes
too; ``onegan.api.train`` is the method contract's entry point it wraps."""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass, field
from pathlib import Path

from core.cli_options import cli
from core.launching import LaunchOptions, add_launch_arguments, launch_options
from core.training_run import DEFAULT_CHECKPOINT_MINUTES
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


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """What ``bench train`` (and ``train_onegan``) takes; field order is the help's order."""

    data: Path = field(metadata=cli("prepared dataset directory (bench prep)", type=Path))
    preset: str = field(default="tiny", metadata=cli("OneGAN's preset (onegan/config.py; default tiny)",
                                                     choices=sorted(PRESETS)))
    ablation: str | None = field(default=None, metadata=cli("one ablation row of the paper's Tables 1-3",
                                                            choices=sorted(ABLATIONS)))
    out: Path = field(metadata=cli("run directory (checkpoint, logs, samples)", type=Path))
    resume: bool = field(default=False, metadata=cli(
        "continue the run in OUT from its checkpoint (a larger --iterations extends it); without --resume or "
        "--restart an existing run in OUT is refused", exclusive="again"))
    restart: bool = field(default=False, metadata=cli("delete the run in OUT and start over", exclusive="again"))
    seed: int = field(default=0, metadata=cli("training seed", type=int))
    iterations: int | None = field(default=None, metadata=cli(
        "override the preset's iteration count (a fresh run scales the phase boundaries with it; a resumed run "
        "keeps its own); 0 saves the untrained model", type=_non_negative))
    batch_size: int | None = field(default=None, metadata=cli(
        "global batch (the paper: 20; default: the preset's); under torchrun each of the W processes takes "
        "batch-size/W, and W processes train the model one process would", type=int))
    precision: str | None = field(default=None, metadata=cli(
        "fp32 (default) or bf16 autocast (CPU and CUDA alike; weights and losses stay fp32)", choices=PRECISIONS))
    max_minutes: float | None = field(default=None, metadata=cli(
        "stop (with a checkpoint) after this long", type=float))
    checkpoint_every: int | None = field(default=None, metadata=cli(
        "also save every N iterations (default: the preset's)", type=_positive, metavar="N"))
    checkpoint_minutes: float | None = field(default=None, metadata=cli(
        f"also save every M minutes of wall time (default {DEFAULT_CHECKPOINT_MINUTES:g}; 0: never). SIGTERM, "
        "SIGINT (Ctrl-C), SIGUSR1 and SIGUSR2 save at once and stop", type=float, metavar="M"))
    device: str | None = field(default=None, metadata=cli("cpu, cuda, cuda:1 ... (default: cuda when present)"))
    launcher: LaunchOptions | None = field(default=None, metadata=cli(
        "train as one Slurm or local job (docs/cluster.md); None: in this process",
        group=(functools.partial(add_launch_arguments, train=True), launch_options)))


_D = TrainOptions


def train_onegan(data: str | Path, out: str | Path, *, preset: str = _D.preset, ablation: str | None = _D.ablation,
                 resume: bool = _D.resume, restart: bool = _D.restart, seed: int = _D.seed,
                 iterations: int | None = _D.iterations, batch_size: int | None = _D.batch_size,
                 precision: str | None = _D.precision, max_minutes: float | None = _D.max_minutes,
                 checkpoint_every: int | None = _D.checkpoint_every,
                 checkpoint_minutes: float | None = _D.checkpoint_minutes, device: str | None = _D.device,
                 launcher: LaunchOptions | None = _D.launcher) -> Path | int:
    """The API behind ``bench train`` (the options of ``TrainOptions``): train OneGAN into ``out`` under
    its lock (rank 0's under ``torchrun``), print where the checkpoint stands and return its path; with a
    ``launcher``, submit the run as one job instead and return the job's exit status."""
    from core.contract import TrainRequest
    from core.errors import UserError
    from core.locking import is_main_process, main_process_lock
    from onegan.api import train
    from onegan.checkpoint import load_checkpoint

    if checkpoint_minutes is not None and checkpoint_minutes < 0:
        raise UserError(f"--checkpoint-minutes must be 0 (never) or more; got {checkpoint_minutes}")
    request = TrainRequest(data=Path(data), out=Path(out), preset=preset, seed=seed, resume=resume, restart=restart,
                           device=device, max_minutes=max_minutes, iterations=iterations, ablation=ablation,
                           batch_size=batch_size, precision=precision, checkpoint_every=checkpoint_every,
                           checkpoint_minutes=checkpoint_minutes)
    if launcher is not None:  # a Slurm (or local) job of --tasks-per-node data-parallel ranks
        from onegan.train_job import launch_training

        return launch_training(request, launcher)
    with main_process_lock(out, "training OneGAN"):  # rank 0 only: torchrun's ranks train together
        path = train(request)
    if is_main_process():
        state = load_checkpoint(path)
        print(f"onegan: checkpoint {path} (iteration {state['iteration']} of "
              f"{state['config']['schedule']['iterations']})")
    return path
