"""`preferences build`: hand-made scores give hand-computed pairs; scorers without a per-example
direction and candidates over different dialogues are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import DataError, HarnessError
from harness.metrics import base
from harness.metrics.base import EXAMPLE, Item, Output, Scorer, Scores
from harness.pairs.build import Candidates, build_pairs, load_candidates, write_pairs
from harness.pairs.files import read_pairs
from harness.pairs.scorers import PreferenceScorer, get_preference_scorer
from tests.support.fixtures import toys  # noqa: F401  (fixture)

IDS = ["d1", "d2", "d3", "d4", "d5", "d6", "d7"]
# [candidate][dialogue]; responses are "c<candidate>-<dialogue>" except d6, where c0 and c1 say the same
SCORES = [
    [1.0, 2.0, 1.0, 3.0, None, 3.0, None],
    [3.0, 2.0, 1.2, 3.0, 2.0, 3.0, None],
    [2.0, 2.0, 1.1, 1.0, 1.0, 1.0, 1.0],
]


def candidates(n: int = 3, ids=IDS) -> list[Candidates]:
    out = []
    for c in range(n):
        items = [Item(i, (f"context of {i}",), "same answer" if (i == "d6" and c < 2) else f"c{c}-{i}", f"ref {i}",
                      "sad") for i in ids]
        out.append(Candidates(Path(f"cand{c}.jsonl"), f"cand{c}.jsonl", items, f"sha{c}"))
    return out


def fixed(higher_is_better: bool = True) -> PreferenceScorer:
    return PreferenceScorer("fixed", "none", higher_is_better, "hand-made", lambda row: None)


def picked(result) -> dict[str, tuple[str, str]]:
    return {p["id"]: (p["chosen"], p["rejected"]) for p in result.pairs}


def test_best_is_chosen_worst_rejected_ties_and_margin_dropped():
    result = build_pairs(candidates(), fixed(True), min_margin=0.5, ties="drop", scores=SCORES)
    assert picked(result) == {
        "d1": ("c1-d1", "c0-d1"),          # 3 > 2 > 1
        "d5": ("c1-d5", "c2-d5"),          # c0 undefined: 2 vs 1
        "d6": ("same answer", "c2-d6"),    # c0 and c1 are one response, not a tie
    }
    assert result.counts == {"dialogues": 7, "pairs": 3, "fewer_than_two": 1, "all_tied": 1, "below_margin": 1,
                             "tied_best_or_worst": 1}
    d1 = result.pairs[0]
    assert (d1["chosen_score"], d1["rejected_score"]) == (3.0, 1.0)
    assert (d1["chosen_candidate"], d1["rejected_candidate"]) == (1, 0)
    assert d1["context"] == ["context of d1"] and d1["emotion"] == "sad"


def test_margin_zero_keeps_small_differences_and_ties_first_takes_the_first_given():
    result = build_pairs(candidates(), fixed(True), min_margin=0.0, ties="first", scores=SCORES)
    got = picked(result)
    assert got["d3"] == ("c1-d3", "c0-d3")  # 1.2 vs 1.0
    assert got["d4"] == ("c0-d4", "c2-d4")  # c0 and c1 tie at 3: the first given
    assert "d2" not in got and "d7" not in got
    assert result.counts["pairs"] == 5


def test_lower_is_better_swaps_chosen_and_rejected():
    result = build_pairs(candidates(), fixed(False), min_margin=0.5, ties="drop", scores=SCORES)
    # d4: c0 and c1 tie for the worst place (3), so it is dropped
    assert picked(result) == {"d1": ("c0-d1", "c1-d1"), "d5": ("c2-d5", "c1-d5"), "d6": ("c2-d6", "same answer")}


def test_margin_equal_to_the_difference_is_kept():
    result = build_pairs(candidates(), fixed(True), min_margin=2.0, scores=SCORES)
    assert picked(result) == {"d1": ("c1-d1", "c0-d1"), "d6": ("same answer", "c2-d6")}


def test_candidates_over_different_dialogues_name_the_ids():
    a, b = candidates(2)
    b.items = [it for it in b.items if it.id not in ("d2", "d3")] + [Item("x9", ("c",), "r", "ref")]
    with pytest.raises(DataError, match=r"cand1.jsonl: not over the same dialogues as cand0.jsonl: missing 2 of "
                                        r"cand0.jsonl's ids \(d2, d3\); 1 ids cand0.jsonl lacks \(x9\)"):
        build_pairs([a, b], fixed(), scores=SCORES[:2])
    a, b = candidates(2)
    b.items[0] = Item("d1", ("another context",), "r", "ref d1")
    with pytest.raises(DataError, match="dialogue 'd1' has another context or reference"):
        build_pairs([a, b], fixed(), scores=SCORES[:2])
    with pytest.raises(HarnessError, match="at least two candidate"):
        build_pairs(candidates(1), fixed(), scores=SCORES[:1])


class NoDirection(Scorer):
    name = "toy_length"
    outputs = (Output("toy_length", None, EXAMPLE, "characters"),)

    def compute(self, items):
        return Scores({"toy_length": [float(len(it.response)) for it in items]})


def test_scorer_registry_accepts_per_example_directions_only(toys, monkeypatch):
    monkeypatch.setitem(base._REGISTRY, "toy_length", NoDirection)
    words = get_preference_scorer("toy_words")
    assert (words.metric, words.higher_is_better) == ("toy_words", False)
    assert get_preference_scorer("toy_distinct:toy_unique").higher_is_better is True
    with pytest.raises(HarnessError, match="toy_distinct: a corpus-level number"):
        get_preference_scorer("toy_distinct")
    with pytest.raises(HarnessError, match="toy_length: a descriptive number with no better direction"):
        get_preference_scorer("toy_length")
    with pytest.raises(HarnessError, match="no such scorer; per-example scorers with a direction: "):
        get_preference_scorer("judge")


def test_a_scorer_registered_later_ranks_candidates_without_changes(toys):
    """toy_words (fewer words is better) computed for real: best = fewest words."""
    cands = candidates(2, ["d1", "d2"])
    cands[0].items = [Item("d1", ("c",), "one two three", "r"), Item("d2", ("c",), "one", "r")]
    cands[1].items = [Item("d1", ("c",), "one", "r"), Item("d2", ("c",), "one two", "r")]
    result = build_pairs(cands, get_preference_scorer("toy_words"))
    assert picked(result) == {"d1": ("one", "one two three"), "d2": ("one", "one two")}
    assert result.scores == [[3.0, 1.0], [1.0, 2.0]]


def test_epitome_level_sum_adds_the_three_levels():
    scorer = get_preference_scorer("epitome_level_sum")
    assert scorer.metric == "epitome" and scorer.higher_is_better
    assert scorer.value({"level_er": 2.0, "level_ip": 0.0, "level_ex": 1.0}) == 3.0
    assert scorer.value({"level_er": 2.0, "level_ip": None, "level_ex": 1.0}) is None


def write_generations(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "context": ["hello there"], "response": r, "reference": "ref"}) + "\n"
                            for i, r in rows))
    return path


def test_cli_writes_pairs_the_trainer_reads_with_provenance(toys, tmp_path, capsys):
    a = write_generations(tmp_path / "a.jsonl", [("d1", "one two three"), ("d2", "one"), ("d3", "same")])
    run = tmp_path / "run" / "tasks" / "ed_empathy_train"
    run.mkdir(parents=True)
    write_generations(run / "generations.jsonl", [("d1", "one"), ("d2", "one two"), ("d3", "same")])
    out = tmp_path / "pairs.jsonl"
    args = ["preferences", "build", str(a), str(tmp_path / "run"), "--scorer", "toy_words", "--output", str(out)]
    assert main(args) == 0
    assert "2 pairs from 3 dialogues; dropped: 1 fewer than two" in capsys.readouterr().out
    pairs = read_pairs(out)
    assert pairs.format == "harness" and [r.id for r in pairs.rows] == ["d1", "d2"]
    prov = pairs.provenance
    assert pairs.provenance_note is None and prov["pairs"] == 2 and prov["ties"] == "drop" and prov["min_margin"] == 0
    assert prov["scorer"]["name"] == "toy_words" and prov["scorer"]["higher_is_better"] is False
    assert [c["responses"] for c in prov["candidates"]] == [3, 3] and len(prov["candidates"][1]["sha256"]) == 64
    assert prov["candidates"][1]["path"].endswith("tasks/ed_empathy_train/generations.jsonl")


@pytest.mark.parametrize("scorer, message", [
    ("toy_distinct", "a corpus-level number"),
    ("toy_length", "no better direction"),
])
def test_cli_refuses_scorers_in_one_line_exit_2(toys, monkeypatch, tmp_path, capsys, scorer, message):
    monkeypatch.setitem(base._REGISTRY, "toy_length", NoDirection)
    a = write_generations(tmp_path / "a.jsonl", [("d1", "x")])
    code = main(["preferences", "build", str(a), str(a), "--scorer", scorer, "--output", str(tmp_path / "p.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p.jsonl").exists()


def test_cli_candidates_over_different_dialogues_exit_2(toys, tmp_path, capsys):
    a = write_generations(tmp_path / "a.jsonl", [("d1", "x"), ("d2", "y")])
    b = write_generations(tmp_path / "b.jsonl", [("d1", "x"), ("d3", "y")])
    code = main(["preferences", "build", str(a), str(b), "--scorer", "toy_words", "--output", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 2 and "missing 1 of" in err and "(d2)" in err and "(d3)" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "p").exists()


def test_run_folder_with_several_tasks_needs_task(tmp_path):
    for task in ("ed_empathy", "ed_empathy_short"):
        (tmp_path / "run" / "tasks" / task).mkdir(parents=True)
        write_generations(tmp_path / "run" / "tasks" / task / "generations.jsonl", [("d1", task)])
    with pytest.raises(DataError, match="several tasks .*choose one with --task"):
        load_candidates(tmp_path / "run")
    assert load_candidates(tmp_path / "run", "ed_empathy_short").items[0].response == "ed_empathy_short"


def test_no_pairs_is_an_error_not_an_empty_file(tmp_path):
    result = build_pairs(candidates(), fixed(), scores=[[1.0] * 7] * 3)
    with pytest.raises(HarnessError, match="no pairs to write"):
        write_pairs(tmp_path / "p.jsonl", result, candidates(), fixed(), 0.0, "drop")
