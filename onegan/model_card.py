"""The model card: every OneGAN network under its paper symbol with its parameter count, the FLOPs of one
training step per phase, and FineGAN's reference count beside it (``bench describe``).

``build_card(config)`` is a pure function of the configuration (global RNG state is restored). It
reads the networks through ``NETWORKS`` / ``G_FG_STAGES``, the one table that maps a paper symbol to
attribute paths on ``OneGANModel`` or ``DiscriminatorPair`` and to FineGAN's submodules; when the
networks are restructured, update that table. A missing attribute, or a parameter that no symbol
claims (or two claim), stops the card with ``ModelCardError`` rather than printing a wrong count.

Parameters are counted on networks built on the meta device (no memory, no initialisation). FLOPs
are counted by ``torch.utils.flop_counter.FlopCounterMode`` around one real ``Trainer.step`` (both
optimiser steps, all forwards and backwards) at the preset's shapes, on CPU, at a small measuring
batch, then scaled to the preset's batch: every operation the counter counts (matmuls and
convolutions, forward and backward) is linear in the batch size, which a test checks.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.errors import UserError
from onegan.config import OneGANConfig
from onegan.finegan_reference import FINEGAN_SOURCE, REFERENCE_FILE, finegan_module_params

Owner = Literal["model", "discriminators"]


class ModelCardError(UserError, LookupError):
    """The symbol table no longer matches the networks (renamed attribute, unclaimed parameters)."""


@dataclass(frozen=True)
class Symbol:
    """One row of the card: a paper symbol, the attribute paths that hold it, FineGAN's counterpart."""

    name: str
    owner: Owner                       # "model": OneGANModel; "discriminators": one DiscriminatorPair
    paths: tuple[str, ...]             # dotted attribute paths on the owner
    finegan: tuple[str, ...] | None    # FineGAN submodules (code/model.py names); None: no counterpart
    role: str


# The mapping table. Edit here when the networks are restructured.
NETWORKS: tuple[Symbol, ...] = (
    Symbol("G_bg", "model", ("background_generator",), ("h_net1_bg", "img_net1_bg"),
           "background generator, Eq. 3"),
    # OneGAN merges FineGAN's parent and child foreground stages into one generator (paper §2 (iv)),
    # so its counterpart is FineGAN's whole foreground side, image and mask heads of both stages included.
    Symbol("G_fg", "model", ("foreground_generator",),
           ("h_net1", "h_net2", "img_net2", "img_net2_mask", "h_net3", "img_net3", "img_net3_mask"),
           "foreground generator (I_fg, I_m), Eq. 4"),
    Symbol("E_bg", "model", ("background_encoder",), None, "background encoder -> B_bg, Eq. 6"),
    Symbol("E_p", "model", ("shape_encoder",), None, "shape (parent) encoder, Eq. 7"),
    Symbol("E_c", "model", ("style_encoder",), None, "style (child) encoder, Eq. 8"),
    # FineGAN feeds one-hot codes straight into its stages; OneGAN learns embeddings.
    Symbol("V", "model", ("embeddings",), None, "code embeddings V_bg, V_p, V_c, Eq. 2"),
    Symbol("D_bg", "discriminators", ("background",), ("D_NET(0)",), "background patch discriminator"),
    Symbol("D_c", "discriminators", ("child",), ("D_NET(2)",), "child image discriminator"),
)

# G_fg = G_fg2 ∘ G_fg1 ∘ G_fg0 (Eq. 4) beside FineGAN's init, parent and child stages.
G_FG_STAGES: tuple[Symbol, ...] = (
    # G_fg0 ends at the pre-image A_fg (S/4); FineGAN's h_net1 goes on to full size, so the up blocks
    # that open G_fg1 are counted with it to compare like with like.
    Symbol("G_fg0 + up", "model", ("foreground_generator.to_preimage", "foreground_generator.preimage_up"),
           ("h_net1",), "(v_p, z) -> A_fg at S/4, then G_fg1's up blocks to S"),
    Symbol("G_fg1 join", "model", ("foreground_generator.parent_stage",), ("h_net2",),
           "joins v_p: ResBlocks, sameBlock"),
    Symbol("G_fg2", "model", ("foreground_generator.child_stage", "foreground_generator.to_rgb",
                              "foreground_generator.to_mask"),
           ("h_net3", "img_net3", "img_net3_mask"), "joins v_c -> I_fg, I_m"),
)

