"""Rank correlations with bootstrap intervals over groups (dialogues), and their partial forms.

Point estimates are scipy's: `kendalltau` (tau-b) and `spearmanr`. The intervals resample
*groups* (the rated dialogues) with replacement and keep every point of a drawn group, as
often as it is drawn, so that the 5 responses to one dialogue move together.

Each resample is evaluated without materialising it:
- Kendall's tau-b of a resample is sum w_i w_j s_x s_y / sqrt(sum w_i w_j |s_x| . sum w_i w_j |s_y|)
  over ordered pairs, s = sign of the pair's difference and w a point's draw count (copies of
  one point are tied with each other, so they add nothing to any of the three sums); the
  pair sums are folded into group x group blocks once, and each resample is a quadratic form.
- Spearman's rho of a resample is the weighted Pearson correlation of the resample's average
  ranks: point i's rank is sum_j w_j [x_j < x_i] + (sum_j w_j [x_j = x_i] + 1) / 2.
tests/unit/test_metaeval_correlation.py checks both against scipy on explicit resamples.

Partial Spearman (controlling for z, e.g. response length): the partial correlation of the
ranks, (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)) with r the Spearman coefficients;
this equals the Pearson correlation of the ranks of x and y after each is regressed on the
ranks of z (the residualised-ranks definition; pingouin's `partial_corr(method="spearman")`
computes the same). No partial Kendall is reported: its sampling theory is not settled.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Correlation:
    """A coefficient, its bootstrap percentile 95% interval, and the points it rests on."""

    value: float
    low: float
    high: float
    n: int
    groups: int

    def to_json(self) -> dict:
        return {"value": _round(self.value), "ci": [_round(self.low), _round(self.high)], "n": self.n,
                "groups": self.groups}


def group_draws(groups: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """(resamples x number of groups) draw counts: each row draws the groups with replacement."""
    count = int(groups.max()) + 1 if len(groups) else 0
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, count, size=(resamples, count))
    return np.stack([np.bincount(row, minlength=count) for row in picks]).astype(float)


def _clean(x, y, groups, *more):
    arrays = [np.asarray(a, dtype=float) for a in (x, y, *more)]
    keep = np.all([np.isfinite(a) for a in arrays], axis=0)
    kept_groups = np.asarray(groups)[keep]
    # renumber the groups that still hold points 0..G-1
    _, dense = np.unique(kept_groups, return_inverse=True)
    return [a[keep] for a in arrays], dense.astype(int)


def _indicator(groups: np.ndarray) -> np.ndarray:
    m = np.zeros((len(groups), int(groups.max()) + 1 if len(groups) else 0))
    m[np.arange(len(groups)), groups] = 1.0
    return m


def _resampled_tau(x: np.ndarray, y: np.ndarray, groups: np.ndarray, draws: np.ndarray,
                   m: np.ndarray | None = None) -> np.ndarray:
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    m = _indicator(groups) if m is None else m
    both = m.T @ (sx * sy) @ m
    tx = m.T @ np.abs(sx) @ m
    ty = m.T @ np.abs(sy) @ m
    quad = lambda block: np.einsum("rg,gh,rh->r", draws, block, draws)  # noqa: E731
    denominator = np.sqrt(quad(tx) * quad(ty))
    with np.errstate(invalid="ignore", divide="ignore"):
        return quad(both) / denominator


def _resampled_ranks(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average ranks of every point in each resample (rows of `weights`: per-point draw counts)."""
    below = (x[None, :] < x[:, None]).astype(float) + 0.5 * (x[None, :] == x[:, None])
    return weights @ below.T + 0.5


