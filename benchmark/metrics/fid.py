"""Fréchet Inception Distance (Heusel et al., 2017) on feature arrays.

    FID = ||mu_1 - mu_2||^2 + tr(S_1) + tr(S_2) - 2 tr( (S_1 S_2)^(1/2) )

Pipeline, torch-fidelity style: ``features_to_statistics`` -> ``statistics_to_fid`` (alias
``fid_from_statistics``) -> ``fid``. Everything is float64 numpy.

The only delicate term is tr((S_1 S_2)^(1/2)). S_1 S_2 is not symmetric, but it is similar to the
symmetric positive semi-definite matrix M = S_1^(1/2) S_2 S_1^(1/2), so its eigenvalues are real and
non-negative and tr((S_1 S_2)^(1/2)) = sum_i sqrt(lambda_i(M)). Two exact routes use this:

* statistics route (``trace_sqrt_product``): a factor R with S_1 = R R^T (Cholesky, or S_1^(1/2) from
  a symmetric eigendecomposition when S_1 is singular), then the eigenvalues of R^T S_2 R, which
  equal those of M, by ``eigvalsh``. Symmetric D x D problems only, no complex numbers,
  no iterative ``sqrtm`` (whose result is complex or inaccurate for singular covariances, the
  usual case when N < D); eigenvalues below zero are rounding noise of a PSD matrix and are clipped.
* low-rank route (``trace_sqrt_product_from_features``): with centred features A (N_1 x D) and
  B (N_2 x D), S_1 = A^T A / (N_1 - 1) and S_2 = B^T B / (N_2 - 1), the non-zero eigenvalues of
  S_1 S_2 are the squared singular values of A B^T / sqrt((N_1 - 1)(N_2 - 1)), so the trace is that
  matrix's nuclear norm. It costs O(N_1 N_2 D) instead of O(D^3) and is what makes per-class FIDs
  (WCFID: a few hundred samples per class, D = 2048) cheap. ``fid`` picks it when min(N_1, N_2) < D.

Both routes are tested against each other and against ``scipy.linalg.sqrtm``.
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics.validation import as_matrix, require_finite

# Relative size of a negative eigenvalue of a covariance that we still call rounding noise.
_PSD_TOLERANCE = 1e-6


def features_to_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D); N >= 2."""
    features = as_matrix("features", features, min_rows=2)
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def _check_covariance(name: str, sigma: np.ndarray, dim: int) -> np.ndarray:
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.shape != (dim, dim):
        raise ValueError(f"{name} must be a ({dim}, {dim}) covariance matching the mean; got {sigma.shape}")
    require_finite(name, sigma)
    scale = max(float(np.max(np.abs(sigma))), 1e-300)
    if np.max(np.abs(sigma - sigma.T)) > 1e-6 * scale:
        raise ValueError(f"{name} is not symmetric, so it is not a covariance matrix")
    return (sigma + sigma.T) / 2


def _psd_eigenvalues(name: str, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of a symmetric PSD matrix, clipping rounding-noise negatives to zero."""
    values, vectors = np.linalg.eigh(matrix)
    largest = max(float(values.max(initial=0.0)), 1e-300)
    if values.min(initial=0.0) < -_PSD_TOLERANCE * largest:
        raise ValueError(f"{name} is not positive semi-definite (eigenvalue {values.min():.3g}), "
                         "so it is not a covariance matrix")
    return np.clip(values, 0.0, None), vectors


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S_1 S_2)^(1/2)) by the symmetric eigenvalue route (see the module docstring).

    The factor R with S_1 = R R^T is a Cholesky factor when S_1 is positive definite (about 20x
    cheaper than an eigendecomposition); for a singular S_1 it is S_1^(1/2) from ``eigh``. Either
    way R^T S_2 R is symmetric PSD with the eigenvalues of S_1 S_2.
    """
    try:
        factor = np.linalg.cholesky(sigma1)
    except np.linalg.LinAlgError:
        values1, vectors1 = _psd_eigenvalues("sigma1", sigma1)
        factor = (vectors1 * np.sqrt(values1)) @ vectors1.T
    middle = factor.T @ sigma2 @ factor
    middle_values = np.linalg.eigvalsh((middle + middle.T) / 2)
    largest = max(float(middle_values.max(initial=0.0)), 1e-300)
    if middle_values.min(initial=0.0) < -_PSD_TOLERANCE * largest:
        raise ValueError("sigma2 is not positive semi-definite (S1^(1/2) S2 S1^(1/2) has eigenvalue "
                         f"{middle_values.min():.3g}), so it is not a covariance matrix")
    return float(np.sqrt(np.clip(middle_values, 0.0, None)).sum())


def trace_sqrt_product_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """tr((S_1 S_2)^(1/2)) from the features themselves (low-rank route, module docstring)."""
    centred1 = features1 - features1.mean(axis=0)
    centred2 = features2 - features2.mean(axis=0)
    cross = centred1 @ centred2.T / np.sqrt((features1.shape[0] - 1) * (features2.shape[0] - 1))
    return float(np.linalg.svd(cross, compute_uv=False).sum())


def statistics_to_fid(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """FID between two Gaussians given by their means (D,) and covariances (D, D)."""
    mu1 = np.asarray(mu1, dtype=np.float64)
    mu2 = np.asarray(mu2, dtype=np.float64)
    if mu1.ndim != 1 or mu1.size == 0:
        raise ValueError(f"mu1 must be a non-empty 1-D mean vector; got shape {mu1.shape}")
    if mu2.shape != mu1.shape:
        raise ValueError(f"mu1 and mu2 differ in shape: {mu1.shape} vs {mu2.shape}")
    require_finite("mu1", mu1)
    require_finite("mu2", mu2)
    sigma1 = _check_covariance("sigma1", sigma1, mu1.size)
    sigma2 = _check_covariance("sigma2", sigma2, mu1.size)
    trace_term = trace_sqrt_product(sigma1, sigma2)
    return _assemble(mu1 - mu2, np.trace(sigma1), np.trace(sigma2), trace_term)


fid_from_statistics = statistics_to_fid


def _assemble(mean_difference: np.ndarray, trace1: float, trace2: float, trace_sqrt: float) -> float:
    value = float(mean_difference @ mean_difference + trace1 + trace2 - 2.0 * trace_sqrt)
    # FID >= 0 exactly; a tiny negative value is cancellation between the trace terms.
    return max(value, 0.0)


def fid(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """FID between two feature sets (N_1, D) and (N_2, D), N >= 2 each.

    Uses the low-rank route when min(N_1, N_2) < D (cheaper, exact), the statistics route otherwise.
    """
    real = as_matrix("real_features", real_features, min_rows=2)
    fake = as_matrix("fake_features", fake_features, min_rows=2)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_features and fake_features differ in dimension: {real.shape[1]} vs "
                         f"{fake.shape[1]}")
    if min(real.shape[0], fake.shape[0]) < real.shape[1]:
        trace1 = float(np.sum((real - real.mean(axis=0)) ** 2) / (real.shape[0] - 1))
        trace2 = float(np.sum((fake - fake.mean(axis=0)) ** 2) / (fake.shape[0] - 1))
        trace_sqrt = trace_sqrt_product_from_features(real, fake)
        return _assemble(real.mean(axis=0) - fake.mean(axis=0), trace1, trace2, trace_sqrt)
    mu1, sigma1 = features_to_statistics(real)
    mu2, sigma2 = features_to_statistics(fake)
    return statistics_to_fid(mu1, sigma1, mu2, sigma2)
