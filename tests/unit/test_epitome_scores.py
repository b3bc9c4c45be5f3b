"""Held-out scores of an EPITOME classifier and their intervals."""

from __future__ import annotations

import numpy as np
import pytest

from harness.epitome.training import accuracy_and_macro_f1, held_out_intervals, level_scores


def test_macro_f1_by_hand():
    # level 0: tp 1, predicted 1, gold 2 -> 2/3; level 1: tp 1, predicted 2, gold 1 -> 2/3; level 2: 1
    scores = accuracy_and_macro_f1([0, 0, 1, 2], [0, 1, 1, 2])
    assert scores["accuracy"] == pytest.approx(3 / 4)
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_a_level_never_seen_nor_predicted_counts_zero_like_sklearn():
    assert accuracy_and_macro_f1([0, 1], [0, 1])["macro_f1"] == pytest.approx(2 / 3)
    assert level_scores([0, 1], [0, 1])["macro_f1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", range(5))
def test_same_numbers_as_level_scores(seed):
    rng = np.random.default_rng(seed)
    gold = rng.choice(3, size=200, p=[0.6, 0.05, 0.35]).tolist()
    predicted = [g if rng.random() < 0.7 else int(rng.integers(3)) for g in gold]
    fast, full = accuracy_and_macro_f1(gold, predicted), level_scores(gold, predicted)
    assert fast["accuracy"] == pytest.approx(full["accuracy"])
    assert fast["macro_f1"] == pytest.approx(full["macro_f1"])


def _noisy(n: int, seed: int = 0) -> tuple[list[int], list[int]]:
    rng = np.random.default_rng(seed)
    gold = rng.choice(3, size=n, p=[0.6, 0.1, 0.3]).tolist()
    return gold, [g if rng.random() < 0.75 else (g + 1) % 3 for g in gold]


def test_interval_holds_the_score_and_narrows_with_more_pairs():
    small, large = held_out_intervals(*_noisy(120)), held_out_intervals(*_noisy(1200))
    for key in ("accuracy", "macro_f1"):
        score = accuracy_and_macro_f1(*_noisy(120))[key]
        assert small[key][0] < score < small[key][1]
        assert large[key][1] - large[key][0] < 0.6 * (small[key][1] - small[key][0])
    assert small["level"] == 0.95 and "half-sampling" in small["method"]


def test_perfect_predictions_have_no_spread():
    gold = [0] * 50 + [1] * 30 + [2] * 20
    interval = held_out_intervals(gold, gold, resamples=100)
    assert interval["accuracy"] == [1.0, 1.0]
    assert interval["macro_f1"] == [1.0, 1.0]


def test_same_seed_same_interval():
    assert held_out_intervals(*_noisy(100), seed=3) == held_out_intervals(*_noisy(100), seed=3)
