"""Trainer behaviour on a micro config: resume equality, NaN stop, cloning, logs/samples, inference."""

from __future__ import annotations

import dataclasses

import torch

from core.atomic import read_jsonl
from onegan import losses
from onegan.api import load
from onegan.checkpoint import load_checkpoint
from onegan.schedule import FAKE_RECONSTRUCTION, GENERATION, PATHS, REAL_RECONSTRUCTION
from onegan.trainer import Trainer, TrainingDiverged

NC = 4  # conftest's synthetic dataset


def _state(trainer: Trainer) -> dict[str, torch.Tensor]:
    out = {f"m.{k}": v.clone() for k, v in trainer.model.state_dict().items()}
    out.update({f"d.{k}": v.clone() for k, v in trainer.discriminators.state_dict().items()})
    return out


def test_resume_gives_identical_weights(prepared, tmp_path, micro_config):
    config = micro_config(6)  # fake recon from 2, real recon from 4: every path is crossed
    straight = Trainer(config, prepared, tmp_path / "straight", seed=3, progress=False)
    straight.run()

    first = Trainer(config.with_iterations(6), prepared, tmp_path / "split", seed=3, progress=False)
    for _ in range(3):
        first.step()
    first.save()
    del first
    resumed = Trainer(config, prepared, tmp_path / "split", seed=3, progress=False)
    assert resumed.resume() and resumed.iteration == 3
    resumed.run()
    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # Optimiser moments too.
    sa, sb = straight.model_optimizer.state_dict()["state"], resumed.model_optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)


