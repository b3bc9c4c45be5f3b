"""EmPO's released ratings file: hand-made rows, malformed rows, and the mirror's copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import DataError
from harness.human_eval.empo import EMPO_CHECKBOX, EMPO_DIMENSIONS, parse_chat, read_empo_ratings
from tests.support.empo_ratings import write_ratings

CHAT = "<|system|>\nBe kind.</s>\n<|user|>\nI lost my keys.</s>\n<|assistant|>\nOh no!</s>\n<|user|>\nAnd my phone.\nToday.</s>\n<|assistant|>\n"


def write(path: Path, rows: list[dict]) -> Path:
    return write_ratings(path, rows, chat_templates=CHAT, emotions="annoyed")


def test_chat_turns_keep_newlines_inside_a_turn_and_drop_the_system_prompt():
    assert parse_chat(CHAT) == ("I lost my keys.", "Oh no!", "And my phone.\nToday.")


def test_rows_become_one_rating_per_dimension_and_one_response_per_sample_and_system(tmp_path):
    path = write(tmp_path / "he.csv", [{}, {"annotator": "a2", "Dim1": 90, "Dim5": 0}, {"model": "zephyr_base", "gens": "Hm."}])
    data = read_empo_ratings(path)
    assert len(data.ratings) == 3 * 5
    first = [r for r in data.ratings if r.annotator == "a1" and r.system == "SFT"]
    assert [(r.dimension, r.value) for r in first] == list(zip((*EMPO_DIMENSIONS, EMPO_CHECKBOX), [10, 20, 30, 40, 1]))
    assert sorted(data.responses) == [(0, "SFT"), (0, "zephyr_base")]
    rated = data.responses[(0, "zephyr_base")]
    assert (rated.response, rated.reference, rated.ed_index, rated.emotion) == ("Hm.", "That is awful.", 7, "annoyed")
    assert rated.context[-1] == "And my phone.\nToday."


@pytest.mark.parametrize(
    "row, message",
    [
        ({"model": "gpt"}, "he.csv: row 1: unknown system 'gpt'"),
        ({"Dim3": 101}, "he.csv: row 1: contextual_naturalness (Dim3) = 101.0 is outside 0-100"),
        ({"Dim5": 2}, "he.csv: row 1: Dim5 (the checkbox) = 2.0 is not 0 or 1"),
        ({"Dim1": "high"}, "he.csv: row 1: could not convert string to float: 'high'"),
        ({"chat_templates": "no tags"}, "he.csv: row 1: chat_templates holds no <|user|> turn"),
    ],
)
def test_malformed_rows_name_the_file_line_and_field(tmp_path, row, message):
    with pytest.raises(DataError, match=message.replace("|", r"\|").replace("(", r"\(").replace(")", r"\)")):
        read_empo_ratings(write(tmp_path / "he.csv", [row]))


def test_two_rows_of_one_sample_must_show_the_same_response(tmp_path):
    with pytest.raises(DataError, match=r"he.csv: row 2: sample 0 of SFT differs"):
        read_empo_ratings(write(tmp_path / "he.csv", [{}, {"annotator": "a2", "gens": "Other."}]))


def test_the_released_file_holds_675_responses_rated_three_times(mirror):
    data = read_empo_ratings()
    assert data.sha256 == "b0f1983d1472f4c97093d09f1ab0fba1a6092077c3a10520513b96171373be0f"
    assert len(data.responses) == 5 * 135
    assert len(data.ratings) == 2025 * 5
    assert all(len(r.context) % 2 == 1 for r in data.responses.values())
