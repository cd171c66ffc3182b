"""The resumable training run behind each method's learning curve (``bench curve --method``).

``bench curve`` (``benchmark.curve``) owns the loop: which budgets are pending, the CPU-time log,
scoring and records. A *curve run* is what differs per method: the config (the preset's, its
schedule extended to the largest budget), how far the resumable run has got, how to extend it to a
budget, and how to turn the run at that budget into a kept snapshot that the method's ``load`` reads.

- **OneGAN**: one ``onegan.trainer.Trainer`` run; a snapshot is a copy of its checkpoint.
- **FineGAN∗** (``baselines.finegan``): a GAN phase, then OneGAN's encoders fitted to the frozen
  generator (``config.encoders.iterations``, fixed). The GAN is one resumable run in ``<run>/gan``
  trained with no encoder phase; at each budget its checkpoint (GAN at the budget, encoders untouched)
  is copied into ``<run>/fit``, the encoders are fitted there by the same ``train`` (a resume whose GAN
  phase is already done) and the result becomes the snapshot. The GAN then continues from *its own*
  checkpoint, not from the fitted one: fitting leaves the generator's weights and BatchNorm statistics
  alone (no gradients, eval mode) but draws its sample codes and noise from the run's training
  generator (``_Run.rng``), so continuing from the fitted state would feed the GAN other batches and
  codes than an uninterrupted run. This way the snapshot at budget B is exactly what ``bench train``
  of FineGAN∗ with B GAN iterations gives, and the curve's GAN is the same run whatever the budgets.
  A fit killed half-way is redone from the GAN checkpoint (a few hundred encoder iterations), so its
  CPU time is counted once; that time is logged per budget in ``curve_fit_cpu.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from benchmark.presets import get_preset
from core.atomic import atomic_path, write_json_atomic
from core.contract import Method, TrainRequest
from core.errors import UserError
from data_prep.prepared import Prepared

if TYPE_CHECKING:
    from baselines.finegan import FineGANConfig
    from onegan.config import OneGANConfig


class CurveRun(Protocol):
    """One seed's resumable run of a method, extended budget by budget."""

    @property
    def iteration(self) -> int:
        """Training iterations the run has completed (and saved)."""

    def train_until(self, budget: int) -> None:
        """Continue the run to ``budget`` iterations and save it."""

    def write_snapshot(self, budget: int, snapshot: Path) -> None:
        """Write the loadable model of the run at ``budget`` (where it stands now) to ``snapshot``."""


@dataclass(frozen=True)
class CurveMethod:
    """How ``bench curve`` trains and loads one method. ``config(preset, prepared, max_budget)``
    returns the config recorded with every budget (it has ``to_dict``); ``start(config, prepared,
    run_dir, seed, device)`` opens (or resumes) the run; ``load(snapshot, device)`` reads a snapshot;
    ``snapshot_cpu(run_dir, budget)`` is the CPU seconds that making the budget's snapshot took besides
    training the run to it (read from the run's files, so a resumed curve knows it too)."""

    name: str
    config: Callable[[str, Prepared, int], Any]
    start: Callable[[Any, Prepared, Path, int, str], CurveRun]
    load: Callable[[Path, str], Method]
    snapshot_cpu: Callable[[Path, int], float] = lambda run_dir, budget: 0.0


# --------------------------------------------------------------------------------------------------
# OneGAN


def curve_config(preset_name: str, prepared: Prepared, max_budget: int) -> OneGANConfig:
    """The run preset's OneGAN config, its schedule extended to ``max_budget`` iterations with the
    phase boundaries left where they are."""
    from onegan.config import OneGANConfig

    config = OneGANConfig.preset(get_preset(preset_name).method_preset, prepared.num_classes, prepared.num_parents)
    if max_budget < config.schedule.real_recon_start:
        raise UserError(f"the largest budget ({max_budget}) ends before real reconstruction starts "
                        f"({config.schedule.real_recon_start}); give larger --budgets")
    return dataclasses.replace(config, schedule=dataclasses.replace(config.schedule, iterations=max_budget))


class OneGANCurveRun:
    def __init__(self, config: OneGANConfig, prepared: Prepared, run_dir: Path, seed: int, device: str) -> None:
        from onegan.trainer import Trainer

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


def _load_onegan(snapshot: Path, device: str) -> Method:
    from onegan.inference import OneGAN

    return OneGAN.from_checkpoint(snapshot, device)


# --------------------------------------------------------------------------------------------------
# FineGAN∗


FIT_CPU_LOG = "curve_fit_cpu.json"   # CPU seconds of each budget's encoder fitting


def finegan_curve_config(preset_name: str, prepared: Prepared, max_budget: int) -> FineGANConfig:
    """The run preset's FineGAN∗ config with ``max_budget`` GAN iterations (the encoder fitting keeps
    the preset's own iteration count)."""
    from baselines.finegan import FineGANConfig

    return dataclasses.replace(FineGANConfig.preset(get_preset(preset_name).method_preset), iterations=max_budget)


class FineGANCurveRun:
    """See the module docstring: the GAN resumes in ``gan/``, each budget's encoders are fitted in ``fit/``."""

    def __init__(self, config: FineGANConfig, prepared: Prepared, run_dir: Path, seed: int, device: str) -> None:
        self.config, self.prepared, self.seed, self.device = config, prepared, seed, device
        self.gan_dir, self.fit_dir = run_dir / "gan", run_dir / "fit"
        self.fit_log_file = run_dir / FIT_CPU_LOG
        self.fit_log = _read_fit_log(run_dir)

    def _train(self, out: Path, config: FineGANConfig) -> Path:
        from baselines.finegan import train

        # ``config`` is the whole schedule (the request's preset is not read when a config is given).
        return train(TrainRequest(data=self.prepared.root, out=out, seed=self.seed, resume=True, device=self.device),
                     config)

    @property
    def iteration(self) -> int:
        from baselines.finegan import NAME
        from baselines.gan_training import CHECKPOINT_NAME, load_checkpoint

        checkpoint = self.gan_dir / CHECKPOINT_NAME
        return int(load_checkpoint(checkpoint, NAME)["gan_iteration"]) if checkpoint.exists() else 0

    def train_until(self, budget: int) -> None:
        encoders = dataclasses.replace(self.config.encoders, iterations=0)
        self._train(self.gan_dir, dataclasses.replace(self.config, iterations=budget, encoders=encoders))

    def write_snapshot(self, budget: int, snapshot: Path) -> None:
        from baselines.gan_training import CHECKPOINT_NAME

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


def _read_fit_log(run_dir: Path) -> dict[str, float]:
    path = run_dir / FIT_CPU_LOG
    return json.loads(path.read_text()) if path.exists() else {}


def _finegan_fit_cpu(run_dir: Path, budget: int) -> float:
    return float(_read_fit_log(run_dir)[str(budget)])


def _load_finegan(snapshot: Path, device: str) -> Method:
    from baselines.finegan import load

    return load(snapshot, device)


CURVE_METHODS: dict[str, CurveMethod] = {m.name: m for m in (
    CurveMethod("onegan", curve_config, OneGANCurveRun, _load_onegan),
    CurveMethod("finegan", finegan_curve_config, FineGANCurveRun, _load_finegan, _finegan_fit_cpu),
)}