# FineGAN networks that OneGAN drops (paper §2 (iv): no separate parent discriminator).
FINEGAN_UNMATCHED: tuple[str, ...] = ("D_NET(1)",)

PHASES: tuple[tuple[str, str], ...] = (
    ("phase1", "Phase I: generation path"),
    ("phase2_fake", "Phase II-a: + fake reconstruction (cloned D_bg, D_c)"),
    ("phase2_real", "Phase II-b: + real reconstruction"),
)


def _resolve(root: nn.Module, owner_name: str, symbol: Symbol, path: str) -> nn.Module:
    module: Any = root
    for part in path.split("."):
        if not hasattr(module, part):
            raise ModelCardError(
                f"model card: {owner_name} has no attribute {path!r} (symbol {symbol.name}); update the "
                "symbol table in onegan/model_card.py to the current networks")
        module = getattr(module, part)
    if not isinstance(module, nn.Module):
        raise ModelCardError(f"model card: {owner_name}.{path} (symbol {symbol.name}) is a "
                             f"{type(module).__name__}, not a network")
    return module


def _claimed(root: nn.Module, owner_name: str, symbol: Symbol) -> dict[int, nn.Parameter]:
    params: dict[int, nn.Parameter] = {}
    for path in symbol.paths:
        for p in _resolve(root, owner_name, symbol, path).parameters():
            params[id(p)] = p
    return params


def _partition(root: nn.Module, owner_name: str, symbols: Sequence[Symbol], universe: dict[int, str],
               whole: str) -> dict[str, int]:
    """Parameter count per symbol; the symbols must split ``universe`` (parameter id -> name) exactly."""
    seen: dict[int, str] = {}
    counts: dict[str, int] = {}
    for symbol in symbols:
        claimed = _claimed(root, owner_name, symbol)
        for key in claimed:
            if key in seen:
                raise ModelCardError(f"model card: parameter {owner_name}.{universe.get(key, '?')} is claimed by both "
                                     f"{seen[key]} and {symbol.name}; fix the symbol table in onegan/model_card.py")
            if key not in universe:
                raise ModelCardError(f"model card: {symbol.name} claims parameters outside {whole}; fix the symbol "
                                     "table in onegan/model_card.py")
            seen[key] = symbol.name
        counts[symbol.name] = sum(p.numel() for p in claimed.values())
    missing = sorted(name for key, name in universe.items() if key not in seen)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ModelCardError(f"model card: no symbol of {whole} claims {owner_name} parameters {shown}; add them "
                             "to the symbol table in onegan/model_card.py")
    return counts


def build_networks(config: OneGANConfig, device: torch.device | str = "meta") -> tuple[nn.Module, nn.Module]:
    """(OneGANModel, one DiscriminatorPair) built on ``device`` (meta: shapes only, no memory)."""
    from onegan.model import OneGANModel
    from onegan.networks.discriminators import DiscriminatorPair

    with torch.device(device):
        return OneGANModel(config.model), DiscriminatorPair(config.model)


def parameter_counts(config: OneGANConfig) -> dict[str, int]:
    """Parameters per symbol of ``NETWORKS`` and ``G_FG_STAGES``, checked to split the networks (and
    G_fg) exactly."""
    model, pair = build_networks(config)
    owners = {"model": (model, "OneGANModel"), "discriminators": (pair, "DiscriminatorPair")}
    counts: dict[str, int] = {}
    for owner, (root, owner_name) in owners.items():
        universe = {id(p): name for name, p in root.named_parameters()}
        counts.update(_partition(root, owner_name, [s for s in NETWORKS if s.owner == owner], universe,
                                 f"the {owner_name} rows of the card"))
    g_fg = next(s for s in NETWORKS if s.name == "G_fg")
    names = {id(p): name for name, p in model.named_parameters()}
    g_fg_params = {key: names[key] for key in _claimed(model, "OneGANModel", g_fg)}
    counts.update(_partition(model, "OneGANModel", G_FG_STAGES, g_fg_params, "G_fg (G_fg0/G_fg1/G_fg2)"))
    return counts


def _synthetic_prepared(root: Path):
    """A few-image synthetic dataset; the trainer resizes its images to the preset's image size, and
    the FLOP count does not depend on their content."""
    from data_prep.prepared import load_prepared
    from data_prep.synthetic import write_synthetic

    return load_prepared(write_synthetic(root, classes=2, parents=1, images=8, size=16, seed=0))


