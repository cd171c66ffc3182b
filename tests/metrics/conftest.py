"""A tiny prepared dataset built with write_tables + PNGs: 4 classes told apart by colour."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from data_prep.prepared import BACKGROUND_COLUMNS, MANIFEST_COLUMNS, load_prepared, write_tables

CLASS_COLOURS = np.array([[230, 40, 40], [40, 200, 40], [40, 40, 230], [220, 220, 40]])
PER_CLASS, SIZE = 10, 16


def write_tiny_prepared(root, per_class=PER_CLASS, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(per_class * len(CLASS_COLOURS)):
        class_id = i % len(CLASS_COLOURS)
        image = rng.integers(0, 90, size=(size, size, 3))                # dark noisy background
        top, left = rng.integers(0, size // 2, size=2)
        image[top:top + size // 2, left:left + size // 2] = CLASS_COLOURS[class_id]
        path = f"images/{i:04d}.png"
        Image.fromarray(image.astype(np.uint8)).save(root / path)
        rows.append({"image_id": f"{i:04d}", "path": path, "class_id": class_id, "class_name": f"c{class_id}",
                     "parent_id": class_id // 2, "bbox_x": left, "bbox_y": top, "bbox_w": size // 2,
                     "bbox_h": size // 2, "boxes": "[]", "crop": "[]", "source_path": "", "width": size,
                     "height": size, "role": "fg", "mask": "", "mask_source": ""})
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    meta = {"dataset": "tiny", "num_classes": len(CLASS_COLOURS), "num_parents": 2, "size": size,
            "fingerprint": f"tiny-{seed}-{per_class}"}
    write_tables(root, manifest, pd.DataFrame(columns=BACKGROUND_COLUMNS), meta)
    return load_prepared(root)


@pytest.fixture(scope="session")
def tiny_prepared(tmp_path_factory):
    return write_tiny_prepared(tmp_path_factory.mktemp("prepared") / "tiny")
