"""Perplexity of the reference response (harness/stats/perplexity.py, ed_perplexity's
per-document values): lm-eval's weighted_perplexity, and a bootstrap interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lm_eval.api.metrics import weighted_perplexity as lm_eval_weighted_perplexity

from harness.lmeval.ed import likelihood_metrics
from harness.stats.perplexity import perplexity_interval, weighted_perplexity

LL = [-12.0, -30.5, -7.25, -18.0, -22.0, -9.5]
WORDS = [4, 9, 3, 5, 8, 2]


def test_weighted_perplexity_by_hand_and_as_lm_eval_aggregates():
    assert weighted_perplexity([-2.0, -4.0], [1, 2]) == pytest.approx(math.exp(2.0))
    assert weighted_perplexity(LL, WORDS) == pytest.approx(lm_eval_weighted_perplexity(list(zip(LL, WORDS))))


def test_document_values_are_the_reference_words_and_bytes():
    doc = {"reference": "Oh no, that is  awful!"}
    values = likelihood_metrics(doc, -11.0)
    assert values == {"word_perplexity": (-11.0, 5), "byte_perplexity": (-11.0, len("Oh no, that is  awful!"))}


def test_interval_holds_the_estimate_and_matches_a_direct_bootstrap():
    rng = np.random.default_rng(3)
    words = rng.integers(3, 20, size=200)
    ll = -words * rng.uniform(1.5, 3.5, size=200)
    low, high = perplexity_interval(ll, words, resamples=4000, seed=1)
    point = weighted_perplexity(ll, words)
    assert low < point < high
    # a plain numpy percentile bootstrap of the same statistic agrees to resampling noise
    idx = np.random.default_rng(5).integers(0, 200, size=(4000, 200))
    boots = np.exp(-ll[idx].sum(axis=1) / words[idx].sum(axis=1))
    assert low == pytest.approx(np.percentile(boots, 2.5), rel=0.02)
    assert high == pytest.approx(np.percentile(boots, 97.5), rel=0.02)


def test_too_few_examples():
    assert math.isnan(weighted_perplexity([], []))
    assert all(math.isnan(x) for x in perplexity_interval([-1.0], [1]))
