"""The three readers on tiny copies of the official layouts (see conftest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_cars, make_cub, make_dogs

from core.errors import UserError
from data_prep.readers import READERS, cars, cub, dogs
from data_prep.readers.layout import DatasetLayoutError


def _check_source(source, data) -> None:
    assert len(source.images) == data.n_images
    assert source.num_classes == data.n_classes
    assert len({r.image_id for r in source.images}) == data.n_images
    for record in source.images:
        assert record.class_id == data.classes[record.image_id]
        assert record.main_box == pytest.approx(data.boxes[record.image_id])
        assert np.allclose(record.boxes, data.all_boxes[record.image_id])
        assert record.source_path.is_file()
        assert (source.root / record.relative_path).resolve() == record.source_path.resolve()
        assert record.class_name == source.class_names[record.class_id]
    assert all(p.is_file() for p in source.annotation_files)


def test_registry_names_every_dataset() -> None:
    assert set(READERS) == {"cub", "dogs", "cars"}
    assert {m.VOC_CLASS for m in READERS.values()} == {3, 7, 12}


@pytest.mark.parametrize("where", ["beside", "inside"])
def test_cub_reads_float_boxes_and_finds_segmentations(tmp_path: Path, where: str) -> None:
    data = make_cub(tmp_path, segmentations=where)
    source = cub.read(data.root)
    _check_source(source, data)
    assert source.class_names[0] == "Black_footed_Albatross"  # the "001." prefix is dropped
    assert source.images[0].main_box == (20.5, 30.25, 60.0, 50.0)  # floats kept as given
    for record in source.images:
        assert record.gt_mask_path is not None and record.gt_mask_path.is_file()
    # --root may also be the folder holding CUB_200_2011
    assert len(cub.read(data.root.parent).images) == data.n_images


def test_cub_without_segmentations_has_no_mask_paths(tmp_path: Path) -> None:
    source = cub.read(make_cub(tmp_path, segmentations="none").root)
    assert all(r.gt_mask_path is None for r in source.images)


def test_dogs_reads_voc_xml_with_several_boxes(tmp_path: Path) -> None:
    data = make_dogs(tmp_path)
    source = dogs.read(data.root)
    _check_source(source, data)
    two = next(r for r in source.images if len(r.boxes) == 2)
    # 1-based inclusive VOC corners (5,5,24,24) and (61,21,140,120) -> 0-based x, y, w, h; main = larger
    assert two.boxes == ((4.0, 4.0, 20.0, 20.0), (60.0, 20.0, 80.0, 100.0))
    assert two.main_box == (60.0, 20.0, 80.0, 100.0)
    assert source.class_names == ["Chihuahua", "Japanese_spaniel", "Maltese_dog"]
    assert any(p.name == "file_list.mat" for p in source.annotation_files)


def test_dogs_without_file_list_walks_images(tmp_path: Path) -> None:
    data = make_dogs(tmp_path, with_list=False)
    source = dogs.read(data.root)
    _check_source(source, data)


def test_dogs_file_list_at_root_is_accepted(tmp_path: Path) -> None:
    data = make_dogs(tmp_path)
    shutil.move(data.root / "lists" / "file_list.mat", data.root / "file_list.mat")
    source = dogs.read(data.root)
    assert any(p.name == "file_list.mat" for p in source.annotation_files)
    _check_source(source, data)


@pytest.mark.parametrize("in_devkit", [False, True])
def test_cars_reads_one_based_boxes_train_and_test(tmp_path: Path, in_devkit: bool) -> None:
    data = make_cars(tmp_path, test_annos_in_devkit=in_devkit)
    source = cars.read(data.root)
    _check_source(source, data)
    first = source.images[0]
    assert first.image_id == "train_00001"
    assert first.boxes == ((10.0, 20.0, 80.0, 60.0),)  # x1..y2 = 11, 21, 90, 80 (1-based inclusive)
    assert {r.image_id.split("_")[0] for r in source.images} == {"train", "test"}
    assert source.class_names[1] == "Acura RL Sedan 2012"


@pytest.mark.parametrize("dataset, remove, expected", [
    ("cub", "CUB_200_2011/bounding_boxes.txt", "bounding_boxes.txt"),
    ("cub", "CUB_200_2011/images.txt", "images.txt"),
    ("dogs", "Annotation/n02085620-Chihuahua/n02085620_1003", "n02085620_1003"),
    ("dogs", "Annotation", "Annotation"),
    ("cars", "devkit/cars_meta.mat", "cars_meta.mat"),
    ("cars", "cars_test_annos_withlabels.mat", "cars_test_annos_withlabels.mat"),
    ("cars", "devkit/cars_train_annos.mat", "cars_train_annos.mat"),
])
def test_missing_annotation_file_is_named(tmp_path: Path, dataset: str, remove: str, expected: str) -> None:
    maker = {"cub": make_cub, "dogs": make_dogs, "cars": make_cars}[dataset]
    data = maker(tmp_path)
    base = data.root.parent if dataset == "cub" else data.root
    target = base / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DatasetLayoutError, match=expected):
        READERS[dataset].read(data.root)


@pytest.mark.parametrize("dataset", ["cub", "dogs", "cars"])
def test_wrong_root_is_a_user_error(tmp_path: Path, dataset: str) -> None:
    with pytest.raises(UserError, match=str(tmp_path / "nowhere")):
        READERS[dataset].read(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not found"):
        READERS[dataset].read(tmp_path / "empty")


def test_cub_malformed_box_line_names_file_and_line(tmp_path: Path) -> None:
    data = make_cub(tmp_path)
    path = data.root / "bounding_boxes.txt"
    path.write_text(path.read_text().replace("1 20.5 30.25 60.0 50.0", "1 20.5 30.25"))
    with pytest.raises(DatasetLayoutError, match="image 1 needs 4 box values"):
        cub.read(data.root)
