"""OneGAN's side of ``bench curve`` (the contract's ``core.contract.CurveRun``): one
``onegan.trainer.Trainer`` run, resumed and extended budget by budget; a snapshot is a copy of its
checkpoint, which ``load`` reads."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from core.atomic import atomic_path
from core.errors import UserError
from data_prep.prepared import Prepared
from onegan.api import load
from onegan.config import OneGANConfig
from onegan.trainer import Trainer

__all__ = ["OneGANCurveRun", "curve_config", "curve_snapshot_cpu", "load", "start_curve"]


def curve_config(method_preset: str, num_classes: int, num_parents: int, max_budget: int) -> OneGANConfig:
    """The preset's OneGAN config, its schedule extended to ``max_budget`` iterations with the phase
    boundaries left where they are."""
    config = OneGANConfig.preset(method_preset, num_classes, num_parents)
    if max_budget < config.schedule.real_recon_start:
        raise UserError(f"the largest budget ({max_budget}) ends before real reconstruction starts "
                        f"({config.schedule.real_recon_start}); give larger --budgets")
    return dataclasses.replace(config, schedule=dataclasses.replace(config.schedule, iterations=max_budget))


class OneGANCurveRun:
    def __init__(self, config: OneGANConfig, prepared: Prepared, run_dir: Path, seed: int, device: str) -> None:
        self.trainer = Trainer(config, prepared, run_dir, seed=seed, device=device)
        self.trainer.resume(extend=True)

    @property
    def iteration(self) -> int:
        return self.trainer.iteration

    def train_until(self, budget: int) -> None:
        self.trainer.run(until=budget)

    def write_snapshot(self, budget: int, snapshot: Path) -> None:
        with atomic_path(snapshot) as tmp:
            shutil.copyfile(self.trainer.checkpoint_path, tmp)


def start_curve(config: OneGANConfig, prepared: Prepared, run_dir: Path, seed: int, device: str) -> OneGANCurveRun:
    return OneGANCurveRun(config, prepared, run_dir, seed, device)


def curve_snapshot_cpu(run_dir: Path, budget: int) -> float:
    """A snapshot is a copy of the checkpoint: nothing beyond training."""
    del run_dir, budget
    return 0.0
