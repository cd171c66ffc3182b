"""``external``: a baseline whose predictions were written to files by another program (the official
code of ReDO, WNet, UISB, IIC, JULE, DEPICT, ...), looked up by image id.

Spec (the ``--method`` string of ``bench run``)::

    external:name=ReDO-official,masks=DIR,clusters=FILE,images=DIR[,conditions=FILE]

Every key but ``name`` is optional; the tasks the method declares follow from the keys given
(masks -> segment, clusters -> cluster, images -> generate). Paths may not contain commas. ``name``
is the method's row label in every table and figure, and its key in the records
(``external:<name>``, :func:`method_key`), so the rows of one method stay together when its files move.

File formats:
- ``masks=DIR``: one PNG per image, ``DIR/<image_id>.png`` (``image_id`` as in the prepared
  manifest, leading zeros kept). Greyscale or RGB (converted to greyscale). A mask whose maximum is
  <= 1 is a label map (1 = foreground); otherwise foreground = value > 127 (as CUB's PNGs).
  Size: either the prepared image size (S x S, the mask of the prepared crop) or the source
  image's size (``width`` x ``height`` in the manifest), which is then cut with the manifest's
  ``crop`` rectangle and resized (nearest) to S x S. Any other size is an error.
- ``clusters=FILE``: CSV with header ``image_id,cluster`` and optionally ``parent``; integers >= 0;
  one row per image id.
- ``images=DIR``: generated images plus ``conditions=FILE`` (default ``DIR/conditions.csv``), a CSV
  ``file,child[,parent]`` naming each image file (relative to DIR) and the child (and parent) code
  it was generated for; codes must lie in [0, NC) and [0, NP); all images the same size.

Interface (the benchmark calls these instead of the image-based methods, because the files are
keyed by id): :meth:`ExternalPredictions.segment_ids` (ids, size) -> masks (N, 1, S, S) in {0, 1};
:meth:`ExternalPredictions.cluster_ids` (ids) -> ``Clusters``; ``generate(child, parent)`` returns
stored images generated for those codes, cycling through each code's images in file order (``z`` is
ignored: the noise was drawn by the other program). ``by_id = True`` marks the method for the
benchmark; ``segment(images)``/``cluster(images)`` raise a ``UserError`` saying to use the id calls.
Before scoring, the benchmark calls :meth:`ExternalPredictions.validate` with every id the task
scores at full scale (not only a preset's subset), and records :meth:`ExternalPredictions.fingerprint`
of the files a task reads (so changed files are scored again).
Problems (unknown key, a missing file or id, an id not in the prepared dataset, a wrong mask size,
a malformed CSV row, a file that is not an image) raise :class:`ExternalPredictionError` naming the
file and the id or line.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from core.contract import Clusters, Method
from core.errors import UserError
from data_prep.prepared import Prepared

NAME = "external"
SPEC_KEYS = ("name", "masks", "clusters", "images", "conditions")
# Which capability (core.contract.Method.tasks) each file key provides.
KEY_CAPABILITY = {"masks": "segment", "clusters": "cluster", "images": "generate"}


class ExternalPredictionError(UserError, ValueError):
    """A prediction file of an external method is missing or malformed."""


def parse_spec(spec: str) -> dict[str, str]:
    """``external:key=value,...`` -> {key: value}; ``name`` is required."""
    body = spec.split(":", 1)[1] if spec.startswith(f"{NAME}:") else spec
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value:
            raise ExternalPredictionError(f"external spec {spec!r}: expected key=value, got {part!r}")
        if key not in SPEC_KEYS:
            raise ExternalPredictionError(f"external spec {spec!r}: unknown key {key!r} "
                                          f"(known: {', '.join(SPEC_KEYS)})")
        if key in options:
            raise ExternalPredictionError(f"external spec {spec!r}: {key!r} given twice")
        options[key] = value
    if "name" not in options:
        raise ExternalPredictionError(f"external spec {spec!r}: name=... is required")
    if not KEY_CAPABILITY.keys() & options.keys():
        raise ExternalPredictionError(f"external spec {spec!r}: give at least one of masks=, clusters=, images=")
    return options


def capabilities_of(spec: str) -> frozenset[str]:
    """What the method's files let it do (``segment``, ``cluster``, ``generate``), from the spec alone."""
    return frozenset(KEY_CAPABILITY[k] for k in parse_spec(spec) if k in KEY_CAPABILITY)


