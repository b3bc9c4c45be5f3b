"""NIDF specificity (METRICS.md s.5) worked by hand on a four-utterance ED release."""

from __future__ import annotations

import json
import math

import pytest

from harness.errors import HarnessError
from harness.metrics import nidf
from harness.metrics.base import Item
from tests.conftest import ed_row

# train: c1 = "I am sad" / "I am here"; valid: c2 = "you are sad" / "I see"
# Document frequencies over these 4 utterances (case kept):
#   I 3 (d1, d2, d4), am 2, sad 2, here 1, you 1, are 1, see 1  ->  c_max 3, c_min 1
#   NIDF(w) = (ln 3 - ln c_w) / (ln 3 - ln 1) = 1 - ln c_w / ln 3
#   NIDF(I) = 0; NIDF(am) = NIDF(sad) = 1 - ln 2 / ln 3 = 0.3690702464; the rest, and unseen words, 1
AM = 1 - math.log(2) / math.log(3)


@pytest.fixture
def release(make_release, tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    nidf._document_frequencies.cache_clear()
    nidf._TABLES.clear()
    rows = {
        "train": [ed_row("c1", 1, "I am sad"), ed_row("c1", 2, "I am here")],
        "valid": [ed_row("c2", 1, "you are sad"), ed_row("c2", 2, "I see")],
        "test": [ed_row("c3", 1, "x"), ed_row("c3", 2, "y")],
    }
    yield make_release(rows)
    nidf._document_frequencies.cache_clear()
    nidf._TABLES.clear()


def items(*responses):
    return [Item(str(i), ("prev",), r, "ref") for i, r in enumerate(responses)]


def test_document_frequencies(release):
    df = nidf.document_frequencies(release)
    assert df.counts == {"I": 3, "am": 2, "sad": 2, "here": 1, "you": 1, "are": 1, "see": 1}
    assert (df.documents, df.c_max, df.c_min) == (4, 3, 1)
    table = nidf.nidf_table(df)
    assert table["I"] == 0.0 and table["here"] == 1.0
    assert table["am"] == pytest.approx(0.3690702464)


def test_per_response_values_and_system_sd(release):
    scorer = nidf.Specificity(source=release)
    scores = scorer.compute(items("I am sad and I am sad", "I", "Sad", "", "   "))
    values = scores.per_example["nidf"]
    # set {I, am, sad, and}: (0 + AM + AM + 1) / 4 = 0.4345351232 (repeats count once)
    assert values[0] == pytest.approx((2 * AM + 1) / 4)
    assert values[1] == 0.0  # "I" alone
    assert values[2] == 1.0  # case kept: "Sad" was never seen
    assert values[3] is None and values[4] is None  # no tokens: undefined
    # population SD of (0.4345351232, 0, 1): mean 0.4781783744, SD 0.4094130
    defined = [(2 * AM + 1) / 4, 0.0, 1.0]
    mean = sum(defined) / 3
    assert scores.corpus["nidf_sd"] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in defined) / 3))
    assert scores.corpus["nidf_sd"] == pytest.approx(0.4094130, abs=1e-6)
    info = scorer.instrument()["document_frequencies"]
    assert info["documents"] == 4 and info["c_max"] == 3 and info["document_set"] == "utterances"


def test_unknown_words_score_one(release):
    values = nidf.Specificity(source=release).compute(items("zebra quokka")).per_example["nidf"]
    assert values == [1.0]


def test_empo_sp1_document_set(release):
    # EmPO's counting: every turn but each conversation's last -> d1 "I am sad", d3 "you are sad"
    #   sad 2, I 1, am 1, you 1, are 1 -> c_max 2: NIDF(sad) = 0, the others 1
    scorer = nidf.Specificity(source=release)
    scorer.document_set = "empo-sp1"
    values = scorer.compute(items("I am sad", "here")).per_example["nidf"]
    assert values == [pytest.approx(2 / 3), 1.0]
    with pytest.raises(HarnessError, match="unknown NIDF document set"):
        nidf.document_frequencies(release, "speakers")


def test_counts_are_cached_by_source_checksum(release, tmp_path, monkeypatch):
    nidf.document_frequencies(release)
    cached = list((tmp_path / "cache" / "derived").glob("nidf-counts-*-utterances-punkt-v1.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["documents"] == 4
    nidf._document_frequencies.cache_clear()

    def no_loading(*args, **kwargs):
        raise AssertionError("counts were recomputed instead of read from the cache")

    monkeypatch.setattr("harness.data.ed.load_split", no_loading)
    assert nidf.document_frequencies(release).counts["I"] == 3


def test_equal_frequencies_are_an_error():
    df = nidf.DocumentFrequencies({"a": 2, "b": 2}, 2, "x", "0" * 64, "punkt", "utterances")
    with pytest.raises(HarnessError, match="same document frequency"):
        nidf.nidf_table(df)
