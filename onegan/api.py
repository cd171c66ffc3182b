"""The method-module contract: ``NAME``, ``train(request) -> Path``, ``load(checkpoint, device) -> OneGAN``.

``request.ablation`` (a name from ``onegan.config.ABLATIONS``), ``request.iterations`` (phase
boundaries scale with it), ``request.batch_size`` (the global batch) and ``request.precision``
come from ``core.contract.TrainRequest``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from core.contract import TrainRequest
from core.device import pick_device
from core.training_run import CHECKPOINT_NAME, claim_run_dir, requested_checkpoint_minutes
from data_prep.prepared import load_prepared
from onegan.config import OneGANConfig
from onegan.distributed import barrier, init_from_environment, shutdown
from onegan.inference import OneGAN

NAME = "onegan"


def build_config(request: TrainRequest, num_classes: int, num_parents: int) -> OneGANConfig:
    config = OneGANConfig.preset(request.preset, num_classes, num_parents)
    iterations = getattr(request, "iterations", None)
    if iterations is not None:
        config = config.with_iterations(int(iterations))
    train = {key: value for key in ("batch_size", "precision", "checkpoint_every")
             if (value := getattr(request, key, None)) is not None}
    if train:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, **train))
    return config.with_ablation(getattr(request, "ablation", None))


def train(request: TrainRequest, progress: bool = True) -> Path:
    """Train (or resume, when ``request.resume`` and ``request.out`` holds a checkpoint) and return
    the checkpoint path. Under ``torchrun`` every process calls this; rank 0 writes the files."""
    from onegan.trainer import Trainer  # local: loading a model should not import the loop

    prepared = load_prepared(request.data)
    config = build_config(request, prepared.num_classes, prepared.num_parents)
    device = pick_device(request.device, local_rank=True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    group = init_from_environment(device)
    try:
        out = Path(request.out)
        restart = getattr(request, "restart", False)
        resuming = group.is_main and claim_run_dir(out, resume=request.resume, restart=restart)
        barrier(group)  # rank 0 has decided (and, on --restart, cleared the directory)
        if not group.is_main:
            resuming = not restart and (out / CHECKPOINT_NAME).is_file()
        trainer = Trainer(config, prepared, out, seed=request.seed, device=device, group=group,
                          max_minutes=request.max_minutes, progress=progress,
                          checkpoint_minutes=requested_checkpoint_minutes(request))
        if resuming:
            trainer.resume()
        return trainer.run()
    finally:
        shutdown(group)


def load(checkpoint: Path, device: str | None = None) -> OneGAN:
    """A trained OneGAN from a checkpoint file (or a run directory holding ``checkpoint.pt``)."""
    return OneGAN.from_checkpoint(checkpoint, device or pick_device())
