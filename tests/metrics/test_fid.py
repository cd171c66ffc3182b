"""FID against independent references: the Gaussian closed form, scipy's sqrtm, and its axioms."""

import numpy as np
import pytest
import scipy.linalg

from benchmark.metrics import (
    features_to_statistics,
    fid,
    fid_from_statistics,
    trace_sqrt_product,
    trace_sqrt_product_from_features,
)


def random_covariance(rng, dim, rank=None):
    factor = rng.normal(size=(dim, rank or dim))
    return factor @ factor.T / dim


def sqrtm_fid(mu1, s1, mu2, s2):
    """The textbook formula with scipy.linalg.sqrtm, the route we check against."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_closed_form_for_diagonal_gaussians():
    # For commuting (diagonal) covariances, tr sqrt(S1 S2) = sum sqrt(a_i b_i), so
    # FID = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    a = np.array([1.0, 4.0, 9.0, 0.25])
    b = np.array([4.0, 1.0, 9.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert fid_from_statistics(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_closed_form_for_rotated_gaussians():
    # Rotating both Gaussians by the same orthogonal Q leaves FID unchanged.
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a, b = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    value = fid_from_statistics(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert value == pytest.approx(expected, rel=1e-9)


def test_large_samples_approach_the_closed_form():
    rng = np.random.default_rng(2)
    a, b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 0.5, 0.5])
    mu2 = np.array([0.5, -0.5, 1.0])
    real = rng.normal(size=(200_000, 3)) * np.sqrt(a)
    fake = rng.normal(size=(200_000, 3)) * np.sqrt(b) + mu2
    expected = np.sum(mu2**2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert fid(real, fake) == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize("rank1, rank2", [(None, None), (None, 3), (4, None)])
def test_eigenvalue_route_matches_scipy_sqrtm(rank1, rank2):
    # rank1 < dim: S1 is singular, Cholesky fails and S1^(1/2) comes from eigh instead.
    rng = np.random.default_rng(3)
    dim = 12
    s1, s2 = random_covariance(rng, dim, rank1), random_covariance(rng, dim, rank2)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    assert fid_from_statistics(mu1, s1, mu2, s2) == pytest.approx(sqrtm_fid(mu1, s1, mu2, s2), rel=1e-6)
    assert trace_sqrt_product(s1, s2) == pytest.approx(np.trace(scipy.linalg.sqrtm(s1 @ s2).real), rel=1e-7)


def test_low_rank_route_matches_statistics_route():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(20, 50)), rng.normal(size=(35, 50)) * 1.5 + 0.2
    _, s1 = features_to_statistics(real)
    _, s2 = features_to_statistics(fake)
    assert trace_sqrt_product_from_features(real, fake) == pytest.approx(trace_sqrt_product(s1, s2), rel=1e-6)
    # fid() picks the low-rank route here (N < D); compare with the statistics route and sqrtm.
    via_stats = fid_from_statistics(*features_to_statistics(real), *features_to_statistics(fake))
    assert fid(real, fake) == pytest.approx(via_stats, rel=1e-6)


def test_full_rank_features_match_sqrtm():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(400, 8)), rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    expected = sqrtm_fid(*features_to_statistics(real), *features_to_statistics(fake))
    assert fid(real, fake) == pytest.approx(expected, rel=1e-8)


def test_symmetric_and_zero_for_identical_sets():
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(100, 10)), rng.normal(size=(80, 10)) + 1
    assert fid(real, fake) == pytest.approx(fid(fake, real), rel=1e-10)
    assert fid(real, real) == pytest.approx(0.0, abs=1e-9)
    small = rng.normal(size=(5, 64))  # low-rank route
    assert fid(small, small) == pytest.approx(0.0, abs=1e-9)
    assert fid(real, fake) > 1.0


@pytest.mark.parametrize("real, fake, message", [
    (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2"),
    (np.zeros((5, 3)), np.zeros((5, 4)), "dimension"),
    (np.zeros((0, 3)), np.zeros((5, 3)), "at least 2"),
    (np.zeros(5), np.zeros((5, 1)), "2-D"),
    (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN"),
    (np.zeros((5, 3)), np.full((5, 3), np.inf), "NaN or infinite"),
])
def test_bad_features_raise(real, fake, message):
    with pytest.raises(ValueError, match=message):
        fid(real, fake)


def test_bad_statistics_raise():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="differ in shape"):
        fid_from_statistics(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="covariance matching"):
        fid_from_statistics(mu, np.eye(4), mu, sigma)
    with pytest.raises(ValueError, match="not symmetric"):
        fid_from_statistics(mu, np.triu(np.ones((3, 3))), mu, sigma)
    with pytest.raises(ValueError, match="sigma1 is not positive semi-definite"):
        fid_from_statistics(mu, -np.eye(3), mu, sigma)
    with pytest.raises(ValueError, match="sigma2 is not positive semi-definite"):
        fid_from_statistics(mu, sigma, mu, np.diag([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="NaN"):
        fid_from_statistics(np.array([0, np.nan, 0]), sigma, mu, sigma)
