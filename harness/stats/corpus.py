"""Tests of corpus-level metrics: numbers computed from a whole system output at once
(response tries, Dist-n, BLEU), which have no per-example values to pair.

Both procedures call the metric again on rearranged outputs, so their cost is the
number of resamples times the metric's cost: it is bounded by `resamples` and reported
in every result. One call of `statistic` may return several corpus values at once (all
the trie statistics come from one spanify run), and every value is tested from the
same resamples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, TypeVar

import numpy as np
from scipy import sparse

from harness.stats.result import Interval, TestResult

T = TypeVar("T")
CorpusStatistic = Callable[[Sequence[T]], Mapping[str, float]]

DEFAULT_CORPUS_RESAMPLES = 200
MIN_RESAMPLES = 19  # fewer cannot reach p = 0.05 (the smallest p is 1 / (R + 1))
_REL_TOL = 1e-10


def _half(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.sort(rng.permutation(n)[: max(n // 2, 1)])


def _centered_interval(values: np.ndarray, center: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Half-sampling interval: center + the (alpha/2, 1 - alpha/2) quantiles of the
    half-sample values minus their mean.

    Why not the ordinary bootstrap: a with-replacement resample repeats examples, and
    repeated responses are exactly what diversity metrics (Dist-n, the tries) count, so
    the bootstrap distribution of a Dist-2 difference is shifted toward 0 and too narrow:
    in the simulation of tests/benchmarks/bench_stats.py its 95% interval covered the
    expected difference in 1% of cases (re-centered on the observed value: 75%).
    Half-samples without replacement (McCarthy 1969) repeat nothing and have, for a mean,
    the variance of the full-size estimate; corpus metrics also drift with corpus size, so
    only their spread is used, centered on the observed value (coverage 94% there)."""
    alpha = 1.0 - level
    if len(values) == 0:
        nan = np.full(np.shape(center), np.nan)
        return nan, nan
    with np.errstate(invalid="ignore"):
        spread = values - np.nanmean(values, axis=0)
        return center + np.nanquantile(spread, alpha / 2, axis=0), center + np.nanquantile(spread, 1 - alpha / 2, axis=0)


