"""BCFID and WCFID from their definitions (class means; per-class FIDs)."""

import numpy as np
import pytest

from benchmark.metrics import bcfid, fid, per_class_fid, wcfid


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    real_conditions = np.repeat(np.arange(4), 30)
    fake_conditions = np.repeat(np.arange(4), 20)
    real = rng.normal(size=(120, 6)) + real_conditions[:, None]
    fake = rng.normal(size=(80, 6)) * 1.3 + fake_conditions[:, None] * 0.5
    return real, real_conditions, fake, fake_conditions


def test_wcfid_is_the_mean_of_per_class_fids(features):
    real, rc, fake, fc = features
    expected = np.mean([fid(real[rc == c], fake[fc == c]) for c in range(4)])
    assert wcfid(real, rc, fake, fc) == pytest.approx(expected, rel=1e-12)
    assert sorted(per_class_fid(real, rc, fake, fc)) == [0, 1, 2, 3]


def test_bcfid_is_the_fid_of_class_means(features):
    real, rc, fake, fc = features
    real_means = np.stack([real[rc == c].mean(axis=0) for c in range(4)])
    fake_means = np.stack([fake[fc == c].mean(axis=0) for c in range(4)])
    assert bcfid(real, rc, fake, fc) == pytest.approx(fid(real_means, fake_means), rel=1e-12)


def test_zero_when_comparing_a_set_with_itself(features):
    # The "Dataset" row of Table 1: CFID 0.
    real, rc, _, _ = features
    assert wcfid(real, rc, real, rc) == pytest.approx(0.0, abs=1e-8)
    assert bcfid(real, rc, real, rc) == pytest.approx(0.0, abs=1e-8)


def test_wcfid_sees_swapped_conditions_that_fid_cannot(features):
    real, rc, _, _ = features
    swapped = (rc + 1) % 4
    assert fid(real, real) == pytest.approx(0.0, abs=1e-8)
    assert wcfid(real, rc, real, swapped) > 1.0


def test_only_the_fake_conditions_are_scored(features):
    real, rc, fake, fc = features
    keep = fc < 2
    expected = np.mean([fid(real[rc == c], fake[fc == c]) for c in range(2)])
    assert wcfid(real, rc, fake[keep], fc[keep]) == pytest.approx(expected, rel=1e-12)


def test_bad_conditions_raise(features):
    real, rc, fake, fc = features
    with pytest.raises(ValueError, match="never occur among the real"):
        wcfid(real, rc, fake, fc + 10)
    with pytest.raises(ValueError, match="at least 2 of each"):
        wcfid(real, rc, fake[:21], fc[:21])  # condition 1 has a single fake sample
    with pytest.raises(ValueError, match="at least 2 distinct"):
        bcfid(real, rc, fake[:20], fc[:20])
    with pytest.raises(ValueError, match="entries but"):
        bcfid(real, rc[:-1], fake, fc)
    with pytest.raises(ValueError, match="dimension"):
        wcfid(real, rc, fake[:, :3], fc)
