"""Reader for Stanford Cars as distributed.

Layout (``cars_train.tgz``, ``cars_test.tgz``, ``car_devkit.tgz``, ``cars_test_annos_withlabels.mat``)::

    cars_train/<00001>.jpg   cars_test/<00001>.jpg
    devkit/cars_train_annos.mat            annotations: bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, fname
    cars_test_annos_withlabels.mat         same fields for cars_test (at the root or in devkit/)
    devkit/cars_meta.mat                   class_names (1-based class ids index it)

Boxes are 1-based inclusive pixel indices: ``x = x1 - 1``, ``w = x2 - x1 + 1``. Train and test are
both used (16,185 images); image ids are ``train_<stem>`` and ``test_<stem>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from data_prep.readers.layout import DatasetLayoutError, first_existing, require_dir, require_file
from data_prep.records import DatasetSource, SourceImage

NAME = "cars"
VOC_CLASS = 7  # "car"
_FIELDS = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname")


def _load_mat(path: Path, key: str) -> np.ndarray:
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True)
    except Exception as err:  # scipy raises several types for a corrupt .mat
        raise DatasetLayoutError(f"cannot read Stanford Cars annotation file {path}: {err}") from err
    if key not in mat:
        raise DatasetLayoutError(f"Stanford Cars annotation file {path} lacks '{key}'")
    return mat[key]


def _scalar(value: object) -> object:
    while isinstance(value, np.ndarray):
        value = value.ravel()[0]
    return value


def read_annotations(path: Path) -> list[dict]:
    """The ``annotations`` struct array of a Cars .mat file as a list of dicts."""
    table = np.atleast_1d(_load_mat(path, "annotations"))
    names = table.dtype.names or ()
    missing = [f for f in _FIELDS if f not in names]
    if missing:
        raise DatasetLayoutError(f"Stanford Cars annotation file {path} lacks fields {missing}")
    return [{f: _scalar(row[f]) for f in _FIELDS} for row in table]


def read(root: str | Path) -> DatasetSource:
    root = Path(root)
    require_dir(root, "Stanford Cars root")
    meta_file = require_file(root / "devkit" / "cars_meta.mat", "Stanford Cars class names (devkit/cars_meta.mat)")
    train_file = require_file(root / "devkit" / "cars_train_annos.mat",
                              "Stanford Cars train annotations (devkit/cars_train_annos.mat)")
    test_file = first_existing([root / "cars_test_annos_withlabels.mat",
                                root / "devkit" / "cars_test_annos_withlabels.mat"],
                               "Stanford Cars test annotations with labels (cars_test_annos_withlabels.mat)")
    class_names = [str(_scalar(n)).strip() for n in np.atleast_1d(_load_mat(meta_file, "class_names"))]

    images = []
    for split, annotation_file in (("train", train_file), ("test", test_file)):
        folder = require_dir(root / f"cars_{split}", f"Stanford Cars image folder cars_{split}")
        for row in read_annotations(annotation_file):
            label = int(row["class"])
            if not 1 <= label <= len(class_names):
                raise DatasetLayoutError(f"{annotation_file}: {row['fname']} has class {label}, "
                                         f"outside 1..{len(class_names)} of {meta_file}")
            x1, y1, x2, y2 = (float(row[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"))
            fname = str(row["fname"])
            images.append(SourceImage(
                image_id=f"{split}_{Path(fname).stem}",
                source_path=folder / fname,
                relative_path=f"cars_{split}/{fname}",
                class_id=label - 1,
                class_name=class_names[label - 1],
                boxes=((x1 - 1.0, y1 - 1.0, x2 - x1 + 1.0, y2 - y1 + 1.0),),
            ))
    return DatasetSource(name=NAME, root=root, images=images, class_names=class_names,
                         annotation_files=[meta_file, train_file, test_file])