def _weighted_corr(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    ma = (w * a).sum(axis=1, keepdims=True) / total
    mb = (w * b).sum(axis=1, keepdims=True) / total
    da, db = a - ma, b - mb
    cov = (w * da * db).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt((w * da * da).sum(axis=1) * (w * db * db).sum(axis=1))


def partial_from(r_xy, r_xz, r_yz):
    """The partial correlation of x and y given z from the three pairwise correlations."""
    r_xy, r_xz, r_yz = (np.asarray(r, dtype=float) for r in (r_xy, r_xz, r_yz))
    denominator = (1 - r_xz**2) * (1 - r_yz**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        # undefined when the control determines x or y (|r| = 1 up to rounding)
        return np.where(denominator > 1e-12, (r_xy - r_xz * r_yz) / np.sqrt(np.maximum(denominator, 1e-300)), np.nan)


def partial_spearman(x, y, z) -> float:
    """Spearman's rho of x and y controlling for z (see the module docstring)."""
    r_xy = stats.spearmanr(x, y).statistic
    r_xz = stats.spearmanr(x, z).statistic
    r_yz = stats.spearmanr(y, z).statistic
    return float(partial_from(r_xy, r_xz, r_yz))


def _interval(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if len(finite) < 0.9 * len(values) or not len(finite):
        return math.nan, math.nan  # too many resamples without a defined coefficient (constant data)
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


class _Memo:
    """Per-variable work shared by the correlations of one set of points and draws (a metric's
    ranks are computed once, not once per human dimension)."""

    def __init__(self, draws: np.ndarray, dense: np.ndarray):
        self.draws, self.dense, self.weights = draws, dense, draws[:, dense]
        self.indicator = _indicator(dense)
        self._ranks: dict[bytes, np.ndarray] = {}

    def ranks(self, x: np.ndarray) -> np.ndarray:
        key = x.tobytes()
        if key not in self._ranks:
            self._ranks[key] = _resampled_ranks(x, self.weights)
        return self._ranks[key]


class Bootstrap:
    """Correlations over one set of points grouped by `groups`, all with the same draws."""

    def __init__(self, groups, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED):
        self.groups = np.asarray(groups)
        self.resamples, self.seed = resamples, seed
        self._memo: _Memo | None = None

    def correlations(self, x, y, control=None) -> dict[str, Correlation]:
        arrays = [np.asarray(a, dtype=float) for a in (x, y, *(() if control is None else (control,)))]
        if all(np.isfinite(a).all() for a in arrays):
            if self._memo is None:
                _, dense = np.unique(self.groups, return_inverse=True)
                self._memo = _Memo(group_draws(dense, self.resamples, self.seed), dense.astype(int))
            return _correlations(arrays, self._memo, control is not None)
        return correlations(x, y, self.groups, control=control, resamples=self.resamples, seed=self.seed)


def correlations(x, y, groups, *, control=None, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED) -> dict[str, Correlation]:
    """Kendall tau-b and Spearman rho of x and y (and partial Spearman given `control`), with
    95% bootstrap intervals over `groups`. Points where any input is missing are left out."""
    extra = () if control is None else (control,)
    arrays, dense = _clean(x, y, groups, *extra)
    draws = group_draws(dense, resamples, seed) if len(dense) else np.zeros((resamples, 0))
    return _correlations(arrays, _Memo(draws, dense), control is not None)


def _correlations(arrays: list[np.ndarray], memo: _Memo, partial: bool) -> dict[str, Correlation]:
    x, y = arrays[0], arrays[1]
    dense = memo.dense
    n, g = len(x), (int(dense.max()) + 1 if len(dense) else 0)
    out: dict[str, Correlation] = {}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        nan = Correlation(math.nan, math.nan, math.nan, n, g)
        return {"kendall": nan, "spearman": nan, **({"spearman_partial": nan} if partial else {})}
    tau = stats.kendalltau(x, y).statistic
    out["kendall"] = Correlation(float(tau), *_interval(_resampled_tau(x, y, dense, memo.draws, memo.indicator)), n, g)
    rx, ry = memo.ranks(x), memo.ranks(y)
    rho_boot = _weighted_corr(rx, ry, memo.weights)
    out["spearman"] = Correlation(float(stats.spearmanr(x, y).statistic), *_interval(rho_boot), n, g)
    if partial:
        z = arrays[2]
        rz = memo.ranks(z)
        boot = partial_from(rho_boot, _weighted_corr(rx, rz, memo.weights), _weighted_corr(ry, rz, memo.weights))
        out["spearman_partial"] = Correlation(partial_spearman(x, y, z), *_interval(boot), n, g)
    return out


@dataclass(frozen=True)
class SystemCorrelation:
    """Correlation over a handful of system-level points, with the exact permutation p-value."""

    kendall: float
    spearman: float
    p_spearman: float  # two-sided, exact over all orderings of the points (up to 8 points)
    n: int

    def to_json(self) -> dict:
        return {"kendall": _round(self.kendall), "spearman": _round(self.spearman),
                "p_spearman_exact": _round(self.p_spearman), "n": self.n}


def system_correlation(x, y) -> SystemCorrelation:
    """tau-b and rho of a few points (one per system) and the exact permutation p of rho."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return SystemCorrelation(math.nan, math.nan, math.nan, n)
    rho = float(stats.spearmanr(x, y).statistic)
    if n <= 8:
        null = [stats.spearmanr(x, y[list(order)]).statistic for order in itertools.permutations(range(n))]
        p = float(np.mean(np.abs(null) >= abs(rho) - 1e-12))
    else:  # too many orderings to list: scipy's t approximation
        p = float(stats.spearmanr(x, y).pvalue)
    return SystemCorrelation(float(stats.kendalltau(x, y).statistic), rho, p, n)


def _round(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)
