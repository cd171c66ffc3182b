"""Where does a trained OneGAN put its codes? E_p's and E_c's accuracy at recovering (φ_p, φ_c) from
generated images, clean and after one perturbation each:

- ``noise``, ``blur``: faint changes a viewer would not notice (a code hidden in them is steganography);
- ``background_swap``: the generated object (I_fg, I_m) recomposed on another sample's I_bg
  (target: the object's code); ``object_on_grey``: on a flat grey background;
- ``mirror``, ``quarter_turn``: the image mirrored / turned by 90° (real poses are random and reals
  are flipped in training, so a code in the handedness or orientation does not transfer).

Chance is 1/NP and 1/NC. One JSON line per checkpoint in ``--result``:

    .venv/bin/python scripts/onegan_code_carriers.py --name tiny_s0@7200 runs/.../snapshot_0007200.pt
    .venv/bin/python scripts/onegan_code_carriers.py --summary
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from core.atomic import append_jsonl, read_jsonl  # noqa: E402
from core.errors import UserError  # noqa: E402
from core.provenance import git_commit, package_versions  # noqa: E402
from data_prep.prepared import parent_of  # noqa: E402
from onegan.inference import OneGAN  # noqa: E402
from onegan.networks.generators import compose  # noqa: E402

PERTURBATIONS = ("clean", "noise", "blur", "background_swap", "object_on_grey", "mirror", "quarter_turn")


def perturbed_images(generated, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Every perturbation of a batch of generated images (in [-1, 1]); ``background_swap`` takes each
    object's background from a random other sample (the target stays the object's code)."""
    image, n = generated.image, generated.image.shape[0]
    permutation = torch.randperm(n, generator=generator)
    kernel = (torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16).expand(3, 1, 3, 3)
    images = {
        "clean": image,
        "noise": image + 0.05 * torch.randn(image.shape, generator=generator),
        "blur": F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=3),
        "background_swap": compose(generated.background[permutation], generated.foreground, generated.mask),
        "object_on_grey": compose(torch.zeros_like(generated.background), generated.foreground, generated.mask),
        "mirror": image.flip(-1),
        "quarter_turn": image.rot90(1, (-2, -1)),
    }
    return {name: x.clamp(-1, 1) for name, x in images.items()}


@torch.no_grad()
def code_accuracies(method: OneGAN, per_code: int = 64, seed: int = 123) -> dict[str, dict[str, float]]:
    """{perturbation: {"parent": E_p accuracy, "child": E_c accuracy}} on ``per_code`` fakes per child code."""
    cfg, model = method.config.model, method.model
    generator = torch.Generator().manual_seed(seed)
    child = torch.arange(cfg.num_classes).repeat_interleave(per_code)
    parent = parent_of(child, cfg.num_classes, cfg.num_parents)
    z = torch.randn(len(child), cfg.z_dim, generator=generator)
    generated = model.generate(child.to(method.device), parent.to(method.device), z.to(method.device))
    out = {}
    for name, image in perturbed_images(generated, generator).items():
        predicted_parent = model.shape_encoder(image).parent_logits.argmax(1).cpu()
        predicted_child = model.style_encoder(image).child_logits.argmax(1).cpu()
        out[name] = {"parent": round(float((predicted_parent == parent).float().mean()), 3),
                     "child": round(float((predicted_child == child).float().mean()), 3)}
    return out


def summary(rows: list[dict]) -> str:
    from tabulate import tabulate

    table = [[r["name"], r["iteration"], *(f"{r['accuracy'][p]['parent']:.2f} / {r['accuracy'][p]['child']:.2f}"
                                           for p in PERTURBATIONS)] for r in rows]
    return tabulate(table, headers=["model", "iterations", *PERTURBATIONS], tablefmt="github")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", type=Path)
    parser.add_argument("--name")
    parser.add_argument("--result", type=Path, default=Path("results/studies/code_carriers/onegan_code_carriers.jsonl"))
    parser.add_argument("--summary", action="store_true", help="print the table of --result and stop")
    args = parser.parse_args()
    if args.summary:
        print(summary(list(read_jsonl(args.result))))
        return
    if args.checkpoint is None or not args.name:
        parser.error("give a checkpoint and --name (or --summary)")
    torch.set_num_threads(1)
    try:
        method = OneGAN.from_checkpoint(args.checkpoint, "cpu")
    except UserError as err:
        parser.error(str(err))
    row = {"name": args.name, "checkpoint": str(args.checkpoint), "iteration": method.iteration,
           "config": method.config.to_dict(), "git_commit": git_commit(), "versions": package_versions(),
           "accuracy": code_accuracies(method)}
    append_jsonl(args.result, row)
    print(summary([row]))


if __name__ == "__main__":
    main()
