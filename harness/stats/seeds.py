"""Several runs of one configuration (training seeds): mean and SD across runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SeedSummary:
    mean: float
    sd: float  # sample SD across runs (n - 1); NaN for a single run
    runs: int
    values: tuple[float, ...]


def across_seeds(values) -> SeedSummary:
    """Mean and sample SD (ddof=1) of one metric over runs that differ only in their seed,
    as EmPO reports its tables (mean +- SD over 4 seeds). NaN values (a run without the
    metric) are left out."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return SeedSummary(math.nan, math.nan, 0, ())
    sd = float(v.std(ddof=1)) if len(v) > 1 else math.nan
    return SeedSummary(float(v.mean()), sd, len(v), tuple(float(x) for x in v))


@dataclass(frozen=True)
class SeedTest:
    """One-sample t-test of a metric's seed values against one baseline number."""

    mean: float
    sd: float
    runs: int
    baseline: float
    diff: float  # mean - baseline
    t: float
    df: int
    p: float  # two-sided
    ci: tuple[float, float]  # interval of the seed mean (t distribution, df = runs - 1)


def one_sample_t(values, baseline: float, level: float = 0.95) -> SeedTest:
    """EmpRL's test of a system run with several seeds against a baseline with one number
    (its Tables II-III: "one-sample t-test"): t = (mean - baseline) / (SD / sqrt(n)), SD with
    n - 1, two-sided p from Student's t with n - 1 degrees of freedom. NaN values are left
    out; fewer than two values give NaN statistics."""
    from scipy import stats as st

    summary = across_seeds(values)
    n, mean, sd = summary.runs, summary.mean, summary.sd
    if n < 2 or math.isnan(baseline):
        return SeedTest(mean, sd, n, baseline, mean - baseline, math.nan, max(n - 1, 0), math.nan, (math.nan, math.nan))
    se = sd / math.sqrt(n)
    half = float(st.t.ppf(0.5 + level / 2, n - 1)) * se
    if se == 0:
        t = math.copysign(math.inf, mean - baseline) if mean != baseline else math.nan
        p = 0.0 if mean != baseline else math.nan
    else:
        t = (mean - baseline) / se
        p = float(2 * st.t.sf(abs(t), n - 1))
    return SeedTest(mean, sd, n, baseline, mean - baseline, t, n - 1, p, (mean - half, mean + half))