def approximate_randomization(a: Sequence[T], b: Sequence[T], statistic: CorpusStatistic, *,
                              resamples: int = DEFAULT_CORPUS_RESAMPLES, seed: int = 0,
                              level: float = 0.95, budget_seconds: float | None = None,
                              min_resamples: int = MIN_RESAMPLES,
                              progress: Callable[[int], None] | None = None,
                              observed: tuple[Mapping[str, float], Mapping[str, float]] | None = None
                              ) -> dict[str, TestResult]:
    """Approximate randomization test (Noreen 1989; Riezler & Maxwell 2005) and a paired
    half-sampling interval for corpus-level metrics, B - A.

    `a[i]` and `b[i]` are the two systems' outputs for example i; `statistic(outputs)`
    returns {name: value} for one system's whole output. Randomization: each resample
    swaps the two systems' outputs on a random half of the examples (each example with
    probability 1/2), recomputes both corpus values and their difference; p = (1 + #
    |null diff| >= |observed diff|) / (1 + resamples), two-sided. Interval: see
    `_centered_interval` (the same half of the examples for both systems). Each
    resample calls `statistic` twice per procedure: 4 x `resamples` calls.
    Assumes independent examples and, under H0, outputs exchangeable within an example.
    With R resamples the smallest attainable p is 1 / (R + 1). With `budget_seconds`,
    resampling stops after the resample that exhausts the budget (at least one is
    made); the result says how many were used (`resamples`). Stopping on time, not on
    the outcome, keeps the test valid. `observed`: the two systems' values, when the
    caller has computed them already. When the observed values took so long that the
    budget cannot afford `min_resamples` resamples (19 make p = 0.05 reachable), no
    resampling is done and the results say why (p and interval NaN, resamples 0).
    """
    if len(a) != len(b):
        raise ValueError(f"paired outputs differ in length: {len(a)} and {len(b)}")
    n = len(a)
    if observed is not None:
        (va, vb), per_resample = observed, 0.0
    else:
        va = statistic(a)  # the first call may carry one-time loading: time the second
        start = time.monotonic()
        vb = statistic(b)
        # one resample: two full-size and two half-size recomputations, about three full ones
        per_resample = 3 * (time.monotonic() - start)
    names = [k for k in vb if k in va]
    observed = np.array([vb[k] - va[k] for k in names], dtype=float)
    if budget_seconds is not None and resamples and per_resample * min(min_resamples, resamples) > budget_seconds:
        why = (f"not tested: one resample recomputes the metric 4 times (about {per_resample:.1f} s), so the "
               f"{budget_seconds:g} s budget affords fewer than {min(min_resamples, resamples)} resamples; raise the "
               f"budget, or let the scorer recompute its corpus values from per-example rows (corpus_from_rows)")
        return {k: TestResult(float(observed[j]), float(observed[j]), float("nan"), (float("nan"), float("nan")), n,
                              why, level, 0) for j, k in enumerate(names)}
    swap_seed, boot_seed = np.random.SeedSequence(seed).spawn(2)
    swap_rng, boot_rng = np.random.default_rng(swap_seed), np.random.default_rng(boot_seed)
    null = np.empty((resamples, len(names)))
    boot = np.empty((resamples, len(names)))
    start = time.monotonic()
    used = 0
    for r in range(resamples):
        swap = swap_rng.random(n) < 0.5
        x = [bi if s else ai for ai, bi, s in zip(a, b, swap)]
        y = [ai if s else bi for ai, bi, s in zip(a, b, swap)]
        sx, sy = statistic(x), statistic(y)
        null[r] = [sy[k] - sx[k] for k in names]
        idx = _half(boot_rng, n)
        ba, bb = statistic([a[i] for i in idx]), statistic([b[i] for i in idx])
        boot[r] = [bb[k] - ba[k] for k in names]
        used = r + 1
        if progress:
            progress(used)
        if budget_seconds is not None and time.monotonic() - start > budget_seconds:
            break
    null, boot = null[:used], boot[:used]
    tol = _REL_TOL * np.maximum(np.abs(observed), 1.0)
    with np.errstate(invalid="ignore"):
        count = (np.abs(null) >= np.abs(observed) - tol).sum(axis=0)
    p = (1.0 + count) / (1.0 + used) if used else np.full(len(names), np.nan)
    p[np.isnan(observed)] = np.nan
    low, high = _centered_interval(boot, observed, level)
    method = (f"approximate randomization ({used:,} random swaps of the two systems' responses, seed {seed}); "
              f"{level:.0%} CI: paired half-sampling ({used:,} half-samples, centered on the observed difference)")
    return {
        k: TestResult(estimate=float(observed[j]), statistic=float(observed[j]), pvalue=float(p[j]),
                      ci=(float(low[j]), float(high[j])), n=n, method=method, level=level, resamples=used)
        for j, k in enumerate(names)
    }


