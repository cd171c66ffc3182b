"""Conditional generation metrics of Benny, Galanti, Benaim & Wolf, "Evaluation Metrics for
Conditional Image Generation" (arXiv 2004.12361), on arrays.

A condition c is the child code an image was generated from (for real images: the cluster the
method's encoder assigns, so that real cluster c and fake code c are comparable). With a classifier
p(y|x):

    p(y|c) = E_{x|c} p(y|x),      p(y) = E_c p(y|c) = E_x p(y|x)    (E_c weighted by p(c) = N_c / N)
    BCIS = exp( E_c KL( p(y|c) || p(y) ) )                between-class IS: classes distinct (higher)
    WCIS = exp( E_c E_{x|c} KL( p(y|x) || p(y|c) ) )      within-class IS: diversity inside a class
    IS   = BCIS x WCIS                                    (exactly, on one split)
    BCFID = FID between the sets {mu_c^real} and {mu_c^fake} of per-class mean features
    WCFID = mean over classes c of FID(real features of c, fake features of c)

Which fills OneGAN's Table 1 (the paper reports one "CIS" and one "CFID"):

* CIS = **BCIS**. Table 1 marks CIS with an up-arrow and every row has CIS <= IS (Dataset 47.9 vs
  163.6; "no multi-phase" 2.3 vs 11.0), which BCIS satisfies (WCIS >= 1 so BCIS = IS / WCIS <= IS)
  and which "higher is better" only fits for BCIS (a lower WCIS is the better one).
* CFID = **WCFID**. The paper says the conditional metrics "measure the similarity between real and
  fake images within each class". Its CFID values (55.2 for OneGAN on Birds) exceed the FIDs (20.5),
  as per-class FIDs on a few dozen images per class do (small-sample bias), while a FID between
  class means would typically be smaller. The "Dataset" row has CFID 0 because real images compared
  with themselves under the same conditions give zero for both BCFID and WCFID, so that row cannot
  tell them apart.

All four are computed and recorded; ``TABLE1_CIS`` / ``TABLE1_CFID`` name the chosen ones.
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics.fid import fid
from benchmark.metrics.inception_score import kl_rows
from benchmark.metrics.validation import as_labels, as_matrix, as_probabilities

TABLE1_CIS = "bcis"
TABLE1_CFID = "wcfid"


def class_conditional_probs(probs: np.ndarray, conditions: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes (C,), p(y|c) (C, K), p(c) (C,)) from p(y|x) (N, K) and conditions (N,)."""
    classes, inverse, counts = np.unique(conditions, return_inverse=True, return_counts=True)
    sums = np.zeros((classes.size, probs.shape[1]))
    np.add.at(sums, inverse, probs)
    return classes, sums / counts[:, None], counts / counts.sum()


def _checked_probs_and_conditions(probs: np.ndarray, conditions: np.ndarray
                                  ) -> tuple[np.ndarray, np.ndarray]:
    probs = as_probabilities("probs", probs)
    conditions = as_labels("conditions", conditions, length=probs.shape[0])
    return probs, conditions


def bcis(probs: np.ndarray, conditions: np.ndarray) -> float:
    """Between-class Inception Score: exp(E_c KL(p(y|c) || p(y)))."""
    probs, conditions = _checked_probs_and_conditions(probs, conditions)
    _, per_class, weights = class_conditional_probs(probs, conditions)
    marginal = weights @ per_class
    return float(np.exp(weights @ kl_rows(per_class, marginal[None])))


def wcis(probs: np.ndarray, conditions: np.ndarray) -> float:
    """Within-class Inception Score: exp(E_c E_{x|c} KL(p(y|x) || p(y|c)))."""
    probs, conditions = _checked_probs_and_conditions(probs, conditions)
    classes, per_class, _ = class_conditional_probs(probs, conditions)
    own_class = per_class[np.searchsorted(classes, conditions)]
    return float(np.exp(kl_rows(probs, own_class).mean()))


def _class_features(real_features: np.ndarray, real_conditions: np.ndarray, fake_features: np.ndarray,
                    fake_conditions: np.ndarray, min_per_class: int
                    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """[(c, real features of c, fake features of c)] for every condition c of the fake set."""
    real = as_matrix("real_features", real_features)
    fake = as_matrix("fake_features", fake_features)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real_features and fake_features differ in dimension: {real.shape[1]} vs "
                         f"{fake.shape[1]}")
    real_conditions = as_labels("real_conditions", real_conditions, length=real.shape[0])
    fake_conditions = as_labels("fake_conditions", fake_conditions, length=fake.shape[0])
    classes = np.unique(fake_conditions)
    missing = np.setdiff1d(classes, real_conditions)
    if missing.size:
        raise ValueError(f"{missing.size} fake condition(s) never occur among the real conditions "
                         f"(first: {missing[:5].tolist()}); conditional FIDs compare class c with class c")
    groups = []
    for c in classes:
        real_c, fake_c = real[real_conditions == c], fake[fake_conditions == c]
        if min(real_c.shape[0], fake_c.shape[0]) < min_per_class:
            raise ValueError(f"condition {c} has {real_c.shape[0]} real and {fake_c.shape[0]} fake samples; "
                             f"at least {min_per_class} of each are needed")
        groups.append((int(c), real_c, fake_c))
    return groups


def bcfid(real_features: np.ndarray, real_conditions: np.ndarray, fake_features: np.ndarray,
          fake_conditions: np.ndarray) -> float:
    """Between-class FID: FID between the real and the fake per-class mean features.

    Uses the conditions present in the fake set (each must occur in the real set); needs >= 2.
    """
    groups = _class_features(real_features, real_conditions, fake_features, fake_conditions, min_per_class=1)
    if len(groups) < 2:
        raise ValueError("BCFID needs at least 2 distinct conditions (it is a FID over class means)")
    real_means = np.stack([real_c.mean(axis=0) for _, real_c, _ in groups])
    fake_means = np.stack([fake_c.mean(axis=0) for _, _, fake_c in groups])
    return fid(real_means, fake_means)


def per_class_fid(real_features: np.ndarray, real_conditions: np.ndarray, fake_features: np.ndarray,
                  fake_conditions: np.ndarray) -> dict[int, float]:
    """FID(real features of c, fake features of c) for every fake condition c (>= 2 samples each)."""
    groups = _class_features(real_features, real_conditions, fake_features, fake_conditions, min_per_class=2)
    return {c: fid(real_c, fake_c) for c, real_c, fake_c in groups}


def wcfid(real_features: np.ndarray, real_conditions: np.ndarray, fake_features: np.ndarray,
          fake_conditions: np.ndarray) -> float:
    """Within-class FID: the mean over the fake conditions of the per-class FID."""
    return float(np.mean(list(per_class_fid(real_features, real_conditions, fake_features,
                                            fake_conditions).values())))
