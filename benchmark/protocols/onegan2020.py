"""OneGAN's protocol (Benny & Wolf, ECCV 2020), as this benchmark has scored it from the start.

Clustering: one-to-one Hungarian ACC over every image showing an object; NMI normalised by the
arithmetic mean of the entropies (scikit-learn's default since 0.22, IIC's convention; the paper does
not state which). Segmentation: the prediction thresholded at 0.5 and compared at the ground truth's
resolution, per-image IoU/DICE averaged; an image where both masks are empty scores 1.
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics import clustering_accuracy, dice, iou, nmi
from benchmark.protocols.base import Protocol, Source


def score_clusters(labels: np.ndarray, clusters: np.ndarray, num_clusters: int | None = None,
                   num_classes: int | None = None) -> dict[str, float]:
    # One-to-one matching: extra clusters map to nothing, so num_clusters does not change the score.
    return {"acc": clustering_accuracy(labels, clusters), "nmi": nmi(labels, clusters)}


def score_masks(pred_masks: object, gt_masks: object) -> dict[str, float]:
    return {"iou": 100.0 * iou(pred_masks, gt_masks).mean, "dice": 100.0 * dice(pred_masks, gt_masks).mean}


PROTOCOL = Protocol(
    name="onegan2020", version=1,
    title="OneGAN (ECCV 2020): one-to-one Hungarian ACC, arithmetic NMI, per-image IoU/DICE",
    source=Source(paper="Benny & Wolf, OneGAN: Simultaneous Unsupervised Learning of Conditional Image "
                        "Generation, Foreground Segmentation, and Fine-Grained Clustering, ECCV 2020",
                  repository="this benchmark (the paper's code does not state the NMI normalisation)",
                  files=("benchmark/metrics/clustering.py", "benchmark/metrics/segmentation.py")),
    tasks=("generation", "segmentation", "clustering"),
    images="with-objects",
    crop="the prepared crop (FineGAN's: 1.5 x the box's larger side, clipped, resized to the prepared size)",
    resolution=None,
    gt_binarisation="prepared mask > 127 (GT masks thresholded at prep)",
    acc_matching="one-to-one Hungarian (extra clusters count as wrong)",
    nmi_normalisation="arithmetic mean of the entropies (natural log; base-free)",
    mask_reduction="per-image mean, percent",
    empty_masks="both empty: 1 (perfect); one empty: 0",
    cluster_scorer=score_clusters, mask_scorer=score_masks,
)
