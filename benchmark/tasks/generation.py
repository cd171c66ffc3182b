"""Table 1, generation: FID, IS, CFID (= WCFID) and CIS (= BCIS) of a method's generated images.

Protocol (FineGAN's, scaled by the run preset): ``images_per_class`` images per child code c, each
with fresh noise z, against the object images X_c (``role='fg'``). Conditions: a fake image's is the
child code it was generated from; a real image's is the cluster the *method's own* encoder assigns
(so real cluster c and fake code c name the same thing; Benny et al.). Methods that cannot cluster
fall back to the class labels. The ``Dataset`` reference row scores the real images against
themselves with their labels as conditions (FID = CFID = 0 by construction; its IS and CIS are what a
perfect generator would reach).

Scores come from ``benchmark.generation_scores`` with the evaluator classifier
(``bench train-evaluator``); real-image features are cached on disk. The recorded names are declared
in ``benchmark.metric_registry`` (the IS of fewer than 100 images is ``is_1split``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from benchmark.generation_scores import generation_scores
from benchmark.metrics.conditional import TABLE1_CFID, TABLE1_CIS
from benchmark.run_context import RunContext
from benchmark.tasks.clustering import collect_clusters
from benchmark.tasks.common import EvalOptions, TaskResult, validate_by_id
from core.contract import Method
from core.errors import UserError
from data_prep.datasets import ObjectImages
from data_prep.prepared import Prepared

REAL_ROLE = "fg"


def _evaluator(options: EvalOptions):
    if options.evaluator is None:
        raise UserError("generation metrics need an evaluator checkpoint (train one with `bench train-evaluator`)")
    from benchmark.features import get_extractor

    return get_extractor(f"evaluator:{options.evaluator}", device=options.device)


def _generated(method: Method, num_classes: int, per_class: int, batch_size: int, device: str,
               seed: int) -> tuple[Iterator[torch.Tensor], np.ndarray]:
    """Batches of generated images, ``per_class`` per child code, and their codes (the conditions)."""
    conditions = np.repeat(np.arange(num_classes), per_class)

    def batches() -> Iterator[torch.Tensor]:
        torch.manual_seed(seed)
        with torch.inference_mode():
            for start in range(0, len(conditions), batch_size):
                child = torch.from_numpy(conditions[start:start + batch_size]).to(device)
                yield method.generate(child).float().clamp(0, 1).cpu()

    return batches(), conditions


def _table1_values(scores: dict) -> dict[str, float]:
    """The recorded generation metrics (names declared in ``benchmark.metric_registry``): the IS under
    the name of its split count (``is`` or ``is_1split``), its std only when there are several splits."""
    keys = ("fid", "cfid", "cis", "bcis", "wcis", "bcfid", "wcfid", "diversity")
    values = {k: float(scores[k]) for k in keys if scores.get(k) is not None}
    values[scores["is_metric"]] = float(scores["is_mean"])
    if scores["is_splits"] > 1:
        values["is_std"] = float(scores["is_std"])
    return values


def evaluate_generation(method: Method, prepared: Prepared, options: EvalOptions) -> TaskResult:
    extractor = _evaluator(options)
    real_rows = np.flatnonzero((prepared.manifest["role"] == REAL_ROLE).to_numpy())
    validate_by_id(method, prepared, "generate", real_rows)
    if method.can("cluster"):
        validate_by_id(method, prepared, "cluster", real_rows)
        real_cond, _ = collect_clusters(method, prepared, real_rows, options)
        condition_source = "method clusters"
    else:
        real_cond = prepared.manifest["class_id"].to_numpy(dtype=np.int64)[real_rows]
        condition_source = "class labels"
    t0 = time.perf_counter()
    fakes, fake_cond = _generated(method, prepared.num_classes, options.images_per_class, options.batch_size,
                                  options.device, options.seed)
    scores = generation_scores(prepared, fakes, fake_cond, real_cond, extractor, role=REAL_ROLE,
                               cache_dir=options.cache_dir, batch_size=options.batch_size)
    values = _table1_values(scores)
    options_out = {k: scores[k] for k in ("n_real", "n_fake", "conditional_classes_used",
                                          "conditional_classes_total", "extractor", "real_from_cache")}
    if options.inception_weights is not None:
        # FineGAN's protocol scores FID with the standard ImageNet Inception: regenerate the same
        # images (same seed) rather than hold them all in memory, and score them again.
        from benchmark.features import get_extractor

        inception = get_extractor("inception", weights=options.inception_weights, device=options.device)
        fakes, _ = _generated(method, prepared.num_classes, options.images_per_class, options.batch_size,
                              options.device, options.seed)
        standard = generation_scores(prepared, fakes, fake_cond, real_cond, inception, role=REAL_ROLE,
                                     cache_dir=options.cache_dir, batch_size=options.batch_size, is_splits=1)
        values.update({f"{k}_inception": float(standard[k]) for k in ("fid", "cfid") if standard[k] is not None})
        options_out["inception"] = inception.identity
    options_out.update(images_per_class=options.images_per_class, real_conditions=condition_source,
                       cfid=TABLE1_CFID, cis=TABLE1_CIS, is_splits=scores["is_splits"],
                       generation_seconds=round(time.perf_counter() - t0, 2))
    return TaskResult(values, options_out)


def dataset_reference_cell(ctx: RunContext) -> dict:
    """The record fields of Table 1's "Dataset" row of this run."""
    return {"method": "dataset", "variant": None, "dataset_fingerprint": ctx.prepared.fingerprint,
            "task": "generation", "seed": 0, "preset": ctx.preset.name, "protocol": ctx.protocol.tag}


def evaluate_dataset_reference(ctx: RunContext) -> None:
    """Table 1's "Dataset" row: the real images scored against themselves, labels as conditions."""
    from benchmark.records import make_records

    cell = dataset_reference_cell(ctx)
    with ctx.store.claim(cell, "the Dataset row"):
        if not ctx.force and ctx.store.is_done(cell):
            return
        options = EvalOptions(device=ctx.device, evaluator=ctx.evaluator, cache_dir=ctx.work / "stats-cache")
        extractor = _evaluator(options)
        t0 = time.perf_counter()
        real = ObjectImages(ctx.prepared, role=REAL_ROLE)
        labels = real.class_ids
        scores = generation_scores(ctx.prepared, real, labels, labels, extractor, role=REAL_ROLE,
                                   cache_dir=options.cache_dir)
        ctx.store.append(make_records(method="dataset", variant=None, dataset=ctx.prepared.name,
                                      dataset_fingerprint=ctx.prepared.fingerprint, task="generation",
                                      values=_table1_values(scores), seed=0, preset=ctx.preset.name, config=None,
                                      checkpoint=None, wall_time_s=time.perf_counter() - t0,
                                      options={"n_real": scores["n_real"], "evaluator": extractor.identity},
                                      protocol=ctx.protocol.tag))