def test_run_writes_logs_samples_and_checkpoint(prepared, tmp_path, micro_config):
    trainer = Trainer(micro_config(6), prepared, tmp_path / "run", seed=0, progress=False)
    path = trainer.run()
    state = load_checkpoint(path)
    assert state["iteration"] == 6 and state["config"]["preset_name"] == "smoke"
    assert state["compute"]["torch_threads"] == torch.get_num_threads()  # it sets the float rounding
    records = read_jsonl(tmp_path / "run" / "losses.jsonl")
    assert [r["iteration"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0]["paths"] == [GENERATION] and "gen/L_GEN" in records[0] and "fake/L_REC" not in records[0]
    assert records[-1]["paths"] == list(PATHS) and "real/L_PER" in records[-1] and "fake/L_VAE" in records[-1]
    samples = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert samples == ["generation_0000003.png", "generation_0000006.png",
                       "reconstruction_0000003.png", "reconstruction_0000006.png"]
    from PIL import Image
    with Image.open(tmp_path / "run" / "samples" / "reconstruction_0000006.png") as im:
        assert im.size == (8 * 33 + 1, 6 * 33 + 1)  # 8 columns, 6 rows of 32 px (padding 1)


def test_discriminators_cloned_on_entering_phase_two(prepared, tmp_path, micro_config):
    trainer = Trainer(micro_config(6), prepared, tmp_path / "clone", seed=0, progress=False)
    gen, fake = trainer.discriminators[GENERATION], trainer.discriminators[FAKE_RECONSTRUCTION]
    assert not all(torch.equal(p, q) for p, q in zip(gen.parameters(), fake.parameters(), strict=True))
    calls = []
    original = trainer.clone_discriminators

    def spy():
        calls.append(trainer.iteration)
        original()
        for path in (FAKE_RECONSTRUCTION, REAL_RECONSTRUCTION):
            clone = trainer.discriminators[path]
            assert all(torch.equal(p, q) for p, q in zip(gen.parameters(), clone.parameters(), strict=True))
            assert clone is not gen
    trainer.clone_discriminators = spy
    trainer.run()
    assert calls == [2]
    # After cloning each path trained its own copy: they have diverged.
    assert not all(torch.equal(p, q) for p, q in zip(gen.parameters(), fake.parameters(), strict=True))


def test_nan_loss_stops_with_name_and_iteration(prepared, tmp_path, monkeypatch, micro_config):
    trainer = Trainer(micro_config(6), prepared, tmp_path / "nan", seed=0, progress=False)
    real_prior = losses.mask_regularization_loss

    def poisoned(mask, *args):
        value = real_prior(mask, *args)
        return value * float("nan") if trainer.iteration == 3 else value
    monkeypatch.setattr(losses, "mask_regularization_loss", poisoned)
    try:
        trainer.run()
    except TrainingDiverged as err:
        message = str(err)
    else:
        raise AssertionError("NaN did not stop training")
    assert "gen/L_RM" in message and "iteration 3" in message and "NaN" in message
    assert "checkpoint.pt" in message
    state = load_checkpoint(tmp_path / "nan")
    assert state["iteration"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_inference_api_shapes_and_ranges(prepared, tmp_path, micro_config):
    path = Trainer(micro_config(4), prepared, tmp_path / "api", seed=0, progress=False).run()
    method = load(path, device="cpu")
    images = torch.rand(5, 3, 40, 40)
    masks = method.segment(images)
    assert masks.shape == (5, 1, 40, 40) and masks.min() >= 0 and masks.max() <= 1
    for out in (method.reconstruct(images), method.remove_object(images),
                method.translate(images, torch.tensor(1))):
        assert out.shape == (5, 3, 40, 40) and out.min() >= 0 and out.max() <= 1
    clusters = method.cluster(images)
    assert clusters.child.dtype == torch.int64 and clusters.child.shape == (5,)
    assert clusters.child.max() < NC and clusters.parent.max() < method.num_parents
    generated = method.generate(torch.arange(NC), z=torch.zeros(NC, method.config.model.z_dim))
    assert generated.shape == (NC, 3, 32, 32) and 0 <= generated.min() and generated.max() <= 1
    # Translation changes the style only when the requested child differs.
    t0, t3 = method.translate(images, torch.tensor(0)), method.translate(images, torch.tensor(3))
    assert not torch.allclose(t0, t3)
    assert method.can("segment") and method.can("cluster") and method.can("generate")


def test_logged_losses_are_the_active_losses_under_every_ablation(prepared, tmp_path, micro_config):
    """``active_losses`` names what the trainer really computes, under each ablation of Tables 1-3."""
    import pytest

    from onegan.config import ABLATIONS
    from onegan.objective import active_losses
    from onegan.schedule import PhaseSchedule

    short = {GENERATION: "gen", FAKE_RECONSTRUCTION: "fake", REAL_RECONSTRUCTION: "real"}
    totals = {"L_D", "L_G", "L_GEN", "L_AE"}
    for ablation in (None, "mask-parent", *ABLATIONS):
        config = micro_config(6).with_ablation(None if ablation == "mask-parent" else ablation)
        if ablation == "mask-parent":  # the paper-silent Q_m switch adds L_Qm to the generation path
            config = dataclasses.replace(config, model=dataclasses.replace(config.model, mask_parent_classifier=True))
        schedule = PhaseSchedule(config.schedule)
        trainer = Trainer(config, prepared, tmp_path / str(ablation), seed=0, progress=False)
        iteration = max(t for t in (0, schedule.fake_start or 0, schedule.real_start or 0))
        trainer.iteration = iteration
        if schedule.phase_two_start is not None and iteration >= schedule.phase_two_start:
            trainer.clone_discriminators()
        logged = trainer.step()
        expected = {f"{short[path]}/{name}" for path, names in active_losses(config, iteration).items()
                    for name in names}
        computed = {k for k in logged if k != "L_total" and k.split("/")[1] not in totals}
        assert computed == expected, ablation
        if ablation in ("no-rm", "no-vae", "no-per"):
            assert not any(k.endswith({"no-rm": "L_RM", "no-vae": "L_VAE", "no-per": "L_PER"}[ablation])
                           for k in logged)
    with pytest.raises(KeyError):
        active_losses(config, 0)["missing"]


def test_logged_totals_are_eqs_10_to_18_with_the_named_deviation(prepared, tmp_path, micro_config):
    """Every logged total is the weighted sum the paper (and the deviation in onegan/objective.py) names,
    recomputed here from the logged terms: L_D (Eq. 10, + D_cB's L_DcB on the generation path), L_G
    (Eq. 11), L_GEN (Eq. 14), each reconstruction path's L_AE = L_G + 2·L_RM + L_VAE + L_REC + L_PER
    (Eq. 18 with its L_GEN as that path's L_G + 2·L_RM), and L_total = L_GEN + Σ L_AE."""
    config = micro_config(6)
    trainer = Trainer(config, prepared, tmp_path / "run", seed=0, progress=False)
    trainer.iteration = 4  # every path runs (fake recon from 2, real recon from 4)
    trainer.clone_discriminators()
    logged = {k: v.double().item() for k, v in trainer.step().items()}
    w = config.loss
    assert (w.bg_adversarial_weight, w.code_regularization_weight, w.mask_regularization_weight) == (10.0, 0.1, 2.0)

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-5 * max(1.0, abs(b))

    for p in ("gen", "fake", "real"):
        l_d = 10 * logged[f"{p}/L_DbgA"] + logged[f"{p}/L_DbgB"] + logged[f"{p}/L_DcA"] + logged.get(f"{p}/L_DcB", 0)
        assert close(logged[f"{p}/L_D"], l_d), p
        assert close(logged[f"{p}/L_G"], 10 * logged[f"{p}/L_GbgA"] + logged[f"{p}/L_GbgB"] + logged[f"{p}/L_GcA"])
    assert "gen/L_DcB" in logged and "fake/L_DcB" not in logged
    l_gen = (logged["gen/L_G"] + logged["gen/L_E"] + logged["gen/L_MSE"] + 0.1 * logged["gen/L_Rv"]
             + 2 * logged["gen/L_RM"])
    assert close(logged["gen/L_GEN"], l_gen)
    l_ae = {p: logged[f"{p}/L_G"] + 2 * logged[f"{p}/L_RM"] + logged[f"{p}/L_VAE"] + logged[f"{p}/L_REC"]
            + logged[f"{p}/L_PER"] for p in ("fake", "real")}
    assert all(close(logged[f"{p}/L_AE"], l_ae[p]) for p in l_ae)
    assert close(logged["L_total"], logged["gen/L_GEN"] + l_ae["fake"] + l_ae["real"])


def test_bf16_autocast_trains_on_cpu(prepared, tmp_path, micro_config):
    """--precision bf16 takes the CUDA code path on the CPU: finite losses on every path, weights that
    moved, and results that differ from float32's (so the autocast really ran in bfloat16)."""
    import dataclasses

    base = micro_config(6)
    bf16 = dataclasses.replace(base, train=dataclasses.replace(base.train, precision="bf16"))
    trainer = Trainer(bf16, prepared, tmp_path / "bf16", seed=0, progress=False)
    assert trainer.autocast_dtype == torch.bfloat16
    before = _state(trainer)
    seen = {}
    while trainer.iteration < 6:
        seen.update(trainer.step())
    assert {"gen/L_GEN", "fake/L_AE", "real/L_AE", "real/L_D"} <= seen.keys()
    assert all(torch.isfinite(v) for v in seen.values())
    after = _state(trainer)
    assert all(v.dtype != torch.bfloat16 for v in after.values())  # weights stay float32
    assert all(torch.isfinite(v).all() for v in after.values())
    assert not torch.allclose(before["m.embeddings.child.weight"], after["m.embeddings.child.weight"])
    fp32 = Trainer(base, prepared, tmp_path / "fp32", seed=0, progress=False)
    for _ in range(6):
        fp32.step()
    reference = _state(fp32)
    assert not all(torch.equal(after[k], reference[k]) for k in after)


def test_fast_path_trains_the_reference_model(prepared, tmp_path, micro_config):
    """channels_last + fused Adam (the default) against the plain NCHW, per-tensor-Adam path: the same
    model to float tolerance across every path of the schedule."""
    fast = Trainer(micro_config(6), prepared, tmp_path / "fast", seed=1, progress=False)
    reference = Trainer(micro_config(6), prepared, tmp_path / "reference", seed=1, progress=False, fast=False)
    conv = fast.discriminators[GENERATION].child.modules()
    weight = next(m.weight for m in conv if isinstance(m, torch.nn.Conv2d))
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    assert fast.model_optimizer.param_groups[0]["fused"] and not reference.model_optimizer.param_groups[0]["fused"]
    for _ in range(6):
        fast_losses, reference_losses = fast.step(), reference.step()
        assert fast_losses.keys() == reference_losses.keys()
        for key, value in fast_losses.items():
            torch.testing.assert_close(value, reference_losses[key], rtol=1e-4, atol=1e-5, msg=key)
    a, b = _state(fast), _state(reference)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_fake_reconstruction_switches_reach_the_reconstruction_path(prepared, tmp_path, micro_config, monkeypatch):
    """The paper-silent choices (docs/onegan-implementation.md): which codes the fake reconstruction
    mixes in, and whether its input is detached from the generator."""
    import dataclasses

    seen = []
    for codes, detach in (("predicted", True), ("known", False)):
        config = micro_config(6)
        config = dataclasses.replace(config, loss=dataclasses.replace(
            config.loss, fake_reconstruction_codes=codes, detach_fake_reconstruction_input=detach))
        trainer = Trainer(config, prepared, tmp_path / codes, seed=0, progress=False)
        original = trainer.model.reconstruct

        def spy(image, betas, sample=True, child=None, noise=torch.randn_like, _original=original, _codes=codes):
            seen.append((_codes, child is not None, image.requires_grad))
            return _original(image, betas, sample=sample, child=child, noise=noise)

        monkeypatch.setattr(trainer.model, "reconstruct", spy)
        trainer.iteration = 3  # fake reconstruction on, real reconstruction off (micro_config(6): 2 / 4)
        trainer.clone_discriminators()
        trainer.step()
    assert seen == [("predicted", False, False), ("known", True, True)]


def test_nuisance_augmentation_changes_only_what_the_encoders_classify(prepared, tmp_path, micro_config):
    """With ``LossConfig.nuisance_augmentation`` on, the first step's discriminator and adversarial
    losses equal the default's (its draws come last), and L_E differs (E_p, E_c see the moved copy)."""
    base = micro_config(6)
    on = dataclasses.replace(base, loss=dataclasses.replace(base.loss, nuisance_augmentation=True))
    off_losses = Trainer(base, prepared, tmp_path / "off", seed=0, progress=False).step()
    on_losses = Trainer(on, prepared, tmp_path / "on", seed=0, progress=False).step()
    for name in ("gen/L_D", "gen/L_G", "gen/L_MSE"):
        torch.testing.assert_close(on_losses[name], off_losses[name])
    assert torch.isfinite(on_losses["gen/L_E"]) and not torch.allclose(on_losses["gen/L_E"], off_losses["gen/L_E"])
    hue = dataclasses.replace(on, loss=dataclasses.replace(on.loss, augment_parent_hue=True))
    hue_losses = Trainer(hue, prepared, tmp_path / "hue", seed=0, progress=False).step()
    torch.testing.assert_close(hue_losses["gen/L_G"], off_losses["gen/L_G"])
    assert not torch.allclose(hue_losses["gen/L_E"], on_losses["gen/L_E"])
