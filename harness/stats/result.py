"""Small result records, in the manner of scipy.stats: the numbers plus how they were made."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TestResult:
    """One test of "B differs from A".

    `estimate` is the difference B - A of the compared statistic (mean difference,
    difference in accuracy, difference of corpus values); `statistic` is the test's own
    statistic (the mean difference for permutation tests, t for Welch, the smaller
    discordant count for exact McNemar); `ci` a two-sided interval for `estimate` at
    `level`; `n` the examples used; `resamples` how many resamples the p-value or the
    interval rests on (None where neither is resampled, "exact" enumerations count all
    2**n sign patterns); `method` says in words which test and interval were used.
    """

    estimate: float
    statistic: float
    pvalue: float
    ci: tuple[float, float]
    n: int
    method: str
    level: float = 0.95
    resamples: int | None = None

    def to_json(self) -> dict:
        return {
            "estimate": _num(self.estimate),
            "statistic": _num(self.statistic),
            "pvalue": _num(self.pvalue),
            "ci": [_num(self.ci[0]), _num(self.ci[1])],
            "n": self.n,
            "level": self.level,
            "resamples": self.resamples,
            "method": self.method,
        }


@dataclass(frozen=True)
class Interval:
    """A confidence interval for one estimate."""

    estimate: float
    low: float
    high: float
    n: int
    method: str
    level: float = 0.95
    resamples: int | None = None


def _num(value: float) -> float | None:
    """JSON has no NaN: undefined numbers are written as null."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
