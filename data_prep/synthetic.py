"""The embedded default: a procedurally generated fine-grained world with exact ground truth.

Two-level classes mirror the paper's hierarchy:
- the **parent** class fixes the object's *shape*: a radial star/blob ``r(θ) = 1 + a·cos(kθ)`` with
  ``k = parent + 3`` lobes (plus a parent-specific elongation), so shapes differ by topology-level
  cues, not by colour;
- the **child** class fixes the *appearance*: a (primary, secondary) colour pair and a texture
  (stripes, checks, rings; each covers about half the object in the secondary colour, so colour
  proportions do not give the texture away). Colour pairs repeat across parents, so colour alone
  identifies a child only up to its parent and pixel-colour k-means stays far from perfect;
- per image, pose (rotation), scale, position, brightness vary; backgrounds are textured scenes
  (smooth coloured noise + oriented waves) of random hue, so colour statistics of a whole image are
  dominated by clutter.
Masks, boxes and labels are exact. The ``bg`` role holds *clean* background images (the same kind of
scene with no object): each yields one background patch, the whole image, since no box intersects it.

Deterministic by seed; a few thousand 64 px images per minute on one core.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from core.atomic import atomic_directory
from core.errors import UserError
from core.provenance import command_line, package_versions
from data_prep.prepared import MANIFEST_COLUMNS, parent_of, write_tables
from data_prep.test_lists import synthetic_test_ids, write_test_list

GENERATOR_VERSION = 1
TEXTURES = ("stripes", "checks", "rings")
BACKGROUND_RULE = "synthetic: each clean background image is one patch (no object, no box)"


@dataclass(frozen=True)
class SyntheticSpec:
    """Options of the synthetic world (the CLI's ``--classes --parents --images --size --seed``)."""

    classes: int = 12
    parents: int = 4
    images: int = 2400
    size: int = 64
    seed: int = 0
    bg_fraction: float = 0.2

    def validate(self) -> None:
        if self.parents < 1 or self.classes < self.parents:
            raise UserError(f"--classes ({self.classes}) must be >= --parents ({self.parents}) >= 1")
        if self.classes % self.parents:
            raise UserError(f"--classes ({self.classes}) must be a multiple of --parents ({self.parents}): "
                            "children are split evenly across parents, as in the paper")
        if self.size < 16:
            raise UserError(f"--size must be at least 16 (got {self.size})")
        if self.images < 2 * self.classes:
            raise UserError(f"--images ({self.images}) must be at least 2 x --classes ({self.classes})")
        if not 0.0 < self.bg_fraction < 1.0:
            raise UserError(f"bg_fraction must lie in (0, 1), got {self.bg_fraction}")

    @property
    def children_per_parent(self) -> int:
        return self.classes // self.parents

    def fingerprint(self) -> str:
        payload = json.dumps({**asdict(self), "generator_version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChildAppearance:
    primary: np.ndarray  # RGB in [0, 1]
    secondary: np.ndarray
    texture: str
    period: float  # texture period in object-relative units
    name: str


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def child_appearances(spec: SyntheticSpec) -> list[ChildAppearance]:
    """Appearance of every child class. Child j of every parent shares its colour pair family
    (so colour does not reveal the parent); the texture cycles with the parent, so (colour, texture)
    together with the shape identify the child."""
    per_parent = spec.children_per_parent
    out = []
    for c in range(spec.classes):
        parent, j = divmod(c, per_parent)
        hue = j / per_parent
        texture = TEXTURES[(j + parent) % len(TEXTURES)]
        primary = _hsv(hue, 0.85, 0.95)
        secondary = _hsv(hue + 0.5, 0.6, 0.35)
        out.append(ChildAppearance(primary, secondary, texture, period=0.35 + 0.1 * (parent % 3),
                                   name=f"shape{parent}-hue{j}-{texture}"))
    return out


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured scene: smooth coloured noise plus an oriented wave, random hue."""
    coarse = rng.random((5, 5, 3))
    img = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC),
                     dtype=np.float64) / 255.0
    base = _hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.35, 0.9))
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, np.pi)
    wave = np.sin(2 * np.pi * rng.uniform(1.5, 5.0) * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 6.3))
    img = 0.55 * base + 0.3 * img + 0.08 * wave[..., None] + 0.04 * rng.standard_normal((size, size, 3))
    return np.clip(img, 0.0, 1.0)


def _shape_mask(parent: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary mask of the parent's shape at a random pose, plus object-frame coordinates (u, v)."""
    lobes = parent + 3
    amplitude = 0.28
    elongation = 1.0 + 0.25 * ((parent % 2) * 2 - 1) * (parent % 3 != 2)
    scale = rng.uniform(0.22, 0.36) * size
    cx, cy = size / 2 + rng.uniform(-0.16, 0.16, size=2) * size
    rot = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dx, dy = xx - cx, yy - cy
    u = (dx * np.cos(rot) + dy * np.sin(rot)) / scale
    v = (-dx * np.sin(rot) + dy * np.cos(rot)) / scale
    u_e = u / elongation
    radius = np.hypot(u_e, v)
    theta = np.arctan2(v, u_e)
    mask = radius <= 1.0 + amplitude * np.cos(lobes * theta)
    return mask, u, v


def _paint(app: ChildAppearance, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The child's texture in object coordinates (moves and rotates with the object)."""
    period = app.period
    if app.texture == "stripes":
        pattern = (np.floor(u / period) % 2 == 0).astype(float)
    elif app.texture == "rings":
        pattern = (np.floor(np.hypot(u, v) / period) % 2 == 0).astype(float)
    else:
        pattern = ((np.floor(u / period) + np.floor(v / period)) % 2 == 0).astype(float)
    gain = rng.uniform(0.85, 1.1)
    colour = app.primary * (1 - pattern[..., None]) + app.secondary * pattern[..., None]
    return np.clip(colour * gain, 0.0, 1.0)


def render_example(spec: SyntheticSpec, class_id: int, rng: np.random.Generator, with_object: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One image (uint8 H×W×3) and its exact mask (bool H×W) of child ``class_id``."""
    parent = parent_of(class_id, spec.classes, spec.parents)
    background = _background(rng, spec.size)
    mask, u, v = _shape_mask(parent, spec.size, rng)
    if not with_object:
        return (background * 255).round().astype(np.uint8), np.zeros_like(mask)
    paint = _paint(child_appearances(spec)[class_id], u, v, rng)
    image = np.where(mask[..., None], paint, background)
    return (image * 255).round().astype(np.uint8), mask


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0, 0, 0, 0
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _split_roles(spec: SyntheticSpec, class_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stratified 80/20 by class: round(bg_fraction · n_c) images of each class become ``bg``."""
    roles = np.full(len(class_ids), "fg", dtype=object)
    for c in range(spec.classes):
        idx = np.flatnonzero(class_ids == c)
        n_bg = int(round(spec.bg_fraction * len(idx)))
        roles[rng.permutation(idx)[:n_bg]] = "bg"
    return roles


def write_synthetic(out: str | os.PathLike, *, classes: int = 12, parents: int = 4, images: int = 2400,
                    size: int = 64, seed: int = 0, bg_fraction: float = 0.2) -> Path:
    """Write the synthetic world in the prepared format to ``out`` (atomically) and return ``out``."""
    spec = SyntheticSpec(classes, parents, images, size, seed, bg_fraction)
    spec.validate()
    out = Path(out)
    rng = np.random.default_rng(seed)
    class_ids = np.arange(images) % classes
    rng.shuffle(class_ids)
    roles = _split_roles(spec, class_ids, rng)
    appearances = child_appearances(spec)
    rows, patches = [], []
    with atomic_directory(out) as tmp:
        for sub in ("images", "masks", "backgrounds"):
            (tmp / sub).mkdir()
        for i, (c, role) in enumerate(zip(class_ids, roles, strict=True)):
            image_rng = np.random.default_rng([seed, i])  # per-image stream: order-independent
            image_id = f"{i:06d}"
            is_fg = role == "fg"
            image, mask = render_example(spec, int(c), image_rng, with_object=is_fg)
            Image.fromarray(image).save(tmp / "images" / f"{image_id}.png", compress_level=1)
            box = _bbox(mask)
            mask_rel = ""
            if is_fg:
                mask_rel = f"masks/{image_id}.png"
                Image.fromarray(mask.astype(np.uint8) * 255).save(tmp / mask_rel, compress_level=1)
            else:
                patch_id = f"{len(patches):06d}"
                patch_rel = f"backgrounds/{patch_id}.png"
                Image.fromarray(image).save(tmp / patch_rel, compress_level=1)
                patches.append({"patch_id": patch_id, "path": patch_rel, "source_image_id": image_id,
                                "x": 0, "y": 0, "w": size, "h": size})
            rows.append({
                "image_id": image_id, "path": f"images/{image_id}.png", "class_id": int(c),
                "class_name": appearances[c].name, "parent_id": parent_of(int(c), spec.classes, spec.parents),
                "bbox_x": box[0], "bbox_y": box[1], "bbox_w": box[2], "bbox_h": box[3],
                "boxes": json.dumps([list(box)]) if is_fg else "[]",
                "crop": json.dumps([0, 0, size, size]), "source_path": "", "width": size, "height": size,
                "role": role, "mask": mask_rel, "mask_source": "synthetic" if is_fg else "",
            })
        manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
        meta = {
            "dataset": "synthetic", "num_classes": classes, "num_parents": parents,
            "children_per_parent": spec.children_per_parent, "size": size, "seed": seed,
            "fingerprint": spec.fingerprint(), "spec": asdict(spec), "generator_version": GENERATOR_VERSION,
            "versions": package_versions(), "command": command_line(),
            "counts": {"images": images, "fg": int((roles == "fg").sum()), "bg": int((roles == "bg").sum()),
                       "background_patches": len(patches), "skipped": 0},
            "mask_source": "synthetic", "background_rule": BACKGROUND_RULE,
        }
        write_tables(tmp, manifest, pd.DataFrame(patches), meta)
        write_test_list(tmp, synthetic_test_ids(manifest))   # a documented split for test-list protocols
    return out
