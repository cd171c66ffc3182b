"""Reader for Stanford Dogs as distributed.

Layout (``images.tar``, ``annotation.tar``, ``lists.tar``)::

    Images/<wnid>-<breed>/<wnid>_<n>.jpg
    Annotation/<wnid>-<breed>/<wnid>_<n>      VOC XML without extension, one or more <object>
    lists/file_list.mat                        file_list, annotation_list, labels (1-based)

``file_list.mat`` (in ``lists/`` or at the root, where ``lists.tar`` unpacks it) fixes the image
order and labels; without it the reader walks ``Images/`` (class ids = sorted breed folders, which
is the order of the official labels). Train and test are both used (20,580 images).

Boxes: VOC ``xmin..xmax`` are taken as 1-based inclusive pixel indices, as in PASCAL VOC, so
``x = xmin - 1`` and ``w = xmax - xmin + 1`` (the same convention as Cars); a box touching 0 is
clipped later by the crop. Every ``<object>`` box is kept; the main box is the largest.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import scipy.io

from data_prep.readers.layout import DatasetLayoutError, require_dir
from data_prep.records import Box, DatasetSource, SourceImage

NAME = "dogs"
VOC_CLASS = 12  # "dog"


def breed_name(folder: str) -> str:
    """``n02085620-Chihuahua`` -> ``Chihuahua``."""
    return folder.split("-", 1)[1] if "-" in folder else folder


def parse_annotation(path: Path) -> tuple[Box, ...]:
    """All ``<object><bndbox>`` boxes of a VOC XML file as 0-based (x, y, w, h)."""
    if not path.is_file():
        raise DatasetLayoutError(f"Stanford Dogs annotation file not found: {path}")
    try:
        tree = ET.parse(path)
    except ET.ParseError as err:
        raise DatasetLayoutError(f"Stanford Dogs annotation {path} is not valid XML: {err}") from err
    boxes = []
    for box in tree.getroot().iter("bndbox"):
        try:
            xmin, ymin, xmax, ymax = (float(box.findtext(tag)) for tag in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError) as err:
            raise DatasetLayoutError(f"Stanford Dogs annotation {path}: malformed <bndbox>") from err
        boxes.append((xmin - 1.0, ymin - 1.0, xmax - xmin + 1.0, ymax - ymin + 1.0))
    if not boxes:
        raise DatasetLayoutError(f"Stanford Dogs annotation {path} holds no <object><bndbox>")
    return tuple(boxes)


def _mat_strings(array: np.ndarray) -> list[str]:
    """A MATLAB cell array of strings as loaded by scipy (nested object arrays) -> list of str."""
    out = []
    for item in np.asarray(array, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            item = item.ravel()[0] if item.size else ""
        out.append(str(item))
    return out


def _listed_files(list_file: Path) -> list[tuple[str, int]]:
    """(relative image path, 1-based label) pairs from ``file_list.mat``."""
    try:
        mat = scipy.io.loadmat(list_file)
    except Exception as err:  # scipy raises several types for a corrupt .mat
        raise DatasetLayoutError(f"cannot read Stanford Dogs list {list_file}: {err}") from err
    if "file_list" not in mat or "labels" not in mat:
        raise DatasetLayoutError(f"{list_file} lacks 'file_list' or 'labels'")
    files = _mat_strings(mat["file_list"])
    labels = np.asarray(mat["labels"]).ravel().astype(int).tolist()
    if len(files) != len(labels):
        raise DatasetLayoutError(f"{list_file}: {len(files)} files but {len(labels)} labels")
    return list(zip(files, labels, strict=True))


def read(root: str | Path) -> DatasetSource:
    root = Path(root)
    require_dir(root, "Stanford Dogs root")
    images_dir = require_dir(root / "Images", "Stanford Dogs image folder")
    annotation_dir = require_dir(root / "Annotation", "Stanford Dogs annotation folder")
    breeds = sorted(p.name for p in images_dir.iterdir() if p.is_dir())
    if not breeds:
        raise DatasetLayoutError(f"Stanford Dogs image folder {images_dir} holds no breed folders")
    class_names = [breed_name(b) for b in breeds]
    class_of_folder = {b: i for i, b in enumerate(breeds)}

    list_file = next((p for p in (root / "lists" / "file_list.mat", root / "file_list.mat") if p.is_file()), None)
    if list_file is not None:
        listed = _listed_files(list_file)
        for rel, label in listed:
            folder = rel.split("/", 1)[0]
            if class_of_folder.get(folder) != label - 1:
                raise DatasetLayoutError(f"{list_file}: {rel} has label {label} but its folder is class "
                                         f"{class_of_folder.get(folder, 'unknown') }+1 in {images_dir}")
        relative = [rel for rel, _ in listed]
    else:
        relative = [f"{p.parent.name}/{p.name}" for b in breeds
                    for p in sorted((images_dir / b).iterdir()) if p.is_file()]

    images = []
    annotation_files = [list_file] if list_file is not None else []
    for rel in relative:
        folder = rel.split("/", 1)[0]
        stem = Path(rel).stem
        annotation = annotation_dir / folder / stem
        annotation_files.append(annotation)
        class_id = class_of_folder[folder]
        images.append(SourceImage(
            image_id=stem,
            source_path=images_dir / rel,
            relative_path=f"Images/{rel}",
            class_id=class_id,
            class_name=class_names[class_id],
            boxes=parse_annotation(annotation),
        ))
    return DatasetSource(name=NAME, root=root, images=images, class_names=class_names,
                         annotation_files=annotation_files)
