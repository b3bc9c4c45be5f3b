"""Paired tests of per-example metrics: sign-flip permutation test and bootstrap interval.

Both work on the per-example differences d_i = b_i - a_i of two systems scored on the
same examples, for many metrics at once: one matrix of random sign flips (and one of
bootstrap resamples) is drawn per call and shared by every metric column, so comparing
25 metrics costs little more than one. NaN marks an example where a metric is undefined
for either system; it is left out of that metric only (its difference counts as 0 in
every sum and the mean divides by the defined count, which is the same test on the
defined examples).
"""

from __future__ import annotations

import numpy as np

from harness.stats.result import Interval, TestResult

DEFAULT_RESAMPLES = 10_000
# Up to 2**16 = 65,536 sign patterns the null distribution is enumerated exactly: that
# is more patterns than the default Monte Carlo draw and still cheap.
EXACT_MAX_N = 16
_CHUNK = 1_000
# Sums equal in exact arithmetic may differ in the last bits in floating point; a null
# sum within this fraction of sum(|d|) of the observed one counts as "as extreme".
_REL_TOL = 1e-10

Seed = int | np.random.SeedSequence


def _diff_matrix(a, b) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have the same shape, got {a.shape} and {b.shape}")
    d = b - a
    return d[:, None] if d.ndim == 1 else d


def flip_patterns(n: int, resamples: int, seed: Seed):
    """Yield chunks of 0/1 matrices (1 = flip the sign): all 2**n patterns when n is
    small, else `resamples` seeded random patterns."""
    if n <= EXACT_MAX_N:
        codes = np.arange(2**n, dtype=np.int64)
        for start in range(0, len(codes), 8 * _CHUNK):
            block = codes[start:start + 8 * _CHUNK]
            yield ((block[:, None] >> np.arange(n)) & 1).astype(np.float64)
        return
    rng = np.random.default_rng(seed)
    width = (n + 7) // 8
    done = 0
    while done < resamples:
        k = min(_CHUNK, resamples - done)
        raw = np.frombuffer(rng.bytes(k * width), dtype=np.uint8).reshape(k, width)
        yield np.unpackbits(raw, axis=1, count=n).astype(np.float64)
        done += k


def permutation_pvalues(diffs: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: Seed = 0) -> tuple[np.ndarray, int, bool]:
    """Two-sided sign-flip p-values, one per column of `diffs` (n examples x m metrics).

    Returns (p-values, number of sign patterns used, exact). Under H0 (the two systems'
    outputs are exchangeable within each example) each d_i is symmetric about 0, so
    flipping signs at random gives the null distribution of sum(d). p is the share of
    patterns whose |sum| is at least the observed |sum|: exactly over all 2**n patterns
    when n <= EXACT_MAX_N (the identity included), else (1 + count) / (1 + resamples).
    """
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim == 1:
        d = d[:, None]
    n, m = d.shape
    defined = ~np.isnan(d)
    d0 = np.where(defined, d, 0.0)
    total = d0.sum(axis=0)
    observed = np.abs(total)
    tol = _REL_TOL * np.abs(d0).sum(axis=0)
    count = np.zeros(m)
    used = 0
    for flips in flip_patterns(n, resamples, seed):
        # sum(s_i d_i) with s_i = 1 - 2 f_i  ==  total - 2 (F @ d)
        null = total - 2.0 * (flips @ d0)
        count += (np.abs(null) >= observed - tol).sum(axis=0)
        used += len(flips)
    exact = n <= EXACT_MAX_N
    p = count / used if exact else (1.0 + count) / (1.0 + used)
    p[defined.sum(axis=0) == 0] = np.nan
    return p, used, exact


def bootstrap_mean_intervals(diffs: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: Seed = 0,
                             level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean of each column (examples resampled with
    replacement, the same resamples for every column). Returns (low, high)."""
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim == 1:
        d = d[:, None]
    n, m = d.shape
    defined = ~np.isnan(d)
    d0 = np.where(defined, d, 0.0)
    gaps = ~defined.all(axis=0)  # columns with undefined examples divide by their own count
    valid = defined[:, gaps].astype(np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, m))
    counts = np.empty((_CHUNK, n))
    done = 0
    while done < resamples:
        k = min(_CHUNK, resamples - done)
        idx = rng.integers(0, n, size=(k, n))
        for r in range(k):
            counts[r] = np.bincount(idx[r], minlength=n)
        chunk = counts[:k] @ d0 / n  # every resample has n examples
        if gaps.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                chunk[:, gaps] = (counts[:k] @ d0[:, gaps]) / (counts[:k] @ valid)
        means[done:done + k] = chunk
        done += k
    alpha = 1.0 - level
    with np.errstate(invalid="ignore"):
        low = np.nanquantile(means, alpha / 2, axis=0) if n else np.full(m, np.nan)
        high = np.nanquantile(means, 1 - alpha / 2, axis=0) if n else np.full(m, np.nan)
    return low, high


def paired_tests(a, b, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95) -> list[TestResult]:
    """Paired permutation test and paired bootstrap interval of the mean difference B - A,
    for each column of `a` and `b` (n examples x m metrics, or one vector).

    Method: sign-flip permutation test of the mean difference (two-sided; exact for
    n <= 16, else `resamples` seeded random sign patterns, p = (1 + count) / (1 +
    resamples)); interval: percentile bootstrap over examples (`resamples` resamples).
    Assumes the examples are independent and that, under H0, each example's two outputs
    are exchangeable (d_i symmetric about 0). No normality is assumed.
    The sign patterns and the bootstrap resamples derive from `seed` (two independent
    streams) and are shared by all columns: the same seed gives the same numbers.
    """
    d = _diff_matrix(a, b)
    n = d.shape[0]
    perm_seed, boot_seed = np.random.SeedSequence(seed).spawn(2)
    p, used, exact = permutation_pvalues(d, resamples=resamples, seed=perm_seed)
    low, high = bootstrap_mean_intervals(d, resamples=resamples, seed=boot_seed, level=level)
    counts = (~np.isnan(d)).sum(axis=0)
    with np.errstate(invalid="ignore"):
        means = np.nansum(d, axis=0) / counts
    if exact:
        how = f"exact paired permutation test (all 2^{n} sign flips)"
    else:
        how = f"paired permutation test ({used:,} random sign flips, seed {seed})"
    method = f"{how}; {level:.0%} CI: paired percentile bootstrap ({resamples:,} resamples)"
    return [
        TestResult(estimate=float(means[j]), statistic=float(means[j]), pvalue=float(p[j]),
                   ci=(float(low[j]), float(high[j])), n=int(counts[j]), method=method, level=level,
                   resamples=used)
        for j in range(d.shape[1])
    ]


def paired_permutation_test(a, b, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95) -> TestResult:
    """One metric: see `paired_tests`. `a`, `b` are the two systems' values per example."""
    return paired_tests(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                        resamples=resamples, seed=seed, level=level)[0]


def paired_bootstrap_ci(a, b, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of mean(b - a) over examples resampled with
    replacement. Assumes independent examples; accurate when n is moderately large."""
    d = _diff_matrix(a, b)
    low, high = bootstrap_mean_intervals(d, resamples=resamples, seed=seed, level=level)
    n = int((~np.isnan(d[:, 0])).sum())
    estimate = float(np.nanmean(d[:, 0])) if n else float("nan")
    return Interval(estimate, float(low[0]), float(high[0]), n,
                    f"paired percentile bootstrap ({resamples:,} resamples, seed {seed})", level, resamples)
