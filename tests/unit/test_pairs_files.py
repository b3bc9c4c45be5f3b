"""Preference files for `train dpo --pairs`: each accepted format, each malformed row's message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.pairs.files import check_ids, provenance_path, read_pairs

OURS = {"id": "conv:1", "context": ["I lost my job.", "Oh no!", "Yes, today."], "chosen": "I am so sorry.",
        "rejected": "Cool, congrats!"}
STANDARD = {"prompt": "User: I lost my job.\nAssistant:", "chosen": " I am so sorry.", "rejected": " Cool!"}
CONVERSATIONAL = {
    "prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "I lost my job."}],
    "chosen": [{"role": "assistant", "content": "I am so sorry."}],
    "rejected": [{"role": "assistant", "content": "Cool!"}],
}


def write(tmp_path: Path, rows, name: str = "pairs.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_our_format_renders_the_recipes_system_prompt_and_turns(tmp_path):
    pairs = read_pairs(write(tmp_path, [OURS, {**OURS, "id": "conv:2", "extra": 1}]))
    assert pairs.format == "harness" and len(pairs.rows) == 2 and pairs.ids == ["conv:1", "conv:2"]
    record = pairs.records("SYSTEM")[0]
    assert record["id"] == "conv:1"
    assert record["prompt"] == [{"role": "system", "content": "SYSTEM"}, {"role": "user", "content": "I lost my job."},
                                {"role": "assistant", "content": "Oh no!"}, {"role": "user", "content": "Yes, today."}]
    assert record["chosen"] == [{"role": "assistant", "content": "I am so sorry."}]
    assert record["rejected"] == [{"role": "assistant", "content": "Cool, congrats!"}]
    assert pairs.records(None)[0]["prompt"][0] == {"role": "user", "content": "I lost my job."}
    assert len(pairs.sha256) == 64 and pairs.describe()["rows"] == 2


def test_id_is_optional_in_our_format(tmp_path):
    row = {k: v for k, v in OURS.items() if k != "id"}
    pairs = read_pairs(write(tmp_path, [row]))
    assert pairs.ids == [] and pairs.records(None)[0]["id"] == "line-1"


def test_trl_standard_strings_pass_as_they_are(tmp_path):
    pairs = read_pairs(write(tmp_path, [STANDARD, {**STANDARD, "chosen": " Sorry."}]))
    assert pairs.format == "trl-standard"
    assert pairs.records("IGNORED")[1] == {"id": "line-2", "prompt": STANDARD["prompt"], "chosen": " Sorry.",
                                           "rejected": " Cool!"}


def test_trl_conversational_messages_pass_as_they_are(tmp_path):
    pairs = read_pairs(write(tmp_path, [CONVERSATIONAL]))
    assert pairs.format == "trl-conversational"
    record = pairs.records("IGNORED")[0]
    assert record["prompt"] == CONVERSATIONAL["prompt"] and record["chosen"] == CONVERSATIONAL["chosen"]


@pytest.mark.parametrize("row, line, message", [
    ({k: v for k, v in OURS.items() if k != "rejected"}, 2, "missing field 'rejected'"),
    ({k: v for k, v in OURS.items() if k != "chosen"}, 2, "missing field 'chosen'"),
    ({"chosen": "a", "rejected": "b"}, 2, "missing field 'context' (our format) or 'prompt'"),
    ({**OURS, "chosen": "   "}, 2, "chosen: empty"),
    ({**OURS, "rejected": ""}, 2, "rejected: empty"),
    ({**OURS, "rejected": OURS["chosen"]}, 2, "chosen and rejected are the same response"),
    ({**OURS, "chosen": 3}, 2, "chosen: must be a string, found a number"),
    ({**OURS, "rejected": ["x"]}, 2, "rejected: must be a string, found a list"),
    ({**OURS, "context": "I lost my job."}, 2, "context: a non-empty list of strings"),
    ({**OURS, "context": ["ok", 5]}, 2, "context: a non-empty list of strings"),
    ({**OURS, "id": 7}, 2, "id: a non-empty string"),
    ({**OURS, "id": "conv:1"}, 2, "id 'conv:1' appears twice (first on line 1)"),
])
def test_each_malformed_row_gets_its_message(tmp_path, row, line, message):
    path = write(tmp_path, [OURS, row])
    with pytest.raises(DataError) as err:
        read_pairs(path)
    assert f"{path}, line {line}: " in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("row, message", [
    ({**CONVERSATIONAL, "chosen": CONVERSATIONAL["rejected"]}, "chosen and rejected are the same response"),
    ({**CONVERSATIONAL, "chosen": [{"role": "assistant", "content": " "}]}, "chosen: empty"),
    ({**CONVERSATIONAL, "chosen": [{"role": "assistant", "content": 1}]}, "chosen[0].content: must be a string"),
    ({**CONVERSATIONAL, "rejected": [{"role": "bot", "content": "x"}]}, "rejected[0].role: 'bot' is not one of"),
    ({**CONVERSATIONAL, "rejected": "Cool!"}, "rejected: a non-empty list of chat messages"),
    ({**CONVERSATIONAL, "prompt": []}, "prompt: a non-empty list of chat messages"),
])
def test_malformed_conversational_rows(tmp_path, row, message):
    path = write(tmp_path, [row])
    with pytest.raises(DataError, match=rf"line 1: .*{message[:20]}".replace("[", r"\[").replace("]", r"\]")):
        read_pairs(path)


def test_trl_standard_row_missing_a_field(tmp_path):
    path = write(tmp_path, [{k: v for k, v in STANDARD.items() if k != "rejected"}])
    with pytest.raises(DataError, match=r"line 1: missing field 'rejected': trl's standard format"):
        read_pairs(path)


def test_not_json_lines_and_mixed_formats_and_empty_files(tmp_path):
    whole = tmp_path / "array.json"
    whole.write_text(json.dumps([OURS, OURS], indent=1))
    with pytest.raises(DataError, match=r"array.json, line 1: not JSON lines"):
        read_pairs(whole)
    one_line_array = write(tmp_path, [json.dumps([OURS])], "list.jsonl")
    with pytest.raises(DataError, match=r"line 1: expected a JSON object, found a list"):
        read_pairs(one_line_array)
    mixed = write(tmp_path, [OURS, STANDARD], "mixed.jsonl")
    with pytest.raises(DataError, match=r"line 2: a trl-standard row in a harness file \(line 1 is harness\)"):
        read_pairs(mixed)
    mixed_trl = write(tmp_path, [STANDARD, CONVERSATIONAL], "mixed-trl.jsonl")
    with pytest.raises(DataError, match=r"line 2: a trl-conversational row in a trl-standard file"):
        read_pairs(mixed_trl)
    empty = write(tmp_path, [], "empty.jsonl")
    with pytest.raises(DataError, match="no pairs"):
        read_pairs(empty)
    with pytest.raises(DataError, match="cannot read the pairs file"):
        read_pairs(tmp_path / "absent.jsonl")


def test_unknown_id_is_named_with_its_line(tmp_path):
    pairs = read_pairs(write(tmp_path, [OURS, {**OURS, "id": "test:9"}]))
    check_ids(pairs, ["conv:1", "test:9"], "train")  # known ids pass
    with pytest.raises(DataError, match=r"line 2: id: unknown id 'test:9', not a dialogue of the ED train split"):
        check_ids(pairs, ["conv:1"], "train")


def test_provenance_sidecar_is_carried_and_checked_against_the_file(tmp_path):
    path = write(tmp_path, [OURS])
    sidecar = provenance_path(path)
    assert sidecar.name == "pairs.provenance.json"
    assert read_pairs(path).provenance is None
    sha = read_pairs(path).sha256
    sidecar.write_text(json.dumps({"pairs_sha256": sha, "scorer": {"name": "epitome_level_sum"}}))
    pairs = read_pairs(path)
    assert pairs.provenance["scorer"]["name"] == "epitome_level_sum" and pairs.provenance_note is None
    path.write_text(path.read_text() + json.dumps({**OURS, "id": "conv:2"}) + "\n")
    pairs = read_pairs(path)
    assert "edited since" in pairs.provenance_note and pairs.describe()["provenance_note"]
