"""Tiny copies of the three datasets' official layouts, with every quirk the readers must handle:
greyscale JPEGs, RGBA and CMYK files, PNG data under a .jpg name, RGB segmentation PNGs, multi-box
VOC XML without extension, 1-based Cars boxes, .mat files written by scipy, CUB segmentations
beside or inside the CUB folder.

Each image is noise with a solid yellow rectangle exactly on its main box, so crops and masks
can be checked for alignment by colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

OBJECT = (255, 255, 0)  # yellow: bright in greyscale too (L = 226; the noise stays below 80)


def scene(width: int, height: int, boxes: list[tuple[float, float, float, float]], seed: int) -> np.ndarray:
    """Dark blue-green noise with a solid yellow object on every box (0-based x, y, w, h; rounded)."""
    rng = np.random.default_rng(seed)
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[..., 1] = rng.integers(20, 100, (height, width))
    array[..., 2] = rng.integers(20, 100, (height, width))
    for x, y, w, h in boxes:
        array[round(y):round(y + h), round(x):round(x + w)] = OBJECT
    return array


@dataclass
class FixtureDataset:
    root: Path
    n_images: int
    n_classes: int
    # image id -> expected 0-based main box (x, y, w, h), class id
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    all_boxes: dict[str, list] = field(default_factory=dict)
    quirks: dict[str, str] = field(default_factory=dict)  # image id -> quirk name


# ----------------------------------------------------------------------------------------- CUB
CUB_CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]


def make_cub(base: Path, per_class: int = 5, segmentations: str = "beside") -> FixtureDataset:
    """``base/CUB_200_2011`` (+ ``segmentations`` beside it, inside it, or none)."""
    cub = base / "CUB_200_2011"
    (cub / "images").mkdir(parents=True)
    seg_root = {"beside": base / "segmentations", "inside": cub / "segmentations", "none": None}[segmentations]
    data = FixtureDataset(root=cub, n_images=0, n_classes=len(CUB_CLASSES))
    images, labels, bboxes = [], [], []
    image_id = 0
    for class_index, class_dir in enumerate(CUB_CLASSES):
        (cub / "images" / class_dir).mkdir()
        if seg_root:
            (seg_root / class_dir).mkdir(parents=True)
        for k in range(per_class):
            image_id += 1
            width, height = 160 + 8 * k, 120 + 4 * class_index
            box = (20.5 + 3 * k, 30.25, 60.0 + 2 * class_index, 50.0)
            stem = f"{class_dir.split('.')[1]}_{image_id:04d}_{k}"
            rel = f"{class_dir}/{stem}.jpg"
            array = scene(width, height, [box], seed=image_id)
            if image_id == 2:  # greyscale JPEG
                Image.fromarray(array).convert("L").save(cub / "images" / rel, quality=95)
                data.quirks[str(image_id)] = "greyscale"
            else:
                Image.fromarray(array).save(cub / "images" / rel, quality=95)
            if seg_root:
                # Soft segmentation: 255 on the box, 100 (below the 127 threshold) on a halo around it.
                seg = np.zeros((height, width), dtype=np.uint8)
                x, y, w, h = (round(v) for v in box)
                seg[max(y - 4, 0):y + h + 4, max(x - 4, 0):x + w + 4] = 100
                seg[y:y + h, x:x + w] = 255
                seg_image = Image.fromarray(seg)
                if image_id == 3:  # an RGB segmentation PNG
                    seg_image = seg_image.convert("RGB")
                    data.quirks[str(image_id)] = "rgb-segmentation"
                seg_image.save(seg_root / class_dir / f"{stem}.png")
            images.append(f"{image_id} {rel}")
            labels.append(f"{image_id} {class_index + 1}")
            bboxes.append(f"{image_id} {box[0]} {box[1]} {box[2]} {box[3]}")
            data.boxes[str(image_id)] = box
            data.all_boxes[str(image_id)] = [box]
            data.classes[str(image_id)] = class_index
    data.n_images = image_id
    (cub / "images.txt").write_text("\n".join(images) + "\n")
    (cub / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    (cub / "bounding_boxes.txt").write_text("\n".join(bboxes) + "\n")
    (cub / "classes.txt").write_text("\n".join(f"{i + 1} {c}" for i, c in enumerate(CUB_CLASSES)) + "\n")
    (cub / "train_test_split.txt").write_text("\n".join(f"{i} {i % 2}" for i in range(1, image_id + 1)) + "\n")
    return data


# ---------------------------------------------------------------------------------------- Dogs
DOG_BREEDS = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02085936-Maltese_dog"]


def voc_xml(width: int, height: int, corners: list[tuple[int, int, int, int]]) -> str:
    objects = "".join(
        f"<object><name>dog</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>"
        f"<bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
        for a, b, c, d in corners)
    return (f"<annotation><folder>02085620</folder><filename>%s</filename><source><database>ImageNet database"
            f"</database></source><size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
            f"<segment>0</segment>{objects}</annotation>")


def make_dogs(base: Path, per_class: int = 5, with_list: bool = True) -> FixtureDataset:
    root = base / "StanfordDogs"
    data = FixtureDataset(root=root, n_images=0, n_classes=len(DOG_BREEDS))
    files, annotations, labels = [], [], []
    count = 0
    for class_index, breed in enumerate(DOG_BREEDS):
        (root / "Images" / breed).mkdir(parents=True)
        (root / "Annotation" / breed).mkdir(parents=True)
        wnid = breed.split("-")[0]
        for k in range(per_class):
            count += 1
            stem = f"{wnid}_{1000 + k}"
            width, height = 150 + 10 * k, 130
            corners = [(41, 31, 100, 110)]  # VOC 1-based inclusive -> x=40, y=30, w=60, h=80
            if k == 1:  # two dogs; the second (larger) is the main one
                corners = [(5, 5, 24, 24), (61, 21, 140, 120)]
            boxes = [(a - 1.0, b - 1.0, c - a + 1.0, d - b + 1.0) for a, b, c, d in corners]
            array = scene(width, height, boxes, seed=100 + count)
            path = root / "Images" / breed / f"{stem}.jpg"
            if class_index == 0 and k == 2:  # PNG data under a .jpg name
                Image.fromarray(array).save(path, format="PNG")
                data.quirks[stem] = "png-as-jpg"
            elif class_index == 1 and k == 2:  # 4 channels: RGBA PNG named .jpg
                rgba = np.concatenate([array, np.full(array.shape[:2] + (1,), 255, np.uint8)], axis=2)
                Image.fromarray(rgba, mode="RGBA").save(path, format="PNG")
                data.quirks[stem] = "rgba"
            elif class_index == 2 and k == 2:  # 4 channels: CMYK JPEG
                Image.fromarray(array).convert("CMYK").save(path, format="JPEG", quality=95)
                data.quirks[stem] = "cmyk"
            else:
                Image.fromarray(array).save(path, quality=95)
            (root / "Annotation" / breed / stem).write_text(voc_xml(width, height, corners) % stem)
            files.append(f"{breed}/{stem}.jpg")
            annotations.append(f"{breed}/{stem}")
            labels.append(class_index + 1)
            data.boxes[stem] = max(boxes, key=lambda b: b[2] * b[3])
            data.all_boxes[stem] = boxes
            data.classes[stem] = class_index
    data.n_images = count
    if with_list:
        (root / "lists").mkdir()
        cell = np.empty((count, 1), dtype=object)
        for i, f in enumerate(files):
            cell[i, 0] = f
        cell_ann = np.empty((count, 1), dtype=object)
        for i, f in enumerate(annotations):
            cell_ann[i, 0] = f
        scipy.io.savemat(root / "lists" / "file_list.mat",
                         {"file_list": cell, "annotation_list": cell_ann,
                          "labels": np.array(labels, dtype=np.uint8)[:, None]})
    return data


# ---------------------------------------------------------------------------------------- Cars
CAR_CLASSES = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012"]


def _annotation_struct(rows: list[dict]) -> np.ndarray:
    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"]
    table = np.empty((1, len(rows)), dtype=[(f, object) for f in fields])
    for i, row in enumerate(rows):
        for f in fields:
            table[0, i][f] = np.array([[row[f]]], dtype=np.uint16) if f != "fname" else np.array([row[f]])
    return table


def make_cars(base: Path, per_class: int = 4, test_annos_in_devkit: bool = False) -> FixtureDataset:
    root = base / "StanfordCars"
    data = FixtureDataset(root=root, n_images=0, n_classes=len(CAR_CLASSES))
    (root / "devkit").mkdir(parents=True)
    count = 0
    for split in ("train", "test"):
        folder = root / f"cars_{split}"
        folder.mkdir()
        rows = []
        for class_index in range(len(CAR_CLASSES)):
            for k in range(per_class):
                count += 1
                fname = f"{len(rows) + 1:05d}.jpg"
                width, height = 170, 110 + 5 * k
                x1, y1, x2, y2 = 11 + k, 21, 90 + k, 80  # 1-based inclusive
                box = (x1 - 1.0, y1 - 1.0, x2 - x1 + 1.0, y2 - y1 + 1.0)
                array = scene(width, height, [box], seed=200 + count)
                if k == 0 and split == "test":  # greyscale JPEG
                    Image.fromarray(array).convert("L").save(folder / fname, quality=95)
                    data.quirks[f"{split}_{Path(fname).stem}"] = "greyscale"
                else:
                    Image.fromarray(array).save(folder / fname, quality=95)
                rows.append({"bbox_x1": x1, "bbox_y1": y1, "bbox_x2": x2, "bbox_y2": y2,
                             "class": class_index + 1, "fname": fname})
                image_id = f"{split}_{Path(fname).stem}"
                data.boxes[image_id] = box
                data.all_boxes[image_id] = [box]
                data.classes[image_id] = class_index
        target = {"train": root / "devkit" / "cars_train_annos.mat",
                  "test": (root / "devkit" if test_annos_in_devkit else root) / "cars_test_annos_withlabels.mat"}
        scipy.io.savemat(target[split], {"annotations": _annotation_struct(rows)})
    names = np.empty((1, len(CAR_CLASSES)), dtype=object)
    for i, n in enumerate(CAR_CLASSES):
        names[0, i] = n
    scipy.io.savemat(root / "devkit" / "cars_meta.mat", {"class_names": names})
    data.n_images = count
    return data


MAKERS = {"cub": make_cub, "dogs": make_dogs, "cars": make_cars}


@pytest.fixture
def cub_dataset(tmp_path: Path) -> FixtureDataset:
    return make_cub(tmp_path / "src")


@pytest.fixture
def dogs_dataset(tmp_path: Path) -> FixtureDataset:
    return make_dogs(tmp_path / "src")


@pytest.fixture
def cars_dataset(tmp_path: Path) -> FixtureDataset:
    return make_cars(tmp_path / "src")


@pytest.fixture(scope="session")
def deeplab_weights(tmp_path_factory: pytest.TempPathFactory):
    """A torchvision deeplabv3_resnet101 state dict (21 classes, with the aux head like the COCO
    release) with random weights, except that the main head's last 1x1 conv is zeroed and its bias
    makes one chosen VOC class win everywhere. Returns ``make(voc_class) -> Path``."""
    import torch
    from torchvision.models.segmentation import deeplabv3_resnet101

    folder = tmp_path_factory.mktemp("deeplab")
    torch.manual_seed(0)
    state = deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21, aux_loss=True).state_dict()
    made: dict[int, Path] = {}

    def make(voc_class: int) -> Path:
        if voc_class not in made:
            state["classifier.4.weight"].zero_()
            bias = torch.zeros(21)
            bias[voc_class] = 10.0
            state["classifier.4.bias"].copy_(bias)
            path = folder / f"deeplab_class{voc_class}.pth"
            torch.save(state, path)
            made[voc_class] = path
        return made[voc_class]

    return make