def method_key(spec: str) -> str:
    """The method's name in the records: ``external:<name>`` (without the file paths)."""
    return f"{NAME}:{parse_spec(spec)['name']}"


def _read_image(path: Path, mode: str) -> np.ndarray:
    """The pixels of an image file in ``mode``; a file that is not a readable image is one line."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode))
    except (UnidentifiedImageError, OSError) as err:
        raise ExternalPredictionError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None


def _hash_files(paths: Sequence[Path], root: Path) -> str:
    """sha256 over each file's path relative to ``root`` and its bytes (16 hex digits)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _read_csv(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> list[tuple[int, dict]]:
    """(line number, row) pairs of a CSV with the required header columns."""
    if not path.is_file():
        raise ExternalPredictionError(f"{path}: file not found")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ExternalPredictionError(f"{path}: header {header} lacks column(s) {missing}; "
                                          f"expected {list(required)} (+ optional {list(optional)})")
        rows = []
        for line, raw in enumerate(reader, start=2):
            if None in raw or any(raw.get(c) is None for c in required):
                raise ExternalPredictionError(f"{path}:{line}: wrong number of fields")
            rows.append((line, {k.strip(): (v or "").strip() for k, v in raw.items()}))
    return rows


def _code(path: Path, line: int, column: str, text: str, limit: int | None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ExternalPredictionError(f"{path}:{line}: {column} {text!r} is not an integer") from None
    if value < 0 or (limit is not None and value >= limit):
        bound = f" and < {limit}" if limit is not None else ""
        raise ExternalPredictionError(f"{path}:{line}: {column} {value} must be >= 0{bound}")
    return value


class ExternalPredictions(Method):
    name = NAME
    by_id = True

    def __init__(self, label: str, prepared: Prepared, masks: str | Path | None = None,
                 clusters: str | Path | None = None, images: str | Path | None = None,
                 conditions: str | Path | None = None) -> None:
        self.label, self.prepared = label, prepared
        self.num_classes, self.num_parents = prepared.num_classes, prepared.num_parents
        self._rows = prepared.manifest.set_index("image_id", drop=False)
        self.masks_dir = Path(masks) if masks else None
        tasks = set()
        if self.masks_dir is not None:
            self._check_masks_dir()
            tasks.add("segment")
        self._clusters: dict[str, tuple[int, int | None]] = {}
        self.clusters_file = Path(clusters) if clusters else None
        if self.clusters_file is not None:
            self._read_clusters()
            tasks.add("cluster")
        self.images_dir = Path(images) if images else None
        self._generated: list[tuple[Path, int, int | None]] = []
        if self.images_dir is not None:
            self._conditions_file = Path(conditions) if conditions else self.images_dir / "conditions.csv"
            self._read_conditions(self._conditions_file)
            tasks.add("generate")
        self.tasks = frozenset(tasks)  # type: ignore[misc]  # per instance: depends on the files given
        self._cursor: dict[tuple[int, int | None], int] = {}
        self._image_cache: dict[Path, torch.Tensor] = {}

    # -- validation of the files ------------------------------------------------------------------
    def _check_known(self, image_id: str, where: str) -> None:
        if image_id not in self._rows.index:
            raise ExternalPredictionError(f"{where}: image id {image_id!r} is not in the prepared dataset "
                                          f"{self.prepared.root}")

    def _check_masks_dir(self) -> None:
        assert self.masks_dir is not None
        if not self.masks_dir.is_dir():
            raise ExternalPredictionError(f"{self.masks_dir}: masks folder not found")
        for path in sorted(self.masks_dir.glob("*.png")):
            self._check_known(path.stem, str(path))

    def _read_clusters(self) -> None:
        assert self.clusters_file is not None
        path = self.clusters_file
        rows = _read_csv(path, ("image_id", "cluster"), ("parent",))
        for line, row in rows:
            image_id = row["image_id"]
            self._check_known(image_id, f"{path}:{line}")
            if image_id in self._clusters:
                raise ExternalPredictionError(f"{path}:{line}: image id {image_id!r} listed twice")
            parent = row.get("parent")
            self._clusters[image_id] = (_code(path, line, "cluster", row["cluster"], None),
                                        _code(path, line, "parent", parent, None) if parent else None)
        if not self._clusters:
            raise ExternalPredictionError(f"{path}: no rows")

    def _read_conditions(self, path: Path) -> None:
        assert self.images_dir is not None
        if not self.images_dir.is_dir():
            raise ExternalPredictionError(f"{self.images_dir}: generated-images folder not found")
        for line, row in _read_csv(path, ("file", "child"), ("parent",)):
            file = self.images_dir / row["file"]
            if not file.is_file():
                raise ExternalPredictionError(f"{path}:{line}: image file {file} not found")
            child = _code(path, line, "child", row["child"], self.num_classes)
            parent = row.get("parent")
            self._generated.append((file, child, _code(path, line, "parent", parent, self.num_parents)
                                    if parent else None))
        if not self._generated:
            raise ExternalPredictionError(f"{path}: no rows")

    # -- validation against the task's images, and the files' fingerprint ---------------------------
    def validate(self, capability: str, ids: Sequence[str]) -> int:
        """Check every file the ``capability`` reads, and that it covers ``ids`` (every image the task
        scores at full scale, not only a preset's subset): a mask per id, each readable and of a valid
        size, and no stray file; a cluster row per id; each generated image readable, all of one
        size, and every child code generated. Returns the number of files or rows checked."""
        if capability == "segment":
            assert self.masks_dir is not None
            present = {p.stem for p in self.masks_dir.glob("*.png")}
            missing = [str(i) for i in ids if str(i) not in present]
            if missing:
                raise ExternalPredictionError(
                    f"{self.masks_dir}: no mask for {len(missing)} of {len(ids)} images the task scores, e.g. "
                    f"{self.masks_dir / (missing[0] + '.png')}")
            for image_id in sorted(present):
                self._mask(image_id)  # readable, of a valid size
            return len(present)
        if capability == "cluster":
            missing = [str(i) for i in ids if str(i) not in self._clusters]
            if missing:
                raise ExternalPredictionError(f"{self.clusters_file}: no row for {len(missing)} of {len(ids)} "
                                              f"images the task scores, e.g. image id {missing[0]!r}")
            return len(self._clusters)
        if capability == "generate":
            shapes = {}
            for file, _, _ in self._generated:
                height, width, _ = _read_image(file, "RGB").shape  # not cached: generation may use few
                shapes.setdefault((3, height, width), file)
            if len(shapes) > 1:
                (first, a), (second, b) = list(shapes.items())[:2]
                raise ExternalPredictionError(f"external {self.label}: generated images differ in size: {a} is "
                                              f"{first[2]}x{first[1]}, {b} is {second[2]}x{second[1]}")
            codes = {c for _, c, _ in self._generated}
            absent = [c for c in range(self.num_classes) if c not in codes]
            if absent:
                raise ExternalPredictionError(f"external {self.label}: no generated image for child code "
                                              f"{absent[0]} ({len(absent)} of {self.num_classes} codes have none)")
            return len(self._generated)
        raise ValueError(f"unknown capability {capability!r}")

    def fingerprint(self, capability: str) -> str:
        """A hash of the files ``capability`` reads (sha256 of names and bytes, 16 hex digits): a record
        scored from other files does not count as done."""
        if capability == "segment" and self.masks_dir is not None:
            return _hash_files(sorted(self.masks_dir.glob("*.png")), self.masks_dir)
        if capability == "cluster" and self.clusters_file is not None:
            return _hash_files([self.clusters_file], self.clusters_file.parent)
        if capability == "generate" and self.images_dir is not None:
            files = [self._conditions_file] + sorted({f for f, _, _ in self._generated})
            return _hash_files(files, self.images_dir)
        raise ExternalPredictionError(f"external {self.label}: no files for {capability}")

    # -- segmentation -----------------------------------------------------------------------------
    def _mask(self, image_id: str) -> np.ndarray:
        assert self.masks_dir is not None
        path = self.masks_dir / f"{image_id}.png"
        values = _read_image(path, "L")
        mask = values > (0 if values.max() <= 1 else 127)
        size = self.prepared.size
        row = self._rows.loc[image_id]
        if mask.shape == (size, size):
            return mask
        source = (int(row["height"]), int(row["width"]))
        if mask.shape != source:
            raise ExternalPredictionError(
                f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but image {image_id!r} is "
                f"{size}x{size} prepared or {source[1]}x{source[0]} in its source")
        x, y, w, h = (float(v) for v in json.loads(row["crop"]))
        box = (round(x), round(y), round(x + w), round(y + h))
        cropped = Image.fromarray(mask.astype(np.uint8) * 255).crop(box)
        return np.asarray(cropped.resize((size, size), Image.NEAREST)) > 127

    def segment_ids(self, ids: Sequence[str], size: int | None = None) -> torch.Tensor:
        """Masks (N, 1, S, S) in {0, 1} for the prepared images ``ids`` (S = ``size`` or the prepared size)."""
        if "segment" not in self.tasks:
            raise ExternalPredictionError(f"external {self.label}: no masks= folder was given")
        assert self.masks_dir is not None
        for image_id in ids:
            self._check_known(str(image_id), f"segment_ids({self.label})")
        missing = [str(i) for i in ids if not (self.masks_dir / f"{i}.png").is_file()]
        if missing:
            raise ExternalPredictionError(
                f"{self.masks_dir}: no mask for {len(missing)} of {len(ids)} requested images, e.g. "
                f"{self.masks_dir / (missing[0] + '.png')}")
        masks = torch.from_numpy(np.stack([self._mask(str(i)) for i in ids])).float()[:, None]
        if size is not None and size != self.prepared.size:
            masks = torch.nn.functional.interpolate(masks, size=(size, size), mode="nearest-exact")
        return masks

    # -- clustering -------------------------------------------------------------------------------
    def cluster_ids(self, ids: Sequence[str]) -> Clusters:
        if "cluster" not in self.tasks:
            raise ExternalPredictionError(f"external {self.label}: no clusters= file was given")
        missing = [str(i) for i in ids if str(i) not in self._clusters]
        for image_id in missing:
            self._check_known(image_id, f"cluster_ids({self.label})")
        if missing:
            raise ExternalPredictionError(f"{self.clusters_file}: no row for {len(missing)} of {len(ids)} "
                                          f"requested images, e.g. image id {missing[0]!r}")
        pairs = [self._clusters[str(i)] for i in ids]
        child = torch.tensor([c for c, _ in pairs], dtype=torch.int64)
        has_parent = [p is not None for _, p in pairs]
        if any(has_parent) and not all(has_parent):
            raise ExternalPredictionError(f"{self.clusters_file}: the parent column is empty for some rows")
        parent = torch.tensor([p for _, p in pairs], dtype=torch.int64) if all(has_parent) and pairs else None
        return Clusters(child=child, parent=parent)

    # -- generation -------------------------------------------------------------------------------
    def _load_generated(self, path: Path) -> torch.Tensor:
        if path not in self._image_cache:
            array = _read_image(path, "RGB")
            self._image_cache[path] = torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255.0
        return self._image_cache[path]

    def generate(self, child: torch.Tensor, parent: torch.Tensor | None = None,
                 z: torch.Tensor | None = None) -> torch.Tensor:
        if "generate" not in self.tasks:
            return super().generate(child, parent, z)
        out = []
        for i, c in enumerate(child.tolist()):
            p = None if parent is None else int(parent[i])
            matches = [f for f, fc, fp in self._generated if fc == c and (p is None or fp is None or fp == p)]
            if not matches:
                raise ExternalPredictionError(f"external {self.label}: no generated image for child {c}"
                                              + (f", parent {p}" if p is not None else ""))
            key = (c, p)
            k = self._cursor.get(key, 0)
            self._cursor[key] = k + 1
            out.append(self._load_generated(matches[k % len(matches)]))
        shapes = {tuple(t.shape) for t in out}
        if len(shapes) > 1:
            raise ExternalPredictionError(f"external {self.label}: generated images differ in size {sorted(shapes)}")
        return torch.stack(out)

    def generated_set(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Every stored generated image with its child (and parent) codes, in file order."""
        images = [self._load_generated(f) for f, _, _ in self._generated]
        child = torch.tensor([c for _, c, _ in self._generated])
        parents = [p for _, _, p in self._generated]
        parent = torch.tensor(parents) if all(p is not None for p in parents) else None
        return torch.stack(images), child, parent

    # -- the image-based calls do not apply -------------------------------------------------------
    def segment(self, images: torch.Tensor) -> torch.Tensor:
        raise ExternalPredictionError(f"external {self.label}: predictions are looked up by image id; "
                                      "call segment_ids(ids)")

    def cluster(self, images: torch.Tensor) -> Clusters:
        raise ExternalPredictionError(f"external {self.label}: predictions are looked up by image id; "
                                      "call cluster_ids(ids)")


def from_spec(spec: str, prepared: Prepared) -> ExternalPredictions:
    """Build from ``external:name=...,masks=...,clusters=...,images=...[,conditions=...]``."""
    options = parse_spec(spec)
    return ExternalPredictions(options.pop("name"), prepared, **options)
