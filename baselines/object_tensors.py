"""A prepared dataset's object images held in memory as tensors, with their boxes in crop pixels.

The GAN baselines draw thousands of random mini-batches; decoding PNGs each time would dominate a CPU
run, so the images are decoded once (uint8) and resized to the model's size. The manifest stores
the object's bbox and the crop rectangle in *source* pixels; the stored image is that crop resized
to ``size`` x ``size``, so the bbox maps into the model's pixels by
``(bbox - crop_origin) * size / crop_side`` (per axis), clipped to the image. FineGAN's background
discriminator needs exactly this warped bbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import UserError
from data_prep.prepared import Prepared


@dataclass
class ObjectTensors:
    """``images`` uint8 (N, 3, S, S); ``masks`` bool (N, 1, S, S); ``has_mask`` bool (N,);
    ``boxes`` float (N, 4) as (x0, y0, x1, y1) in model pixels (x1, y1 exclusive);
    ``class_id``/``parent_id``/``manifest_index`` int64 (N,)."""

    images: torch.Tensor
    masks: torch.Tensor
    has_mask: torch.Tensor
    boxes: torch.Tensor
    class_id: torch.Tensor
    parent_id: torch.Tensor
    manifest_index: torch.Tensor

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])


def _parse_rect(value: object, what: str, image_id: str) -> tuple[float, float, float, float] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    rect = json.loads(value) if isinstance(value, str) else value
    if len(rect) != 4:
        raise UserError(f"manifest row {image_id}: {what} must be [x, y, w, h], got {value!r}")
    return tuple(float(v) for v in rect)  # type: ignore[return-value]


def bbox_in_crop(bbox: tuple[float, float, float, float], crop: tuple[float, float, float, float],
                 size: int) -> tuple[float, float, float, float]:
    """Map an (x, y, w, h) box in source pixels into (x0, y0, x1, y1) pixels of the ``size`` x ``size``
    image that stores ``crop`` (x, y, w, h in source pixels), clipped to the image."""
    bx, by, bw, bh = bbox
    cx, cy, cw, ch = crop
    if cw <= 0 or ch <= 0:
        raise ValueError(f"empty crop rectangle {crop}")
    sx, sy = size / cw, size / ch
    x0, y0 = (bx - cx) * sx, (by - cy) * sy
    x1, y1 = (bx + bw - cx) * sx, (by + bh - cy) * sy
    clip = lambda v: float(min(max(v, 0.0), float(size)))  # noqa: E731
    return clip(x0), clip(y0), clip(x1), clip(y1)


def _row_box(row, size: int) -> tuple[float, float, float, float]:
    """The object's box in model pixels; the whole image when the manifest has no usable bbox."""
    image_id = str(row["image_id"])
    try:
        bbox = tuple(float(row[k]) for k in ("bbox_x", "bbox_y", "bbox_w", "bbox_h"))
    except (TypeError, ValueError):
        bbox = None
    if bbox is None or not np.all(np.isfinite(bbox)) or bbox[2] <= 0 or bbox[3] <= 0:
        return 0.0, 0.0, float(size), float(size)
    crop = _parse_rect(row["crop"], "crop", image_id)
    if crop is None:
        crop = (0.0, 0.0, float(row["width"]), float(row["height"]))
    return bbox_in_crop(bbox, crop, size)  # type: ignore[arg-type]


def load_object_tensors(prepared: Prepared, size: int, role: str | None = "fg") -> ObjectTensors:
    """Decode every image (and mask) of ``role`` into memory at ``size`` x ``size``."""
    rows = prepared.rows(role)
    if len(rows) == 0:
        raise UserError(f"{prepared.root}: the manifest has no images with role={role!r}")
    images = np.empty((len(rows), prepared.size, prepared.size, 3), dtype=np.uint8)
    masks = np.zeros((len(rows), prepared.size, prepared.size), dtype=bool)
    has_mask = np.zeros(len(rows), dtype=bool)
    boxes = np.empty((len(rows), 4), dtype=np.float32)
    for i, (_, row) in enumerate(rows.iterrows()):
        image = prepared.load_image(row["path"])
        if image.shape[:2] != (prepared.size, prepared.size):
            raise UserError(f"{prepared.root / row['path']} is {image.shape[1]}x{image.shape[0]}, "
                            f"meta.json says {prepared.size}")
        images[i] = image
        if row["mask"]:
            masks[i] = prepared.load_mask(row["mask"])
            has_mask[i] = True
        boxes[i] = _row_box(row, size)
    image_t = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    mask_t = torch.from_numpy(masks)[:, None]
    if prepared.size != size:
        image_t = resize_uint8(image_t, size)
        mask_t = F.interpolate(mask_t.float(), size=(size, size), mode="nearest") > 0.5
    return ObjectTensors(
        images=image_t, masks=mask_t, has_mask=torch.from_numpy(has_mask), boxes=torch.from_numpy(boxes),
        class_id=torch.tensor(rows["class_id"].to_numpy(dtype=np.int64)),
        parent_id=torch.tensor(rows["parent_id"].to_numpy(dtype=np.int64)),
        manifest_index=torch.tensor(rows.index.to_numpy(dtype=np.int64)),
    )


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 512) -> torch.Tensor:
    """Antialiased bilinear resize of uint8 images (N, 3, H, W), in chunks to bound memory."""
    out = []
    for start in range(0, images.shape[0], chunk):
        part = images[start:start + chunk].float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(part.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize float images (N, C, H, W) to ``size`` (no-op when already that size)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def take_batch(data: ObjectTensors, indices: torch.Tensor, flip: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images in [0, 1], masks, has_mask and boxes for ``indices``; rows with ``flip`` are mirrored
    horizontally together with their masks and boxes."""
    images = data.images[indices].float().div_(255.0)
    masks = data.masks[indices].float()
    boxes = data.boxes[indices].clone()
    if flip is not None and bool(flip.any()):
        images[flip] = images[flip].flip(-1)
        masks[flip] = masks[flip].flip(-1)
        x0, x1 = boxes[flip, 0].clone(), boxes[flip, 2].clone()
        boxes[flip, 0] = data.size - x1
        boxes[flip, 2] = data.size - x0
    return images, masks, data.has_mask[indices], boxes