def training_flops(config: OneGANConfig, measure_batch: int = 1) -> dict[str, int | None]:
    """FLOPs of one training iteration per phase (``PHASES``), at ``config.train.batch_size``.

    Runs ``Trainer.step`` on CPU at batch ``measure_batch`` at the first iteration of each phase and
    scales linearly. A phase the schedule never reaches (e.g. ``real_reconstruction=False``) is None.
    """
    from onegan.schedule import PhaseSchedule
    from onegan.trainer import Trainer

    if measure_batch < 1:
        raise UserError(f"the FLOP-measuring batch must be >= 1, got {measure_batch}")
    schedule = PhaseSchedule(config.schedule)
    starts = {"phase1": 0, "phase2_fake": schedule.fake_start, "phase2_real": schedule.real_start}
    measured = dataclasses.replace(config, train=dataclasses.replace(config.train, batch_size=measure_batch))
    scale = config.train.batch_size / measure_batch
    flops: dict[str, int | None] = {}
    with tempfile.TemporaryDirectory(prefix="onegan-card-") as tmp, torch.random.fork_rng():
        trainer = Trainer(measured, _synthetic_prepared(Path(tmp) / "data"), Path(tmp) / "run", seed=0,
                          device="cpu", progress=False)
        for phase, _ in PHASES:
            start = starts[phase]
            if start is None:
                flops[phase] = None
                continue
            trainer.iteration = start
            with FlopCounterMode(display=False) as counter:
                trainer.step()
            flops[phase] = round(counter.get_total_flops() * scale)
    return flops


def _finegan_sum(modules: Sequence[str] | None, reference: dict[str, int]) -> int | None:
    return None if modules is None else sum(reference[m] for m in modules)


def build_card(config: OneGANConfig, measure_batch: int | None = 1) -> dict[str, Any]:
    """The card as a JSON-ready dict; ``measure_batch=None`` skips the FLOP count (fast)."""
    model_cfg = config.model
    counts = parameter_counts(config)
    reference = finegan_module_params(model_cfg.num_classes, model_cfg.num_parents)

    def entry(symbol: Symbol) -> dict[str, Any]:
        return {"params": counts[symbol.name], "finegan_params": _finegan_sum(symbol.finegan, reference),
                "finegan_module": None if symbol.finegan is None else " + ".join(symbol.finegan),
                "module": " + ".join(f"{'DiscriminatorPair' if symbol.owner == 'discriminators' else 'OneGANModel'}"
                                     f".{p}" for p in symbol.paths),
                "role": symbol.role}

    model_total = sum(counts[s.name] for s in NETWORKS if s.owner == "model")
    pair_total = sum(counts[s.name] for s in NETWORKS if s.owner == "discriminators")
    card: dict[str, Any] = {
        "preset": config.preset_name,
        "ablation": config.ablation,
        "num_classes": model_cfg.num_classes,
        "num_parents": model_cfg.num_parents,
        "image_size": model_cfg.image_size,
        "batch_size": config.train.batch_size,
        "networks": {s.name: entry(s) for s in NETWORKS},
        "g_fg_stages": {s.name: entry(s) for s in G_FG_STAGES},
        "totals": {
            "model": model_total,                          # generators, encoders, embeddings
            "discriminator_pair": pair_total,              # one D_bg + one D_c
            "trained_phase1": model_total + pair_total,
            "trained_phase2": model_total + 3 * pair_total,  # a pair per path after cloning (§4.3)
        },
        "finegan_unmatched": {m: reference[m] for m in FINEGAN_UNMATCHED},
        "finegan_reference": {"source": FINEGAN_SOURCE, "file": REFERENCE_FILE,
                              "config": "GF_DIM = DF_DIM = 64, Z_DIM = 100, R_NUM = 2, "
                                        f"NC = {model_cfg.num_classes}, NP = {model_cfg.num_parents}"},
        "flops": None,
        "flops_measurement": None,
    }
    if measure_batch is not None:
        card["flops"] = training_flops(config, measure_batch)
        card["flops_measurement"] = {
            "counter": "torch.utils.flop_counter.FlopCounterMode (matmuls and convolutions, forward + backward; "
                       "a multiply-add counts 2)",
            "what": "one Trainer.step: discriminator steps of every active path, then the generator/encoder step",
            "measured_batch_size": measure_batch,
            "scaled_to_batch_size": config.train.batch_size,
            "device": "cpu",
        }
    return card
