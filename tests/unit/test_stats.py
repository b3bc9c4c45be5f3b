"""harness.stats: hand-computed small cases, agreement with scipy/statsmodels, and the
nominal rejection rate on simulated null data / power on simulated shifts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from harness import stats
from harness.stats import paired


# --- paired permutation test -------------------------------------------------------------

def test_exact_permutation_p_by_hand_n4():
    # d = b - a = (1, 2, 3, -1): observed sum 5. The 16 sign patterns give |sum| in
    # {7, 5, 3, 1, 5, 3, 1, ...}; by hand: sums of +-1 +-2 +-3 +-1 with |sum| >= 5 are
    # (+,+,+,+)=7, (+,+,+,-)=5, (-,-,-,-)=-7, (-,-,-,+)=-5, (-,+,+,+)=5, (+,-,-,-)=-5: 6 of 16.
    a = np.array([0.0, 0.0, 0.0, 1.0])
    b = np.array([1.0, 2.0, 3.0, 0.0])
    r = stats.paired_permutation_test(a, b)
    assert r.pvalue == pytest.approx(6 / 16)
    assert r.estimate == pytest.approx(5 / 4)
    assert r.n == 4 and r.method.startswith("exact") and r.resamples == 16


def test_exact_permutation_matches_brute_force_and_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=9), rng.normal(0.5, 1, size=9)
    d = b - a
    sums = [abs(sum(s * x for s, x in zip(signs, d))) for signs in itertools.product((1, -1), repeat=9)]
    brute = sum(s >= abs(d.sum()) - 1e-12 for s in sums) / 2**9
    assert stats.paired_permutation_test(a, b).pvalue == pytest.approx(brute)
    ref = sps.permutation_test((a, b), lambda x, y, axis: np.mean(y - x, axis=axis), permutation_type="samples",
                               n_resamples=np.inf, vectorized=True)
    assert stats.paired_permutation_test(a, b).pvalue == pytest.approx(ref.pvalue)


def test_all_zero_differences_give_p_one():
    a = np.ones(30)
    r = stats.paired_permutation_test(a, a.copy())
    assert r.pvalue == 1.0 and r.estimate == 0.0 and r.ci == (0.0, 0.0)


def test_monte_carlo_p_is_seeded_and_bounded():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    r1 = stats.paired_permutation_test(a, b, resamples=2000, seed=7)
    r2 = stats.paired_permutation_test(a, b, resamples=2000, seed=7)
    r3 = stats.paired_permutation_test(a, b, resamples=2000, seed=8)
    assert r1 == r2 and r1.pvalue != r3.pvalue
    assert r1.resamples == 2000 and "2,000 random sign flips, seed 7" in r1.method
    # (1 + count) / (1 + R): never 0
    far = stats.paired_permutation_test(a, a + 5, resamples=999)
    assert far.pvalue == pytest.approx(1 / 1000)


def test_monte_carlo_agrees_with_scipy_permutation_test():
    rng = np.random.default_rng(1)
    a = rng.normal(size=300)
    b = a + rng.normal(0.1, 1, size=300)
    ours = stats.paired_permutation_test(a, b, resamples=20_000).pvalue
    ref = sps.permutation_test((a, b), lambda x, y, axis: np.mean(y - x, axis=axis), permutation_type="samples",
                               n_resamples=10_000, vectorized=True, random_state=0).pvalue
    # two Monte Carlo estimates of the same p: within 4 binomial SDs
    assert abs(ours - ref) < 4 * math.sqrt(ref * (1 - ref) * (1 / 20_000 + 1 / 10_000))


def test_matrix_of_metrics_equals_one_at_a_time():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(100, 3))
    b = a + rng.normal(0.2, 1, size=(100, 3))
    together = stats.paired_tests(a, b, resamples=3000, seed=5)
    for j in range(3):
        alone = stats.paired_permutation_test(a[:, j], b[:, j], resamples=3000, seed=5)
        assert together[j].pvalue == alone.pvalue and together[j].estimate == pytest.approx(alone.estimate, rel=1e-12)
        assert together[j].ci == pytest.approx(alone.ci, rel=1e-12)


def test_missing_values_drop_only_that_metric_example():
    a = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, np.nan], [0.0, 0.0], [1.0, 1.0]])
    b = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 5.0], [-1.0, -1.0], [1.0, 1.0]])
    first, second = stats.paired_tests(a, b)
    assert first.n == 5 and second.n == 4
    assert first.estimate == pytest.approx(5 / 5) and second.estimate == pytest.approx(2 / 4)
    # the NaN example counts as a zero difference in every sign pattern: exact p over the
    # defined four is that of d = (1, 2, -1, 0): |sum| >= 2 in 12 of 16 patterns... by brute force
    d = np.array([1.0, 2.0, -1.0, 0.0])
    brute = np.mean([abs(np.dot(s, d)) >= 2 - 1e-12 for s in itertools.product((1, -1), repeat=4)])
    assert second.pvalue == pytest.approx(brute)


# --- bootstrap ---------------------------------------------------------------------------------

def test_bootstrap_of_a_constant_shift_is_the_shift():
    a = np.random.default_rng(0).normal(size=50)
    ci = stats.paired_bootstrap_ci(a, a + 0.3, resamples=500)
    assert ci.estimate == pytest.approx(0.3)
    assert ci.low == pytest.approx(0.3) and ci.high == pytest.approx(0.3)


def test_bootstrap_agrees_with_scipy_percentile_interval():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=400), rng.normal(0.2, 1.5, size=400)
    ours = stats.paired_bootstrap_ci(a, b, resamples=20_000, seed=1)
    ref = sps.bootstrap((b - a,), np.mean, method="percentile", n_resamples=20_000, random_state=1,
                        vectorized=True).confidence_interval
    se = np.std(b - a, ddof=1) / math.sqrt(400)
    assert abs(ours.low - ref.low) < 0.05 * se * 4 and abs(ours.high - ref.high) < 0.05 * se * 4


# --- Welch, McNemar, effect sizes, corrections, power, seeds -----------------------------------

def test_welch_matches_scipy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, 40), rng.normal(0.5, 2, 60)
    r = stats.welch_t_test(a, b, note="example sets differ")
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic) and r.pvalue == pytest.approx(ref.pvalue)
    assert r.estimate == pytest.approx(b.mean() - a.mean())
    ci = ref.confidence_interval()
    assert r.ci == pytest.approx((ci.low, ci.high))
    assert "Welch" in r.method and "unpaired" in r.method and "example sets differ" in r.method


def test_welch_by_hand():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0, 8.0])
    # means 2 and 5; variances 1 and 20/3; se^2 = 1/3 + (20/3)/4 = 2; t = 3 / sqrt(2)
    assert stats.welch_t_test(a, b).statistic == pytest.approx(3 / math.sqrt(2))


def test_mcnemar_hand_computed_exact_binomial():
    # A right / B wrong on 1 example, A wrong / B right on 7: p = 2 * P(X <= 1), X ~ Bin(8, 1/2)
    a = np.array([1] * 1 + [0] * 7 + [1] * 5 + [0] * 3)
    b = np.array([0] * 1 + [1] * 7 + [1] * 5 + [0] * 3)
    r = stats.mcnemar_exact(a, b)
    assert r.pvalue == pytest.approx(2 * (1 + 8) / 2**8)
    assert r.statistic == 1 and r.estimate == pytest.approx(6 / 16) and r.n == 16


def test_mcnemar_matches_statsmodels():
    rng = np.random.default_rng(6)
    a = (rng.random(500) < 0.6).astype(float)
    b = np.where(rng.random(500) < 0.8, a, 1 - a)
    r = stats.mcnemar_exact(a, b)
    table = [[int(((a == 1) & (b == 1)).sum()), int(((a == 1) & (b == 0)).sum())],
             [int(((a == 0) & (b == 1)).sum()), int(((a == 0) & (b == 0)).sum())]]
    ref = mcnemar(table, exact=True)
    assert r.pvalue == pytest.approx(ref.pvalue) and r.statistic == ref.statistic
    assert r.estimate == pytest.approx(b.mean() - a.mean())


def test_mcnemar_refuses_non_binary():
    with pytest.raises(ValueError, match="0/1"):
        stats.mcnemar_exact([0, 1, 0.5], [1, 1, 0])


def test_cohens_dz_and_d_by_hand():
    # d = (1, 2, 3): mean 2, sd 1 -> d_z = 2
    assert stats.cohens_dz([0, 0, 0], [1, 2, 3]) == pytest.approx(2.0)
    # means 2 and 4, both variances 1, pooled sd 1 -> d = 2
    assert stats.cohens_d([1, 2, 3], [3, 4, 5]) == pytest.approx(2.0)
    assert math.isnan(stats.cohens_dz([1, 1], [1, 1]))
    assert stats.cohens_dz([0, 0], [1, 1]) == math.inf


def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running max
    # 0.02, 0.03, 0.06, 0.06; back in input order:
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: p * m / rank: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04, running min from the top
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    with_nan = stats.holm([0.01, float("nan"), 0.04])
    assert with_nan[0] == pytest.approx(0.02) and math.isnan(with_nan[1]) and with_nan[2] == pytest.approx(0.04)


def test_minimum_detectable_difference():
    r = stats.minimum_detectable_difference(sd=2.0, n=2540)
    # normal approximation: (z_.975 + z_.8) / sqrt(n) = 2.8016 / 50.398 = 0.05559 (t adds a hair)
    assert r.effect_size == pytest.approx((1.959964 + 0.841621) / math.sqrt(2540), rel=2e-3)
    assert r.difference == pytest.approx(2 * r.effect_size)
    assert "alpha 0.05" in r.method and "power 0.8" in r.method
    unpaired = stats.minimum_detectable_difference(sd=1.0, n=100, paired=False)
    assert unpaired.effect_size == pytest.approx(2.8016 * math.sqrt(2 / 100), rel=1e-2)


def test_across_seeds():
    s = stats.across_seeds([0.1, 0.2, 0.3, float("nan")])
    assert s.mean == pytest.approx(0.2) and s.sd == pytest.approx(0.1) and s.runs == 3
    assert math.isnan(stats.across_seeds([0.5]).sd)


# --- corpus-level: approximate randomization ---------------------------------------------------

def _distinct_share(responses):
    tokens = [t for r in responses for t in r.split()]
    return {"distinct": len(set(tokens)) / len(tokens) if tokens else 0.0, "tokens": float(len(tokens))}


def test_approximate_randomization_detects_and_reports_resamples():
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(300)]
    a = [" ".join(rng.choice(vocab[:20], 6)) for _ in range(80)]  # repetitive
    b = [" ".join(rng.choice(vocab, 6)) for _ in range(80)]  # diverse
    res = stats.approximate_randomization(a, b, _distinct_share, resamples=99, seed=1)
    r = res["distinct"]
    assert r.resamples == 99 and r.pvalue == pytest.approx(1 / 100) and r.estimate > 0
    assert r.ci[0] > 0 and "99 random swaps" in r.method
    assert res["tokens"].estimate == 0 and res["tokens"].pvalue == 1.0


def test_approximate_randomization_identical_systems():
    a = ["x y", "y z", "z z"] * 5
    r = stats.approximate_randomization(a, list(a), _distinct_share, resamples=20)["distinct"]
    assert r.estimate == 0 and r.pvalue == 1.0 and r.ci == (0.0, 0.0)


def test_approximate_randomization_budget_stops_early():
    calls = []

    def slow(responses):
        calls.append(1)
        return {"n": float(len(responses))}

    r = stats.approximate_randomization(["a"] * 5, ["b"] * 5, slow, resamples=1000, budget_seconds=0.0,
                                        min_resamples=0)["n"]
    assert r.resamples == 1 and len(calls) == 2 + 4
    # a budget that cannot afford min_resamples: nothing resampled, and the result says why
    calls.clear()
    r = stats.approximate_randomization(["a"] * 5, ["b"] * 5, slow, resamples=1000, budget_seconds=0.0)["n"]
    assert r.resamples == 0 and math.isnan(r.pvalue) and r.method.startswith("not tested") and len(calls) == 2


# --- calibration on simulated null data and power on shifts (vectorized, fixed seeds) ----------

REPS = 400


def _within_nominal(rejections: int, reps: int, alpha: float) -> bool:
    sd = math.sqrt(alpha * (1 - alpha) / reps)
    return abs(rejections / reps - alpha) <= 4 * sd


def test_permutation_test_rejects_at_nominal_rate_under_null():
    # 400 independent null data sets, tested at once as 400 metric columns (one shared
    # sign matrix, as compare uses it: each column's test is exact marginally)
    rng = np.random.default_rng(10)
    a = rng.exponential(1.0, size=(60, REPS))  # skewed metric
    b = rng.exponential(1.0, size=(60, REPS))
    p, _, _ = paired.permutation_pvalues(b - a, resamples=2000, seed=11)
    assert _within_nominal(int((p < 0.05).sum()), REPS, 0.05)


def test_permutation_test_detects_a_shift():
    rng = np.random.default_rng(12)
    a = rng.normal(size=(100, 200))
    b = a + rng.normal(0.4, 1.0, size=(100, 200))  # d_z = 0.4, n = 100: power about 0.98
    p, _, _ = paired.permutation_pvalues(b - a, resamples=2000, seed=13)
    assert (p < 0.05).mean() > 0.9


def test_bootstrap_interval_covers_at_nominal_rate():
    rng = np.random.default_rng(14)
    d = rng.normal(0.3, 1.0, size=(200, REPS))
    low, high = paired.bootstrap_mean_intervals(d, resamples=2000, seed=15)
    covered = int(((low <= 0.3) & (0.3 <= high)).sum())
    assert _within_nominal(REPS - covered, REPS, 0.05)


def test_mcnemar_and_welch_reject_at_nominal_rate_under_null():
    rng = np.random.default_rng(16)
    mc, wt = 0, 0
    for _ in range(REPS):
        a = (rng.random(200) < 0.5).astype(float)
        b = (rng.random(200) < 0.5).astype(float)
        mc += stats.mcnemar_exact(a, b).pvalue < 0.05
        wt += stats.welch_t_test(rng.normal(size=50), rng.normal(0, 3, size=80)).pvalue < 0.05
    # exact McNemar is conservative (discrete): its rate is at most nominal
    assert mc / REPS <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / REPS)
    assert _within_nominal(wt, REPS, 0.05)


def test_mcnemar_and_welch_detect_shifts():
    rng = np.random.default_rng(17)
    a = (rng.random(1000) < 0.5).astype(float)
    b = np.where(rng.random(1000) < 0.15, 1.0, a)  # B fixes 15% of examples
    assert stats.mcnemar_exact(a, b).pvalue < 1e-6
    assert stats.welch_t_test(rng.normal(size=200), rng.normal(0.5, 1, size=200)).pvalue < 1e-3


def test_approximate_randomization_rejects_at_nominal_rate_under_null():
    rng = np.random.default_rng(18)
    reps, rejections = 100, 0
    for r in range(reps):
        a = rng.normal(size=30)
        b = rng.normal(size=30)
        res = stats.approximate_randomization(list(a), list(b), lambda x: {"m": float(np.median(x))},
                                              resamples=99, seed=r)
        rejections += res["m"].pvalue < 0.05
    assert _within_nominal(rejections, reps, 0.05)


def _dist2(responses):
    grams = [(r[i], r[i + 1]) for r in responses for i in range(len(r) - 1)]
    return {"dist2": 100 * len(set(grams)) / len(grams)}


def _corpus(rng, n, zipf):
    return [tuple(np.minimum(rng.zipf(zipf, rng.integers(4, 10)) - 1, 200)) for _ in range(n)]


def test_corpus_interval_contains_the_observed_diversity_difference():
    # with-replacement resamples repeat responses and push Dist-2 down; half-samples do not
    rng = np.random.default_rng(20)
    a, b = _corpus(rng, 120, 1.6), _corpus(rng, 120, 1.4)
    r = stats.approximate_randomization(a, b, _dist2, resamples=60, seed=3)["dist2"]
    assert r.ci[0] < r.estimate < r.ci[1] and "half-sampling (60 half-samples" in r.method
    one = stats.corpus_bootstrap_ci([a], _dist2, resamples=60, seed=3)["dist2"]
    assert one.low < _dist2(a)["dist2"] < one.high and one.resamples == 60


def test_corpus_interval_covers_the_expected_difference():
    # 60 simulated corpora; the expected Dist-2 difference at this size from 300 more
    rng = np.random.default_rng(21)
    n = 60
    truth = np.mean([_dist2(_corpus(rng, n, 1.4))["dist2"] - _dist2(_corpus(rng, n, 1.6))["dist2"] for _ in range(300)])
    covered = 0
    reps = 60
    for k in range(reps):
        a, b = _corpus(rng, n, 1.6), _corpus(rng, n, 1.4)
        lo, hi = stats.approximate_randomization(a, b, _dist2, resamples=40, seed=k)["dist2"].ci
        covered += lo <= truth <= hi
    assert covered / reps >= 0.95 - 4 * math.sqrt(0.05 * 0.95 / reps)


def test_corpus_bootstrap_folds_seeds():
    a1 = ["a b c", "a b d", "x y z", "p q r"] * 3
    a2 = ["a b c", "a b c", "x y z", "x y z"] * 3
    r = stats.corpus_bootstrap_ci([a1, a2], lambda rs: {"d": _distinct_share(rs)["distinct"]}, resamples=30)["d"]
    assert r.estimate == pytest.approx((_distinct_share(a1)["distinct"] + _distinct_share(a2)["distinct"]) / 2)
