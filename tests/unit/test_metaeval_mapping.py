"""Rated EmPO dialogues to ED examples through their turns; unmatched dialogues named and counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.data.ed import Example
from harness.errors import HarnessError
from harness.human_eval.empo import read_empo_ratings
from harness.metaeval.mapping import map_dialogues
from harness.metaeval.run import check_mapping, rated_dialogues
from tests.support.empo_ratings import chat, write_ratings

EXAMPLES = [
    Example("hit:1_conv:2", "test", "sad", "s", ("I lost my keys.", "Oh no!", "And my phone.  Today."), "That is awful."),
    Example("hit:3_conv:6", "test", "joyful", "s", ("I got the job!",), "Congratulations!"),
    Example("hit:4_conv:8", "test", "proud", "s", ("Same words",), "a"),
    Example("hit:5_conv:10", "test", "proud", "s", ("Same words",), "b"),
]


def write(path: Path, rows: list[dict]) -> Path:
    return write_ratings(path, rows)


def test_empo_rows_map_through_the_turns_whitespace_and_case_aside(tmp_path):
    rows = [
        {"sample_index": 0, "chat_templates": chat("i lost my keys.", "Oh  no!", "And my phone. Today.")},
        {"sample_index": 0, "model": "zephyr_dpo", "chat_templates": chat("i lost my keys.", "Oh  no!", "And my phone. Today.")},
        {"sample_index": 1, "ED_index": 9, "emotions": "joyful", "gen_targets": "Congratulations!",
         "chat_templates": chat("I got the job!")},
        {"sample_index": 2, "ED_index": 11, "chat_templates": chat("Nothing like this in ED")},
        {"sample_index": 3, "ED_index": 12, "chat_templates": chat("Same words")},
    ]
    data = read_empo_ratings(write(tmp_path / "he.csv", rows))
    mapping = map_dialogues(rated_dialogues(data), EXAMPLES)
    assert {s: e.id for s, e in mapping.matched.items()} == {0: "hit:1_conv:2", 1: "hit:3_conv:6"}
    assert sorted(mapping.unmatched) == [2, 3]
    assert "ED_index 11, no ED test example has this dialogue" in mapping.unmatched[2]
    assert "2 ED test examples have this dialogue (hit:4_conv:8, hit:5_conv:10)" in mapping.unmatched[3]
    assert mapping.reference_differs == [] and mapping.emotion_differs == []
    with pytest.raises(HarnessError, match=r"he.csv: 2 of 4 rated dialogues match no single ED test example: "
                                           r"sample 2: ED_index 11.*--allow-unmatched"):
        check_mapping(mapping, data.path, allow_unmatched=False)
    check_mapping(mapping, data.path, allow_unmatched=True)  # left out, listed in the report


def test_reference_and_emotion_disagreements_are_reported(tmp_path):
    rows = [{"chat_templates": chat("I got the job!"), "gen_targets": "Well done.", "emotions": "sad"}]
    mapping = map_dialogues(rated_dialogues(read_empo_ratings(write(tmp_path / "he.csv", rows))), EXAMPLES)
    assert list(mapping.matched) == [0]
    assert mapping.reference_differs == [0] and mapping.emotion_differs == [0]


@pytest.mark.mirror
def test_every_empo_dialogue_maps_to_one_ed_test_example():
    mirror = os.environ.get("EMPATHY_HARNESS_MIRROR")
    if not mirror or not (Path(mirror) / "empo-human-eval" / "he_data.csv").exists():
        pytest.skip("needs the offline data mirror: set EMPATHY_HARNESS_MIRROR (e.g. ../shared/data)")
    from harness.data.ed import load_examples

    data = read_empo_ratings()
    mapping = map_dialogues(rated_dialogues(data), load_examples("test"))
    assert len(mapping.matched) == 135 and not mapping.unmatched
    assert not mapping.reference_differs and not mapping.emotion_differs
    assert len({e.id for e in mapping.matched.values()}) == 135


def test_the_kits_tidy_ratings_are_refused_with_a_reason(tmp_path):
    from harness.metaeval.run import read_ratings

    tidy = tmp_path / "ratings.csv"
    tidy.write_text("annotator,batch,sample,system,dimension,value,time\na1,1,0,SFT,emotion_understanding,50,3.2\n")
    with pytest.raises(HarnessError, match="ratings.csv: a tidy ratings file .* holds no responses"):
        read_ratings(tidy)
