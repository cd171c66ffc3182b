"""Atomic training checkpoints: everything needed to continue the same run bit-for-bit on CPU.

A checkpoint holds the config, the next iteration to run (the schedule position and, since batches
are a pure function of the iteration, the data stream's position), the networks, every discriminator
pair, every optimiser, and the RNG states (Python, NumPy, torch CPU and CUDA). It is written by
``core.training_run.save_checkpoint`` (an atomic rename): a run killed at any moment leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import training_run
from core.checkpoint_file import load_method_checkpoint
from core.errors import UserError

CHECKPOINT_NAME = training_run.CHECKPOINT_NAME
FORMAT_VERSION = 1


class CheckpointError(UserError):
    """A checkpoint file is missing or is not a OneGAN checkpoint."""


def rng_states() -> dict[str, Any]:
    # NumPy's state holds an ndarray, which weights_only loading refuses: its key array is stored as a tensor.
    name, keys, pos, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {"python": random.getstate(),
                              "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
                              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.int64).astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus format version and RNG states) atomically to ``path``."""
    return training_run.save_checkpoint(path, {**state, "format_version": FORMAT_VERSION, "rng": rng_states()})


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A OneGAN checkpoint (file or run directory), loaded as data only (``weights_only=True``)."""
    return load_method_checkpoint(
        path, "onegan", checkpoint_name=CHECKPOINT_NAME, error=CheckpointError, map_location=map_location,
        missing="OneGAN checkpoint not found: {path} (train one with `bench train`)",
        unreadable="{path} is not a readable OneGAN checkpoint: {err}",
        not_method="{path} is not a OneGAN checkpoint")
