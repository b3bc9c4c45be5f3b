"""harness/stats/seeds.py: mean +- SD across seeds, and EmpRL's one-sample t-test of seed
values against a baseline's single number, checked against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from harness.stats.seeds import across_seeds, one_sample_t


@pytest.mark.parametrize("values, baseline", [
    ([69.1, 69.8, 68.9, 70.2, 69.4], 65.7),
    ([12.9, 13.4, 12.1, 12.7, 13.0], 12.95),
    ([0.2, 0.25, 0.21], 0.3),
])
def test_one_sample_t_matches_scipy(values, baseline):
    got = one_sample_t(values, baseline)
    ref = st.ttest_1samp(values, baseline)
    assert got.t == pytest.approx(ref.statistic, rel=1e-12) and got.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert got.df == len(values) - 1 and got.runs == len(values)
    ci = ref.confidence_interval(0.95)
    assert got.ci == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert got.diff == pytest.approx(np.mean(values) - baseline)


def test_hand_worked_case():
    # mean 2, SD 1 (ddof 1), n 3: t = (2 - 1) / (1 / sqrt 3) = sqrt 3
    got = one_sample_t([1.0, 2.0, 3.0], 1.0)
    assert got.t == pytest.approx(math.sqrt(3)) and got.sd == pytest.approx(1.0)


def test_nan_runs_left_out_and_too_few_runs_give_nan():
    assert one_sample_t([1.0, float("nan"), 3.0], 1.0).runs == 2
    one = one_sample_t([1.0], 0.0)
    assert one.runs == 1 and math.isnan(one.p) and math.isnan(one.t)


def test_identical_seed_values():
    same = one_sample_t([2.0, 2.0, 2.0], 1.0)
    assert same.p == 0.0 and same.t == math.inf
    assert math.isnan(one_sample_t([2.0, 2.0], 2.0).p)


def test_across_seeds_is_mean_and_sample_sd():
    s = across_seeds([1.0, 2.0, 4.0])
    assert s.mean == pytest.approx(7 / 3) and s.sd == pytest.approx(np.std([1, 2, 4], ddof=1))
