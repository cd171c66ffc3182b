"""Reader for Caltech-UCSD Birds-200-2011 (CUB) as distributed.

Layout (``CUB_200_2011.tgz``)::

    CUB_200_2011/images.txt              <image_id> <class_dir>/<file>.jpg
    CUB_200_2011/classes.txt             <class_id> <NNN.Name>           (1-based)
    CUB_200_2011/image_class_labels.txt  <image_id> <class_id>
    CUB_200_2011/bounding_boxes.txt      <image_id> <x> <y> <w> <h>      (floats, pixels, 0-based)
    CUB_200_2011/images/<class_dir>/<file>.jpg

The segmentations ship separately (``segmentations.tgz`` -> ``segmentations/<class_dir>/<stem>.png``)
and are accepted inside the CUB folder or beside it. ``root`` may be the ``CUB_200_2011`` folder
itself or a folder holding it. The official train/test split is ignored: the paper uses all
11,788 images.
"""

from __future__ import annotations

from pathlib import Path

from data_prep.readers.layout import DatasetLayoutError, read_table, require_dir, require_file
from data_prep.records import DatasetSource, SourceImage

NAME = "cub"
VOC_CLASS = 3  # "bird" in the 21-class VOC label set of the DeepLabV3 pseudo-mask head


def find_cub_folder(root: Path) -> Path:
    require_dir(root, "CUB-200-2011 root")
    for candidate in (root, root / "CUB_200_2011"):
        if (candidate / "images.txt").is_file():
            return candidate
    raise DatasetLayoutError(f"CUB-200-2011 annotation file not found: expected {root / 'images.txt'} "
                             f"(or {root / 'CUB_200_2011' / 'images.txt'}); is --root the CUB_200_2011 folder?")


def find_segmentations(cub: Path, root: Path) -> Path | None:
    """``segmentations/`` inside the CUB folder, inside ``root``, or beside the CUB folder."""
    for candidate in (cub / "segmentations", root / "segmentations", cub.parent / "segmentations"):
        if candidate.is_dir():
            return candidate
    return None


def read(root: str | Path) -> DatasetSource:
    root = Path(root)
    cub = find_cub_folder(root)
    files = {name: require_file(cub / f"{name}.txt", f"CUB-200-2011 annotation file {name}.txt")
             for name in ("images", "classes", "image_class_labels", "bounding_boxes")}
    require_dir(cub / "images", "CUB-200-2011 image folder")

    class_rows = read_table(files["classes"], 2, "classes.txt")
    class_index = {int(cid): i for i, (cid, _) in enumerate(sorted(class_rows, key=lambda r: int(r[0])))}
    class_names = [name.split(".", 1)[-1] for _, name in sorted(class_rows, key=lambda r: int(r[0]))]
    labels = {image_id: int(cid) for image_id, cid in read_table(files["image_class_labels"], 2,
                                                                 "image_class_labels.txt")}
    boxes = {}
    for image_id, rest in read_table(files["bounding_boxes"], 2, "bounding_boxes.txt"):
        values = rest.split()
        if len(values) != 4:
            raise DatasetLayoutError(f"{files['bounding_boxes']}: image {image_id} needs 4 box values")
        boxes[image_id] = tuple(float(v) for v in values)

    segmentations = find_segmentations(cub, root)
    images = []
    for image_id, rel in read_table(files["images"], 2, "images.txt"):
        if image_id not in labels:
            raise DatasetLayoutError(f"{files['image_class_labels']} has no class for image {image_id}")
        if image_id not in boxes:
            raise DatasetLayoutError(f"{files['bounding_boxes']} has no box for image {image_id}")
        if labels[image_id] not in class_index:
            raise DatasetLayoutError(f"{files['classes']} lacks class {labels[image_id]} (image {image_id})")
        class_id = class_index[labels[image_id]]
        mask = None
        if segmentations is not None:
            mask = segmentations / Path(rel).with_suffix(".png")
        images.append(SourceImage(
            image_id=image_id,
            source_path=cub / "images" / rel,
            relative_path=str(Path("images") / rel),
            class_id=class_id,
            class_name=class_names[class_id],
            boxes=(boxes[image_id],),
            gt_mask_path=mask,
        ))
    return DatasetSource(name=NAME, root=cub, images=images, class_names=class_names,
                         annotation_files=sorted(files.values()))
