"""Power: the smallest difference a comparison of this size could detect."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from statsmodels.stats.power import TTestIndPower, TTestPower


@dataclass(frozen=True)
class DetectableDifference:
    difference: float  # in the metric's own units
    effect_size: float  # standardized (d_z when paired, d when unpaired)
    n: int
    alpha: float
    power: float
    method: str


def minimum_detectable_difference(sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8,
                                  paired: bool = True, n_b: int | None = None) -> DetectableDifference:
    """The smallest true mean difference a two-sided test at `alpha` detects with
    probability `power`, by the t-test approximation (statsmodels TTestPower /
    TTestIndPower solve_power).

    Paired: `sd` is the SD of the per-example differences and `n` the pairs; the answer
    is d_z * sd. Unpaired: `sd` the pooled SD, `n` and `n_b` the two sample sizes. The
    permutation and McNemar tests the harness runs have about the power of the t-test at
    these n (hundreds of examples), so this is the size of effect a non-significant
    result can rule out.
    """
    if n < 2 or not math.isfinite(sd):
        return DetectableDifference(math.nan, math.nan, n, alpha, power, "undefined: fewer than 2 examples")
    n_b = n if n_b is None else n_b
    d = _detectable_effect(n, n_b, alpha, power, paired)
    if paired:
        how = f"paired t approximation, alpha {alpha:g} two-sided, power {power:g}, n {n}"
    else:
        how = f"two-sample t approximation, alpha {alpha:g} two-sided, power {power:g}, n {n} and {n_b}"
    return DetectableDifference(d * sd, d, n, alpha, power, how)


@lru_cache(maxsize=256)
def _detectable_effect(n: int, n_b: int, alpha: float, power: float, paired: bool) -> float:
    if paired:
        d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    else:
        d = TTestIndPower().solve_power(effect_size=None, nobs1=n, ratio=n_b / n, alpha=alpha, power=power,
                                        alternative="two-sided")
    return float(np.ravel(d)[0])
