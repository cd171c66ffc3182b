"""PNG figures in the spirit of the paper's Fig. 3-6, per method, from its inference API only.

- ``<method>_generation.png`` (Fig. 5): one row per child code, one column per noise vector z;
- ``<method>_segmentation.png`` (Fig. 4, masks): real images, predicted masks, GT masks;
- OneGAN also: ``onegan_reconstruction.png`` (Fig. 4: real, reconstruction, object removed, predicted
  mask) and ``onegan_translation.png`` (Fig. 6: each real image re-rendered with several child codes).
An external method's figures are named ``external-<name>_...`` (its ``name=``, see ``file_stem``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from benchmark.methods import METHODS
from benchmark.run_context import RunContext
from benchmark.tasks.common import rows_with_masks, rows_with_objects
from core.atomic import atomic_path
from core.contract import Method
from data_prep.datasets import ObjectImages


def _save(grid: torch.Tensor, path: Path, nrow: int) -> None:
    # imported here: torchvision's import pulls in torch._dynamo (~2 s), which a cluster job that only
    # trains and scores would pay at every start
    from torchvision.utils import save_image

    with atomic_path(path) as tmp:
        save_image(grid.float().clamp(0, 1).cpu(), tmp, nrow=nrow, format="png")


def _real_batch(ctx: RunContext, indices: np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = ObjectImages(ctx.prepared, role=None)
    items = [dataset[int(i)] for i in indices[:n]]
    return torch.stack([it["image"] for it in items]), torch.stack([it["mask"] for it in items])


def _as_rgb(masks: torch.Tensor, size: int) -> torch.Tensor:
    masks = torch.nn.functional.interpolate(masks.float(), size=(size, size), mode="nearest")
    return masks.expand(-1, 3, -1, -1)


@torch.inference_mode()
def method_figures(ctx: RunContext, name: str, method, out_dir: Path, columns: int = 8) -> list[Path]:
    written = []
    size = ctx.prepared.size
    device = ctx.device
    if method.can("generate"):
        codes = torch.arange(min(ctx.prepared.num_classes, 8), device=device).repeat_interleave(columns)
        torch.manual_seed(0)
        images = torch.nn.functional.interpolate(method.generate(codes).float().cpu(), size=(size, size))
        written.append(out_dir / f"{name}_generation.png")
        _save(images, written[-1], columns)
    masked = rows_with_masks(ctx.prepared)
    if method.can("segment") and len(masked):
        real, gt = _real_batch(ctx, masked, columns)
        if getattr(method, "by_id", False):  # an external method's masks are looked up by image id
            ids = ctx.prepared.manifest["image_id"].to_numpy()[masked[:columns]].tolist()
            pred = method.segment_ids(ids, size).float().cpu()
        else:
            pred = method.segment(real.to(device)).float().cpu()
        written.append(out_dir / f"{name}_segmentation.png")
        _save(torch.cat([real, _as_rgb(pred, size), _as_rgb(gt, size)]), written[-1], columns)
    if hasattr(method, "reconstruct") and hasattr(method, "remove_object"):
        real, gt = _real_batch(ctx, rows_with_objects(ctx.prepared), columns)
        rec = _resize(method.reconstruct(real.to(device)), size)
        bg = _resize(method.remove_object(real.to(device)), size)
        pred = method.segment(real.to(device)).float().cpu()
        written.append(out_dir / f"{name}_reconstruction.png")
        _save(torch.cat([real, rec, bg, _as_rgb(gt, size), _as_rgb(pred, size)]), written[-1], columns)
    if hasattr(method, "translate"):
        real, _ = _real_batch(ctx, rows_with_objects(ctx.prepared), 6)
        targets = list(range(min(ctx.prepared.num_classes, columns - 1)))
        rows = [torch.cat([r[None], _resize(method.translate(r[None].expand(len(targets), -1, -1, -1).to(device),
                                                             torch.tensor(targets, device=device)), size)])
                for r in real]
        written.append(out_dir / f"{name}_translation.png")
        _save(torch.cat(rows), written[-1], len(targets) + 1)
    return written


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    return torch.nn.functional.interpolate(images.float().cpu(), size=(size, size), mode="bilinear",
                                           align_corners=False)


# What a method's figures are drawn from: the method object scored in this run, or the checkpoint
# file its recorded cells were scored with (loaded, never trained).
FigureSource = Method | Path


def recorded_checkpoint(records: list[dict], cell: dict) -> Path | None:
    """The checkpoint the latest record of ``cell`` (method, variant, fingerprint, seed, preset) names."""
    found = None
    for r in records:
        if all((r.get(k) or None) == (cell.get(k) or None) for k in ("method", "variant", "dataset_fingerprint",
                                                                     "seed", "preset")) and r.get("checkpoint"):
            found = Path(r["checkpoint"])
    return found if found is not None and found.exists() else None


def write_figures(ctx: RunContext, sources: dict[str, FigureSource], out_dir: Path) -> list[Path]:
    """Figures for the models the run scored (``sources``: per method, the model or its checkpoint).
    Drawing never trains: a method with no scored model or recorded checkpoint gets no figures.
    Failures to draw never lose results."""
    written = []
    for name, source in sources.items():
        if name not in METHODS and isinstance(source, Path):
            continue
        method = _load(name, source, ctx.device) if isinstance(source, Path) else source
        written += method_figures(ctx, file_stem(name), method, out_dir)
    if written:
        print(f"figures: {out_dir}")
    return written


def file_stem(name: str) -> str:
    """A method's name as a file name: known names as they are; ``external:<name>`` as
    ``external-<name>`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    if name in METHODS:
        return name
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("external:", "external-", 1))


def _load(name: str, checkpoint: Path, device: str):
    import importlib

    return importlib.import_module(METHODS[name].module).load(checkpoint, device=device)
