"""Generations files: both input formats, bad lines named by file and line, skip-and-count."""

from __future__ import annotations

import json

import pytest

from harness.errors import DataError
from harness.generations import read_generations, write_generations
from harness.metrics.base import Item

EXAMPLE_DOC = {"id": "hit:1_conv:2", "emotion": "sad", "situation": "s", "context": ["I lost my dog."], "reference": "Oh no!"}


def write_lines(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_generations_format_and_lm_eval_samples(tmp_path):
    path = write_lines(tmp_path / "mixed.jsonl", [
        {"id": "a", "context": ["hi", "yo", "sad"], "response": "so sorry", "reference": "oh no", "emotion": "sad", "x": 1},
        {"doc_id": 0, "doc": EXAMPLE_DOC, "resps": [["first"]], "filtered_resps": ["filtered"], "target": "Oh no!"},
        {"doc_id": 1, "doc": dict(EXAMPLE_DOC, id="hit:1_conv:3"), "resps": [["raw only"]]},
        "",
        {"id": 7, "context": [], "response": "", "reference": "r"},
    ])
    items, skipped = read_generations(path)
    assert skipped == 0
    assert items[0] == Item("a", ("hi", "yo", "sad"), "so sorry", "oh no", "sad")
    assert items[0].prev == "sad"
    assert items[1] == Item("hit:1_conv:2", ("I lost my dog.",), "filtered", "Oh no!", "sad")
    assert items[2].response == "raw only"
    assert items[3] == Item("7", (), "", "r", None)  # empty responses are valid


@pytest.mark.parametrize(
    "line, reason",
    [
        ("{not json", "line 2: invalid JSON"),
        ({"id": "a", "context": ["x"], "reference": "r"}, r"line 2: missing field\(s\) response"),
        ({"id": "a", "context": ["x"], "response": 3, "reference": "r"}, "line 2: response must be a string"),
        ({"id": "a", "context": "x", "response": "y", "reference": "r"}, "line 2: context must be a list of strings"),
        ({"doc": {"id": "a"}, "filtered_resps": ["x"]}, "line 2: lm-eval sample: doc lacks context, reference"),
        ({"doc": EXAMPLE_DOC, "filtered_resps": [None]}, r"line 2: filtered_resps\[0\] must be a string"),
        ({"doc": EXAMPLE_DOC}, "line 2: lm-eval sample: no generated text"),
        ([1, 2], "line 2: expected a JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, reason):
    good = {"id": "a", "context": ["x"], "response": "y", "reference": "r"}
    path = write_lines(tmp_path / "gens.jsonl", [good, line, dict(good, id="b")])
    with pytest.raises(DataError, match=reason) as info:
        read_generations(path)
    assert str(path) in str(info.value) and "--skip-invalid" in str(info.value)
    result = read_generations(path, skip_invalid=True)
    assert (len(result.items), result.skipped) == (2, 1)
    assert "line 2" in result.problems[0]


def test_non_utf8_and_missing_file(tmp_path):
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b'{"id": "a", "context": [], "response": "\xff", "reference": "r"}\n')
    with pytest.raises(DataError, match="line 1: bytes that are not UTF-8"):
        read_generations(path)
    with pytest.raises(DataError, match="cannot read it"):
        read_generations(tmp_path / "absent.jsonl")


def test_write_then_read_round_trip(tmp_path):
    items = [Item("a", ("x", "y", "z"), "r1", "ref", "sad"), Item("b", ("q",), "", "ref2")]
    path = write_generations(tmp_path / "out" / "gens.jsonl", items)
    assert read_generations(path).items == items
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_repeated_id_is_an_error(tmp_path):
    path = tmp_path / "g.jsonl"
    row = {"id": "a", "context": ["hi"], "response": "x", "reference": "r"}
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match="line 2: id 'a' appears twice \\(first on line 1\\)"):
        read_generations(path)
    assert read_generations(path, skip_invalid=True).skipped == 1
