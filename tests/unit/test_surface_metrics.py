"""Dist-1/2, BLEU-2/4, ROUGE-L and length (METRICS.md s.8) worked by hand."""

from __future__ import annotations

import math

import pytest

from harness.metrics.base import Item
from harness.metrics.distinct import Distinct, distinct_n
from harness.metrics.length import Length
from harness.metrics.overlap import Bleu, RougeL, bleu_2_4


def items(responses, reference="the cat sat on the mat"):
    return [Item(str(i), ("prev",), r, reference) for i, r in enumerate(responses)]


def test_distinct_by_hand():
    # "I am sad ." + "I am happy .": unigrams 8, distinct {I, am, sad, ., happy} 5 -> 62.5
    # bigrams 6: (I am) x2, (am sad), (sad .), (am happy), (happy .) -> 5 distinct -> 83.33
    corpus = Distinct().compute(items(["I am sad.", "I am happy."])).corpus
    assert corpus["dist1"] == pytest.approx(100 * 5 / 8)
    assert corpus["dist2"] == pytest.approx(100 * 5 / 6)


def test_distinct_edge_cases():
    # identical responses halve the ratio; bigrams never cross responses; one-word responses have no bigram
    assert distinct_n([["a", "b"], ["a", "b"]], 1) == 50.0
    assert math.isnan(distinct_n([["a"], ["b"]], 2))  # no bigram at all: undefined
    assert math.isnan(distinct_n([[], []], 1))
    corpus = Distinct().compute(items(["Wow", "", "Wow"])).corpus
    assert corpus["dist1"] == 50.0 and math.isnan(corpus["dist2"])


def test_bleu_by_hand():
    # reference "the cat sat on the mat", hypothesis "the cat sat on a mat" (both 6 tokens, BP 1)
    # p1 = 5/6; p2 = 3/5 (the cat, cat sat, sat on); p3 = 2/4; p4 = 1/3
    # BLEU-2 = (5/6 * 3/5)^(1/2) = 0.5^(1/2); BLEU-4 = (5/6 * 3/5 * 1/2 * 1/3)^(1/4) = (1/12)^(1/4)
    b2, b4 = bleu_2_4("the cat sat on the mat".split(), "the cat sat on a mat".split())
    assert b2 == pytest.approx(math.sqrt(0.5))
    assert b4 == pytest.approx((1 / 12) ** 0.25)
    scores = Bleu().compute(items(["The cat sat on a mat"])).per_example
    assert scores["bleu2"] == [pytest.approx(100 * math.sqrt(0.5))]  # lowercased before matching
    assert scores["bleu4"] == [pytest.approx(100 * (1 / 12) ** 0.25)]


def test_bleu_smoothing_and_empty():
    # "a b" against itself: p1 = p2 = 1; no trigram or 4-gram at all, method1 counts 0.1 / 1
    # -> BLEU-4 = (1 * 1 * 0.1 * 0.1)^(1/4) = 0.1^(1/2)
    b2, b4 = bleu_2_4(["a", "b"], ["a", "b"])
    assert (b2, b4) == (pytest.approx(1.0), pytest.approx(math.sqrt(0.1)))
    scores = Bleu().compute(items(["", "   "])).per_example
    assert scores["bleu2"] == [0.0, 0.0] and scores["bleu4"] == [0.0, 0.0]


def test_rouge_l_by_hand():
    # rouge-score lowercases; LCS("the cat sat on", "the cat sat") = 3: P = 3/4, R = 3/3 -> F = 6/7
    scores = RougeL().compute(items(["The cat sat on", ""], reference="the cat sat")).per_example["rouge_l"]
    assert scores == [pytest.approx(100 * 6 / 7), 0.0]


def test_length():
    scores = Length().compute(items(["I'm sad.", "", "  "])).per_example
    assert scores["length_chars"] == [8.0, 0.0, 2.0]
    assert scores["length_words"] == [4.0, 0.0, 0.0]  # I, 'm, sad, .
