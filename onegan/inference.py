"""OneGAN at inference (the benchmark's ``Method``): generate, segment, cluster, and the paper's
other uses (reconstruction, translation Fig. 6, object removal Fig. 4).

Images at this API are float (N, 3, H, W) in [0, 1] at any size; they are resized to the model's
size and mapped to [-1, 1] inside. The reconstruction path runs deterministically: codes are the
encoders' means μ (no sampling) and the mixup β's are the means of their training ranges.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from core.contract import Clusters, Method
from core.device import pick_device
from data_prep.prepared import parent_of
from onegan.checkpoint import load_checkpoint
from onegan.config import OneGANConfig
from onegan.mixup import inference_mixup_weights
from onegan.model import OneGANModel, Reconstructed, to_model_range, to_unit_range


def default_device() -> torch.device:
    """``core.device.pick_device()`` (kept under this name for importers)."""
    return pick_device()


class OneGAN(Method):
    name: ClassVar[str] = "onegan"
    tasks: ClassVar[frozenset[str]] = frozenset({"generate", "segment", "cluster"})

    def __init__(self, model: OneGANModel, config: OneGANConfig, device: str | torch.device = "cpu",
                 batch_size: int = 64) -> None:
        self.config = config
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.num_classes = config.model.num_classes
        self.num_parents = config.model.num_parents
        self.image_size = config.model.image_size
        self.batch_size = batch_size

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, device: str | None = None) -> OneGAN:
        device = device or default_device()
        state = load_checkpoint(Path(checkpoint), map_location=device)
        config = OneGANConfig.from_dict(state["config"])
        model = OneGANModel(config.model)
        model.load_state_dict(state["model"])
        method = cls(model, config, device)
        method.iteration = int(state["iteration"])
        return method

    # ---- helpers -------------------------------------------------------------------------------------

    def _check_images(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W) in [0, 1], got shape {tuple(images.shape)}")
        return images

    @torch.no_grad()
    def _reconstruct(self, images: torch.Tensor, child: torch.Tensor | None = None) -> Reconstructed:
        x = to_model_range(self._check_images(images).to(self.device).float(), self.image_size)
        betas = inference_mixup_weights(x.shape[0], self.config.model, self.device)
        if child is not None:
            child = child.to(self.device).long()
            # Translation: the style comes from the requested child's embedding alone (β2 = 0).
            betas = betas._replace(beta2=torch.zeros_like(betas.beta2))
        return self.model.reconstruct(x, betas, sample=False, child=child)

    def _batched(self, images: torch.Tensor, fn, *extra: torch.Tensor) -> list:
        return [fn(images[i:i + self.batch_size], *(e[i:i + self.batch_size] for e in extra))
                for i in range(0, images.shape[0], self.batch_size)]

    @staticmethod
    def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    # ---- tasks ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, child: torch.Tensor, parent: torch.Tensor | None = None,
                 z: torch.Tensor | None = None) -> torch.Tensor:
        """Generation path (Fig. 1, Fig. 3): images (N, 3, S, S) in [0, 1] for child codes."""
        child = torch.as_tensor(child, device=self.device).long()
        if child.min() < 0 or child.max() >= self.num_classes:
            raise ValueError(f"child codes must lie in [0, {self.num_classes}), got {child.min()}..{child.max()}")
        if parent is None:
            parent = parent_of(child, self.num_classes, self.num_parents)
        parent = torch.as_tensor(parent, device=self.device).long()
        if z is None:
            z = torch.randn(child.shape[0], self.config.model.z_dim, device=self.device)
        out = [to_unit_range(self.model.generate(child[i:i + self.batch_size], parent[i:i + self.batch_size],
                                                 z[i:i + self.batch_size].to(self.device)).image).cpu()
               for i in range(0, child.shape[0], self.batch_size)]
        return torch.cat(out)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruction path (Fig. 4 row ii): Î in [0, 1] at the input size."""
        size = images.shape[-2:]
        return torch.cat(self._batched(images, lambda x: self._resize(to_unit_range(self._reconstruct(x).image),
                                                                      size).cpu()))

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """Soft foreground masks I_m of the reconstruction path, (N, 1, H, W) in [0, 1] at the input size."""
        size = images.shape[-2:]
        return torch.cat(self._batched(images, lambda x: self._resize(self._reconstruct(x).mask, size)
                                       .clamp(0, 1).cpu()))

    @torch.no_grad()
    def cluster(self, images: torch.Tensor) -> Clusters:
        """Child cluster = argmax ê_c (style encoder), parent = argmax ê_p (shape encoder)."""
        children, parents = [], []
        for i in range(0, images.shape[0], self.batch_size):
            x = to_model_range(self._check_images(images[i:i + self.batch_size]).to(self.device).float(),
                               self.image_size)
            children.append(self.model.style_encoder(x).child_logits.argmax(1).cpu())
            parents.append(self.model.shape_encoder(x).parent_logits.argmax(1).cpu())
        return Clusters(torch.cat(children).long(), torch.cat(parents).long())

    def translate(self, images: torch.Tensor, child: torch.Tensor) -> torch.Tensor:
        """Image-to-image translation (Fig. 6): reconstruct with the child code swapped for ``child``."""
        child = torch.as_tensor(child).long()
        if child.dim() == 0:
            child = child.expand(images.shape[0])
        size = images.shape[-2:]
        return torch.cat(self._batched(
            images, lambda x, c: self._resize(to_unit_range(self._reconstruct(x, c).image), size).cpu(), child))

    def remove_object(self, images: torch.Tensor) -> torch.Tensor:
        """Object removal (Fig. 4 row iv): the reconstructed background Î_bg in [0, 1] at the input size."""
        size = images.shape[-2:]
        return torch.cat(self._batched(images, lambda x: self._resize(to_unit_range(self._reconstruct(x).background),
                                                                      size).cpu()))
