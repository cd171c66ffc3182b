"""Atomic training checkpoints: everything needed to continue the same run bit-for-bit on CPU.

A checkpoint holds the config, the next iteration to run (the schedule position and, since batches
are a pure function of the iteration, the data stream's position), the networks, every discriminator
pair, every optimiser, and the RNG states (Python, NumPy, torch CPU and CUDA). It is written with
``data_prep.atomic.atomic_path``: a run killed at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data_prep.atomic import atomic_path
from data_prep.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


class CheckpointError(UserError):
    """A checkpoint file is missing or is not a OneGAN checkpoint."""


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus format version and RNG states) atomically to ``path``."""
    state = {**state, "format_version": FORMAT_VERSION, "rng": rng_states()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"OneGAN checkpoint not found: {path} (train one with `bench train`)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise CheckpointError(f"{path} is not a readable OneGAN checkpoint: {err}") from err
    if not isinstance(state, dict) or state.get("method") != "onegan":
        raise CheckpointError(f"{path} is not a OneGAN checkpoint")
    return state
