"""The few distribution functions the analyses test with, on ``scipy.special``.

``scipy.stats`` would give the same numbers, but importing it adds ~33 MB to a nightly run's peak
memory against ~13 MB for ``scipy.special`` (bench/RESULTS.md, "Peak memory"); tests/pipeline/analytics/
test_pvalues.py checks each function against ``scipy.stats``. Pure functions, no imports from the project.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def binom_sf(k, n, p: float):
    """P(X > k) for X ~ Binomial(n, p); 1 where k < 0 (``scipy.stats.binom.sf``)."""
    k = np.floor(np.asarray(k, dtype=float))
    n = np.asarray(n, dtype=float)
    out = special.bdtrc(np.maximum(k, 0).astype(np.int64), n.astype(np.int64), p)
    out = np.where(k < 0, 1.0, out)
    return float(out) if out.ndim == 0 else out


def t_ppf(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (``scipy.stats.t.ppf``)."""
    return float(special.stdtrit(df, q))


def t_sf(x: float, df: float) -> float:
    """P(T > x) for Student's t with ``df`` degrees of freedom (``scipy.stats.t.sf``)."""
    return float(special.stdtr(df, -x))


def fisher_greater(a: int, b: int, c: int, d: int) -> float:
    """One-sided Fisher exact test of the table [[a, b], [c, d]], alternative "greater" (the first row's
    share of the first column is larger): P(X >= a) for X hypergeometric with the table's margins
    (``scipy.stats.fisher_exact(..., alternative="greater")[1]``)."""
    a, b, c, d = (int(round(v)) for v in (a, b, c, d))
    row1, col1, total = a + b, a + c, a + b + c + d
    lo, hi = max(a, 0), min(row1, col1)
    if lo > hi:
        return 0.0
    denom = _lcomb(total, col1)
    logs = [_lcomb(row1, x) + _lcomb(total - row1, col1 - x) - denom for x in range(lo, hi + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def _lcomb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
