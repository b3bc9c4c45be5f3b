"""Corpus-level metrics and the question "which model is best": tests that can reject at
the defaults, marks against the best model, columns only when their data exist."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from harness.cli import main
from harness.metrics import base
from harness.metrics.diff_epitome import MECHS, EpitomeScorer, scores_from_levels
from harness.metrics.distinct import Distinct
from tests.support.gfm import assert_tables
from tests.synthetic_runs import SCORERS, make_items, write_run


class ToyEpitome(EpitomeScorer):
    """The real scorer's outputs and corpus decomposition (Emp-F1 from confusion tables),
    with levels from the words instead of the model: a response that is the reference
    gets the reference's levels."""

    name = "_t_epitome"

    def compute(self, items):
        def level(text, salt):
            return sum(map(ord, text + salt)) % 3

        generated = {m: [level(it.response, m) for it in items] for m in MECHS}
        reference = {m: [level(it.reference, m) for it in items] for m in MECHS}
        return scores_from_levels(generated, reference)

    def instrument(self):
        return {"kind": "epitome", "backbone": "toy", "instrument_id": "ab" * 32}


@pytest.fixture
def epitome_scorers(monkeypatch):
    from harness.leaderboard import catalog

    # the real Dist-n (its decomposition into n-gram counts) and the toy EPITOME levels; the
    # synthetic start-word scorer stands for the tries (recomputed per resample)
    registry = {k: v for k, v in SCORERS.items() if k not in ("_t_diff", "_t_dist")}
    monkeypatch.setattr(base, "_REGISTRY", {**registry, "_t_epitome": ToyEpitome, "dist": Distinct})
    monkeypatch.setattr(base, "_INSTANCES", {})
    monkeypatch.setattr("harness.metrics.SCORER_MODULES", ())
    catalog.refresh()
    yield
    catalog.refresh()


def _runs(tmp_path):
    items = make_items(200, 0.0, 0)
    human = [replace(it, response=it.reference) for it in items]
    return {
        "human": write_run(tmp_path, "human", model="human", items=human, reference=True),
        "good": write_run(tmp_path, "good", model="good", items=make_items(200, 0.7, 1)),
        "poor": write_run(tmp_path, "poor", model="poor", items=make_items(200, 0.1, 2)),
    }


def test_corpus_metrics_can_be_significant_at_the_defaults(tmp_path, epitome_scorers):
    """Emp-F1 100 vs ~35 and Dist-2 60 vs 15 got no mark with 100 resamples and Holm over
    every test: the resamples now follow the number of tests, and the two are resampled
    from per-example counts."""
    runs = _runs(tmp_path)
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *map(str, runs.values()), "--output", str(out), "--no-figures",
                 "--corpus-budget", "1"]) == 0
    data = json.loads(out.with_suffix(".json").read_text())["tables"][0]
    tests, resamples = data["tests"], data["resamples"]
    assert resamples >= 20 * tests / 0.05 and resamples >= 10_000
    cells = {r["model"]: r["cells"] for r in data["rows"]}
    for key in ("emp_f1", "dist2"):
        poor = cells["poor"][key]
        assert poor["test"] == f"AR ({resamples:,})" and poor["p_adj"] < 0.05, (key, poor)
        assert "recomputed from per-example counts" in poor["method"]
    assert cells["human"]["emp_f1"]["value"] == 100.0
    # the EPITOME levels are descriptive: shown nowhere as tested, never marked
    assert all(not k.startswith(("level_", "ref_level_")) or c["p"] is None for k, c in cells["poor"].items())
    # a metric recomputed per resample that cannot afford them: untested, the reason in the table
    assert cells["poor"]["trie_start_words"]["test"] == "untested"
    text = out.read_text()
    assert_tables(text)
    assert f"- approximate randomization, {resamples:,} resamples: Emp-F1, Dist-1, Dist-2" in text
    assert "- Trie compression, Start words: untested, _t_start is recomputed 4 times per resample" in text
    assert "over the 1 s budget (--corpus-budget)" in text


def test_marks_against_the_best_model_of_each_column(tmp_path, epitome_scorers):
    runs = _runs(tmp_path)
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *map(str, runs.values()), "--output", str(out), "--no-figures", "--versus", "best",
                 "--resamples", "2000", "--corpus-budget", "1"]) == 0
    data = json.loads(out.with_suffix(".json").read_text())["tables"][0]
    best = {c["key"]: c["best"] for c in data["columns"]}
    # the human reference is never the best, although its DIFF-EPITOME is 0
    assert best["diff_epitome"] == "good" and best["emp_f1"] == "good"
    cells = {r["model"]: r["cells"] for r in data["rows"]}
    assert cells["poor"]["diff_epitome"]["versus"] == "good" and cells["poor"]["diff_epitome"]["p_adj"] < 0.05
    assert cells["human"]["diff_epitome"]["versus"] == "good"
    assert cells["good"]["diff_epitome"]["p"] is None  # the best is not tested against itself
    text = out.read_text()
    assert "each cell differs from the **best model of its column** (in bold" in text
    empathy = assert_tables(text, 1)[0]
    good = next(r for r in empathy if r[0] == "good")
    assert good[empathy[0].index("DIFF-EPITOME ↓")].startswith("**")
    assert "(reference)" not in text  # no reference row in this mode
    # no general-ability data: nothing announced about it
    assert "General ability" not in text and "Open LLM" not in text.split("## How the numbers")[0]


def test_compare_tests_emp_f1_from_levels_at_the_defaults(tmp_path, epitome_scorers, capsys):
    runs = _runs(tmp_path)
    out = tmp_path / "c.json"
    assert main(["compare", str(runs["human"]), str(runs["poor"]), "--json", str(out), "--corpus-budget", "1"]) == 0
    data = json.loads(out.read_text())
    metrics = data["pairs"][0]["metrics"]
    emp = metrics["ed_empathy/emp_f1"]
    assert emp["p_adj"] < 0.05 and emp["resamples"] == data["settings"]["corpus_resamples"] >= 10_000
    assert "recomputed differs" not in emp["method"] and "note:" not in emp["method"]
    level = metrics["ed_empathy/level_er"]
    assert level["p"] is None and level["test"] == "descriptive" and level["higher_is_better"] is None
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.startswith("| ed_empathy/level_er |"))
    assert "*" not in row and "↑" not in row
