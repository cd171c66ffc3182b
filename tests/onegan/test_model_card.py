"""The model card (bench describe): parameter counts by paper symbol, FineGAN's reference counts, FLOPs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from benchmark.cli import main as bench_main
from onegan import model_card
from onegan.config import OneGANConfig
from onegan.finegan_reference import finegan_module_params
from onegan.model import OneGANModel
from onegan.networks.discriminators import DiscriminatorPair

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "studies" / "model_card" / "finegan_reference_params.json"


def _count_by_prefix(module: nn.Module, paths: tuple[str, ...]) -> int:
    """A second count: parameter names that start with one of the dotted paths."""
    return sum(p.numel() for name, p in module.named_parameters() if any(name.startswith(f"{q}.") for q in paths))


@pytest.mark.parametrize("preset", ["smoke", "tiny", "paper"])
def test_card_params_equal_the_instantiated_networks(preset):
    config = OneGANConfig.preset(preset, 200, 20)
    card = model_card.build_card(config, measure_batch=None)
    model, pair = OneGANModel(config.model), DiscriminatorPair(config.model)  # real CPU tensors, not meta
    owners = {"model": model, "discriminators": pair}
    for symbol in (*model_card.NETWORKS, *model_card.G_FG_STAGES):
        row = card["networks"].get(symbol.name) or card["g_fg_stages"][symbol.name]
        assert row["params"] == _count_by_prefix(owners[symbol.owner], symbol.paths) > 0, symbol.name
    totals = card["totals"]
    assert totals["model"] == sum(p.numel() for p in model.parameters())
    assert totals["discriminator_pair"] == sum(p.numel() for p in pair.parameters())
    assert totals["trained_phase2"] == totals["model"] + 3 * totals["discriminator_pair"]
    stages = card["g_fg_stages"]
    assert sum(stages[s]["params"] for s in ("G_fg0 + up", "G_fg1 join", "G_fg2")) == card["networks"]["G_fg"]["params"]


def test_finegan_reference_file_has_the_official_cub_counts_and_matches_the_closed_form():
    doc = json.loads(REFERENCE.read_text())
    assert "kkanshul/finegan" in doc["source"]["repository"] and len(doc["source"]["commit"]) == 40
    cub = doc["datasets"]["cub"]
    assert (cub["num_classes"], cub["num_parents"]) == (200, 20)
    p = cub["params"]
    # The figures quoted in issue 9 (rounded there).
    assert round((p["h_net1_bg"] + p["img_net1_bg"]) / 1e6, 2) == 22.51
    assert round(p["h_net1"] / 1e6, 2) == 16.61
    assert round(p["h_net2"] / 1e6, 3) == 0.356
    assert round(p["h_net3"] / 1e6, 3) == 0.199
    assert round(p["D_NET(0)"] / 1e6, 3) == 0.667
    assert round(p["D_NET(2)"] / 1e6, 2) == 19.87
    # The closed form reproduces every stored (instantiated) count, for all three datasets.
    assert set(doc["datasets"]) == {"cub", "dogs", "cars"}
    for data in doc["datasets"].values():
        stored = {k: v for k, v in data["params"].items() if k != "G_NET"}
        assert finegan_module_params(data["num_classes"], data["num_parents"]) == stored
        assert data["params"]["G_NET"] == sum(v for k, v in stored.items() if not k.startswith("D_NET"))


def test_card_puts_finegan_counts_beside_ours():
    card = model_card.build_card(OneGANConfig.preset("paper", 120, 12), measure_batch=None)  # Dogs
    reference = finegan_module_params(120, 12)
    networks = card["networks"]
    assert networks["G_bg"]["finegan_params"] == reference["h_net1_bg"] + reference["img_net1_bg"]
    assert networks["D_bg"]["finegan_params"] == reference["D_NET(0)"]
    assert networks["D_c"]["finegan_params"] == reference["D_NET(2)"]
    assert card["g_fg_stages"]["G_fg1 join"]["finegan_params"] == reference["h_net2"]
    for encoder in ("E_bg", "E_p", "E_c"):
        assert networks[encoder]["finegan_params"] is None and networks[encoder]["finegan_module"] is None
    assert card["finegan_unmatched"] == {"D_NET(1)": reference["D_NET(1)"]}


def test_a_renamed_attribute_or_an_unclaimed_parameter_fails_loudly(monkeypatch):
    config = OneGANConfig.preset("smoke", 6, 2)
    renamed = tuple(dataclasses.replace(s, paths=("bg_generator",)) if s.name == "G_bg" else s
                    for s in model_card.NETWORKS)
    monkeypatch.setattr(model_card, "NETWORKS", renamed)
    with pytest.raises(model_card.ModelCardError, match=r"no attribute 'bg_generator' \(symbol G_bg\)"):
        model_card.build_card(config, measure_batch=None)
    monkeypatch.setattr(model_card, "NETWORKS", tuple(s for s in renamed if s.name != "G_bg"))
    with pytest.raises(model_card.ModelCardError, match="no symbol .* claims OneGANModel parameters background_gen"):
        model_card.build_card(config, measure_batch=None)


def test_flop_counter_convention_on_a_linear_layer():
    """What the card's FLOPs mean: multiply-add = 2, backward counted (grad of weight and of input)."""
    n, d_in, d_out = 5, 7, 3
    layer = nn.Linear(d_in, d_out)
    x = torch.randn(n, d_in, requires_grad=True)
    with torch.utils.flop_counter.FlopCounterMode(display=False) as counter:
        layer(x).sum().backward()
    assert counter.get_total_flops() == 3 * (2 * n * d_in * d_out)


