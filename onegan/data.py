"""Infinite, seeded training streams over a prepared dataset (X_c object images, X_bg patches).

Sample i of the global batch at iteration t is a pure function of (seed, t, i): the sampler walks
a fresh permutation per epoch (seeded by (seed, epoch)) and sample i of iteration t sits at position
t·B + i of that walk (B the global batch); its flip is element i of a draw over the whole global
batch seeded by (seed, t). A process of rank r among W takes samples r·B/W ... (r+1)·B/W - 1, so W
processes see exactly the samples one process would. The stream's whole state is the iteration
number stored in the checkpoint, and a resumed run sees exactly the batches an uninterrupted run would.
Small datasets are decoded once and kept in memory as uint8.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from data_prep.datasets import BackgroundPatches, ObjectImages
from data_prep.prepared import Prepared

_PRELOAD_LIMIT_BYTES = 2 * 1024 ** 3


class EpochSampler:
    """Index stream: epoch e is randperm(n) seeded by (seed, e); rank r takes positions r::world."""

    def __init__(self, size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if size < 1:
            raise ValueError("cannot sample from an empty dataset")
        self.size, self.seed, self.rank, self.world_size = size, seed, rank, world_size
        self._cache: tuple[int, torch.Tensor] | None = None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._cache is None or self._cache[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._cache = (epoch, torch.randperm(self.size, generator=generator))
        return self._cache[1]

    def batch(self, iteration: int, batch_size: int) -> torch.Tensor:
        """Indices of this rank's batch at ``iteration``: ``batch_size`` is the per-process share, the
        global batch is batch_size * world_size and this rank holds its rank-th slice."""
        start = (iteration * self.world_size + self.rank) * batch_size
        positions = torch.arange(start, start + batch_size)
        out = torch.empty(batch_size, dtype=torch.long)
        for epoch in positions.div(self.size, rounding_mode="floor").unique().tolist():
            chosen = positions.div(self.size, rounding_mode="floor") == epoch
            out[chosen] = self._permutation(epoch)[positions[chosen] % self.size]
        return out


def _stack(dataset: Dataset, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in range(len(dataset))]
    stacked = {}
    for key in keys:
        values = [item[key] for item in items]
        if key == "image":
            stacked[key] = torch.stack([(v * 255).round().to(torch.uint8) for v in values])
        elif key == "mask":
            stacked[key] = torch.stack([v.to(torch.uint8) for v in values])
        else:
            stacked[key] = torch.tensor(values)
    return stacked


class TrainingStreams:
    """Batches of real object images (with child/parent ids and masks for sample grids) and real
    background patches, in [0, 1] at the prepared size."""

    def __init__(self, prepared: Prepared, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.objects = ObjectImages(prepared, role="fg", flip=False)
        self.backgrounds = BackgroundPatches(prepared, flip=False)
        per_image = 3 * prepared.size ** 2
        self.preloaded = (len(self.objects) + len(self.backgrounds)) * per_image < _PRELOAD_LIMIT_BYTES
        if self.preloaded:
            self._objects = _stack(self.objects, ("image", "mask", "has_mask", "class_id", "parent_id"))
            self._backgrounds = _stack(self.backgrounds, ("image",))
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.object_sampler = EpochSampler(len(self.objects), seed, rank, world_size)
        self.background_sampler = EpochSampler(len(self.backgrounds), seed + 7919, rank, world_size)

    def _gather(self, dataset: Dataset, cache: dict | None, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        if cache is not None:
            out = {k: v[indices] for k, v in cache.items()}
            out["image"] = out["image"].float() / 255
            if "mask" in out:
                out["mask"] = out["mask"].float()
            return out
        items = [dataset[int(i)] for i in indices]
        out = {k: torch.stack([it[k] for it in items]) for k in ("image",)}
        if "mask" in items[0]:
            out["mask"] = torch.stack([it["mask"] for it in items])
            for key in ("has_mask", "class_id", "parent_id"):
                out[key] = torch.tensor([it[key] for it in items])
        return out

    def batch(self, iteration: int, batch_size: int, flip: bool) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """(object batch dict, background images): this rank's ``batch_size`` samples at ``iteration``."""
        objects = self._gather(self.objects, self._objects if self.preloaded else None,
                               self.object_sampler.batch(iteration, batch_size))
        backgrounds = self._gather(self.backgrounds, self._backgrounds if self.preloaded else None,
                                   self.background_sampler.batch(iteration, batch_size))["image"]
        if flip:
            # Drawn for the whole global batch, then sliced: sample i flips alike on any world size.
            generator = torch.Generator().manual_seed(hash((self.seed, iteration)) % (2 ** 63))
            share = slice(self.rank * batch_size, (self.rank + 1) * batch_size)
            flip_objects = (torch.rand(batch_size * self.world_size, generator=generator) < 0.5)[share]
            flip_backgrounds = (torch.rand(batch_size * self.world_size, generator=generator) < 0.5)[share]
            objects["image"][flip_objects] = objects["image"][flip_objects].flip(-1)
            objects["mask"][flip_objects] = objects["mask"][flip_objects].flip(-1)
            backgrounds[flip_backgrounds] = backgrounds[flip_backgrounds].flip(-1)
        return objects, backgrounds

    def fixed_objects(self, count: int) -> dict[str, torch.Tensor]:
        """The first ``count`` object images (for the Fig. 4 sample grid)."""
        indices = torch.arange(min(count, len(self.objects)))
        return self._gather(self.objects, self._objects if self.preloaded else None, indices)
