"""The one device picker of the suite: training, loading a checkpoint and feature extraction all ask it."""

from __future__ import annotations

import os

import torch


def pick_device(device: str | torch.device | None = None, *, local_rank: bool = False) -> torch.device:
    """``device`` as a ``torch.device``; ``None`` means the GPU when CUDA is available, else the CPU.

    ``local_rank``: a bare ``cuda`` (given, or chosen because a GPU is present) becomes this
    process's GPU, ``cuda:$LOCAL_RANK`` (0 outside ``torchrun``): ``torch.cuda.set_device`` and the
    process group of a multi-GPU run need an index. Without it a bare ``cuda`` stays as given.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if local_rank and device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device
