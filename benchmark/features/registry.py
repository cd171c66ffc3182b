"""Feature extractors behind one interface and a name registry (torch-fidelity's pattern).

An extractor turns float image batches (N, 3, H, W) in [0, 1] into features (N, D) (for FID) and
class probabilities (N, K) (for IS), and carries an ``identity`` string that changes whenever its
outputs would (weights file hash, architecture, input size): cached real-data statistics are keyed
by it.

Names: ``get_extractor("inception", weights=FILE)``; a name with a colon passes the rest as the
first argument, e.g. ``get_extractor("evaluator:runs/evaluators/cub-small.pt")``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from core.device import pick_device


class Extractor:
    """Base class. Subclasses implement ``features_and_probs`` (one forward pass for both)."""

    identity: str = "extractor"
    device: torch.device = torch.device("cpu")

    def features_and_probs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_probs(images)[0]

    def probs(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_probs(images)[1]

    def to(self, device: str | torch.device) -> Extractor:
        """Move to ``device``; subclasses with modules override and call this."""
        self.device = torch.device(device)
        return self

    @staticmethod
    def check_images(images: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(images) or images.dim() != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
            raise ValueError(f"images must be a float tensor (N, 3, H, W) in [0, 1]; got {shape}")
        if not images.is_floating_point():
            raise ValueError(f"images must be float in [0, 1]; got dtype {images.dtype}")
        return images

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r})"


ExtractorFactory = Callable[..., Extractor]
_REGISTRY: dict[str, ExtractorFactory] = {}


def register_extractor(name: str, factory: ExtractorFactory, *, replace: bool = False) -> None:
    """Make ``get_extractor(name, ...)`` call ``factory(...)``. Names contain no colon."""
    if not name or ":" in name or name.strip() != name:
        raise ValueError(f"extractor name {name!r} must be non-empty, without ':' or surrounding spaces")
    if name in _REGISTRY and not replace:
        raise ValueError(f"extractor {name!r} is already registered")
    _REGISTRY[name] = factory


def registered_extractors() -> list[str]:
    return sorted(_REGISTRY)


def get_extractor(name: str, **options: object) -> Extractor:
    """Build the extractor registered as ``name`` (``"kind:argument"`` passes ``argument`` first)."""
    kind, _, argument = name.partition(":")
    if kind not in _REGISTRY:
        raise ValueError(f"unknown feature extractor {kind!r}; registered: {', '.join(registered_extractors())}")
    factory = _REGISTRY[kind]
    return factory(argument, **options) if argument else factory(**options)


def default_device() -> torch.device:
    """``core.device.pick_device()`` (kept under this name for importers)."""
    return pick_device()
