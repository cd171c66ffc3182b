"""The method-module contract: ``NAME``, ``train(request) -> Path``, ``load(checkpoint, device) -> OneGAN``.

``request.ablation`` (a name from ``onegan.config.ABLATIONS``), ``request.iterations`` (phase
boundaries scale with it), ``request.batch_size`` (the global batch) and ``request.precision``
come from ``core.contract.TrainRequest``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from core.contract import TrainRequest
from data_prep.prepared import load_prepared
from onegan.config import OneGANConfig
from onegan.distributed import init_from_environment, shutdown
from onegan.inference import OneGAN, default_device

NAME = "onegan"


def build_config(request: TrainRequest, num_classes: int, num_parents: int) -> OneGANConfig:
    config = OneGANConfig.preset(request.preset, num_classes, num_parents)
    iterations = getattr(request, "iterations", None)
    if iterations is not None:
        config = config.with_iterations(int(iterations))
    train = {key: value for key in ("batch_size", "precision")
             if (value := getattr(request, key, None)) is not None}
    if train:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, **train))
    return config.with_ablation(getattr(request, "ablation", None))


def training_device(request: TrainRequest) -> torch.device:
    """The device a training request runs on: ``request.device`` (a bare ``cuda`` becomes this
    process's GPU, ``LOCAL_RANK`` under torchrun: ``torch.cuda.set_device`` needs an index), else
    this process's GPU when there is one, else the CPU."""
    local_gpu = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if request.device:
        device = torch.device(request.device)
        return local_gpu if device.type == "cuda" and device.index is None else device
    return local_gpu if torch.cuda.is_available() else torch.device("cpu")


def train(request: TrainRequest, progress: bool = True) -> Path:
    """Train (or resume, when ``request.resume`` and ``request.out`` holds a checkpoint) and return
    the checkpoint path. Under ``torchrun`` every process calls this; rank 0 writes the files."""
    from onegan.trainer import Trainer  # local: loading a model should not import the loop

    prepared = load_prepared(request.data)
    config = build_config(request, prepared.num_classes, prepared.num_parents)
    device = training_device(request)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    group = init_from_environment(device)
    try:
        trainer = Trainer(config, prepared, Path(request.out), seed=request.seed, device=device, group=group,
                          max_minutes=request.max_minutes, progress=progress)
        if request.resume:
            trainer.resume()
        return trainer.run()
    finally:
        shutdown(group)


def load(checkpoint: Path, device: str | None = None) -> OneGAN:
    """A trained OneGAN from a checkpoint file (or a run directory holding ``checkpoint.pt``)."""
    return OneGAN.from_checkpoint(checkpoint, device or default_device())
