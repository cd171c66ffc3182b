"""The prepared-dataset format: the one on-disk layout every other stage reads.

A prepared directory holds::

    meta.json          dataset, NC/NP, size, seed, annotation fingerprint, versions, command, counts
    manifest.csv       one row per source image (columns: MANIFEST_COLUMNS)
    backgrounds.csv    one row per background patch (columns: BACKGROUND_COLUMNS)
    images/<id>.png    the object crop, RGB, size x size (FineGAN crop: square of 1.5 x the bbox's
                       larger side around its centre, clipped to the image)
    masks/<id>.png     foreground mask aligned with images/<id>.png, 0 or 255 (absent if no mask)
    backgrounds/<n>.png background patches, RGB, size x size

Boxes in the manifest are in the *source* image's pixels, 0-based (x, y, w, h); ``boxes`` holds
all boxes of the image as JSON ``[[x, y, w, h], ...]``; ``crop`` the crop rectangle used for the
stored image, same convention. ``role`` is ``fg`` (the object set X_c) or ``bg`` (only ever yields
background patches, X_bg). ``parent_id`` follows the paper's fixed child->parent map
(NC/NP consecutive children per parent) unless the dataset knows better (synthetic).

This module imports no torch: the gluoncv environment uses it too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from PIL import Image

from core.errors import UserError

MANIFEST_COLUMNS = [
    "image_id", "path", "class_id", "class_name", "parent_id",
    "bbox_x", "bbox_y", "bbox_w", "bbox_h", "boxes", "crop",
    "source_path", "width", "height", "role", "mask", "mask_source",
]
BACKGROUND_COLUMNS = ["patch_id", "path", "source_image_id", "x", "y", "w", "h"]
MASK_SOURCES = ("gt", "deeplabv3-torchvision", "deeplabv3-gluoncv", "synthetic", "")
ROLES = ("fg", "bg")

# The paper's class counts (NC children, NP parents) per dataset.
PAPER_CLASS_COUNTS = {"cub": (200, 20), "dogs": (120, 12), "cars": (196, 14)}


class PreparedFormatError(UserError, ValueError):
    """A prepared directory is missing a file or breaks the format."""


Codes = TypeVar("Codes")  # an int, a numpy array or a torch tensor of child codes


def parent_of(child: Codes, num_classes: int, num_parents: int) -> Codes:
    """The fixed child->parent map p(c): NC/NP consecutive children per parent (FineGAN's convention),
    the one map the whole suite uses (the manifests' ``parent_id``, OneGAN's and the baselines' parent
    codes, the scripts).

    ``child``: an int (gives an int), a numpy array (gives an array) or a torch tensor (gives a tensor of
    its dtype on its device, without a host round trip; this module imports no torch, so a tensor is
    recognised by its ``clamp``). When NP does not divide NC (Cars: 196/14 = 14 exactly; kept general
    anyway) the last parent takes the remainder.
    """
    per_parent = max(num_classes // num_parents, 1)
    if isinstance(child, (int, np.integer)):
        return min(int(child) // per_parent, num_parents - 1)
    if not isinstance(child, np.ndarray) and hasattr(child, "clamp"):
        return (child // per_parent).clamp(max=num_parents - 1)
    return np.minimum(np.asarray(child) // per_parent, num_parents - 1)


@dataclass
class Prepared:
    """A prepared dataset, loaded. Paths in the tables are relative to ``root``."""

    root: Path
    meta: dict
    manifest: pd.DataFrame
    backgrounds: pd.DataFrame
    _fg_index: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._fg_index = np.flatnonzero(self.manifest["role"].to_numpy() == "fg")

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    @property
    def num_parents(self) -> int:
        return int(self.meta["num_parents"])

    @property
    def size(self) -> int:
        return int(self.meta["size"])

    @property
    def fingerprint(self) -> str:
        """Identifies the prepared data (source annotations + prep options) for caches and records."""
        return str(self.meta["fingerprint"])

    @property
    def name(self) -> str:
        return str(self.meta["dataset"])

    def rows(self, role: str | None = None) -> pd.DataFrame:
        if role is None:
            return self.manifest
        return self.manifest[self.manifest["role"] == role]

    def image_path(self, row: pd.Series) -> Path:
        return self.root / row["path"]

    def load_image(self, rel_path: str) -> np.ndarray:
        """RGB uint8 array (H, W, 3) of a stored image or patch."""
        with Image.open(self.root / rel_path) as im:
            return np.asarray(im.convert("RGB"))

    def load_mask(self, rel_path: str) -> np.ndarray:
        """Boolean foreground mask (H, W)."""
        with Image.open(self.root / rel_path) as im:
            return np.asarray(im.convert("L")) > 127


def load_prepared(root: str | os.PathLike) -> Prepared:
    """Read a prepared directory written by ``bench prep``; clear errors when it is not one."""
    root = Path(root)
    if not root.is_dir():
        raise PreparedFormatError(f"prepared dataset directory not found: {root} (create it with `bench prep`)")
    for name in ("meta.json", "manifest.csv", "backgrounds.csv"):
        if not (root / name).is_file():
            raise PreparedFormatError(f"{root / name} is missing: {root} is not a prepared dataset "
                                      "(create it with `bench prep`)")
    meta = json.loads((root / "meta.json").read_text())
    manifest = pd.read_csv(root / "manifest.csv", dtype={"image_id": str, "mask": str, "mask_source": str},
                           keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise PreparedFormatError(f"{root / 'manifest.csv'} lacks columns {missing}")
    backgrounds = pd.read_csv(root / "backgrounds.csv", dtype={"source_image_id": str}, keep_default_na=False)
    missing = [c for c in BACKGROUND_COLUMNS if c not in backgrounds.columns]
    if missing:
        raise PreparedFormatError(f"{root / 'backgrounds.csv'} lacks columns {missing}")
    for key in ("dataset", "num_classes", "num_parents", "size", "fingerprint"):
        if key not in meta:
            raise PreparedFormatError(f"{root / 'meta.json'} lacks '{key}'")
    return Prepared(root=root, meta=meta, manifest=manifest, backgrounds=backgrounds)


def write_tables(out: Path, manifest: pd.DataFrame, backgrounds: pd.DataFrame, meta: dict) -> None:
    """Write the three tables of a prepared directory (inside an atomic_directory build)."""
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise PreparedFormatError(f"manifest lacks columns {missing}")
    bad_roles = set(manifest["role"]) - set(ROLES)
    if bad_roles:
        raise PreparedFormatError(f"unknown roles {sorted(bad_roles)}")
    manifest.to_csv(out / "manifest.csv", index=False)
    backgrounds[BACKGROUND_COLUMNS].to_csv(out / "backgrounds.csv", index=False)
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
