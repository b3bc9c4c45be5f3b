"""Reading run folders, scored folders and generations files for compare / leaderboard."""

from __future__ import annotations

import json
import math

import pytest

from harness.errors import DataError, HarnessError
from harness.generations import read_generations
from harness.leaderboard.runs import load_run, read_scores


def test_scores_with_nulls_lists_and_missing_keys(tmp_path):
    path = tmp_path / "scores.jsonl"
    rows = [{"id": "a", "x": 1, "inst": [1, 0]}, {"id": "b", "x": None, "y": 2.5}, {"id": "c"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    ids, values, lists = read_scores(path)
    assert ids == ["a", "b", "c"]
    assert values["x"][0] == 1 and math.isnan(values["x"][1]) and math.isnan(values["x"][2])
    assert math.isnan(values["y"][0]) and values["y"][1] == 2.5
    assert lists["inst"] == [[1.0, 0.0], None, None]


@pytest.mark.parametrize("line, message", [
    ('{"x": 1}', 'line 2: expected an object with a string "id"'),
    ('{"id": "a", "x": 1}', "line 2: id 'a' appears twice"),
    ('{"id": "b", "x": [1, "no"]}', "line 2: field 'x' must be a number, a list of numbers or null"),
    ('[1, 2]', 'line 2: expected an object with a string "id"'),
])
def test_bad_scores_lines(tmp_path, line, message):
    path = tmp_path / "scores.jsonl"
    path.write_text('{"id": "a", "x": 1}\n' + line + "\n")
    with pytest.raises(DataError, match=message):
        read_scores(path)


@pytest.mark.parametrize("row, message", [
    ({"id": "a", "context": ["hi"], "reference": "r"}, "missing field\\(s\\) response"),
    ({"id": "a", "context": "hi", "response": "x", "reference": "r"}, "context must be a list of strings"),
    ({"id": "a", "context": ["hi"], "response": "x", "reference": "r", "emotion": 3}, "emotion must be a string"),
])
def test_bad_generations(tmp_path, row, message):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=f"{path}, line 1: .*{message}"):
        read_generations(path)


def test_empty_and_whitespace_responses_are_valid(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"id": "a", "context": ["hi"], "response": " ", "reference": "r"}) + "\n")
    assert read_generations(path).items[0].response == " "


def test_scores_without_their_generations_are_named(tmp_path):
    folder = tmp_path / "scored"
    folder.mkdir()
    (folder / "scores.jsonl").write_text('{"id": "a", "x": 1}\n{"id": "b", "x": 2}\n')
    (folder / "generations.jsonl").write_text(
        json.dumps({"id": "a", "context": ["hi"], "response": "x", "reference": "r"}) + "\n")
    run = load_run(folder)
    with pytest.raises(DataError, match="no generation for 1 scored example"):
        run.tasks[""].items()


def test_unknown_folder_kind(tmp_path):
    with pytest.raises(HarnessError, match="neither a run folder"):
        load_run(tmp_path)


def test_run_folder_model_identity_and_tasks(tmp_path):
    run = tmp_path / "run"
    (run / "tasks" / "ed_empathy").mkdir(parents=True)
    (run / "tasks" / "mmlu").mkdir()
    (run / "tasks" / "ed_empathy" / "scores.jsonl").write_text('{"id": "a", "x": 1}\n')
    (run / "manifest.json").write_text(json.dumps({"model": "dpo", "seed": 3}))
    loaded = load_run(run)
    assert (loaded.model, loaded.seed, list(loaded.tasks)) == ("dpo", 3, ["ed_empathy"])
    assert loaded.notes == ["task mmlu: no scores.jsonl, left out"]
    (run / "manifest.json").write_text("{")
    with pytest.raises(DataError, match="manifest.json: invalid JSON"):
        load_run(run)
