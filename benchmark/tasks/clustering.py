"""Table 2, clustering: ACC and NMI of a method's child clusters against the class labels, scored
under the run's protocol (``benchmark.protocols``: which images, one-to-one or many-to-one matching,
NMI normalisation). Under OneGAN's protocol (every image showing an object, one-to-one Hungarian,
arithmetic NMI as IIC) the exactly max-normalised NMI is an extra record; the parent-level scores
are extra records under every protocol."""

from __future__ import annotations

import numpy as np
import torch

from benchmark import protocols
from benchmark.metrics import nmi
from benchmark.protocols.images import protocol_rows
from benchmark.tasks.common import (
    EvalOptions,
    TaskResult,
    cluster_batch,
    iterate_images,
    subsample,
    validate_by_id,
)
from core.contract import Method
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
    protocol = protocols.get(options.protocol)
    rows = protocol_rows(prepared, protocol, "clustering")
    validate_by_id(method, prepared, "cluster", rows)
    indices = subsample(rows, options.max_images, options.seed)
    child, parent = collect_clusters(method, prepared, indices, options)
    labels = prepared.manifest["class_id"].to_numpy(dtype=np.int64)[indices]
    # The number of clusters the method can output sets C3-GAN's over-clustering factor.
    outputs = getattr(method, "num_classes", 0) or None
    values = dict(protocol.score_clusters(labels, child, outputs, prepared.num_classes))
    if protocol.name == "onegan2020":
        values["nmi_max"] = nmi(labels, child, normalization="max")
    if parent is not None:
        parent_labels = prepared.manifest["parent_id"].to_numpy(dtype=np.int64)[indices]
        parent_scores = protocol.score_clusters(parent_labels, parent, getattr(method, "num_parents", 0) or None,
                                                prepared.num_parents)
        values["parent_acc"], values["parent_nmi"] = parent_scores["acc"], parent_scores["nmi"]
    return TaskResult(values, {"images": len(indices), "images_total": len(rows), "protocol": protocol.tag,
                               "acc_matching": protocol.acc_matching, "nmi_normalization": protocol.nmi_normalisation})
