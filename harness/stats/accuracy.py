"""Exact McNemar test for paired accuracies (MMLU, Open LLM Leaderboard tasks)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from harness.stats.result import TestResult


def mcnemar_exact(a, b, *, level: float = 0.95) -> TestResult:
    """Exact McNemar test of acc(b) - acc(a) from per-example 0/1 correctness on the same
    examples (statsmodels.stats.contingency_tables.mcnemar, exact=True).

    Only the discordant examples count: n10 (A right, B wrong) and n01 (A wrong, B right);
    under H0 each discordant example is B's win with probability 1/2, so the p-value is
    the two-sided binomial probability of a split at least as uneven as the observed one
    (statistic = min(n01, n10)). Interval: Wald interval of the paired difference of
    proportions, (n01 - n10) / n +- z * sqrt(n01 + n10 - (n01 - n10)^2 / n) / n (Agresti,
    Categorical Data Analysis, 10.1); it is degenerate (zero width) when there are no
    discordant pairs. Assumes independent examples.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired accuracies must have the same length, got {len(a)} and {len(b)}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if not np.isin(a, (0.0, 1.0)).all() or not np.isin(b, (0.0, 1.0)).all():
        raise ValueError("McNemar's test needs 0/1 correctness per example")
    n = len(a)
    n10 = int(((a == 1) & (b == 0)).sum())
    n01 = int(((a == 0) & (b == 1)).sum())
    n11 = int(((a == 1) & (b == 1)).sum())
    n00 = n - n10 - n01 - n11
    method = f"exact McNemar test ({n01} B-only / {n10} A-only correct); {level:.0%} CI: Wald, paired proportions"
    if n == 0:
        return TestResult(math.nan, math.nan, math.nan, (math.nan, math.nan), 0, method, level)
    res = mcnemar([[n11, n10], [n01, n00]], exact=True)
    diff = (n01 - n10) / n
    z = sps.norm.ppf(0.5 + level / 2)
    half = z * math.sqrt(max(n01 + n10 - (n01 - n10) ** 2 / n, 0.0)) / n
    return TestResult(diff, float(res.statistic), float(res.pvalue), (diff - half, diff + half), n, method, level)


def is_binary(values) -> bool:
    """True when every defined value is 0 or 1 (per-example correctness)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return len(v) > 0 and bool(np.isin(v, (0.0, 1.0)).all())