def corpus_bootstrap_ci(systems: Sequence[Sequence[T]], statistic: CorpusStatistic, *,
                        resamples: int = DEFAULT_CORPUS_RESAMPLES, seed: int = 0, level: float = 0.95,
                        budget_seconds: float | None = None, min_resamples: int = MIN_RESAMPLES) -> dict[str, Interval]:
    """Half-sampling interval of corpus-level metrics of one system (see
    `_centered_interval` for why not the with-replacement bootstrap). `systems` holds one
    output list per run of the system (several seeds on the same examples): each
    half-sample takes the same examples from every run and averages the runs' values, so
    the interval is that of the seed mean over examples (seed-to-seed spread is reported
    separately as the SD). Costs `resamples` x len(systems) calls of `statistic`;
    `budget_seconds` and `min_resamples` bound it as in `approximate_randomization`."""
    n = len(systems[0])
    if any(len(s) != n for s in systems):
        raise ValueError("every run of a system must have the same examples")
    start = time.monotonic()
    values = [statistic(s) for s in systems]
    per_resample = time.monotonic() - start
    names = [k for k in values[0] if all(k in v for v in values)]
    estimate = {k: float(np.mean([v[k] for v in values])) for k in names}
    if budget_seconds is not None and resamples and per_resample * min(min_resamples, resamples) > budget_seconds:
        why = (f"no interval: one half-sample recomputes the metric (about {per_resample:.1f} s at full size), so the "
               f"{budget_seconds:g} s budget affords fewer than {min(min_resamples, resamples)} half-samples "
               f"(--corpus-budget)")
        return {k: Interval(estimate[k], float("nan"), float("nan"), n, why, level, 0) for k in names}
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    boot = np.empty((resamples, len(names)))
    start, used = time.monotonic(), 0
    for r in range(resamples):
        idx = _half(rng, n)
        stats_r = [statistic([s[i] for i in idx]) for s in systems]
        boot[r] = [np.mean([v[k] for v in stats_r]) for k in names]
        used = r + 1
        if budget_seconds is not None and time.monotonic() - start > budget_seconds:
            break
    low, high = _centered_interval(boot[:used], np.array([estimate[k] for k in names]), level)
    method = (f"half-sampling over examples ({used:,} half-samples, seed {seed}, metric recomputed on each, "
              f"centered on the observed value)")
    return {k: Interval(estimate[k], float(low[j]), float(high[j]), n, method, level, used) for j, k in enumerate(names)}


# --- decomposable corpus statistics: recomputed from per-example feature sums -----------------------

_CHUNK = 128


@dataclass
class Decomposition:
    """A corpus statistic that is a function of a sum over examples: value =
    `finish(features.sum(axis=0))`. Emp-F1 is a function of the confusion table of
    (reference level, response level) pairs, a sum of one-hot rows; Dist-n of the
    number of n-grams (a sum) and of which n-grams occur (a sum of presence indicators,
    > 0). Rearranging examples between systems then only moves rows between sums, so a
    resample costs a matrix product instead of a recomputation of the metric.

    `features`: one matrix per system (examples x F, numpy or scipy.sparse), rows in
    the same example order, columns with the same meaning in every system; `finish`:
    sums (R x F) -> {name: values (R,)}, vectorized over resamples."""

    features: list
    finish: Callable[[np.ndarray], Mapping[str, np.ndarray]]


def _times(weights: np.ndarray, matrix) -> np.ndarray:
    """weights (k x n, dense) @ matrix (n x F, dense or sparse) -> dense k x F."""
    if sparse.issparse(matrix):
        return np.asarray((matrix.T @ weights.T).T)
    return weights @ matrix


def _finish(d: Decomposition, sums: np.ndarray, names: list[str] | None = None) -> dict[str, np.ndarray]:
    values = d.finish(np.atleast_2d(np.asarray(sums, dtype=np.float64)))
    return {k: np.asarray(v, dtype=np.float64) for k, v in values.items() if names is None or k in names}


