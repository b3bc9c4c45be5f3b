"""`empathy-harness compare` end to end on synthetic run folders."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.cli import main
from harness.leaderboard.comparison import PROBE
from harness.leaderboard.display import display_path
from tests.support.gfm import assert_tables
from tests.synthetic_runs import DistScorer, make_items, mmlu_answers, write_run, write_scored

FAST = ["--resamples", "2000", "--corpus-resamples", "30"]


@pytest.fixture
def two_runs(tmp_path, synthetic_scorers):
    items_a = make_items(120, quality=0.2, seed=1)
    items_b = make_items(120, quality=0.6, seed=2)
    answers = mmlu_answers(300, 0.5, seed=3)
    a = write_run(tmp_path, "run-a", model="base", items=items_a, mmlu=answers)
    b = write_run(tmp_path, "run-b", model="dpo", items=items_b,
                  mmlu=mmlu_answers(300, 0.5, seed=4, base_answers=answers, flip=0.02))
    return a, b


def test_compare_aligned_runs(two_runs, tmp_path, capsys):
    a, b = two_runs
    out = tmp_path / "cmp.json"
    assert main(["compare", str(a), str(b), "--json", str(out), *FAST]) == 0
    data = json.loads(out.read_text())
    assert list(data) == ["settings", "pairs"] and len(data["pairs"]) == 1
    assert data["settings"]["resamples"] == 2000 and data["settings"]["tests"] == 10
    pair = data["pairs"][0]
    assert pair["a"] == display_path(a) and pair["b"] == display_path(b) and not pair["a"].startswith("/")
    metrics = pair["metrics"]
    for m in metrics.values():
        assert set(m) == {"a", "b", "diff", "ci", "p", "p_adj", "effect", "method", "n", "test", "resamples",
                          "higher_is_better"}
    diff = metrics["ed_empathy/diff_epitome"]
    assert diff["diff"] == pytest.approx(diff["b"] - diff["a"]) and diff["diff"] < 0
    assert diff["ci"][0] <= diff["diff"] <= diff["ci"][1] < 0
    assert diff["p"] < 0.01 and diff["p_adj"] >= diff["p"]
    assert "paired permutation test (2,000 random sign flips, seed 0)" in diff["method"] and "d_z" in diff["method"]
    assert diff["effect"] < 0
    # accuracy task: exact McNemar
    acc = metrics["mmlu/acc"]
    assert "exact McNemar" in acc["method"]
    # corpus-level metric: approximate randomization with the resamples reported
    dist = metrics["ed_empathy/dist2"]
    assert "approximate randomization (30 random swaps" in dist["method"] and dist["p"] >= 1 / 31
    text = capsys.readouterr()
    assert "| ed_empathy/diff_epitome | ↓ |" in text.out
    assert "30 for corpus metrics" in text.err
    assert_tables(text.out, 1)
    # A before B in the heading, as in the columns
    assert "## A: base vs B: dpo" in text.out


def test_corpus_metric_cost_is_bounded(two_runs):
    a, b = two_runs
    DistScorer.calls = 0
    assert main(["compare", str(a), str(b), "--resamples", "200", "--corpus-resamples", "7"]) == 0
    # observed values, then 2 per swap + 2 per half-sample, for the timed probe and the test
    assert DistScorer.calls == 2 + 4 * (PROBE + 7)


def test_disjoint_example_sets_fall_back_to_welch(tmp_path, synthetic_scorers, capsys):
    a = write_run(tmp_path, "a", model="a", items=make_items(80, 0.2, 1))
    b = write_run(tmp_path, "b", model="b", items=make_items(80, 0.2, 2, start=80))
    out = tmp_path / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out), *FAST]) == 0
    metrics = json.loads(out.read_text())["pairs"][0]["metrics"]
    assert "Welch's t-test (unpaired" in metrics["ed_empathy/diff_er"]["method"]
    assert "no example shared (A 80, B 80)" in metrics["ed_empathy/diff_er"]["method"]
    assert metrics["ed_empathy/dist2"]["p"] is None and "same examples" in metrics["ed_empathy/dist2"]["method"]
    assert "no example shared" in capsys.readouterr().out


def test_partly_overlapping_example_sets_are_paired_on_the_shared_ones(tmp_path, synthetic_scorers, capsys):
    """200 vs 20 examples, 20 shared: paired on the 20 (the old code ran Welch on all 220)."""
    items_a = make_items(200, 0.2, 1)
    items_b = make_items(20, 0.9, 2, start=50)
    a = write_run(tmp_path, "a", model="a", items=items_a)
    b = write_run(tmp_path, "b", model="b", items=items_b)
    out = tmp_path / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out), *FAST]) == 0
    metrics = json.loads(out.read_text())["pairs"][0]["metrics"]
    er = metrics["ed_empathy/diff_er"]
    assert er["n"] == 20 and "paired permutation test" in er["method"] and "Welch" not in er["method"]
    scores_a = {it.id: v for it, v in zip(items_a, _diff_er(items_a))}
    assert er["a"] == pytest.approx(sum(scores_a[it.id] for it in items_b) / 20)
    dist = metrics["ed_empathy/dist2"]
    assert dist["n"] == 20 and "shared examples" in dist["method"]
    assert "every metric is compared on the 20 shared examples, paired" in capsys.readouterr().out


def _diff_er(items):
    from tests.synthetic_runs import DiffScorer

    return DiffScorer().compute(items).per_example["diff_er"]


def test_different_instruments_are_refused(tmp_path, synthetic_scorers, capsys):
    items = make_items(60, 0.3, 1)
    a = write_run(tmp_path, "a", model="a", items=items)
    b = write_run(tmp_path, "b", model="b", items=make_items(60, 0.3, 2),
                  instruments={"_t_diff": {"backbone": "test", "weights_sha256": "w2"}})
    out = tmp_path / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out), *FAST]) == 0
    metrics = json.loads(out.read_text())["pairs"][0]["metrics"]
    refused = metrics["ed_empathy/diff_er"]
    assert refused["p"] is None and refused["ci"] is None
    assert refused["method"] == "refused: the instrument of scorer '_t_diff' differs: weights_sha256 'w1' vs 'w2'"
    assert metrics["ed_empathy/nidf"]["p"] is not None  # other instruments agree
    assert "refused: the instrument of scorer '_t_diff' differs" in capsys.readouterr().out


def test_generations_files_are_scored_on_the_fly(tmp_path, synthetic_scorers):
    files = []
    for name, quality, seed in (("a", 0.1, 1), ("b", 0.9, 2)):
        path = tmp_path / f"{name}.jsonl"
        with open(path, "w") as fh:
            for it in make_items(40, quality, seed):
                fh.write(json.dumps({"id": it.id, "context": list(it.context), "response": it.response,
                                     "reference": it.reference, "emotion": it.emotion}) + "\n")
        files.append(path)
    out = tmp_path / "c.json"
    assert main(["compare", *map(str, files), "--json", str(out), *FAST]) == 0
    metrics = json.loads(out.read_text())["pairs"][0]["metrics"]
    assert set(metrics) >= {"diff_epitome", "length_chars", "dist2"}
    assert metrics["diff_epitome"]["p"] < 0.01 and "approximate randomization" in metrics["dist2"]["method"]


def test_scored_folder_against_a_run_task(tmp_path, synthetic_scorers):
    items = make_items(50, 0.3, 1)
    run = write_run(tmp_path, "run", model="m", items=items, mmlu=mmlu_answers(20, 0.5, 1))
    write_scored(tmp_path / "scored", make_items(50, 0.8, 5))
    assert main(["compare", str(run), str(tmp_path / "scored"), *FAST]) == 2  # which task? ambiguous
    out = tmp_path / "c.json"
    assert main(["compare", str(run), str(tmp_path / "scored"), "--task", "ed_empathy", "--json", str(out), *FAST]) == 0
    assert "ed_empathy/diff_er" in json.loads(out.read_text())["pairs"][0]["metrics"]


def test_several_runs_are_corrected_together(tmp_path, synthetic_scorers):
    runs = [write_run(tmp_path, f"r{k}", model=f"m{k}", items=make_items(60, 0.2 + 0.3 * k, k)) for k in range(3)]
    out = tmp_path / "c.json"
    assert main(["compare", *map(str, runs), "--json", str(out), "--all-pairs", "--correction", "bh", *FAST]) == 0
    pairs = json.loads(out.read_text())["pairs"]
    names = [display_path(r) for r in runs]
    assert [(p["a"], p["b"]) for p in pairs] == [(names[0], names[1]), (names[0], names[2]), (names[1], names[2])]
    ps = [m for p in pairs for m in p["metrics"].values() if m["p"] is not None]
    assert all(m["p_adj"] >= m["p"] for m in ps)
    assert all("Benjamini-Hochberg" in m["method"] and f"over {len(ps)} tests" in m["method"] for m in ps)


def test_missing_folder_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness", "compare", str(tmp_path / "nope"), str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{tmp_path / 'nope'}: no such file or folder" in proc.stderr


def test_malformed_scores_line_names_file_and_line(tmp_path):
    run = tmp_path / "scored"
    run.mkdir()
    (run / "scores.jsonl").write_text('{"id": "a", "x": 1}\n{"id": "b", "x": \n')
    proc = subprocess.run([sys.executable, "-m", "harness", "compare", str(run), str(run)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{run / 'scores.jsonl'}, line 2: invalid JSON" in proc.stderr


def test_non_numeric_score_names_the_field(tmp_path, capsys):
    run = tmp_path / "scored"
    run.mkdir()
    (run / "scores.jsonl").write_text('{"id": "a", "x": 1}\n{"id": "b", "x": "high"}\n')
    assert main(["compare", str(run), str(run)]) == 2
    assert "line 2: field 'x' is str, expected a number or null" in capsys.readouterr().err


def test_identical_metric_is_not_a_test(tmp_path, synthetic_scorers):
    items = make_items(40, 0.3, 1)
    a = write_run(tmp_path, "a", model="a", items=items)
    b = write_run(tmp_path, "b", model="b", items=items)
    out = tmp_path / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out), *FAST]) == 0
    m = json.loads(out.read_text())["pairs"][0]["metrics"]["ed_empathy/diff_er"]
    assert m["p"] is None and m["diff"] == 0 and m["method"] == "not tested: identical values in both runs"


def test_corpus_values_recomputed_from_rows_when_the_scorer_can(tmp_path, synthetic_scorers, monkeypatch):
    from harness.metrics import base
    from harness.metrics.base import CORPUS, Output, Scorer, Scores

    class MeanLength(Scorer):
        """A corpus value that is a function of per-example rows (like Emp-F1 of levels)."""

        outputs = (Output("length_chars", False, "example"), Output("max_length", False, CORPUS))
        computed = 0

        def compute(self, items):
            MeanLength.computed += 1
            values = [float(len(it.response)) for it in items]
            return Scores({"length_chars": values}, {"max_length": max(values)})

        def corpus_from_rows(self, rows):
            return {"max_length": max(r["length_chars"] for r in rows)}

    monkeypatch.setitem(base._REGISTRY, "_t_lex", MeanLength)
    from harness.leaderboard import catalog

    catalog.refresh()
    a = write_run(tmp_path, "a", model="a", items=make_items(40, 0.2, 1))
    b = write_run(tmp_path, "b", model="b", items=make_items(40, 0.9, 2))
    for run in (a, b):  # rows are enough: no responses needed
        (run / "tasks" / "ed_empathy" / "generations.jsonl").unlink()
    MeanLength.computed = 0
    out = tmp_path / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out), *FAST]) == 0
    m = json.loads(out.read_text())["pairs"][0]["metrics"]["ed_empathy/max_length"]
    assert "approximate randomization (30 random swaps" in m["method"] and MeanLength.computed == 0
    dist = json.loads(out.read_text())["pairs"][0]["metrics"]["ed_empathy/dist2"]
    assert dist["p"] is None and "no generations were found" in dist["method"]


def test_expensive_corpus_metric_is_skipped_with_the_reason(two_runs, monkeypatch):
    import time as _time

    slow = DistScorer.compute

    def compute(self, items):
        _time.sleep(0.05)
        return slow(self, items)

    monkeypatch.setattr(DistScorer, "compute", compute)
    a, b = two_runs
    out = a.parent / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out), "--corpus-budget", "0.5", *FAST]) == 0
    m = json.loads(out.read_text())["pairs"][0]["metrics"]["ed_empathy/dist2"]
    assert m["p"] is None and m["method"].startswith("untested: _t_dist is recomputed 4 times per resample")
    assert m["test"] == "untested" and "over the 0.5 s budget (--corpus-budget)" in m["method"]


def test_a_corpus_metric_far_too_slow_is_ruled_out_before_any_recomputation(two_runs):
    """At EmPO's size one spanify takes seconds: the scoring time recorded in provenance
    rules the test out without recomputing the tries 14 times (observed values + probe)."""
    a, b = two_runs
    for run, seconds in ((a, 30.0), (b, 31.0)):
        provenance = run / "tasks" / "ed_empathy" / "provenance.json"
        info = json.loads(provenance.read_text())
        provenance.write_text(json.dumps({**info, "scorer_seconds": {"_t_dist": seconds}}))
    DistScorer.calls = 0
    out = a.parent / "c.json"
    assert main(["compare", str(a), str(b), "--json", str(out), *FAST]) == 0
    m = json.loads(out.read_text())["pairs"][0]["metrics"]["ed_empathy/dist2"]
    assert m["test"] == "untested" and "(when scored, 62 s each)" in m["method"] and DistScorer.calls == 0


def test_seed_runs_against_one_run_get_emprls_one_sample_t_test(tmp_path, synthetic_scorers, capsys):
    from scipy import stats as st

    base = write_run(tmp_path, "sft", model="sft", items=make_items(60, quality=0.2, seed=1))
    seeds = [write_run(tmp_path, f"rl-{s}", model="rl", seed=s, items=make_items(60, quality=0.5, seed=10 + s))
             for s in (1, 2, 3)]
    out = tmp_path / "cmp.json"
    assert main(["compare", str(base), *map(str, seeds), "--json", str(out), "--resamples", "200",
                 "--corpus-resamples", "0"]) == 0
    text = capsys.readouterr().out
    assert "## rl (3 seeds) vs sft (one run), ed_empathy" in text
    rows = {r["metric"]: r for r in json.loads(out.read_text())["seed_mean_tests"]}
    summaries = [json.loads((s / "tasks" / "ed_empathy" / "summary.json").read_text()) for s in seeds]
    baseline = json.loads((base / "tasks" / "ed_empathy" / "summary.json").read_text())
    ref = st.ttest_1samp([s["diff_epitome"] for s in summaries], baseline["diff_epitome"])
    row = rows["diff_epitome"]
    assert row["runs"] == 3 and row["df"] == 2 and row["model"] == "rl" and row["baseline_model"] == "sft"
    assert row["t"] == pytest.approx(ref.statistic) and row["p"] == pytest.approx(ref.pvalue)
