"""Intensity / valence / arousal / dominance (METRICS.md s.6) worked by hand on tiny lexicons."""

from __future__ import annotations

import pytest

from harness.errors import DataError, HarnessError
from harness.metrics import iva
from harness.metrics.base import Item

INTENSITY = """word\temotion\temotion-intensity-score
happy\tjoy\t0.788
sad\tsadness\t0.844
happy\ttrust\t0.609
"""
VAD = """Word\tValence\tArousal\tDominance
happy\t0.900\t0.600\t0.700
sad\t0.100\t0.300\t0.200
very\t0.500\t0.500\t0.500
ice cream\t0.900\t0.500\t0.500
"""


@pytest.fixture
def lexicons(tmp_path):
    intensity, vad = tmp_path / "intensity.txt", tmp_path / "vad.txt"
    intensity.write_text(INTENSITY)
    vad.write_text(VAD)
    return intensity, vad


def scorer(lexicons, aggregate="max"):
    s = iva.WordChoice(intensity=lexicons[0], vad=lexicons[1])
    s.aggregate = aggregate
    return s


def test_intensity_keeps_the_last_row(lexicons):
    # happy is listed under joy (0.788) and then trust (0.609): the last row wins, not the max
    assert iva.load_intensity(lexicons[0]) == {"happy": 0.609, "sad": 0.844}
    assert iva.load_vad(lexicons[1])["ice cream"] == (0.9, 0.5, 0.5)


def test_max_distance_by_hand(lexicons):
    # prev "I am very sad" -> [i, am, very, sad] (lowercased); unknown words score 0
    #   I = max(0, 0, 0, .844) = .844; V = max(0, 0, .5, .1) = .5; A = max(.5, .3) = .5; D = max(.5, .2) = .5
    # response "Happy!" -> [happy, !]: I .609, V .9, A .6, D .7
    # d = prev - response: I .235, V -.4, A -.1, D -.2
    result = scorer(lexicons).compute([Item("1", ("I am very sad",), "Happy!", "ref")]).per_example
    expected = {"intensity": 0.235, "valence": -0.4, "arousal": -0.1, "dominance": -0.2}
    for dim, d in expected.items():
        assert result[f"{dim}_signed"] == [pytest.approx(d)]
        assert result[f"{dim}_abs"] == [pytest.approx(abs(d))]


def test_mean_variant_by_hand(lexicons):
    # prev [i, am, very, sad]: I (.844)/4 = .211; V (.5+.1)/4 = .15; A (.5+.3)/4 = .2; D (.5+.2)/4 = .175
    # response [happy, !]: I .609/2 = .3045; V .45; A .3; D .35
    result = scorer(lexicons, "mean").compute([Item("1", ("I am very sad",), "Happy!", "ref")]).per_example
    expected = {"intensity": 0.211 - 0.3045, "valence": 0.15 - 0.45, "arousal": 0.2 - 0.3, "dominance": 0.175 - 0.35}
    for dim, d in expected.items():
        assert result[f"{dim}_signed"] == [pytest.approx(d)]


def test_prev_is_the_last_context_turn_and_case_is_folded(lexicons):
    # context ends with "SAD" -> lowercased "sad": I .844; response "very" -> I 0
    result = scorer(lexicons).compute([Item("1", ("happy", "x", "SAD"), "very", "ref")]).per_example
    assert result["intensity_signed"] == [pytest.approx(0.844)]
    assert result["valence_signed"] == [pytest.approx(0.1 - 0.5)]


def test_empty_and_unknown_responses_score_zero(lexicons):
    # no tokens or only unknown tokens: every dimension 0, so d = score(prev)
    items = [Item(str(i), ("sad",), r, "ref") for i, r in enumerate(["", "   ", "zebra quokka"])]
    result = scorer(lexicons).compute(items).per_example
    assert result["intensity_abs"] == [pytest.approx(0.844)] * 3
    assert result["arousal_signed"] == [pytest.approx(0.3)] * 3


def test_identical_prev_and_response_give_zero(lexicons):
    result = scorer(lexicons).compute([Item("1", ("so sad",), "so sad", "ref")]).per_example
    assert all(values == [0.0] for values in result.values())


def test_bad_lexicon_and_aggregate(lexicons, tmp_path):
    broken = tmp_path / "broken.txt"
    broken.write_text("word\temotion\tscore\nhappy\tjoy\tlots\n")
    with pytest.raises(DataError, match=r"broken.txt, line 2: 'lots' is not a number"):
        iva.load_intensity(broken)
    with pytest.raises(HarnessError, match="unknown IVA aggregate"):
        scorer(lexicons, "median").compute([Item("1", ("a",), "b", "c")])


@pytest.mark.mirror
def test_nrc_intensity_last_row_on_the_real_lexicon(mirror):
    lexicon = iva.load_intensity(mirror / "nrc" / "NRC-Emotion-Intensity-Lexicon-v1.txt")
    # happy: anticipation .555, joy .788, trust .609 in file order -> .609
    assert lexicon["happy"] == 0.609
    assert len(iva.load_vad(mirror / "nrc" / "NRC-VAD-Lexicon.txt")) == 19971
