"""Welch's t-test: for per-example metrics of two systems scored on different examples."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from harness.stats.result import TestResult


def welch_t_test(a, b, *, level: float = 0.95, note: str = "") -> TestResult:
    """Welch's unequal-variances t-test of mean(b) - mean(a) (scipy.stats.ttest_ind with
    equal_var=False) and its Welch-Satterthwaite t interval.

    Unpaired: it ignores any link between examples, so use it only when the two systems
    were not scored on the same examples (paired tests are more powerful when they were).
    Assumes independent examples and approximately normal means (the central limit
    theorem, for the usual n in the hundreds). NaN values are left out. `note` is added to
    the method (why the examples could not be paired).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    method = "Welch's t-test (unpaired, unequal variances)" + (f": {note}" if note else "")
    if len(a) < 2 or len(b) < 2:
        return TestResult(float(np.mean(b) - np.mean(a)) if len(a) and len(b) else float("nan"),
                          float("nan"), float("nan"), (float("nan"), float("nan")), len(a) + len(b),
                          method + " (too few examples)", level)
    res = sps.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(confidence_level=level)
    return TestResult(float(b.mean() - a.mean()), float(res.statistic), float(res.pvalue),
                      (float(ci.low), float(ci.high)), len(a) + len(b),
                      f"{method}; {level:.0%} CI: Welch t interval", level)
