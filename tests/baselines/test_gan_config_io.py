"""The GAN baselines' configs share one ``preset`` / ``to_dict`` / ``from_dict``
(``baselines.encoder_fitting.GANBaselineConfig``): every preset survives the trip through a
checkpoint's JSON, tuples (nested ones too) and the encoders' config included, and an unknown preset
is one line naming the method and its presets."""

from __future__ import annotations

import json

import pytest

from baselines.encoder_fitting import EncoderFitConfig
from baselines.finegan import PRESETS as FINEGAN_PRESETS
from baselines.finegan import FineGANConfig
from baselines.stackgan import PRESETS as STACKGAN_PRESETS
from baselines.stackgan import StackGANConfig
from core.errors import UserError

CASES = [(FineGANConfig, FINEGAN_PRESETS, "FineGAN"), (StackGANConfig, STACKGAN_PRESETS, "StackGANv2")]


@pytest.mark.parametrize(("config_type", "presets", "title"), CASES, ids=["finegan", "stackgan"])
def test_presets_round_trip_through_json(config_type, presets, title):
    for name, config in presets.items():
        assert config_type.preset(name) is config
        back = config_type.from_dict(json.loads(json.dumps(config.to_dict())))
        assert back == config and type(back) is config_type
        assert isinstance(back.encoders, EncoderFitConfig) and isinstance(back.betas, tuple)
    assert FineGANConfig.from_dict(json.loads(json.dumps(FINEGAN_PRESETS["tiny"].to_dict()))).background_layers == (
        (4, 2, 1), (3, 1, 1))


@pytest.mark.parametrize(("config_type", "presets", "title"), CASES, ids=["finegan", "stackgan"])
def test_an_unknown_preset_names_the_method_and_its_presets(config_type, presets, title):
    with pytest.raises(UserError) as err:
        config_type.preset("huge")
    assert str(err.value) == f"unknown {title} preset 'huge'; choose one of {sorted(presets)}"
