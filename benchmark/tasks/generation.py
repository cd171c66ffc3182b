"""Table 1, generation: FID, IS, CFID (= WCFID) and CIS (= BCIS) of a method's generated images.

Protocol (FineGAN's, scaled by the run preset): ``images_per_class`` images per child code c, each
with fresh noise z; real images are every image showing an object. Conditions: a fake image's is the
child code it was generated from; a real image's is the cluster the *method's own* encoder assigns
(so real cluster c and fake code c name the same thing; Benny et al.). Methods that cannot cluster
fall back to the class labels. The ``Dataset`` reference row scores the real images against
themselves with their labels as conditions (FID = CFID = 0 by construction; its IS and CIS are the
ceiling a perfect generator would reach).

Features and class probabilities come from the evaluator classifier (``bench train-evaluator``);
real-image features are cached by (dataset fingerprint, evaluator identity, options).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from baselines.base import Method
from benchmark.features.extract import extract
from benchmark.metrics import bcfid, bcis, fid, inception_score, wcfid, wcis
from benchmark.tasks.clustering import collect_clusters
from benchmark.tasks.common import EvalOptions, TaskResult, rows_with_objects, subsample
from data_prep.datasets import ObjectImages
from data_prep.errors import UserError
from data_prep.prepared import Prepared

if TYPE_CHECKING:
    from benchmark.run import RunContext


def _evaluator(options: EvalOptions):
    if options.evaluator is None:
        raise UserError("generation metrics need an evaluator checkpoint (train one with `bench train-evaluator`)")
    from benchmark.features.evaluator import load_evaluator

    return load_evaluator(options.evaluator).to(options.device)


def real_features(prepared: Prepared, indices: np.ndarray, extractor, options: EvalOptions
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(features, probs) of the real evaluation images, cached on disk."""
    from benchmark.stats_cache import cached_features

    key = {"dataset": prepared.fingerprint, "extractor": extractor.identity, "rows": indices.tolist()}
    subset = torch.utils.data.Subset(ObjectImages(prepared, role=None), indices.tolist())
    return cached_features(options.cache_dir, key,
                           lambda: extract(subset, extractor, options.batch_size, desc="real features"))


def _generated(method: Method, num_classes: int, per_class: int, batch_size: int, device: str,
               seed: int) -> tuple[Iterator[torch.Tensor], np.ndarray]:
    conditions = np.repeat(np.arange(num_classes), per_class)
    generator = torch.Generator().manual_seed(seed)

    def batches() -> Iterator[torch.Tensor]:
        for start in range(0, len(conditions), batch_size):
            child = torch.from_numpy(conditions[start:start + batch_size]).to(device)
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
            yield method.generate(child).float().clamp(0, 1).cpu()

    return batches(), conditions


def scores(real_feat: np.ndarray, real_cond: np.ndarray, fake_feat: np.ndarray, fake_probs: np.ndarray,
           fake_cond: np.ndarray) -> dict[str, float]:
    """All generation metrics; ``cfid``/``cis`` are the Table 1 columns (WCFID/BCIS)."""
    is_mean, is_std = inception_score(fake_probs, splits=10 if len(fake_probs) >= 100 else 1)
    values = {
        "fid": fid(real_feat, fake_feat),
        "is": is_mean, "is_std": is_std,
        "bcis": bcis(fake_probs, fake_cond), "wcis": wcis(fake_probs, fake_cond),
        "wcfid": wcfid(real_feat, real_cond, fake_feat, fake_cond),
        "bcfid": bcfid(real_feat, real_cond, fake_feat, fake_cond),
    }
    values["cfid"], values["cis"] = values["wcfid"], values["bcis"]
    return values


def evaluate_generation(method: Method, prepared: Prepared, options: EvalOptions) -> TaskResult:
    extractor = _evaluator(options)
    indices = subsample(rows_with_objects(prepared), options.max_images, options.seed)
    real_feat, _ = real_features(prepared, indices, extractor, options)
    if method.can("cluster"):
        real_cond, _ = collect_clusters(method, prepared, indices, options)
        condition_source = "method clusters"
    else:
        real_cond = prepared.manifest["class_id"].to_numpy(dtype=np.int64)[indices]
        condition_source = "class labels"
    t0 = time.perf_counter()
    with torch.inference_mode():
        fakes, fake_cond = _generated(method, prepared.num_classes, options.images_per_class, options.batch_size,
                                      options.device, options.seed)
        fake_feat, fake_probs = extract(fakes, extractor, options.batch_size, desc=f"generate {method.name}")
    values = scores(real_feat, real_cond, fake_feat, fake_probs, fake_cond)
    return TaskResult(values, {"real_images": len(indices), "fake_images": len(fake_cond),
                               "images_per_class": options.images_per_class, "evaluator": extractor.identity,
                               "real_conditions": condition_source, "cfid": "wcfid", "cis": "bcis",
                               "generation_seconds": round(time.perf_counter() - t0, 2)})


def evaluate_dataset_reference(ctx: RunContext) -> None:
    """Table 1's "Dataset" row: the real images scored against themselves, labels as conditions."""
    from benchmark.records import TASK_METRICS, cell_key, make_records

    base = {"method": "dataset", "variant": None, "dataset_fingerprint": ctx.prepared.fingerprint,
            "task": "generation", "seed": 0, "preset": ctx.preset.name}
    if not ctx.force and set(TASK_METRICS["generation"]) <= ctx.store.done_metrics(cell_key(base)):
        return
    options = EvalOptions(device=ctx.device, max_images=ctx.preset.max_eval_images, evaluator=ctx.evaluator,
                          cache_dir=ctx.work / "stats-cache")
    extractor = _evaluator(options)
    t0 = time.perf_counter()
    indices = subsample(rows_with_objects(ctx.prepared), options.max_images, options.seed)
    feat, probs = real_features(ctx.prepared, indices, extractor, options)
    labels = ctx.prepared.manifest["class_id"].to_numpy(dtype=np.int64)[indices]
    values = scores(feat, labels, feat, probs, labels)
    ctx.store.append(make_records(method="dataset", variant=None, dataset=ctx.prepared.name,
                                  dataset_fingerprint=ctx.prepared.fingerprint, task="generation", values=values,
                                  seed=0, preset=ctx.preset.name, config=None, checkpoint=None,
                                  wall_time_s=time.perf_counter() - t0,
                                  options={"real_images": len(indices), "evaluator": extractor.identity}))
