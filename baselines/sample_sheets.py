"""What the baselines show in TensorBoard while they train (``core.tensorboard_log.SampleSheets``):
the loops (``core.training_run.run_training``, ``baselines.gan_training.run_phase``) decide when and
draw without disturbing training; the methods only say what to draw, with these helpers.

- segmentation baselines (IIC-seg, ReDO, W-Net): ``segmentation_sheets`` - a few fixed training
  images (chosen once by a generator of their own), the method's rows for them (its predicted mask,
  W-Net's reconstruction) and their ground-truth masks when the prepared data has them;
- GAN baselines (FineGAN∗, StackGANv2∗): ``spread_codes`` picks the child codes of the rows, spread
  over the parents; the fixed noise comes from ``fixed_generator``;
- clustering baselines (IIC, JULE, DEPICT): ``cluster_sheets`` - a fixed pool of training images
  grouped by the cluster the method puts them in now: one row per cluster (the largest ones), its
  images side by side, so a coherent cluster shows as a row of look-alikes. k-means trains in one
  step and UISB not at all: they draw nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from baselines.object_tensors import ObjectTensors
from core.tensorboard_log import SampleSheets, image_rows

SAMPLE_IMAGES = 8   # columns of a sheet: fixed training images or fixed noise vectors
CLUSTER_ROWS = 4    # clusters shown (the largest in the pool)
CLUSTER_POOL = 64   # training images the clusters are drawn from


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


def cluster_rows(images: torch.Tensor, labels: torch.Tensor, rows: int = CLUSTER_ROWS,
                 columns: int = SAMPLE_IMAGES) -> list[torch.Tensor]:
    """``rows`` rows of ``columns`` images (n, C, H, W): the clusters of ``labels`` (n,) with the most
    images (ties: the smaller label), each row its first images in pool order, black after its last."""
    found, sizes = torch.unique(labels, return_counts=True)
    order = sorted(range(found.numel()), key=lambda i: (-int(sizes[i]), int(found[i])))[:rows]
    sheet = []
    for i in order:
        members = images[labels == found[i]][:columns]
        blank = images.new_zeros(columns - members.shape[0], *images.shape[1:])
        sheet.append(torch.cat([members, blank]))
    return sheet


def cluster_sheets(images: torch.Tensor, labels_of: Callable[[torch.Tensor], torch.Tensor | None], *, seed: int,
                   every: int, modules: Sequence[torch.nn.Module], pool: int = CLUSTER_POOL) -> SampleSheets:
    """The sheet ``samples/clusters``: ``pool`` training images of ``images`` (uint8 (N, 3, S, S)) picked
    by ``fixed_generator(seed)``, grouped by ``labels_of(index)`` (their clusters now, (pool,) ints, from
    their indices into ``images``; None: no clustering yet, nothing is drawn)."""
    index = torch.randperm(images.shape[0], generator=fixed_generator(seed))[:pool].sort().values
    shown = images[index.to(images.device)].float().div(255.0).cpu()

    def draw() -> dict[str, torch.Tensor]:
        labels = labels_of(index)
        return {} if labels is None else {"clusters": image_rows(cluster_rows(shown, labels.cpu()))}

    return SampleSheets(every, draw, tuple(modules))
