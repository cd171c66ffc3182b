"""How far a checkpoint's training got: iterations trained against iterations planned.

``max_minutes`` may stop a training run early (a slow or busy machine); the benchmark then must not
record the cell as if it had run its whole budget. Every trainer of the suite already keeps its
counters in the checkpoint; this reads them (as data only) for the three checkpoint layouts:
OneGAN (``iteration`` of ``config.schedule.iterations``), the two-phase GAN baselines (GAN then
encoder iterations) and the single-loop baselines of ``core/training_run.py`` (``step``,
``complete``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.checkpoint_file import load_data_only


@dataclass(frozen=True)
class TrainingProgress:
    trained: int   # iterations (steps) completed
    planned: int   # iterations of the full budget

    @property
    def cut_short(self) -> bool:
        return self.trained < self.planned

    def as_record(self) -> dict[str, Any]:
        return {"iterations_trained": self.trained, "iterations_planned": self.planned,
                "cut_short": self.cut_short}


def progress_of(payload: dict[str, Any]) -> TrainingProgress | None:
    """The progress stored in a checkpoint dict, or None for a layout without counters."""
    config = payload.get("config") or {}
    if "iteration" in payload and isinstance(config.get("schedule"), dict):
        return TrainingProgress(int(payload["iteration"]), int(config["schedule"]["iterations"]))
    if "gan_iteration" in payload:
        planned = int(config["iterations"]) + int(config["encoders"]["iterations"])
        return TrainingProgress(int(payload["gan_iteration"]) + int(payload["encoder_iteration"]), planned)
    if "step" in payload and "complete" in payload:
        step = int(payload["step"])
        if payload["complete"]:
            return TrainingProgress(step, step)
        return TrainingProgress(step, max(int(config.get("steps", 0)), step + 1))
    return None


def checkpoint_progress(checkpoint: str | Path | None) -> TrainingProgress | None:
    """The progress of the checkpoint file (or run directory), None when there is nothing to read."""
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        return None
    payload = load_data_only(path)
    return progress_of(payload) if isinstance(payload, dict) else None
