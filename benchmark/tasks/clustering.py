"""Table 2, clustering: Hungarian ACC and NMI of a method's child clusters against the class labels,
over every image that shows an object. NMI uses scikit-learn's arithmetic normalisation (as IIC);
the max-normalised variant (C3-GAN) and the parent-level scores are extra records."""

from __future__ import annotations

import numpy as np
import torch

from baselines.base import Method
from benchmark.metrics import clustering_accuracy, nmi
from benchmark.tasks.common import (
    EvalOptions,
    TaskResult,
    cluster_batch,
    iterate_images,
    rows_with_objects,
    subsample,
)
from data_prep.prepared import Prepared


def collect_clusters(method: Method, prepared: Prepared, indices: np.ndarray, options: EvalOptions
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """(child clusters, parent clusters or None) of the given manifest rows."""
    children, parents = [], []
    with torch.inference_mode():
        for batch in iterate_images(prepared, indices, options.batch_size, f"cluster {method.name}"):
            clusters = cluster_batch(method, prepared, batch, options.device)
            children.append(clusters.child.cpu().numpy())
            if clusters.parent is not None:
                parents.append(clusters.parent.cpu().numpy())
    child = np.concatenate(children).astype(np.int64)
    parent = np.concatenate(parents).astype(np.int64) if len(parents) == len(children) and parents else None
    return child, parent


def evaluate_clustering(method: Method, prepared: Prepared, options: EvalOptions) -> TaskResult:
    indices = subsample(rows_with_objects(prepared), options.max_images, options.seed)
    child, parent = collect_clusters(method, prepared, indices, options)
    labels = prepared.manifest["class_id"].to_numpy(dtype=np.int64)[indices]
    values = {
        "acc": clustering_accuracy(labels, child),
        "nmi": nmi(labels, child),
        "nmi_max": nmi(labels, child, normalization="max"),
    }
    if parent is not None:
        parent_labels = prepared.manifest["parent_id"].to_numpy(dtype=np.int64)[indices]
        values["parent_acc"] = clustering_accuracy(parent_labels, parent)
        values["parent_nmi"] = nmi(parent_labels, parent)
    return TaskResult(values, {"images": len(indices), "nmi_normalization": "arithmetic"})
