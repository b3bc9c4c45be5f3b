"""`empathy-harness human-eval`: prepare -> answers -> analyze end to end, and bad input
answered with one line naming the file, line or field (exit 2)."""

from __future__ import annotations

import csv
import json
import random
import re

import pytest

from harness.cli import main
from harness.human_eval.store import open_store
from tests.support.human_eval import write_generations


def answer_everything(folder, seed: int = 0, batches: int | None = None) -> None:
    """Simulated annotators: one per batch, values depending on the hidden system (so tests can see it)."""
    store = open_store(folder, sync=False)  # thousands of answers: fsync each would take seconds
    key = json.loads((folder / "key.json").read_text())
    names = {code: info["name"] for code, info in key["systems"].items()}
    rng = random.Random(seed)
    for number in range(len(store.order) if batches is None else batches):
        annotator = f"ann{number}"
        batch = store.batch_for(annotator)
        for item in store.batches[batch]["items"]:
            for c in store.design.criteria:
                if c.scale == "choice":
                    a, b = (names[s] for s in item["systems"])
                    value = rng.choice(["A", "A", "tie", "B"]) if a == "alpha" else rng.choice(["B", "B", "tie", "A"])
                elif c.scale == "likert":
                    value = rng.choice([3, 4, 5] if names[item["systems"][0]] == "alpha" else [1, 2, 3])
                elif c.scale == "checkbox":
                    continue
                else:
                    base = 70 if names[item["systems"][0]] == "alpha" else 50
                    value = min(100, max(0, base + rng.gauss(0, 15)))
                store.answer(annotator, batch, item["item"], c.name, value)
        store.submit(annotator, batch)


def prepared(tmp_path, *extra: str, systems=("alpha", "beta")):
    """A 45-sample study of two systems, prepared through the command line."""
    inputs = write_generations(tmp_path / "g", systems, n=80)
    folder = tmp_path / "study"
    args = ["human-eval", "prepare", *map(str, inputs), "-o", str(folder), "--samples", "45", "--per-emotion", "1", *extra]
    assert main(args) == 0
    return folder


@pytest.mark.slow  # the first analysis in a process imports scipy, statsmodels, matplotlib
def test_likert_study_end_to_end(tmp_path, capsys):
    folder = prepared(tmp_path, "--design", "likert-emprl")
    answer_everything(folder)
    out = tmp_path / "report"
    assert main(["human-eval", "analyze", str(folder / "ratings.csv"), "--key", str(folder / "key.json"),
                 "--order", "alpha,beta", "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["systems"] == ["alpha", "beta"] and report["samples"] == 45
    empathy = [r for r in report["pairwise"] if r["dimension"] == "empathy"][0]
    assert empathy["left"] == "alpha" and empathy["p"] < 1e-6 and empathy["d"] > 1
    assert {r["level"] for r in report["agreement"]} == {"ordinal"}
    assert (out / "ratings.png").exists()


def test_ab_study_end_to_end(tmp_path, capsys):
    folder = prepared(tmp_path, "--design", "ab-emprl")
    answer_everything(folder)
    out = tmp_path / "report"
    assert main(["human-eval", "analyze", str(folder / "ratings.csv"), "--key", str(folder), "-o", str(out)]) == 0
    (row,) = json.loads((out / "report.json").read_text())["ab"]
    assert {row["first"], row["second"]} == {"alpha", "beta"}
    assert row["samples"] == 45 and row["win"] + row["tie"] + row["loss"] == 45 * 3
    winner_wins = row["win"] if row["first"] == "alpha" else row["loss"]
    assert winner_wins > 45 and row["sign_test_p"] < 0.01
    assert -1 <= row["fleiss_kappa"] <= 1


@pytest.fixture(scope="module")
def rated_once(tmp_path_factory):
    folder = prepared(tmp_path_factory.mktemp("rated"))
    answer_everything(folder, batches=6)
    with open(folder / "ratings.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return folder, rows


@pytest.fixture
def rated(rated_once):
    folder, rows = rated_once
    return folder, [dict(r) for r in rows]


def rewrite(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("change, expected", [
    (lambda rows: rows[3].update(system="S9"), r"line 5: field 'system': unknown system 'S9'"),
    (lambda rows: rows[5].update(value="140"), r"line 7: field 'value': emotion_understanding takes a number from 0 to 100, not '140'"),
    (lambda rows: rows[6].update(dimension="charm"), r"line 8: field 'dimension': unknown question 'charm'"),
    (lambda rows: rows.append(dict(rows[0])), r"duplicate answer: annotator 'ann0' already answered"),
    (lambda rows: rows[2].update(annotator=""), r"line 4: field 'annotator' is empty"),
])
def test_bad_ratings_files_are_refused_with_one_line(rated, capsys, change, expected):
    folder, rows = rated
    change(rows)
    path = rewrite(folder / "bad.csv", rows)
    capsys.readouterr()
    assert main(["human-eval", "analyze", str(path), "--key", str(folder / "key.json")]) == 2
    err = one_error_line(capsys)
    assert "bad.csv" in err
    assert re.search(expected, err), err


def test_a_missing_key_file_is_named(rated, capsys):
    folder, _ = rated
    capsys.readouterr()
    assert main(["human-eval", "analyze", str(folder / "ratings.csv"), "--key", str(folder / "nokey.json")]) == 2
    assert "nokey.json: no such key file" in one_error_line(capsys)


def test_ratings_of_another_study_do_not_pass_its_key(rated, tmp_path, capsys):
    folder, _ = rated
    other = tmp_path / "other"
    other.mkdir()
    inputs = sorted((folder.parent / "g").glob("*.jsonl"))
    assert main(["human-eval", "prepare", *map(str, inputs), "-o", str(other / "s"), "--samples", "45",
                 "--per-emotion", "1", "--seed", "9"]) == 0
    capsys.readouterr()
    assert main(["human-eval", "analyze", str(folder / "ratings.csv"), "--key", str(other / "s" / "key.json")]) == 2
    assert "do not belong to this key" in one_error_line(capsys)


def test_prepare_over_different_dialogues_exits_2(tmp_path, capsys):
    a, b = write_generations(tmp_path / "g", ("a", "b"), n=80)
    lines = b.read_text().splitlines()
    record = json.loads(lines[5])
    record["context"] = ["something else"]
    lines[5] = json.dumps(record)
    b.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["human-eval", "prepare", str(a), str(b), "-o", str(tmp_path / "s"), "--samples", "40",
                 "--per-emotion", "1"]) == 2
    err = one_error_line(capsys)
    assert "b.jsonl: id 'hit:5_conv:5': context differs" in err


def test_analyze_without_key_or_design_says_what_to_pass(rated, capsys):
    folder, _ = rated
    capsys.readouterr()
    assert main(["human-eval", "analyze", str(folder / "ratings.csv")]) == 2
    assert "pass --key" in one_error_line(capsys)
    assert main(["human-eval", "analyze", str(folder / "ratings.csv"), "--design", "empo"]) == 0


def test_ratings_as_json_lines_give_the_same_report(rated, tmp_path, capsys):
    folder, rows = rated
    jsonl = tmp_path / "ratings.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for source, out in ((folder / "ratings.csv", tmp_path / "a"), (jsonl, tmp_path / "b")):
        assert main(["human-eval", "analyze", str(source), "--key", str(folder / "key.json"), "-o", str(out)]) == 0
    a, b = (json.loads((tmp_path / x / "report.json").read_text()) for x in "ab")
    assert {k: v for k, v in a.items() if k != "source"} == {k: v for k, v in b.items() if k != "source"}