def test_training_flops_are_linear_in_batch_and_grow_with_each_phase():
    config = OneGANConfig.preset("smoke", 6, 2)
    state = torch.random.get_rng_state()
    at_1 = model_card.training_flops(config, measure_batch=1)
    at_2 = model_card.training_flops(config, measure_batch=2)
    assert torch.equal(torch.random.get_rng_state(), state)  # the card leaves the global RNG alone
    assert at_1 == at_2  # both scaled to the preset's batch of 8: counted FLOPs are exactly linear in batch
    assert 0 < at_1["phase1"] < at_1["phase2_fake"] < at_1["phase2_real"]
    # A schedule that never adds real images has no Phase II-b.
    no_real = config.with_ablation("no-real-recon")
    assert model_card.training_flops(no_real)["phase2_real"] is None


def test_bench_describe_json_and_text(capsys):
    assert bench_main(["describe", "--preset", "smoke", "--classes", "6", "--parents", "2", "--format", "json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert set(card["networks"]) == {"G_bg", "G_fg", "E_bg", "E_p", "E_c", "V", "D_bg", "D_c"}
    for row in card["networks"].values():
        assert {"params", "finegan_params", "finegan_module", "module"} <= set(row)
    assert set(card["flops"]) == {"phase1", "phase2_fake", "phase2_real"}
    assert card["flops_measurement"]["scaled_to_batch_size"] == 8
    assert bench_main(["describe", "--preset", "smoke", "--classes", "6", "--parents", "2", "--no-flops"]) == 0
    text = capsys.readouterr().out
    assert "G_fg0" in text and "D_NET(2)" in text and "GFLOP" not in text
    assert bench_main(["describe", "--preset", "smoke", "--classes", "0"]) == 2
    assert "need NC, NP >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(("classes", "parents"), [(200, 20), (120, 12), (196, 14)])
def test_paper_preset_networks_are_within_15_percent_of_finegan(classes, parents):
    """Issue 9: every network with a FineGAN counterpart (and every foreground stage) has FineGAN's
    size at the paper preset, for each dataset's NC/NP."""
    card = model_card.build_card(OneGANConfig.preset("paper", classes, parents), measure_batch=None)
    rows = {**card["networks"], **card["g_fg_stages"]}
    compared = {name: row for name, row in rows.items() if row["finegan_params"]}
    assert {"G_bg", "G_fg", "D_bg", "D_c", "G_fg0 + up", "G_fg1 join", "G_fg2"} <= set(compared)
    for name, row in compared.items():
        assert abs(row["params"] / row["finegan_params"] - 1) <= 0.15, (name, row)
