"""Meta-evaluation correlations against scipy, on hand-made ratings and explicit resamples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.metaeval.correlation import (
    _resampled_ranks, _resampled_tau, _weighted_corr, correlations, group_draws, partial_spearman, system_correlation,
)

# hand-made: 4 dialogues x 3 responses; metric with ties, mean human ratings with ties
METRIC = [0.1, 0.5, 0.5, 0.9, 0.2, 0.4, 0.3, 0.3, 0.8, 0.7, 0.6, 0.1]
HUMAN = [20, 55, 40, 90, 35, 35, 30, 50, 70, 80, 60, 10]
GROUPS = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_point_estimates_are_scipys_tau_b_and_rho():
    result = correlations(METRIC, HUMAN, GROUPS, resamples=50)
    assert result["kendall"].value == pytest.approx(stats.kendalltau(METRIC, HUMAN).statistic, abs=1e-12)
    assert result["spearman"].value == pytest.approx(stats.spearmanr(METRIC, HUMAN).statistic, abs=1e-12)
    assert (result["kendall"].n, result["kendall"].groups) == (12, 4)
    assert result["kendall"].low <= result["kendall"].value <= result["kendall"].high


def test_each_resample_equals_scipy_on_the_materialised_resample():
    x, y, g = np.array(METRIC), np.array(HUMAN, dtype=float), np.array(GROUPS)
    draws = group_draws(g, 20, seed=3)
    taus = _resampled_tau(x, y, g, draws)
    weights = draws[:, g]
    rhos = _weighted_corr(_resampled_ranks(x, weights), _resampled_ranks(y, weights), weights)
    for r, counts in enumerate(draws):
        index = np.concatenate([np.flatnonzero(g == group).repeat(int(c)) for group, c in enumerate(counts)])
        xs, ys = x[index], y[index]
        if np.ptp(xs) == 0 or np.ptp(ys) == 0:
            continue
        assert taus[r] == pytest.approx(stats.kendalltau(xs, ys).statistic, abs=1e-12)
        assert rhos[r] == pytest.approx(stats.spearmanr(xs, ys).statistic, abs=1e-12)


def test_missing_values_are_left_out_and_constant_input_gives_nan():
    x = list(METRIC)
    x[0] = None
    result = correlations([math.nan if v is None else v for v in x], HUMAN, GROUPS, resamples=20)
    assert result["spearman"].n == 11
    assert result["spearman"].value == pytest.approx(stats.spearmanr(METRIC[1:], HUMAN[1:]).statistic)
    flat = correlations([1.0] * 12, HUMAN, GROUPS, resamples=20)
    assert math.isnan(flat["kendall"].value) and math.isnan(flat["spearman"].value)


def test_partial_spearman_is_the_correlation_of_rank_residuals():
    rng = np.random.default_rng(0)
    z = rng.normal(size=40)
    x = z + rng.normal(size=40)
    y = z + rng.normal(size=40)
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, z))
    design = np.column_stack([np.ones(40), rz])
    resid = lambda v: v - design @ np.linalg.lstsq(design, v, rcond=None)[0]  # noqa: E731
    assert partial_spearman(x, y, z) == pytest.approx(np.corrcoef(resid(rx), resid(ry))[0, 1], abs=1e-12)


def test_partial_spearman_hand_case():
    # ranks: x = z exactly, so nothing is left of x once z is controlled for
    x, y, z = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5], [10, 20, 30, 40, 50]
    assert math.isnan(partial_spearman(x, y, z))
    # hand: r_xy = 0.8, r_xz = 0.5, r_yz = 0.2 -> (0.8 - 0.1) / sqrt(0.75 * 0.96) = 0.8249579
    from harness.metaeval.correlation import partial_from

    assert partial_from(0.8, 0.5, 0.2) == pytest.approx(0.7 / math.sqrt(0.75 * 0.96))
    assert partial_from(0.8, 0.5, 0.2) == pytest.approx(0.8249579, abs=1e-6)


def test_partial_interval_follows_the_length_effect():
    rng = np.random.default_rng(1)
    length = rng.integers(3, 40, size=120).astype(float)
    human = length + rng.normal(scale=3, size=120)
    metric = length + rng.normal(scale=3, size=120)  # tracks only length
    result = correlations(metric, human, np.arange(120) // 4, control=length, resamples=200)
    assert result["spearman"].value > 0.8
    assert abs(result["spearman_partial"].value) < 0.3
    assert result["spearman_partial"].low < result["spearman_partial"].high


def test_system_level_exact_p_for_five_points():
    perfect = system_correlation([1, 2, 3, 4, 5], [10, 20, 30, 40, 50])
    assert (perfect.kendall, perfect.spearman) == (pytest.approx(1.0), pytest.approx(1.0))
    assert perfect.p_spearman == pytest.approx(2 / 120)  # the two extreme orderings of 120
    one_swap = system_correlation([1, 2, 3, 4, 5], [10, 20, 30, 50, 40])
    assert one_swap.spearman == pytest.approx(0.9)
    assert one_swap.p_spearman > 0.05  # 5 points: even rho 0.9 is not significant


def test_shared_bootstrap_gives_the_same_numbers_as_the_one_off_function():
    from harness.metaeval.correlation import Bootstrap

    boot = Bootstrap(GROUPS, resamples=100, seed=5)
    length = [3, 9, 8, 12, 4, 6, 5, 5, 11, 10, 7, 2]
    shared = boot.correlations(METRIC, HUMAN, control=length)
    alone = correlations(METRIC, HUMAN, GROUPS, control=length, resamples=100, seed=5)
    assert shared == alone
    assert boot.correlations(HUMAN, METRIC) == correlations(HUMAN, METRIC, GROUPS, resamples=100, seed=5)


def test_a_judges_spread_is_counted_missing_values_aside():
    from harness.metaeval.run import distinct_values

    assert distinct_values([100.0, None, 100.0, 100.0]) == {"parsed": 3, "distinct": 1, "most_common": [[100.0, 3]]}
    spread = distinct_values([10.0, 20.0, 20.0, None, 30.0, 20.0, 10.0])
    assert spread["parsed"] == 6 and spread["distinct"] == 3 and spread["most_common"][:2] == [[20.0, 3], [10.0, 2]]
    assert distinct_values([None, None]) == {"parsed": 0, "distinct": 0, "most_common": []}
