"""EPITOME data: reading the CSVs, rationale spans -> token labels, the fixed split."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.epitome import data
from harness.errors import DataError

HEADER = "sp_id,rp_id,seeker_post,response_post,level,rationales\n"


def test_rationale_labels_by_hand():
    # "i am so sorry. hang in there" with word-level offsets as a tokenizer would give,
    # [CLS] and [SEP] with empty offsets.
    response = "i am so sorry. hang in there"
    offsets = [(0, 0), (0, 1), (2, 4), (5, 7), (8, 13), (13, 14), (15, 19), (20, 22), (23, 28), (0, 0)]
    labels, unmatched = data.rationale_token_labels(response, ["so sorry", "in there", "not here"], offsets)
    #            CLS  i  am so sorry .  hang in there SEP
    assert labels == [0, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    assert unmatched == 1


def test_rationale_marks_a_partly_covered_token_and_only_the_first_match():
    response = "sorry, so sorry"
    offsets = [(0, 5), (5, 6), (7, 9), (10, 15)]
    # "rry" covers part of the first "sorry": the whole token is a rationale token
    assert data.rationale_token_labels(response, ["rry"], offsets)[0] == [1, 0, 0, 0]
    assert data.rationale_token_labels(response, [], offsets) == ([0, 0, 0, 0], 0)


def test_rationale_match_forgives_whitespace_entities_and_a_cut_post():
    offsets = lambda text: [(i, i + 1) for i in range(len(text))]
    response = "hug.  keep going &lt;3 ok"
    labels, unmatched = data.rationale_token_labels(response, ["hug. keep going <3"], offsets(response))
    assert unmatched == 0 and "".join(c for c, lab in zip(response, labels) if lab) == "hug.  keep going &lt;3"
    cut = "you will do great. people generally don'"
    labels, unmatched = data.rationale_token_labels(cut, ["people generally don't worry"], offsets(cut))
    assert unmatched == 0 and "".join(c for c, lab in zip(cut, labels) if lab) == "people generally don'"
    assert data.rationale_token_labels(cut, ["not in it at all"], offsets(cut))[1] == 1


def test_rationale_labels_with_a_real_tokenizer():
    from transformers import AutoTokenizer

    from harness.embedded import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("tiny-bert"))
    response = "that is terrible, i am so sorry to hear that."
    enc = tok(response, return_offsets_mapping=True)
    labels, _ = data.rationale_token_labels(response, ["so sorry"], enc["offset_mapping"])
    marked = [tok.convert_ids_to_tokens(i) for i, lab in zip(enc["input_ids"], labels) if lab]
    assert "".join(t.replace("##", "") for t in marked) == "sosorry"


def write_csv(path, rows):
    path.write_text(HEADER + "".join(rows))
    return path


def test_load_pairs_lowercases_and_splits_rationales(tmp_path):
    path = write_csv(tmp_path / "er.csv", ['a,b,"I Feel SAD","So Sorry. Hugs",2,"So Sorry|Hugs|"\n'])
    (pair,) = data.load_pairs("ER", path)
    assert (pair.seeker, pair.response, pair.level, pair.rationales) == ("i feel sad", "so sorry. hugs", 2,
                                                                         ("so sorry", "hugs"))
    assert pair.line == 2


def test_bad_level_names_file_and_line(tmp_path):
    path = write_csv(tmp_path / "er.csv", ["a,b,s,r,1,\n", "a,b,s,r,3,\n"])
    with pytest.raises(DataError, match=r"er.csv, line 3: level must be 0, 1 or 2, found '3'"):
        data.load_pairs("ER", path)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "er.csv"
    path.write_text("sp_id,rp_id,seeker_post,response_post,level\na,b,s,r,1\n")
    with pytest.raises(DataError, match="lacks column.*rationales"):
        data.load_pairs("ER", path)


def test_unknown_mechanism():
    with pytest.raises(DataError, match="unknown EPITOME mechanism 'xx'"):
        data.check_mechanism("xx")


def test_split_is_stratified_disjoint_and_fixed():
    levels = [0] * 50 + [1] * 10 + [2] * 40
    parts = data.stratified_split(levels, seed=12)
    assert sorted(sum(parts.values(), [])) == list(range(100))
    counts = {name: Counter(levels[i] for i in idx) for name, idx in parts.items()}
    assert counts["test"] == {0: 10, 1: 2, 2: 8}
    assert counts["validation"] == {0: 5, 1: 1, 2: 4}
    assert counts["train"] == {0: 35, 1: 7, 2: 28}
    assert parts == data.stratified_split(levels, seed=12)
    assert parts != data.stratified_split(levels, seed=13)


@pytest.mark.mirror
def test_the_three_reddit_files(mirror):
    expected = {"ER": (2037, 895, 152), "IP": (1626, 114, 1344), "EX": (2604, 104, 376)}
    for mechanism, counts in expected.items():
        pairs = data.load_pairs(mechanism)
        assert len(pairs) == 3084
        level_counts = Counter(p.level for p in pairs)
        assert tuple(level_counts[k] for k in (0, 1, 2)) == counts
        parts = data.stratified_split([p.level for p in pairs])
        assert {k: len(v) for k, v in parts.items()} == pytest.approx({"train": 2159, "validation": 308, "test": 617},
                                                                     abs=2)
        # rationales appear in the response they justify (level 0 has none)
        assert all(not p.rationales for p in pairs if p.level == 0)
        spans = [(s, p.response) for p in pairs for s in p.rationales]
        offsets = lambda text: [(i, i + 1) for i in range(len(text))]  # one "token" per character
        unmatched = sum(data.rationale_token_labels(r, [s], offsets(r))[1] for s, r in spans)
        assert unmatched / len(spans) < 0.01
