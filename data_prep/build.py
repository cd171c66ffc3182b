"""``bench prep`` for the real datasets: reader -> 80/20 split -> crops, masks, background patches
-> the prepared directory (see ``data_prep.prepared``).

Pipeline:
  1. read the annotations (``data_prep.readers``), check the mask weights: every user error that
     can be found before touching the disk is raised here, before anything is written;
  2. split by image, stratified by class (``data_prep.split``);
  3. stream the images through a process pool (``imap`` in chunks; each worker decodes one image,
     writes its crop, its mask and, for ``bg`` images, its background patches, and returns only a
     small row), so memory does not grow with the dataset;
  4. pseudo-masks (DeepLabV3), when asked, in a second streaming pass over scratch inputs written
     in step 3, in batches (torchvision in-process, or gluoncv in its own environment);
  5. tables and meta.json. Steps 3-5 happen inside ``atomic_directory(out)``: an interrupted prep
     leaves the previous output (or none), never a mix.

Every image (``fg`` and ``bg``) gets its object crop and mask, so evaluations over all images are
possible; only ``fg`` rows are the object set X_c, only ``bg`` rows yield patches X_bg.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from core.atomic import atomic_directory
from core.errors import UserError
from core.provenance import command_line, fingerprint_files, git_commit, package_versions
from data_prep.backgrounds import BackgroundRule, box_free_squares
from data_prep.crop import box_in_crop, clip_box, crop_image, crop_mask, finegan_crop_rect
from data_prep.drc_crops import write_drc_crop
from data_prep.images import UnreadableImageError, load_mask_values, load_rgb
from data_prep.masks import PSEUDO_MASK_MODES, check_mask_weights
from data_prep.masks.gt import load_gt_mask
from data_prep.masks.pseudo import MaskJob, write_jobs
from data_prep.prepared import MANIFEST_COLUMNS, PAPER_CLASS_COUNTS, parent_of, write_tables
from data_prep.readers import get_reader
from data_prep.records import DatasetSource, SourceImage
from data_prep.split import BG_FRACTION, split_roles
from data_prep.test_lists import official_test_ids, write_test_list

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MASKS = {"cub": "gt", "dogs": "none", "cars": "none"}


@dataclass(frozen=True)
class PrepOptions:
    """Everything ``bench prep`` needs for a real dataset (the CLI's flags, same names)."""

    dataset: str
    root: Path
    out: Path
    masks: str | None = None              # None: DEFAULT_MASKS[dataset]
    weights: Path | None = None
    size: int = 128
    seed: int = 0
    skip_bad: bool = False
    workers: int | None = None            # None: all cores
    parents: int | None = None            # None: the paper's NP (scaled for a subset of classes)
    mask_input_size: int = 256            # DeepLabV3 input side (the crop, resized)
    mask_batch_size: int = 8
    device: str | None = None             # torchvision DeepLabV3 device (None: cuda if available)
    gluoncv_python: str | None = None     # run the gluoncv backend with this interpreter instead of tox
    background: BackgroundRule = field(default_factory=BackgroundRule)
    progress: bool = True

    @property
    def mask_mode(self) -> str:
        return self.masks or DEFAULT_MASKS[self.dataset]


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs, sent once per process (pool initializer), not once per image."""

    out: Path
    size: int
    mask_mode: str
    mask_input_size: int
    voc_class: int
    background: BackgroundRule


@dataclass
class ImageResult:
    image_id: str
    row: dict | None = None
    patches: list[dict] = field(default_factory=list)
    mask_job: MaskJob | None = None
    skipped: str | None = None


_WORKER: WorkerConfig | None = None


def _init_worker(config: WorkerConfig) -> None:
    global _WORKER
    _WORKER = config


def process_image(task: tuple[SourceImage, str]) -> ImageResult:
    """Decode one source image and write its crop, mask (or DeepLabV3 input) and patches."""
    record, role = task
    cfg = _WORKER
    assert cfg is not None, "worker not initialised"
    try:
        image = load_rgb(record.source_path)
        width, height = image.size
        boxes = [b for b in (clip_box(b, width, height) for b in record.boxes) if b is not None]
        if not boxes:
            return ImageResult(record.image_id, skipped=f"no box of image {record.image_id} lies inside the "
                                                        f"{width}x{height} image {record.source_path}")
        gt = None
        if cfg.mask_mode == "gt":
            if record.gt_mask_path is None:
                raise UserError(f"--masks gt needs the dataset's own segmentations; none found for "
                                f"{record.source_path} (CUB: segmentations/ inside or beside the CUB folder)")
            gt = load_gt_mask(record.gt_mask_path, width, height)
    except UnreadableImageError as err:
        return ImageResult(record.image_id, skipped=str(err))

    main_box = max(boxes, key=lambda b: b[2] * b[3])
    rect = finegan_crop_rect(main_box, width, height)
    rel_image = f"images/{record.image_id}.png"
    crop_image(image, rect, cfg.size).save(cfg.out / rel_image)
    rel_mask, job = "", None
    if gt is not None:
        rel_mask = f"masks/{record.image_id}.png"
        mask = crop_mask(gt, rect, cfg.size)
        Image.fromarray(mask.astype(np.uint8) * 255).save(cfg.out / rel_mask)
        # DRC's own crop at 128 with its dithered reading of the 8-bit mask (the drc2021 protocol).
        soft = load_mask_values(record.gt_mask_path)
        if soft.shape != (height, width):
            soft = np.asarray(Image.fromarray(soft).resize((width, height), Image.Resampling.NEAREST))
        write_drc_crop(cfg.out, record.image_id, image, soft, rect)
    elif cfg.mask_mode in PSEUDO_MASK_MODES:
        rel_mask = f"masks/{record.image_id}.png"
        scratch = cfg.out / "scratch" / f"{record.image_id}.png"
        crop_image(image, rect, cfg.mask_input_size).save(scratch)
        job = MaskJob(input=str(scratch), output=str(cfg.out / rel_mask),
                      box=box_in_crop(main_box, rect, cfg.mask_input_size),
                      size=cfg.size, voc_class=cfg.voc_class)

    patches = []
    if role == "bg":
        squares = box_free_squares(boxes, width, height, cfg.background.min_side_fraction * cfg.size,
                                   cfg.background.max_patches_per_image)
        for k, (x0, y0, x1, y1) in enumerate(squares):
            rel = f"backgrounds/{record.image_id}_{k}.png"
            crop_image(image, (x0, y0, x1, y1), cfg.size).save(cfg.out / rel)
            patches.append({"path": rel, "source_image_id": record.image_id,
                            "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0})

    row = {
        "image_id": record.image_id, "path": rel_image, "class_id": record.class_id,
        "class_name": record.class_name,
        "bbox_x": main_box[0], "bbox_y": main_box[1], "bbox_w": main_box[2], "bbox_h": main_box[3],
        "boxes": json.dumps([list(b) for b in record.boxes]),
        "crop": json.dumps([rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1]]),
        "width": width, "height": height, "role": role, "mask": rel_mask,
        "mask_source": cfg.mask_mode if rel_mask else "",
    }
    return ImageResult(record.image_id, row=row, patches=patches, mask_job=job)


def resolve_num_parents(dataset: str, num_classes: int, requested: int | None) -> int:
    """The paper's NP when all classes are present; for a subset of classes (a partial copy, a
    test fixture) the paper's children-per-parent ratio, at least one parent."""
    if requested is not None:
        if not 1 <= requested <= num_classes:
            raise UserError(f"--parents must be between 1 and the number of classes ({num_classes}), got {requested}")
        return requested
    paper_nc, paper_np = PAPER_CLASS_COUNTS[dataset]
    if num_classes == paper_nc:
        return paper_np
    return max(1, round(num_classes * paper_np / paper_nc))


