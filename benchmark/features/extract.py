"""Images -> (features, probabilities) through an extractor: batched, no autograd, on the
extractor's device (GPU when present), with a progress bar."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from benchmark.features.registry import Extractor

ImageSource = torch.Tensor | Dataset | Iterable


def _image_of(item: object) -> torch.Tensor:
    """The image tensor of a dataset item or batch: a tensor, a dict with 'image', or a tuple's first."""
    if torch.is_tensor(item):
        return item
    if isinstance(item, dict) and "image" in item:
        return item["image"]
    if isinstance(item, tuple | list) and item and torch.is_tensor(item[0]):
        return item[0]
    raise ValueError(f"cannot find images in a {type(item).__name__}: expected a tensor (N, 3, H, W), a dict "
                     "with 'image', or a tuple whose first entry is the images")


def iterate_batches(images: ImageSource, batch_size: int) -> tuple[Iterator[torch.Tensor], int | None]:
    """(iterator over (B, 3, H, W) batches, total image count if known) for any supported source."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive; got {batch_size}")
    if torch.is_tensor(images):
        if images.dim() != 4:
            raise ValueError(f"images must be (N, 3, H, W); got shape {tuple(images.shape)}")
        return (images[i:i + batch_size] for i in range(0, images.shape[0], batch_size)), images.shape[0]
    if isinstance(images, Dataset) and hasattr(images, "__len__"):
        loader = DataLoader(images, batch_size=batch_size, shuffle=False, num_workers=0)
        return (_image_of(batch) for batch in loader), len(images)
    if isinstance(images, Iterable):
        return (_image_of(batch) for batch in images), None
    raise ValueError(f"images must be a tensor, a Dataset or an iterable of batches; got {type(images).__name__}")


def extract(images: ImageSource, extractor: Extractor, batch_size: int = 64, progress: bool = True,
            desc: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """(features (N, D), probs (N, K)) as float64 arrays for all images of ``images``.

    ``images``: a float tensor (N, 3, H, W) in [0, 1], a torch Dataset (items: tensor or dict with
    'image', e.g. ``ObjectImages``), or an iterable of such batches (e.g. a generator of fakes).
    """
    batches, total = iterate_batches(images, batch_size)
    features, probs = [], []
    with torch.inference_mode(), tqdm(total=total, unit="img", desc=desc, disable=not progress,
                                      leave=False) as bar:
        for batch in batches:
            batch_features, batch_probs = extractor.features_and_probs(Extractor.check_images(batch))
            features.append(batch_features.double().cpu().numpy())
            probs.append(batch_probs.double().cpu().numpy())
            bar.update(batch.shape[0])
    if not features:
        raise ValueError("no images to extract features from (the source was empty)")
    return np.concatenate(features), np.concatenate(probs)
