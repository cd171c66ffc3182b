"""Official test lists: which images a protocol that scores "the test set" (C3-GAN's, DRC's split
configs) evaluates. ``bench prep`` writes ``official_test.txt`` into a prepared directory, one
manifest ``image_id`` per line:

* CUB-200-2011: the images marked 0 in ``train_test_split.txt`` (5,794; 1 = train);
* Stanford Cars: every image of ``cars_test`` (8,041; ids ``test_*``);
* Stanford Dogs: the images of ``test_list.mat`` (8,580);
* synthetic: among the images showing an object, within each class in ``image_id`` order, every
  second one starting with the second (about half, like CUB's official split). The rule is a pure
  function of the manifest, so a synthetic directory written before test lists existed still has one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from core.atomic import write_text_atomic
from core.errors import UserError
from data_prep.records import DatasetSource

OFFICIAL_TEST_FILE = "official_test.txt"
SYNTHETIC_RULE = "synthetic: per class, in image_id order, every second image showing an object (the 2nd, 4th, ...)"


def synthetic_test_ids(manifest: pd.DataFrame) -> list[str]:
    """The synthetic world's documented test list (see the module docstring)."""
    objects = manifest[manifest["boxes"].map(lambda s: bool(s) and s != "[]")]
    chosen = []
    for _, rows in objects.sort_values("image_id").groupby("class_id", sort=True):
        chosen += rows["image_id"].tolist()[1::2]
    return sorted(chosen)


def official_test_ids(source: DatasetSource) -> set[str] | None:
    """The dataset's official test images (manifest ids), or None when its split file is absent."""
    if source.name == "cub":
        split = source.root / "train_test_split.txt"
        if not split.is_file():
            return None
        pairs = [line.split() for line in split.read_text().splitlines() if line.strip()]
        return {image_id for image_id, is_training in pairs if is_training == "0"}
    if source.name == "cars":
        return {image.image_id for image in source.images if image.image_id.startswith("test_")}
    if source.name == "dogs":
        for candidate in (source.root / "lists" / "test_list.mat", source.root / "test_list.mat"):
            if candidate.is_file():
                import scipy.io

                from data_prep.readers.dogs import _mat_strings

                return {Path(rel).stem for rel in _mat_strings(scipy.io.loadmat(candidate)["file_list"])}
        return None
    return None


def write_test_list(directory: str | Path, image_ids: Iterable[str]) -> Path:
    path = Path(directory) / OFFICIAL_TEST_FILE
    write_text_atomic(path, "".join(f"{i}\n" for i in image_ids))
    return path


def read_test_list(directory: str | Path, manifest: pd.DataFrame, dataset: str) -> set[str]:
    """The prepared directory's official test ids (the synthetic rule when the file is absent)."""
    path = Path(directory) / OFFICIAL_TEST_FILE
    if path.is_file():
        return {line.strip() for line in path.read_text().splitlines() if line.strip()}
    if dataset == "synthetic":
        return set(synthetic_test_ids(manifest))
    raise UserError(f"{path} is missing: this protocol scores the official test list; prepare "
                    f"{directory} again with `bench prep` (it now writes {OFFICIAL_TEST_FILE})")
