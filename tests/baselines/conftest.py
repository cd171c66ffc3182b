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