def prep_fingerprint(source: DatasetSource, options: PrepOptions, weights: Path | None) -> str:
    """Identifies the prepared data: the source annotation files, the weights and the options that
    change the output (not the worker count or progress display)."""
    digest = hashlib.sha256(fingerprint_files(source.annotation_files).encode())
    if weights is not None:
        digest.update(fingerprint_files([weights]).encode())
    keys = {"dataset": options.dataset, "masks": options.mask_mode, "size": options.size,
            "seed": options.seed, "parents": options.parents, "skip_bad": options.skip_bad,
            "mask_input_size": options.mask_input_size, "background": asdict(options.background)}
    digest.update(json.dumps(keys, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _gluoncv_command(options: PrepOptions) -> list[str]:
    """The command that runs the gluoncv backend (checked before anything is written)."""
    if options.gluoncv_python:
        if not Path(options.gluoncv_python).is_file():
            raise UserError(f"--gluoncv-python {options.gluoncv_python} does not exist")
        return [options.gluoncv_python, "-m", "data_prep.masks.deeplab_gluoncv"]
    tox = shutil.which("tox")
    tox_ini = REPO_ROOT / "tox.ini"
    if tox is None or not tox_ini.is_file():
        raise UserError("--masks deeplabv3-gluoncv runs in the gluoncv tox environment: install tox "
                        f"(pip install tox) and run from a checkout with {tox_ini}, or pass "
                        "--gluoncv-python PATH naming that environment's python (e.g. .tox/gluoncv/bin/python)")
    return [tox, "-c", str(tox_ini), "-e", "gluoncv", "--"]


def _run_pseudo_masks(jobs: list[MaskJob], options: PrepOptions, weights: Path, tmp: Path,
                      gluoncv_command: list[str] | None) -> None:
    if options.mask_mode == "deeplabv3-torchvision":
        from data_prep.masks.deeplab_torchvision import run_jobs

        run_jobs(jobs, weights, options.device, options.mask_batch_size, options.progress)
    else:
        job_file = tmp / "scratch" / "jobs.jsonl"
        write_jobs(job_file, jobs)
        command = [*gluoncv_command, "--weights", str(weights), "--jobs", str(job_file),
                   "--batch-size", str(options.mask_batch_size)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                         os.environ.get("PYTHONPATH")]))}
        done = subprocess.run(command, cwd=REPO_ROOT, env=env)
        if done.returncode != 0:
            raise UserError(f"the gluoncv pseudo-mask backend failed (exit {done.returncode}): {' '.join(command)}")
    missing = [job.output for job in jobs if not Path(job.output).is_file()]
    if missing:
        raise UserError(f"the {options.mask_mode} backend wrote no mask for {len(missing)} images, e.g. {missing[0]}")


