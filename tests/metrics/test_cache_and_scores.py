"""Cached real statistics (a second evaluation extracts only the fakes) and generation_scores."""

import numpy as np
import pytest
import torch

from benchmark.features import Extractor, extract
from benchmark.generation_scores import generation_scores
from benchmark.metrics import bcis, fid, inception_score, wcfid
from benchmark.stats_cache import cache_file, real_features
from data_prep.datasets import ObjectImages


class CountingExtractor(Extractor):
    """Deterministic toy extractor (colour statistics + a fixed random projection); counts images seen."""

    def __init__(self, tag="toy"):
        self.identity = f"counting-{tag}"
        self.images_seen = 0
        self.projection = torch.randn(12, 5, generator=torch.Generator().manual_seed(0)).double()

    def features_and_probs(self, images):
        self.images_seen += images.shape[0]
        quadrants = [q.mean(dim=(2, 3)) for half in images.chunk(2, dim=2) for q in half.chunk(2, dim=3)]
        features = torch.cat(quadrants, dim=1).double()                    # (N, 12)
        return features.float(), torch.softmax(features @ self.projection * 5, dim=1).float()


def test_second_evaluation_reads_the_cache(tiny_prepared, tmp_path):
    extractor = CountingExtractor()
    first = real_features(tiny_prepared, extractor, tmp_path, progress=False)
    assert not first.from_cache and extractor.images_seen == 40 and first.cache_path.is_file()
    second = real_features(tiny_prepared, extractor, tmp_path, progress=False)
    assert second.from_cache and extractor.images_seen == 40
    np.testing.assert_array_equal(second.features, first.features)
    np.testing.assert_array_equal(second.class_ids, ObjectImages(tiny_prepared).class_ids)
    np.testing.assert_allclose(second.mu, first.features.mean(axis=0))
    # Another extractor identity is another cache entry.
    other = CountingExtractor("other")
    assert cache_file(tiny_prepared, other, tmp_path, "fg") != first.cache_path
    assert not real_features(tiny_prepared, other, tmp_path, progress=False).from_cache


def test_corrupt_cache_is_recomputed(tiny_prepared, tmp_path):
    extractor = CountingExtractor()
    path = real_features(tiny_prepared, extractor, tmp_path, progress=False).cache_path
    path.write_bytes(b"not a zip file")
    again = real_features(tiny_prepared, extractor, tmp_path, progress=False)
    assert not again.from_cache and extractor.images_seen == 80
    assert real_features(tiny_prepared, extractor, tmp_path, progress=False).from_cache


def test_extract_accepts_tensors_datasets_and_batch_iterators(tiny_prepared):
    extractor = CountingExtractor()
    dataset = ObjectImages(tiny_prepared)
    images = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    from_tensor = extract(images, extractor, batch_size=7, progress=False)
    from_dataset = extract(dataset, extractor, batch_size=16, progress=False)
    from_iterator = extract((images[i:i + 5] for i in range(0, 40, 5)), extractor, progress=False)
    for other in (from_dataset, from_iterator):
        np.testing.assert_allclose(other[0], from_tensor[0], rtol=1e-6)
        np.testing.assert_allclose(other[1], from_tensor[1], rtol=1e-6)
    with pytest.raises(ValueError, match="empty"):
        extract(iter([]), extractor)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        extract(torch.rand(2, 1, 8, 8), extractor)


def test_generation_scores_dataset_row_and_cache(tiny_prepared, tmp_path):
    extractor = CountingExtractor()
    dataset = ObjectImages(tiny_prepared)
    images = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    labels = dataset.class_ids
    # The "Dataset" row: the real images as fakes, conditions = labels: FID 0 and CFID 0.
    scores = generation_scores(tiny_prepared, images, labels, labels, extractor, cache_dir=tmp_path,
                               batch_size=16, is_splits=2, progress=False)
    assert scores["fid"] == pytest.approx(0.0, abs=1e-6)
    assert scores["cfid"] == scores["wcfid"] == pytest.approx(0.0, abs=1e-6)
    assert scores["bcfid"] == pytest.approx(0.0, abs=1e-6)
    assert scores["cis"] == scores["bcis"]
    features, probs = extract(images, extractor, progress=False)
    assert scores["bcis"] == pytest.approx(bcis(probs, labels), rel=1e-6)
    assert scores["is_mean"] == pytest.approx(inception_score(probs, splits=2)[0], rel=1e-6)
    assert scores["bcis"] * scores["wcis"] == pytest.approx(inception_score(probs, splits=1)[0], rel=1e-6)
    assert extractor.images_seen == 80 + 40  # real + fake, then the direct extract above

    # Second evaluation of other fakes: only the fake side is extracted.
    fakes = images.flip(-1)[:24]
    codes = labels[:24]
    scores = generation_scores(tiny_prepared, fakes, codes, labels, extractor, cache_dir=tmp_path,
                               batch_size=16, is_splits=2, progress=False)
    assert scores["real_from_cache"] and extractor.images_seen == 120 + 24
    fake_features, _ = extract(fakes, CountingExtractor(), progress=False)
    assert scores["fid"] == pytest.approx(fid(features, fake_features), rel=1e-9)
    assert scores["wcfid"] == pytest.approx(wcfid(features, labels, fake_features, codes), rel=1e-9)


def test_generation_scores_skip_conditions_without_real_samples(tiny_prepared, tmp_path):
    extractor = CountingExtractor()
    dataset = ObjectImages(tiny_prepared)
    images = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    labels = dataset.class_ids
    real_clusters = np.minimum(labels, 2)       # the encoder never assigns cluster 3
    scores = generation_scores(tiny_prepared, images, labels, real_clusters, extractor, cache_dir=None,
                               is_splits=1, progress=False)
    assert scores["conditional_classes_used"] == 3 and scores["conditional_classes_total"] == 4
    with pytest.raises(ValueError, match="real_conditions has 39"):
        generation_scores(tiny_prepared, images, labels, labels[:-1], extractor, progress=False)


def test_inception_score_is_named_by_its_split_count(tiny_prepared):
    """Below 100 images the IS is computed on one split and named ``is_1split`` (recorded under that
    name, without a std); from 100 on it is the 10-split ``is``."""
    from benchmark.tasks.generation import _table1_values

    extractor = CountingExtractor()
    dataset = ObjectImages(tiny_prepared)
    images = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    labels = dataset.class_ids
    few = generation_scores(tiny_prepared, images, labels, labels, extractor, progress=False)   # 40 images
    _, probs = extract(images, extractor, progress=False)
    assert few["is_metric"] == "is_1split" and few["is_splits"] == 1
    assert few["is_mean"] == pytest.approx(inception_score(probs, splits=1)[0], rel=1e-6)
    values = _table1_values(few)
    assert values["is_1split"] == few["is_mean"] and "is" not in values and "is_std" not in values

    many_images, many_labels = images.repeat(3, 1, 1, 1), np.tile(labels, 3)              # 120 images
    many = generation_scores(tiny_prepared, many_images, many_labels, labels, extractor, progress=False)
    _, many_probs = extract(many_images, extractor, progress=False)
    assert many["is_metric"] == "is" and many["is_splits"] == 10
    assert (many["is_mean"], many["is_std"]) == pytest.approx(inception_score(many_probs, splits=10), rel=1e-6)
    values = _table1_values(many)
    assert values["is"] == many["is_mean"] and values["is_std"] == many["is_std"] and "is_1split" not in values
