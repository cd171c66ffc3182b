"""Shared fixtures: a small synthetic prepared dataset and a micro OneGAN config (smoke preset, 32 px)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from data_prep.prepared import load_prepared
from data_prep.synthetic import write_synthetic
from onegan.config import OneGANConfig

NC, NP = 4, 2


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 24 px on disk so the model (32 px) exercises the resize at its boundary.
    return write_synthetic(tmp_path_factory.mktemp("onegan_data") / "synthetic", classes=NC, parents=NP,
                           images=60, size=24, seed=0)


@pytest.fixture(scope="session")
def prepared(prepared_dir: Path):
    return load_prepared(prepared_dir)


def make_micro_config(iterations: int = 6) -> OneGANConfig:
    config = OneGANConfig.preset("smoke", NC, NP).with_iterations(iterations)
    return dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=4, log_every=1,
                                                                 sample_every=3, checkpoint_every=2))


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def micro_config():
    """A factory: micro_config(iterations) -> the smoke preset at NC=4, NP=2, batch 4, logging every step."""
    return make_micro_config