def _stream(tasks: list[tuple[SourceImage, str]], config: WorkerConfig, workers: int, progress: bool):
    """Results in task order; a pool over ``workers`` processes, or in-process for one worker."""
    bar = dict(total=len(tasks), desc="prep images", unit="img", disable=not progress)
    if workers <= 1:
        _init_worker(config)
        yield from tqdm(map(process_image, tasks), **bar)
        return
    # Not multiprocessing.Pool: closing its imap early (a bad image) runs Pool.terminate(), which can
    # hang for good joining its task-handler thread (seen here under load: the test suite stalled in
    # _terminate_pool). The executor cancels the chunks not started and waits for the running ones, so
    # no worker writes into the build directory after this generator is closed.
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(),
                                   initializer=_init_worker, initargs=(config,))
    try:
        yield from tqdm(executor.map(process_image, tasks, chunksize=8), **bar)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def build(options: PrepOptions) -> Path:
    """Prepare ``options.dataset`` from ``options.root`` into ``options.out``; returns ``out``."""
    if options.size < 8:
        raise UserError(f"--size must be at least 8, got {options.size}")
    reader = get_reader(options.dataset)
    # Step 1: everything checkable before writing.
    weights = check_mask_weights(options.mask_mode, options.weights)
    gluoncv_command = _gluoncv_command(options) if options.mask_mode == "deeplabv3-gluoncv" else None
    source = reader.read(options.root)
    if not source.images:
        raise UserError(f"no images listed under {options.root}")
    if options.mask_mode == "gt":
        lacking = next((r for r in source.images if r.gt_mask_path is None), None)
        if lacking is not None:
            raise UserError(f"--masks gt needs the dataset's own segmentations; none found for {lacking.source_path} "
                            "(CUB: segmentations/ inside or beside the CUB folder; Dogs and Cars have none: "
                            "use --masks deeplabv3-torchvision or deeplabv3-gluoncv)")
    num_classes = source.num_classes
    num_parents = resolve_num_parents(options.dataset, num_classes, options.parents)
    fingerprint = prep_fingerprint(source, options, weights)

    # Step 2.
    roles = split_roles(np.array([r.class_id for r in source.images]), options.seed)
    tasks = list(zip(source.images, roles, strict=True))
    workers = options.workers or os.cpu_count() or 1

    out = Path(options.out)
    with atomic_directory(out) as tmp:
        for sub in ("images", "masks", "backgrounds", "scratch"):
            (tmp / sub).mkdir()
        config = WorkerConfig(out=tmp, size=options.size, mask_mode=options.mask_mode,
                              mask_input_size=options.mask_input_size, voc_class=reader.VOC_CLASS,
                              background=options.background)
        rows, patches, jobs, skipped = [], [], [], []
        by_id = {r.image_id: r for r in source.images}
        # Step 3.
        # closing(): on an error the workers are shut down (unstarted chunks cancelled, running ones
        # finished) before the build directory is removed, so no worker writes into it afterwards.
        stream = contextlib.closing(_stream(tasks, config, workers, options.progress))
        with stream as results:
            for result in results:
                if result.skipped is not None:
                    if not options.skip_bad:
                        raise UnreadableImageError(
                            f"{result.skipped} (rerun with --skip-bad to skip unreadable images)")
                    skipped.append({"image_id": result.image_id, "path": by_id[result.image_id].relative_path,
                                    "reason": result.skipped})
                    continue
                result.row["source_path"] = by_id[result.image_id].relative_path
                rows.append(result.row)
                patches.extend(result.patches)
                if result.mask_job is not None:
                    jobs.append(result.mask_job)
        if not rows:
            raise UserError(f"every image under {options.root} was unreadable")
        # Step 4.
        if jobs:
            _run_pseudo_masks(jobs, options, weights, tmp, gluoncv_command)
        shutil.rmtree(tmp / "scratch")
        # Step 5.
        manifest = pd.DataFrame(rows)
        manifest["parent_id"] = parent_of(manifest["class_id"].to_numpy(), num_classes, num_parents)
        manifest = manifest[MANIFEST_COLUMNS]
        backgrounds = pd.DataFrame(patches, columns=["path", "source_image_id", "x", "y", "w", "h"])
        backgrounds.insert(0, "patch_id", np.arange(len(backgrounds)))
        counts = {
            "listed": len(source.images), "images": len(manifest),
            "fg": int((manifest["role"] == "fg").sum()), "bg": int((manifest["role"] == "bg").sum()),
            "patches": len(backgrounds), "masks": int((manifest["mask"] != "").sum()), "skipped": len(skipped),
        }
        meta = {
            "dataset": options.dataset, "num_classes": num_classes, "num_parents": num_parents,
            "children_per_parent": max(num_classes // num_parents, 1),
            "paper_class_counts": list(PAPER_CLASS_COUNTS[options.dataset]),
            "class_names": source.class_names, "size": options.size, "seed": options.seed,
            "bg_fraction": BG_FRACTION, "fingerprint": fingerprint,
            "source_fingerprint": fingerprint_files(source.annotation_files),
            "source_root": str(Path(options.root).resolve()),
            "mask_source": options.mask_mode if options.mask_mode != "none" else "",
            "mask_weights": str(weights) if weights else None,
            "crop": "finegan: square of 1.5 x max(w, h) around the main box centre, clipped, resized",
            "background_rule": options.background.describe(),
            "counts": counts, "skipped": skipped,
            "versions": package_versions(), "git_commit": git_commit(), "command": command_line(),
        }
        write_tables(tmp, manifest, backgrounds, meta)
        test_ids = official_test_ids(source)
        if test_ids is not None:   # for protocols that score the official test list (C3-GAN's)
            write_test_list(tmp, [i for i in manifest["image_id"] if i in test_ids])
    return out
