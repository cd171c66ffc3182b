"""What a named evaluation protocol is: a versioned bundle of every convention that changes a number.

A protocol names which images are scored, the crop and resolution they are scored at, how ground-truth
masks are binarised, how clusters are matched to classes (ACC), how mutual information is normalised
(NMI), how per-image mask scores are reduced and what an empty mask scores. The scoring itself is two
functions of plain arrays, so a protocol can be checked against the formulas of the paper it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import UserError

ClusterScorer = Callable[[np.ndarray, np.ndarray, int | None, int | None], dict[str, float]]
MaskScorer = Callable[[object, object], dict[str, float]]

# Which images a protocol scores (see benchmark.protocols.images): every image that shows an object
# (real datasets: all; synthetic: the fg role), or the dataset's official test list.
IMAGE_SETS = ("with-objects", "official-test")


class ProtocolError(UserError):
    """A protocol was asked for something it does not define (e.g. clustering under DRC's)."""


@dataclass(frozen=True)
class Source:
    """Where a protocol's conventions were read."""

    paper: str
    repository: str
    files: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.paper}; {self.repository} ({', '.join(self.files)})"


@dataclass(frozen=True)
class Protocol:
    """A named, versioned evaluation protocol (``benchmark.protocols.get(name)``)."""

    name: str
    version: int
    title: str
    source: Source
    tasks: tuple[str, ...]          # the tasks it defines ("segmentation", "clustering", "generation")
    images: str                     # one of IMAGE_SETS
    crop: str                       # how scored images are cut from the source image
    resolution: int | None          # side the masks are compared at (None: the prepared size)
    gt_binarisation: str
    acc_matching: str
    nmi_normalisation: str
    mask_reduction: str
    empty_masks: str
    cluster_scorer: ClusterScorer | None = None
    mask_scorer: MaskScorer | None = None

    def __post_init__(self) -> None:
        if self.images not in IMAGE_SETS:
            raise ValueError(f"protocol {self.name}: images must be one of {IMAGE_SETS}; got {self.images!r}")

    @property
    def tag(self) -> str:
        """``name@vN``: what records store, so a changed convention never shares a column with its past."""
        return f"{self.name}@v{self.version}"

    def defines(self, task: str) -> bool:
        return task in self.tasks

    def score_clusters(self, labels: np.ndarray, clusters: np.ndarray, num_clusters: int | None = None,
                       num_classes: int | None = None) -> dict[str, float]:
        """``{"acc", "nmi"}`` (fractions) of predicted clusters against class labels.

        ``num_clusters``: how many clusters the method can output (default: ``max(clusters) + 1``);
        ``num_classes``: how many classes exist (default: the distinct labels given).
        """
        if self.cluster_scorer is None:
            raise ProtocolError(f"protocol {self.name} does not define clustering scores")
        return self.cluster_scorer(np.asarray(labels), np.asarray(clusters), num_clusters, num_classes)

    def score_masks(self, pred_masks: object, gt_masks: object) -> dict[str, float]:
        """``{"iou", "dice"}`` in percent of predicted masks against ground truth (masks as
        ``benchmark.metrics.segmentation`` takes them: bool or [0, 1], thresholded at 0.5)."""
        if self.mask_scorer is None:
            raise ProtocolError(f"protocol {self.name} does not define mask scores")
        return self.mask_scorer(pred_masks, gt_masks)

    def describe(self) -> dict[str, str]:
        """The conventions as text (``bench protocols``, record options)."""
        return {"protocol": self.tag, "title": self.title, "source": str(self.source),
                "tasks": ", ".join(self.tasks), "images": self.images, "crop": self.crop,
                "resolution": str(self.resolution or "prepared size"), "gt_binarisation": self.gt_binarisation,
                "acc_matching": self.acc_matching, "nmi": self.nmi_normalisation,
                "mask_reduction": self.mask_reduction, "empty_masks": self.empty_masks}
