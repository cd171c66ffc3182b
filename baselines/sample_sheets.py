"""What the baselines show in TensorBoard while they train (``core.tensorboard_log.SampleSheets``):
the loops (``core.training_run.run_training``, ``baselines.gan_training.run_phase``) decide when and
draw without disturbing training; the methods only say what to draw, with these helpers.

- segmentation baselines (IIC-seg, ReDO, W-Net): ``segmentation_sheets`` - a few fixed training
  images (chosen once by a generator of their own), the method's rows for them (its predicted mask,
  W-Net's reconstruction) and their ground-truth masks when the prepared data has them;
- GAN baselines (FineGAN∗, StackGANv2∗): ``spread_codes`` picks the child codes of the rows, spread
  over the parents; the fixed noise comes from ``fixed_generator``.

Clustering baselines (IIC, JULE, DEPICT, k-means) draw nothing: their output is a label per image,
which the loss curves and the scores show better than a grid would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from baselines.object_tensors import ObjectTensors
from core.tensorboard_log import SampleSheets, image_rows

SAMPLE_IMAGES = 8   # columns of a sheet: fixed training images or fixed noise vectors


def fixed_generator(seed: int) -> torch.Generator:
    """A CPU generator of the sheets' own (the training streams never see it), seeded afresh at every
    draw so that each sheet shows the same inputs."""
    return torch.Generator().manual_seed(seed)


def spread_codes(count: int, num_classes: int) -> torch.Tensor:
    """``count`` child codes spread evenly over [0, num_classes): children of one parent are consecutive
    (``data_prep.prepared.parent_of``), so the rows show different parents as well."""
    stride = max(1, num_classes // count)
    return (torch.arange(count) * stride) % num_classes


def fixed_images(objects: ObjectTensors, seed: int, count: int = SAMPLE_IMAGES
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``count`` training images in [0, 1] (float, CPU) picked by ``fixed_generator(seed)``, taken among
    those with a ground-truth mask when any has one, and their masks (None when none has one)."""
    with_mask = torch.nonzero(objects.has_mask).flatten()
    pool = with_mask if with_mask.numel() else torch.arange(len(objects))
    chosen = pool[torch.randperm(pool.numel(), generator=fixed_generator(seed))[:count]].sort().values
    images = objects.images[chosen].float().div(255.0)
    masks = objects.masks[chosen].float() if with_mask.numel() else None
    return images, masks


def segmentation_sheets(objects: ObjectTensors, rows: Callable[[torch.Tensor], Sequence[torch.Tensor]], *,
                        seed: int, every: int, modules: Sequence[torch.nn.Module], device: torch.device,
                        count: int = SAMPLE_IMAGES) -> SampleSheets:
    """The sheet ``samples/segmentation``: the fixed images, ``rows(images)`` (images in [0, 1] on
    ``device``; each row (n, 1 or 3, S, S) in [0, 1], e.g. the predicted foreground probability) and the
    GT masks when there are any."""
    images, masks = fixed_images(objects, seed, count)

    def draw() -> dict[str, torch.Tensor]:
        on_device = images.to(device)
        sheet = [images, *rows(on_device)]
        if masks is not None:
            sheet.append(masks)
        return {"segmentation": image_rows(sheet)}

    return SampleSheets(every, draw, tuple(modules))
