"""Each protocol against an independent re-implementation of its paper's scoring code.

The C3-GAN functions below follow the loops of naver-ai/c3-gan ``evals.py`` (get_stat, get_match,
get_acc, get_nmi) and ``train.py``'s row repetition for over-clustering; the DRC function follows
``drc_workspace/test.py``'s batched torch arithmetic. Both are written here from those descriptions,
in the reference's own style (loops, torch), to be a second implementation, not a copy of ours.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score

from benchmark import protocols
from benchmark.protocols.drc2021 import binarise_gt, undefined_images
from core.errors import UserError


# ---- C3-GAN's evaluation, loop by loop --------------------------------------------------------------
def ref_stat(pred, num_cls, gt):
    stat = np.zeros([num_cls, num_cls])
    for k in range(len(gt)):
        stat[int(gt[k])][pred[k]] += 1
    return stat


def ref_match(stat):
    return linear_sum_assignment(stat.max() - stat)[1]


def ref_acc(stat, cols, over):
    total = 0
    for k in range(stat.shape[0]):
        total += stat[k][cols[k]]
    return total / (np.sum(stat) / over)


def ref_nmi(stat):
    n, m = stat.shape
    pij = stat / np.sum(stat)
    pi, pj = np.sum(pij, 1), np.sum(pij, 0)
    hi = sum(-pi[a] * np.log2(pi[a] + 1e-6) for a in range(n))
    hj = sum(-pj[b] * np.log2(pj[b] + 1e-6) for b in range(m))
    mi = 0.0
    for a in range(n):
        for b in range(m):
            mi += pij[a][b] * np.log2(pij[a][b] / (pi[a] * pj[b] + 1e-6) + 1e-6)
    return mi / max(hi, hj)


def ref_c3gan(gt, pred, num_gt, over):
    num_cls = num_gt * over
    table = ref_stat(pred, num_cls, gt)
    for k in range(1, over):
        table[num_cls // over * k:num_cls // over * (k + 1), :] = table[:num_cls // over, :]
    return ref_acc(table, ref_match(table), over), ref_nmi(table[:num_gt, :])


# ---- DRC's per-image scoring, batched in torch ------------------------------------------------------
def ref_drc(pred_soft, gt_soft):
    pred, gt = torch.from_numpy(pred_soft) > 0.5, torch.from_numpy(gt_soft) > 0.5
    bs = pred.shape[0]
    iou = (pred * gt).view(bs, -1).sum(dim=-1) / ((pred + gt) > 0).view(bs, -1).sum(dim=-1)
    dice = 2 * (pred * gt).view(bs, -1).sum(dim=-1) / (pred.view(bs, -1).sum(dim=-1) + gt.view(bs, -1).sum(dim=-1))
    return 100 * iou.sum().item() / bs, 100 * dice.sum().item() / bs


def test_registry_lists_three_protocols_and_rejects_unknown():
    assert protocols.names() == ["onegan2020", "c3gan2022", "drc2021"]
    assert protocols.get("c3gan2022@v1").name == "c3gan2022"
    with pytest.raises(UserError, match="unknown protocol"):
        protocols.get("nope")
    with pytest.raises(UserError):
        protocols.get("drc2021").score_clusters([0, 1], [0, 1])
    assert protocols.tag_of({}) == "onegan2020@v1"


@pytest.mark.parametrize("num_gt, over, n, seed", [(5, 1, 200, 0), (7, 2, 300, 1), (4, 3, 250, 2), (10, 3, 40, 3)])
def test_c3gan_matches_reference_with_and_without_overclustering(num_gt, over, n, seed):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, num_gt, n)
    # Clusters correlated with the classes (so matching matters), spread over every head.
    pred = np.where(rng.random(n) < 0.6, gt + num_gt * rng.integers(0, over, n), rng.integers(0, num_gt * over, n))
    acc, nmi = ref_c3gan(gt, pred, num_gt, over)
    scores = protocols.get("c3gan2022").score_clusters(gt, pred, num_clusters=num_gt * over, num_classes=num_gt)
    assert scores["acc"] == pytest.approx(acc, abs=1e-12)
    assert scores["nmi"] == pytest.approx(nmi, abs=1e-9)


def test_overclustering_maps_several_clusters_to_one_class():
    # Every class split cleanly over two clusters: many-to-one finds all of them, one-to-one half.
    gt = np.repeat(np.arange(3), 4)
    pred = np.array([0, 0, 3, 3, 1, 1, 4, 4, 2, 2, 5, 5])
    assert ref_c3gan(gt, pred, 3, 2)[0] == 1.0
    assert protocols.get("c3gan2022").score_clusters(gt, pred, num_clusters=6, num_classes=3)["acc"] == 1.0
    assert protocols.get("onegan2020").score_clusters(gt, pred)["acc"] == 0.5
    # The factor is inferred from the cluster ids when not given.
    assert protocols.get("c3gan2022").score_clusters(gt, pred)["acc"] == 1.0


def test_c3gan_nmi_is_max_normalised_nmi_up_to_its_epsilon():
    rng = np.random.default_rng(5)
    gt, pred = rng.integers(0, 8, 500), rng.integers(0, 8, 500)
    pred[:300] = gt[:300]
    exact = normalized_mutual_info_score(gt, pred, average_method="max")
    arithmetic = normalized_mutual_info_score(gt, pred)
    scores = protocols.get("c3gan2022").score_clusters(gt, pred, num_classes=8)
    assert scores["nmi"] == pytest.approx(exact, abs=2e-4)
    assert protocols.get("onegan2020").score_clusters(gt, pred)["nmi"] == pytest.approx(arithmetic, abs=1e-12)


def test_drc_matches_reference_and_keeps_nan_for_two_empty_masks():
    rng = np.random.default_rng(0)
    gt = (rng.random((6, 16, 16)) < 0.4).astype(np.float32)
    pred = rng.random((6, 16, 16)).astype(np.float32)
    pred[2] = 0.0                                   # empty prediction, non-empty truth: 0
    drc = protocols.get("drc2021").score_masks(pred, gt)
    iou, dice = ref_drc(pred, gt)
    # torch divides in float32: agreement to its precision
    assert drc["iou"] == pytest.approx(iou, abs=1e-4) and drc["dice"] == pytest.approx(dice, abs=1e-4)
    gt[4], pred[4] = 0.0, 0.0                       # both empty: 0/0
    drc = protocols.get("drc2021").score_masks(pred, gt)
    iou, dice = ref_drc(pred, gt)
    assert math.isnan(iou) and math.isnan(dice) and math.isnan(drc["iou"]) and math.isnan(drc["dice"])
    assert undefined_images(pred, gt) == 1
    onegan = protocols.get("onegan2020").score_masks(pred, gt)   # both empty counts as perfect there
    kept = [0, 1, 2, 3, 5]
    assert onegan["iou"] == pytest.approx((protocols.get("drc2021").score_masks(pred[kept], gt[kept])["iou"] * 5
                                           + 100.0) / 6)


def test_drc_has_no_foreground_background_swap():
    gt = np.zeros((1, 8, 8)); gt[0, :4] = 1        # noqa: E702
    inverted = 1.0 - gt
    assert protocols.get("drc2021").score_masks(inverted, gt)["iou"] == 0.0


def test_drc_ground_truth_is_dithered_not_thresholded():
    grey = np.full((32, 32), 128, dtype=np.uint8)   # a soft mask of 50 %
    dithered = binarise_gt(grey)
    assert dithered.dtype == bool and 0.4 < dithered.mean() < 0.6   # a threshold would give all or nothing
    binary = np.zeros((8, 8), dtype=np.uint8); binary[2:5] = 255  # noqa: E702
    assert np.array_equal(binarise_gt(binary), binary > 127)      # hard masks pass unchanged


def test_bench_protocols_lists_each_with_its_source(capsys):
    from benchmark.cli import main

    assert main(["protocols", "--verbose"]) == 0
    out = capsys.readouterr().out
    for tag, repo in (("onegan2020@v1", "this benchmark"), ("c3gan2022@v1", "naver-ai/c3-gan"),
                      ("drc2021@v1", "yuPeiyu98/Deep-Region-Competition")):
        assert tag in out and repo in out
    assert "evals.py" in out and "test.py" in out and "many-to-one" in out
