"""Perplexity of reference responses: exp(-sum of log-likelihoods / sum of weights) (words or
bytes), as lm-eval's `weighted_perplexity` aggregates, and its percentile bootstrap interval
over examples (the log-likelihood and weight of an example are resampled together)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def weighted_perplexity(loglikelihoods: Sequence[float], weights: Sequence[float]) -> float:
    ll, w = np.asarray(loglikelihoods, dtype=float), np.asarray(weights, dtype=float)
    if len(ll) == 0 or w.sum() <= 0:
        return math.nan
    return float(math.exp(-ll.sum() / w.sum()))


def perplexity_interval(loglikelihoods: Sequence[float], weights: Sequence[float], *, resamples: int = 10_000,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of `weighted_perplexity` over examples (scipy's
    `bootstrap`, paired resampling of (log-likelihood, weight))."""
    from scipy import stats as st

    ll, w = np.asarray(loglikelihoods, dtype=float), np.asarray(weights, dtype=float)
    if len(ll) < 2:
        return (math.nan, math.nan)

    def statistic(a, b, axis=-1):
        return np.exp(-a.sum(axis=axis) / b.sum(axis=axis))

    result = st.bootstrap((ll, w), statistic, paired=True, vectorized=True, n_resamples=resamples,
                          confidence_level=level, method="percentile", random_state=np.random.default_rng(seed))
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))
