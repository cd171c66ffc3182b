"""Torch views of a prepared directory, shared by OneGAN, the baselines and the benchmark.

Images come out as float tensors in [0, 1], shape (3, S, S); masks as (1, S, S) in {0, 1}.
(Models that want [-1, 1] convert at their boundary.)
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from data_prep.prepared import Prepared, parent_of


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1).float().div_(255.0)


class ObjectImages(Dataset):
    """Object images X_c (``role='fg'`` by default; ``role=None`` for every image).

    Each item: ``{"image", "mask", "has_mask", "class_id", "parent_id", "index"}``; ``index`` is
    the row number in ``prepared.manifest``. ``flip=True`` mirrors at random (training only).
    """

    def __init__(self, prepared: Prepared, role: str | None = "fg", flip: bool = False) -> None:
        self.prepared = prepared
        self.rows = prepared.rows(role).reset_index().rename(columns={"index": "manifest_index"})
        self.flip = flip
        parents = self.rows["parent_id"].to_numpy()
        self.parent_ids = np.asarray(parents, dtype=np.int64)
        self.class_ids = self.rows["class_id"].to_numpy(dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = self.rows.iloc[i]
        image = _to_tensor(self.prepared.load_image(row["path"]))
        if row["mask"]:
            mask = torch.from_numpy(self.prepared.load_mask(row["mask"])).float()[None]
            has_mask = True
        else:
            mask = torch.zeros(1, *image.shape[1:])
            has_mask = False
        if self.flip and torch.rand(()) < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        return {
            "image": image,
            "mask": mask,
            "has_mask": has_mask,
            "class_id": int(self.class_ids[i]),
            "parent_id": int(self.parent_ids[i]),
            "index": int(row["manifest_index"]),
        }


class BackgroundPatches(Dataset):
    """Background patches X_bg cut from ``role='bg'`` images. Each item: ``{"image", "index"}``."""

    def __init__(self, prepared: Prepared, flip: bool = False) -> None:
        if len(prepared.backgrounds) == 0:
            raise ValueError(f"{prepared.root}/backgrounds.csv lists no background patches")
        self.prepared = prepared
        self.flip = flip

    def __len__(self) -> int:
        return len(self.prepared.backgrounds)

    def __getitem__(self, i: int) -> dict:
        image = _to_tensor(self.prepared.load_image(self.prepared.backgrounds.iloc[i]["path"]))
        if self.flip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        return {"image": image, "index": i}


__all__ = ["ObjectImages", "BackgroundPatches", "parent_of"]
