import dataclasses

import pytest
import torch

from core.errors import UserError
from onegan.config import ABLATIONS, OneGANConfig


def test_paper_preset_matches_section_5():
    config = OneGANConfig.preset("paper", 200, 20)
    assert config.model.image_size == 128 and config.train.batch_size == 20
    assert config.train.lr == 2e-4 and config.train.betas == (0.5, 0.999)
    assert (config.schedule.iterations, config.schedule.fake_recon_start, config.schedule.real_recon_start) == (
        600_000, 200_000, 400_000)
    assert (config.model.ngf, config.model.ndf, config.model.z_dim) == (64, 64, 100)
    assert (config.model.num_classes, config.model.num_parents) == (200, 20)
    assert config.model.normalization == "glu-lnorm"
    assert (config.loss.bg_adversarial_weight, config.loss.code_regularization_weight,
            config.loss.mask_regularization_weight) == (10.0, 0.1, 2.0)


@pytest.mark.parametrize("name", ["tiny", "smoke"])
def test_small_presets_keep_phase_order(name):
    s = OneGANConfig.preset(name, 12, 4).schedule
    assert 0 < s.fake_recon_start < s.real_recon_start < s.iterations


def _diff(a, b, prefix=""):
    out = set()
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(x):
            out |= _diff(x, y, f"{f.name}.")
        elif x != y:
            out.add(prefix + f.name)
    return out


EXPECTED = {
    "no-real-recon": {"schedule.real_reconstruction"}, "phase1-only": {"schedule.reconstruction"},
    "no-multi-phase": {"schedule.multi_phase"}, "glu-inorm": {"model.normalization"},
    "lnorm": {"model.normalization"}, "inorm": {"model.normalization"}, "no-bypass": {"model.bypass"},
    "no-mixup12": {"model.mixup_codes_beta"}, "no-mixup34": {"model.mixup_bypass_beta"},
    "no-rm": {"loss.use_mask_regularization"}, "no-vae": {"loss.use_vae"}, "no-per": {"loss.use_perceptual"},
}


def test_every_ablation_row_changes_exactly_its_switch():
    assert set(ABLATIONS) == set(EXPECTED)
    base = OneGANConfig.preset("tiny", 12, 4)
    for name, fields in EXPECTED.items():
        ablated = base.with_ablation(name)
        assert _diff(base, ablated) == fields | {"ablation"}, name
        assert ablated.ablation == name


def test_round_trip_and_errors():
    config = OneGANConfig.preset("tiny", 12, 4).with_ablation("no-vae").with_iterations(100)
    assert OneGANConfig.from_dict(config.to_dict()) == config
    assert config.schedule.fake_recon_start == round(100 * 400 / 1200)
    with pytest.raises(UserError, match="unknown OneGAN preset"):
        OneGANConfig.preset("huge", 12, 4)
    with pytest.raises(UserError, match="unknown OneGAN ablation"):
        config.with_ablation("no-everything")


def test_batch_size_and_precision_options(tmp_path):
    from core.contract import TrainRequest
    from onegan.api import build_config

    request = TrainRequest(data=tmp_path, out=tmp_path, preset="smoke", batch_size=12, precision="bf16")
    config = build_config(request, 12, 4)
    assert (config.train.batch_size, config.train.precision) == (12, "bf16")
    default = build_config(TrainRequest(data=tmp_path, out=tmp_path, preset="smoke"), 12, 4)
    assert default.train == OneGANConfig.preset("smoke", 12, 4).train and default.train.precision == "fp32"
    with pytest.raises(UserError, match="precision must be one of"):
        dataclasses.replace(config.train, precision="fp16")
    with pytest.raises(UserError, match="batch size must be >= 1"):
        dataclasses.replace(config.train, batch_size=0)
    # Configs written before `precision` (mixed_precision: bf16 on CUDA only) load as float32.
    legacy = config.to_dict()
    legacy["train"].pop("precision")
    legacy["train"]["mixed_precision"] = True
    assert OneGANConfig.from_dict(legacy).train.precision == "fp32"


def test_the_device_picker_gives_a_bare_cuda_an_index_for_training(monkeypatch):
    # torch.cuda.set_device("cuda") raises: the bare name must become cuda:LOCAL_RANK (found on a GPU box).
    from core.device import pick_device

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert pick_device("cuda", local_rank=True) == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert pick_device("cuda", local_rank=True) == torch.device("cuda", 3)
    assert pick_device("cuda:1", local_rank=True) == torch.device("cuda", 1)
    assert pick_device("cpu", local_rank=True) == torch.device("cpu")
    assert pick_device("cuda") == torch.device("cuda")  # loading and scoring keep the name as given
