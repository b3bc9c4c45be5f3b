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
    constant_a, constant_b = bool(np.ptp(a) == 0), bool(np.ptp(b) == 0)
    diff = float(b.mean() - a.mean())
    if constant_a and constant_b:
        return TestResult(diff, float("nan"), float("nan"), (diff, diff), len(a) + len(b),
                          method + " (both samples constant: no test)", level)
    if constant_a or constant_b:
        # A sample without spread adds nothing to the variance: Welch's t reduces to the
        # one-sample t-test of the other against the constant (df n - 1). Asking scipy for
        # the two-sample form would compute the constant's variance from rounded moments
        # (its "precision loss" warning).
        varied, constant, sign = (b, a[0], 1.0) if constant_a else (a, b[0], -1.0)
        res = sps.ttest_1samp(varied, constant)
        ci = res.confidence_interval(confidence_level=level)
        low, high = sorted((sign * (float(ci.low) - constant), sign * (float(ci.high) - constant)))
        return TestResult(diff, sign * float(res.statistic), float(res.pvalue), (low, high), len(a) + len(b),
                          f"{method}; one sample constant: one-sample t-test against it; {level:.0%} CI: t interval",
                          level)
    res = sps.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(confidence_level=level)
    return TestResult(diff, float(res.statistic), float(res.pvalue),
                      (float(ci.low), float(ci.high)), len(a) + len(b),
                      f"{method}; {level:.0%} CI: Welch t interval", level)
