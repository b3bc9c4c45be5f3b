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
