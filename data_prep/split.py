"""The paper's 80/20 split by image (OneGAN §5): 80% of the images form the object set X_c
(role ``fg``), 20% only ever yield background patches X_bg (role ``bg``); no image is in both.

Stratified by class: each class sends round(0.2 * n_c) of its images to ``bg`` (half rounds up),
so every class keeps ~80% of its images as objects. Seeded and independent of the worker count.
"""

from __future__ import annotations

import numpy as np

BG_FRACTION = 0.2


def split_roles(class_ids: np.ndarray, seed: int, bg_fraction: float = BG_FRACTION) -> np.ndarray:
    """``roles[i]`` in {"fg", "bg"} for image i, given its class id."""
    if not 0.0 <= bg_fraction < 1.0:
        raise ValueError(f"bg_fraction must be in [0, 1), got {bg_fraction}")
    class_ids = np.asarray(class_ids)
    roles = np.full(len(class_ids), "fg", dtype=object)
    rng = np.random.default_rng(seed)
    for class_id in np.unique(class_ids):
        members = np.flatnonzero(class_ids == class_id)
        n_bg = int(np.floor(bg_fraction * len(members) + 0.5))
        chosen = rng.permutation(members)[:n_bg]
        roles[chosen] = "bg"
    return roles
