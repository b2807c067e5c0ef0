"""pipeline/analytics/pvalues.py gives what scipy.stats gives, over tables and counts of the sizes the
analyses see (tens to thousands of rows a cell), and the analyses no longer load scipy.stats."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from pipeline.analytics.pvalues import binom_sf, fisher_greater, t_ppf, t_sf


def test_binomial_tail_matches_scipy_stats_including_k_below_zero():
    rng = np.random.default_rng(5)
    n = rng.integers(1, 3000, 200)
    k = np.array([rng.integers(-1, m + 1) for m in n])
    for p in (1 / 29, 0.2, 0.5):
        np.testing.assert_allclose(binom_sf(k, n, p), stats.binom.sf(k, n, p), rtol=1e-9, atol=1e-250)  # both 0 to a p-value
    assert binom_sf(-1, 10, 0.3) == 1.0 and isinstance(binom_sf(3, 10, 0.3), float)


@pytest.mark.parametrize("df", [1, 3, 7.5, 40, 1000])
def test_student_t_matches_scipy_stats(df):
    assert t_ppf(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-10)
    for x in (0.0, 0.7, 2.1, 6.0):
        assert t_sf(x, df) == pytest.approx(stats.t.sf(x, df), rel=1e-9)


def test_fisher_greater_matches_scipy_stats_on_random_tables():
    rng = np.random.default_rng(11)
    for _ in range(300):
        n1, n2 = int(rng.integers(1, 400)), int(rng.integers(1, 3000))
        a, b = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
        want = stats.fisher_exact([[a, n1 - a], [b, n2 - b]], alternative="greater")[1]
        assert fisher_greater(a, n1 - a, b, n2 - b) == pytest.approx(want, rel=1e-7, abs=1e-300), (a, n1, b, n2)


def test_the_analyses_do_not_import_scipy_stats_or_scikit_learn():
    code = ("import sys; import pipeline.analytics.alerts, pipeline.analytics.drivers, "
            "pipeline.analytics.manipulation, pipeline.analytics.emerging; "
            "print(sorted(m for m in ('scipy.stats', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
