"""Classical floors: deterministic k-means, a correct colour histogram, the centred box's geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines import classical
from baselines.classical import CentredBox, ColourKMeansConfig, FeatureKMeans, colour_features
from core.contract import TrainRequest
from core.errors import UserError


def test_colour_histogram_matches_numpy() -> None:
    images = torch.rand(3, 3, 9, 7)
    config = ColourKMeansConfig(bins=4)
    ours = colour_features(images, config)
    for i in range(3):
        pixels = images[i].permute(1, 2, 0).reshape(-1, 3).numpy()
        counts, _ = np.histogramdd(pixels, bins=(4, 4, 4), range=[(0, 1)] * 3)
        np.testing.assert_allclose(ours[i], counts.ravel() / counts.sum(), atol=1e-12)


def test_colour_kmeans_is_deterministic(tiny_prepared, tmp_path) -> None:
    runs = [classical.train(TrainRequest(data=tiny_prepared, out=tmp_path / str(i), preset="smoke", seed=5))
            for i in range(2)]
    first, second = (classical.load(r) for r in runs)
    np.testing.assert_array_equal(first.centroids, second.centroids)
    images = torch.rand(6, 3, 32, 32)
    clusters = first.cluster(images)
    assert clusters.child.shape == (6,) and clusters.child.dtype == torch.int64
    assert torch.equal(clusters.child, second.cluster(images).child)
    assert int(clusters.child.max()) < 4


class _Extractor:
    """Features = mean colour, enough to separate pure-colour images."""

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))


def test_feature_kmeans_separates_separable_features() -> None:
    colours = torch.eye(3)
    labels = torch.arange(3).repeat(4)
    images = colours[labels][:, :, None, None].expand(-1, -1, 8, 8) + 0.01 * torch.rand(12, 3, 8, 8)
    clusters = FeatureKMeans(_Extractor(), num_classes=3, seed=0).fit(images).cluster(images).child
    for k in range(3):                      # each true class falls in exactly one cluster
        assert len(set(clusters[labels == k].tolist())) == 1
    assert len(set(clusters.tolist())) == 3
    with pytest.raises(TypeError):
        FeatureKMeans(object(), num_classes=3)


def test_centred_box_geometry() -> None:
    mask = CentredBox().segment(torch.zeros(2, 3, 60, 60))
    assert mask.shape == (2, 1, 60, 60)
    assert float(mask.mean()) == pytest.approx((40 * 40) / (60 * 60))
    rows = torch.nonzero(mask[0, 0].sum(1)).flatten()
    assert rows.min() == 10 and rows.max() == 49      # centred: 10 pixels either side
    assert float(CentredBox(0.5).segment(torch.zeros(1, 3, 10, 20)).sum()) == 5 * 10
    with pytest.raises(UserError):
        CentredBox(1.5)
