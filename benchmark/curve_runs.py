"""The methods ``bench curve --method`` can extend, by name, each through its curve module (the
contract's extend-to-a-budget step, ``core.contract.CurveRun``).

``bench curve`` (``benchmark.curve``) owns the loop: which budgets are pending, the CPU-time log,
scoring and records. A *curve run* is what differs per method: the config (the preset's, its
schedule extended to the largest budget), how far the resumable run has got, how to extend it to a
budget, and how to turn the run at that budget into a kept snapshot that the method's ``load`` reads.

- **OneGAN** (``onegan.curve_run``): one ``onegan.trainer.Trainer`` run; a snapshot is a copy of its
  checkpoint.
- **FineGAN∗** (``baselines.finegan_curve``): a resumable GAN run, OneGAN's encoders fitted to the frozen
  generator at each budget (the module says why the GAN continues from its own checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from baselines import finegan_curve
from benchmark.presets import get_preset
from core.contract import CurveRun, Method
from data_prep.prepared import Prepared
from onegan import curve_run as onegan_curve


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
    snapshot_cpu: Callable[[Path, int], float]

    @classmethod
    def of(cls, name: str, module: ModuleType) -> CurveMethod:
        """The method ``name`` through its curve module (see ``core.contract.CurveRun``); the run preset
        names the method's own preset."""

        def config(preset: str, prepared: Prepared, max_budget: int) -> Any:
            return module.curve_config(get_preset(preset).method_preset, prepared.num_classes, prepared.num_parents,
                                       max_budget)

        return cls(name, config, module.start_curve, module.load, module.curve_snapshot_cpu)


CURVE_METHODS: dict[str, CurveMethod] = {m.name: m for m in (
    CurveMethod.of("onegan", onegan_curve),
    CurveMethod.of("finegan", finegan_curve),
)}
