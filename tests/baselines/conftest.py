"""A small synthetic prepared dataset shared by the baseline tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from data_prep.synthetic import write_synthetic


@pytest.fixture(scope="session")
def tiny_prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return write_synthetic(tmp_path_factory.mktemp("baselines") / "synthetic", classes=4, parents=2,
                           images=48, size=32, seed=3)


# Four flat colours, equally far apart in RGB (red, green, blue, white): a clustering method that works
# must recover them (the known-answer data of JULE's and DEPICT's tests).
FLAT_COLOURS = ((235, 20, 20), (20, 235, 20), (20, 20, 235), (235, 235, 235))


@pytest.fixture(scope="session")
def flat_colour_prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic prepared format with every object image repainted one flat colour per class
    (plus mild pixel noise, so no two images are identical)."""
    import numpy as np
    from PIL import Image

    from data_prep.prepared import load_prepared

    torch.set_num_threads(1)
    root = write_synthetic(tmp_path_factory.mktemp("baselines") / "flat", classes=4, parents=2, images=100,
                           size=16, seed=5)
    prepared = load_prepared(root)
    rng = np.random.default_rng(0)
    for _, row in prepared.rows("fg").iterrows():
        colour = np.array(FLAT_COLOURS[int(row["class_id"])], dtype=np.int16)
        pixels = colour + rng.integers(-12, 13, size=(16, 16, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(root / row["path"])
    return root
