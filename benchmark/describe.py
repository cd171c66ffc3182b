"""``bench describe``: print the OneGAN model card (parameters per paper symbol beside FineGAN's, FLOPs
per training step per phase) as text or JSON. The card itself is built by ``onegan.model_card``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.cli_options import cli
from onegan.config import PRESETS
from onegan.model_card import PHASES


@dataclass(frozen=True)
class DescribeOptions:
    """What ``bench describe`` (and ``describe``) takes; field order is the help's order."""

    preset: str = field(default="paper", metadata=cli("OneGAN preset (default: paper)", choices=sorted(PRESETS)))
    classes: int = field(default=200, metadata=cli("NC child classes (default: CUB's 200)", type=int))
    parents: int = field(default=20, metadata=cli("NP parent classes (default: CUB's 20)", type=int))
    format: str = field(default="text", metadata=cli("text (an aligned table) or json", choices=("text", "json")))
    flops_batch: int = field(default=1, metadata=cli(
        "batch at which one training step is run to count FLOPs, scaled linearly to the preset's batch "
        "(default: 1)", type=int))
    flops: bool = field(default=True, metadata=cli("parameters only (skips the training steps)"))


DEFAULTS = DescribeOptions()


def _millions(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.3f}M" if n >= 100_000 else f"{n:,}"


def _ratio(ours: int, finegan: int | None) -> str:
    return "-" if not finegan else f"{ours / finegan:.2f}"


def _short_module(module: str) -> str:
    """'OneGANModel.g.a + OneGANModel.g.b' -> 'OneGANModel.g.{a, b}' for the text table."""
    paths = module.split(" + ")
    heads = {p.rsplit(".", 1)[0] for p in paths}
    if len(paths) == 1 or len(heads) != 1:
        return module
    return f"{heads.pop()}.{{{', '.join(p.rsplit('.', 1)[1] for p in paths)}}}"


def render_text(card: dict[str, Any]) -> str:
    """The card as an aligned plain-text table."""
    lines = [f"OneGAN model card: preset {card['preset']}, NC {card['num_classes']}, NP {card['num_parents']}, "
             f"{card['image_size']} px, batch {card['batch_size']}",
             f"FineGAN reference: {card['finegan_reference']['source']} ({card['finegan_reference']['config']}); "
             f"data in {card['finegan_reference']['file']}", ""]
    rows = [("symbol", "params", "FineGAN", "ours/FG", "FineGAN module", "OneGAN module")]
    for prefix, group in (("", card["networks"]), ("  ", card["g_fg_stages"])):
        for symbol, entry in group.items():
            rows.append((prefix + symbol, _millions(entry["params"]), _millions(entry["finegan_params"]),
                         _ratio(entry["params"], entry["finegan_params"]), entry["finegan_module"] or "(none)",
                         _short_module(entry["module"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) if i in (0, 4) else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=False))) + "  " + row[-1])
    totals = card["totals"]
    pair = _millions(totals["discriminator_pair"])
    lines += ["",
              f"trained parameters: {_millions(totals['trained_phase1'])} in Phase I (generators, encoders, "
              f"embeddings {_millions(totals['model'])} + one D_bg/D_c pair {pair}); "
              f"{_millions(totals['trained_phase2'])} in Phase II (a pair per path)",
              "FineGAN networks without a OneGAN counterpart: "
              + ", ".join(f"{name} {_millions(n)}" for name, n in card["finegan_unmatched"].items())]
    if card["flops"] is not None:
        measurement = card["flops_measurement"]
        lines += ["", f"FLOPs per training step at batch {measurement['scaled_to_batch_size']} "
                      f"(counted at batch {measurement['measured_batch_size']} on {measurement['device']}, scaled "
                      "linearly; FlopCounterMode: matmuls + convolutions, forward + backward, multiply-add = 2)"]
        for key, label in PHASES:
            value = card["flops"][key]
            lines.append(f"  {label.ljust(55)} {'not reached' if value is None else f'{value / 1e9:,.1f} GFLOP'}")
    return "\n".join(lines)


def describe(preset: str = DEFAULTS.preset, classes: int = DEFAULTS.classes, parents: int = DEFAULTS.parents,
             format: str = DEFAULTS.format, flops_batch: int = DEFAULTS.flops_batch,
             flops: bool = DEFAULTS.flops) -> dict[str, Any]:
    """The API behind ``bench describe`` (the options of ``DescribeOptions``): print OneGAN's model card
    at ``preset`` for NC = ``classes``, NP = ``parents`` (``format`` text or json) and return it;
    ``flops`` False skips the training steps that count FLOPs."""
    from onegan.config import OneGANConfig
    from onegan.model_card import build_card

    config = OneGANConfig.preset(preset, classes, parents)
    card = build_card(config, measure_batch=flops_batch if flops else None)
    print(json.dumps(card, indent=2) if format == "json" else render_text(card))
    return card
