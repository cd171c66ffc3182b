"""DeepLabV3 pseudo-masks: the torchvision backend end to end (random weights whose head is forced
to one class), the shared box restriction, and the torch-free gluoncv backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_cars, make_dogs
from PIL import Image

from core.errors import UserError
from data_prep.build import PrepOptions, build
from data_prep.masks.pseudo import box_mask, keep_class_in_box
from data_prep.prepared import load_prepared

REPO = Path(__file__).resolve().parents[2]
SIZE = 32


def _expected_box_mask(prepared, row) -> np.ndarray:
    """The main box in crop coordinates, rasterised at the prepared size."""
    x0, y0, w, h = json.loads(row["crop"])
    sx, sy = SIZE / w, SIZE / h
    box = ((row["bbox_x"] - x0) * sx, (row["bbox_y"] - y0) * sy, row["bbox_w"] * sx, row["bbox_h"] * sy)
    return box_mask(box, SIZE, SIZE)


def test_keep_class_in_box() -> None:
    labels = np.zeros((6, 8), np.int64)
    labels[1:5, 1:7] = 12
    labels[0, 0] = 12
    mask = keep_class_in_box(labels, 12, (2.0, 1.0, 3.0, 10.0))  # x 2..5, y 1..
    expected = np.zeros((6, 8), bool)
    expected[1:5, 2:5] = True
    assert (mask == expected).all()
    assert not keep_class_in_box(labels, 7, (0.0, 0.0, 8.0, 6.0)).any()


def test_torchvision_backend_keeps_the_class_inside_the_main_box(tmp_path: Path, deeplab_weights) -> None:
    data = make_dogs(tmp_path / "src", per_class=2)
    options = PrepOptions(dataset="dogs", root=data.root, out=tmp_path / "out", size=SIZE, workers=1,
                          progress=False, masks="deeplabv3-torchvision", weights=deeplab_weights(12),
                          mask_input_size=48, mask_batch_size=4, device="cpu")
    prepared = load_prepared(build(options))
    assert set(prepared.manifest["mask_source"]) == {"deeplabv3-torchvision"}
    assert prepared.meta["mask_source"] == "deeplabv3-torchvision"
    for _, row in prepared.manifest.iterrows():
        raw = np.asarray(Image.open(prepared.root / row["mask"]))
        assert raw.shape == (SIZE, SIZE) and set(np.unique(raw)) <= {0, 255}
        # the head says "dog" everywhere, so the mask is exactly the main box (in crop coordinates),
        # up to one pixel of rounding at the 48 -> 32 nearest resize
        mismatch = (prepared.load_mask(row["mask"]) != _expected_box_mask(prepared, row)).sum()
        assert mismatch <= 2 * SIZE, (row["image_id"], mismatch)
    assert not (prepared.root / "scratch").exists()


def test_torchvision_backend_other_class_gives_empty_masks(tmp_path: Path, deeplab_weights) -> None:
    data = make_cars(tmp_path / "src", per_class=1)
    options = PrepOptions(dataset="cars", root=data.root, out=tmp_path / "out", size=SIZE, workers=1,
                          progress=False, masks="deeplabv3-torchvision", weights=deeplab_weights(12),
                          mask_input_size=32, device="cpu")
    prepared = load_prepared(build(options))
    assert not any(prepared.load_mask(m).any() for m in prepared.manifest["mask"])  # dog head on cars


def test_torchvision_weights_of_another_model_are_a_user_error(tmp_path: Path) -> None:
    import torch

    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    data = make_cars(tmp_path / "src", per_class=1)
    options = PrepOptions(dataset="cars", root=data.root, out=tmp_path / "out", size=SIZE, workers=1,
                          progress=False, masks="deeplabv3-torchvision", weights=bad, device="cpu")
    with pytest.raises(UserError, match="bad.pth"):
        build(options)
    assert not (tmp_path / "out").exists()


def test_gluoncv_backend_imports_no_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None\n"
            "import data_prep.masks.deeplab_gluoncv as m, data_prep.prepared\n"
            "assert m.main(['--weights', '/nonexistent', '--jobs', '/nonexistent']) == 2\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "deeplab_resnet101_coco" in done.stderr  # the missing-weights message


GLUONCV_PYTHON = REPO / ".tox" / "gluoncv" / "bin" / "python"

_RANDOM_GLUONCV = """
import sys, mxnet as mx
from gluoncv.model_zoo import get_model
net = get_model('deeplab_resnet101_coco', pretrained=False, pretrained_base=False)
net.initialize(mx.init.Xavier())
net.predict(mx.nd.zeros((1, 3, 32, 32)))  # predict adapts the ASPP pooling to any size
last = [p for name, p in net.collect_params().items() if name.startswith(net.head.prefix) and p.shape[0] == 21]
weight = [p for p in last if len(p.shape) == 4][0]
bias = [p for p in last if len(p.shape) == 1][0]
weight.set_data(mx.nd.zeros(weight.shape))
b = mx.nd.zeros((21,)); b[int(sys.argv[2])] = 10.0
bias.set_data(b)
net.save_parameters(sys.argv[1] + '/deeplab_resnet101_coco-00000000.params')
"""


@pytest.mark.gluoncv
@pytest.mark.skipif(not GLUONCV_PYTHON.is_file(), reason="gluoncv tox env not installed (tox -e gluoncv --notest)")
def test_gluoncv_backend_end_to_end(tmp_path: Path) -> None:
    weights = tmp_path / "gluoncv"
    weights.mkdir()
    subprocess.run([str(GLUONCV_PYTHON), "-c", _RANDOM_GLUONCV, str(weights), "7"], check=True, cwd=REPO)
    data = make_cars(tmp_path / "src", per_class=1)
    options = PrepOptions(dataset="cars", root=data.root, out=tmp_path / "out", size=SIZE, workers=1,
                          progress=False, masks="deeplabv3-gluoncv", weights=weights, mask_input_size=48,
                          gluoncv_python=str(GLUONCV_PYTHON))
    prepared = load_prepared(build(options))
    assert set(prepared.manifest["mask_source"]) == {"deeplabv3-gluoncv"}
    for _, row in prepared.manifest.iterrows():
        mismatch = (prepared.load_mask(row["mask"]) != _expected_box_mask(prepared, row)).sum()
        assert mismatch <= 2 * SIZE, (row["image_id"], mismatch)
