"""Standardized effect sizes (Cohen 1988; Lakens 2013)."""

from __future__ import annotations

import math

import numpy as np


def cohens_dz(a, b) -> float:
    """Paired Cohen's d_z = mean(d) / sd(d), d = b - a per example (sd with n - 1).

    The effect in units of the spread of the differences; it sets a paired test's power.
    NaN pairs are left out. Undefined (NaN) with fewer than 2 pairs or when every
    difference is 0; +-inf when all differences are equal and non-zero.
    """
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) < 2:
        return math.nan
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0:
        return math.nan if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def cohens_d(a, b) -> float:
    """Cohen's d with the pooled SD: (mean(b) - mean(a)) / s_p,
    s_p^2 = ((n_a - 1) s_a^2 + (n_b - 1) s_b^2) / (n_a + n_b - 2). For unpaired samples.
    NaN values are left out; NaN when a sample has fewer than 2 values or s_p = 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return math.nan
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    return math.nan if pooled == 0 else float((b.mean() - a.mean()) / pooled)
