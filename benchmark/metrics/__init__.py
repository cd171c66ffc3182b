"""Metrics as pure functions of numpy arrays (one module per metric; see each module's docstring).

Generation: ``fid``, ``fid_from_statistics``, ``inception_score``, and the conditional variants
``bcis``, ``wcis``, ``bcfid``, ``wcfid`` (Table 1's CIS is BCIS and its CFID is WCFID; see
``benchmark.metrics.conditional``). Segmentation: ``iou``, ``dice``. Clustering:
``clustering_accuracy``, ``nmi``. Bad input raises ValueError naming the problem.
"""

from benchmark.metrics.clustering import clustering_accuracy, contingency_table, nmi
from benchmark.metrics.conditional import (
    TABLE1_CFID,
    TABLE1_CIS,
    bcfid,
    bcis,
    class_conditional_probs,
    per_class_fid,
    wcfid,
    wcis,
)
from benchmark.metrics.fid import (
    features_to_statistics,
    fid,
    fid_from_statistics,
    statistics_to_fid,
    trace_sqrt_product,
    trace_sqrt_product_from_features,
)
from benchmark.metrics.inception_score import inception_score
from benchmark.metrics.segmentation import MaskOverlaps, MaskScores, dice, iou, mask_overlaps, resize_nearest

__all__ = [
    "TABLE1_CFID", "TABLE1_CIS", "MaskOverlaps", "MaskScores", "bcfid", "bcis", "class_conditional_probs",
    "clustering_accuracy", "contingency_table", "dice", "features_to_statistics", "fid",
    "fid_from_statistics", "inception_score", "iou", "mask_overlaps", "nmi", "per_class_fid",
    "resize_nearest", "statistics_to_fid", "trace_sqrt_product", "trace_sqrt_product_from_features",
    "wcfid", "wcis",
]