def decomposed_randomization(d: Decomposition, *, resamples: int = DEFAULT_CORPUS_RESAMPLES, seed: int = 0,
                             level: float = 0.95, progress: Callable[[int], None] | None = None
                             ) -> dict[str, TestResult]:
    """`approximate_randomization` for a decomposable statistic (two systems:
    `d.features[0]` is A, `[1]` B): the same swaps and half-samples from the same seed,
    so the same p-values and intervals, at the cost of matrix products."""
    fa, fb = d.features
    n = fa.shape[0]
    if fb.shape[0] != n:
        raise ValueError(f"paired outputs differ in length: {n} and {fb.shape[0]}")
    ones = np.ones((1, n))
    sa, sb = _times(ones, fa)[0], _times(ones, fb)[0]
    both = _finish(d, np.vstack([sa, sb]))
    names = list(both)
    observed = np.array([both[k][1] - both[k][0] for k in names], dtype=float)
    delta = fb - fa
    swap_seed, boot_seed = np.random.SeedSequence(seed).spawn(2)
    swap_rng, boot_rng = np.random.default_rng(swap_seed), np.random.default_rng(boot_seed)
    null = np.empty((resamples, len(names)))
    boot = np.empty((resamples, len(names)))
    done = 0
    while done < resamples:
        k = min(_CHUNK, resamples - done)
        swaps = (swap_rng.random((k, n)) < 0.5).astype(np.float64)  # the draws of the loop in order
        moved = _times(swaps, delta)
        x, y = _finish(d, sa + moved, names), _finish(d, sb - moved, names)
        null[done:done + k] = np.column_stack([y[name] - x[name] for name in names])
        halves = np.zeros((k, n))
        for r in range(k):
            halves[r, _half(boot_rng, n)] = 1.0
        ha, hb = _finish(d, _times(halves, fa), names), _finish(d, _times(halves, fb), names)
        boot[done:done + k] = np.column_stack([hb[name] - ha[name] for name in names])
        done += k
        if progress:
            progress(done)
    tol = _REL_TOL * np.maximum(np.abs(observed), 1.0)
    with np.errstate(invalid="ignore"):
        count = (np.abs(null) >= np.abs(observed) - tol).sum(axis=0)
    p = (1.0 + count) / (1.0 + resamples) if resamples else np.full(len(names), np.nan)
    p[np.isnan(observed)] = np.nan
    low, high = _centered_interval(boot, observed, level)
    method = (f"approximate randomization ({resamples:,} random swaps of the two systems' responses, seed {seed}; "
              f"recomputed from per-example counts); {level:.0%} CI: paired half-sampling ({resamples:,} "
              f"half-samples, centered on the observed difference)")
    return {k: TestResult(estimate=float(observed[j]), statistic=float(observed[j]), pvalue=float(p[j]),
                          ci=(float(low[j]), float(high[j])), n=n, method=method, level=level, resamples=resamples)
            for j, k in enumerate(names)}


def decomposed_half_sampling(d: Decomposition, *, resamples: int = DEFAULT_CORPUS_RESAMPLES, seed: int = 0,
                             level: float = 0.95) -> dict[str, Interval]:
    """`corpus_bootstrap_ci` for a decomposable statistic: `d.features` holds one matrix
    per run of the system (seeds on the same examples); the same half-samples from the
    same seed, so the same intervals."""
    n = d.features[0].shape[0]
    if any(f.shape[0] != n for f in d.features):
        raise ValueError("every run of a system must have the same examples")
    ones = np.ones((1, n))
    values = [_finish(d, _times(ones, f)) for f in d.features]
    names = [k for k in values[0] if all(k in v for v in values)]
    estimate = {k: float(np.mean([v[k][0] for v in values])) for k in names}
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    boot = np.empty((resamples, len(names)))
    done = 0
    while done < resamples:
        k = min(_CHUNK, resamples - done)
        halves = np.zeros((k, n))
        for r in range(k):
            halves[r, _half(rng, n)] = 1.0
        runs = [_finish(d, _times(halves, f), names) for f in d.features]
        boot[done:done + k] = np.column_stack([np.mean([run[name] for run in runs], axis=0) for name in names])
        done += k
    low, high = _centered_interval(boot, np.array([estimate[k] for k in names]), level)
    method = (f"half-sampling over examples ({resamples:,} half-samples, seed {seed}, recomputed from per-example "
              f"counts, centered on the observed value)")
    return {k: Interval(estimate[k], float(low[j]), float(high[j]), n, method, level, resamples)
            for j, k in enumerate(names)}
