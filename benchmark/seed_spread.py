"""The spread over seeds that every table, plot and claim of the suite reports: the **sample**
standard deviation (n − 1 in the denominator). With the usual three seeds the population form
(``np.std``'s default) is √(2/3) ≈ 0.82 of it, which would make "mean − std above the floor" easier to
pass than the spread of three draws warrants. One seed has no spread: 0.
(The Inception Score's ± over its splits is a different quantity and keeps torch-fidelity's form.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def seed_std(values: Sequence[float]) -> float:
    """Sample standard deviation of per-seed values (ddof = 1); 0.0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    return float(np.std(np.asarray(values, dtype=np.float64), ddof=1))
