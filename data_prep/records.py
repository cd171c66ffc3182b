"""The record a dataset reader yields: one source image with its label and boxes, before any prep."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# A box as (x, y, w, h): 0-based pixel coordinates of the top-left corner, width and height (floats).
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SourceImage:
    """One image of a dataset as distributed.

    ``class_id`` is 0-based and dense (0..NC-1); ``boxes`` holds every annotated object box of the
    image (Dogs images may hold several); ``gt_mask_path`` is the dataset's own segmentation
    (CUB only), ``None`` elsewhere. ``source_path`` is absolute; ``relative_path`` is the same file
    relative to the dataset root (what the manifest records).
    """

    image_id: str
    source_path: Path
    relative_path: str
    class_id: int
    class_name: str
    boxes: tuple[Box, ...]
    gt_mask_path: Path | None = None

    @property
    def main_box(self) -> Box:
        """The box of the object the crop is centred on: the largest box (ties: the first)."""
        return max(self.boxes, key=lambda b: b[2] * b[3])


@dataclass(frozen=True)
class DatasetSource:
    """What a reader returns: the images (reader order, deterministic), the class names indexed by
    class_id, and the annotation files whose contents identify the source (for the fingerprint)."""

    name: str
    root: Path
    images: list[SourceImage]
    class_names: list[str]
    annotation_files: list[Path]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
