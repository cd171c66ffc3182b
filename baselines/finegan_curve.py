"""FineGAN∗'s side of ``bench curve`` (the contract's ``core.contract.CurveRun``): a GAN phase, then
OneGAN's encoders fitted to the frozen generator (``config.encoders.iterations``, fixed).

The GAN is one resumable run in ``<run>/gan`` trained with no encoder phase; at each budget its
checkpoint (GAN at the budget, encoders untouched) is copied into ``<run>/fit``, the encoders are fitted
there by the same ``train`` (a resume whose GAN phase is already done) and the result becomes the
snapshot. The GAN then continues from *its own* checkpoint, not from the fitted one: fitting leaves the
generator's weights and BatchNorm statistics alone (no gradients, eval mode) but draws its sample codes
and noise from the run's training generator (``_Run.rng``), so continuing from the fitted state would
feed the GAN other batches and codes than an uninterrupted run. This way the snapshot at budget B is
exactly what ``bench train`` of FineGAN∗ with B GAN iterations gives, and the curve's GAN is the same run
whatever the budgets. A fit killed half-way is redone from the GAN checkpoint (a few hundred encoder
iterations), so its CPU time is counted once; that time is logged per budget in ``curve_fit_cpu.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from baselines.finegan import NAME, FineGANConfig, load, train
from baselines.gan_training import CHECKPOINT_NAME, load_checkpoint
from core.atomic import write_json_atomic
from core.contract import TrainRequest
from data_prep.prepared import Prepared

__all__ = ["FIT_CPU_LOG", "FineGANCurveRun", "curve_config", "curve_snapshot_cpu", "load", "start_curve"]

FIT_CPU_LOG = "curve_fit_cpu.json"   # CPU seconds of each budget's encoder fitting


def curve_config(method_preset: str, num_classes: int, num_parents: int, max_budget: int) -> FineGANConfig:
    """The preset's FineGAN∗ config with ``max_budget`` GAN iterations (the encoder fitting keeps the
    preset's own iteration count; the class counts come from the data when it trains)."""
    del num_classes, num_parents
    return dataclasses.replace(FineGANConfig.preset(method_preset), iterations=max_budget)


class FineGANCurveRun:
    """See the module docstring: the GAN resumes in ``gan/``, each budget's encoders are fitted in ``fit/``."""

    def __init__(self, config: FineGANConfig, prepared: Prepared, run_dir: Path, seed: int, device: str) -> None:
        self.config, self.prepared, self.seed, self.device = config, prepared, seed, device
        self.gan_dir, self.fit_dir = run_dir / "gan", run_dir / "fit"
        self.fit_log_file = run_dir / FIT_CPU_LOG
        self.fit_log = _read_fit_log(run_dir)

    def _train(self, out: Path, config: FineGANConfig) -> Path:
        # ``config`` is the whole schedule (the request's preset is not read when a config is given).
        return train(TrainRequest(data=self.prepared.root, out=out, seed=self.seed, resume=True, device=self.device),
                     config)

    @property
    def iteration(self) -> int:
        checkpoint = self.gan_dir / CHECKPOINT_NAME
        return int(load_checkpoint(checkpoint, NAME)["gan_iteration"]) if checkpoint.exists() else 0

    def train_until(self, budget: int) -> None:
        encoders = dataclasses.replace(self.config.encoders, iterations=0)
        self._train(self.gan_dir, dataclasses.replace(self.config, iterations=budget, encoders=encoders))

    def write_snapshot(self, budget: int, snapshot: Path) -> None:
        if self.iteration != budget:
            raise RuntimeError(f"{self.gan_dir}: the GAN is at iteration {self.iteration}, not at budget {budget}")
        shutil.rmtree(self.fit_dir, ignore_errors=True)
        self.fit_dir.mkdir(parents=True)
        shutil.copyfile(self.gan_dir / CHECKPOINT_NAME, self.fit_dir / CHECKPOINT_NAME)
        started = time.process_time()
        fitted = self._train(self.fit_dir, dataclasses.replace(self.config, iterations=budget))
        self.fit_log[str(budget)] = time.process_time() - started
        write_json_atomic(self.fit_log_file, self.fit_log)
        os.replace(fitted, snapshot)   # same folder tree: atomic; fit/ keeps the fitting's loss log


def start_curve(config: FineGANConfig, prepared: Prepared, run_dir: Path, seed: int, device: str) -> FineGANCurveRun:
    return FineGANCurveRun(config, prepared, run_dir, seed, device)


def _read_fit_log(run_dir: Path) -> dict[str, float]:
    path = run_dir / FIT_CPU_LOG
    return json.loads(path.read_text()) if path.exists() else {}


def curve_snapshot_cpu(run_dir: Path, budget: int) -> float:
    """The CPU seconds the budget's encoder fitting took (logged in ``curve_fit_cpu.json``)."""
    return float(_read_fit_log(run_dir)[str(budget)])
