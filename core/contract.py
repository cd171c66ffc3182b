"""The one interface every method (OneGAN and each baseline) offers the benchmark.

Conventions (the same as ``onegan.inference``):
- images are float tensors (N, 3, H, W) in [0, 1], on the method's device or CPU;
- ``segment`` returns soft foreground masks (N, 1, H, W) in [0, 1] at the input's resolution;
- ``cluster`` returns ``Clusters(child, parent)``, int64 tensors (N,) (``parent`` may be None);
- ``segment_labels`` (optional, capability ``SEGMENT_LABELS``) returns the method's own multi-label
  segmentation (N, H, W) int64 at the input's resolution, label ids unordered (UISB, WNet's K classes,
  IIC's heads); the benchmark scores it with the paper's § oracle beside the foreground mask of ``segment``;
- ``generate(child, parent, z)`` returns images (N, 3, S, S) in [0, 1]; ``parent`` defaults to the
  fixed child->parent map, ``z`` to standard normal noise.
A method declares what it can do in ``tasks``; calling anything else raises TaskNotSupported,
which the benchmark renders as the paper's ✗.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Protocol

import torch

Task = Literal["generate", "segment", "cluster"]
TASKS: tuple[Task, ...] = ("generate", "segment", "cluster")
# A capability beside the tasks (listed in ``Method.tasks`` too): unordered label maps for the § oracle.
SEGMENT_LABELS = "segment_labels"


class TaskNotSupported(NotImplementedError):
    """The method cannot perform this task (✗ in the paper's tables)."""


@dataclass
class Clusters:
    child: torch.Tensor
    parent: torch.Tensor | None = None


class Method:
    """Base class: override the tasks you support and list them in ``tasks``."""

    name: ClassVar[str] = "method"
    tasks: ClassVar[frozenset[str]] = frozenset()

    num_classes: int = 0
    num_parents: int = 0

    def generate(self, child: torch.Tensor, parent: torch.Tensor | None = None,
                 z: torch.Tensor | None = None) -> torch.Tensor:
        raise TaskNotSupported(f"{self.name} cannot generate images")

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        raise TaskNotSupported(f"{self.name} cannot segment images")

    def cluster(self, images: torch.Tensor) -> Clusters:
        raise TaskNotSupported(f"{self.name} cannot cluster images")

    def segment_labels(self, images: torch.Tensor) -> torch.Tensor:
        raise TaskNotSupported(f"{self.name} gives no multi-label segmentation")

    def can(self, task: str) -> bool:
        return task in self.tasks


@dataclass(frozen=True)
class TrainRequest:
    """What the benchmark asks of a trainable method: where the data is, which preset, where to write."""

    data: Path
    out: Path
    preset: str = "tiny"
    seed: int = 0
    resume: bool = True             # continue a run found in ``out`` (False: refuse one, see ``restart``)
    restart: bool = False           # delete a run found in ``out`` and start over
    device: str | None = None
    max_minutes: float | None = None
    iterations: int | None = None   # override the preset's iteration count (phase boundaries scale with it)
    ablation: str | None = None     # OneGAN only: a named ablation row of Tables 1-3
    batch_size: int | None = None   # OneGAN only: override the preset's global batch (split over torchrun's processes)
    precision: str | None = None    # OneGAN only: "fp32" (default) or "bf16" autocast
    checkpoint_every: int | None = None       # OneGAN only: save every N iterations (None: the preset's)
    checkpoint_minutes: float | None = None   # save every M minutes (None: the scaffold's default; 0: never)


class CurveRun(Protocol):
    """The step ``bench curve`` needs beyond ``train``/``load``: one seed's resumable training run,
    extended budget by budget, with a loadable snapshot kept at each budget.

    A method that ``bench curve`` can extend has a curve module (``benchmark.curve_runs`` lists them)
    offering ``curve_config(method_preset, num_classes, num_parents, max_budget)`` (the config recorded
    with every budget, with ``to_dict``), ``start_curve(config, prepared, run_dir, seed, device) ->
    CurveRun`` (opens or resumes the run), ``curve_snapshot_cpu(run_dir, budget) -> float`` (CPU seconds
    that making the budget's snapshot took besides training to it, read from the run's files) and
    ``load(snapshot, device) -> Method``."""

    @property
    def iteration(self) -> int:
        """Training iterations the run has completed (and saved)."""

    def train_until(self, budget: int) -> None:
        """Continue the run to ``budget`` iterations and save it."""

    def write_snapshot(self, budget: int, snapshot: Path) -> None:
        """Write the loadable model of the run at ``budget`` (where it stands now) to ``snapshot``."""
