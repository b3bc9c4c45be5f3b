"""`empathy-harness leaderboard` end to end on synthetic run folders."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace

import pytest

from harness.cli import main
from harness.leaderboard.comparison import PROBE
from tests.support.gfm import assert_tables
from tests.synthetic_runs import make_items, mmlu_answers, write_run
from tests.unit.test_openllm import _results

FAST = ["--resamples", "1000", "--corpus-resamples", "20"]


def _human(items):
    return [replace(it, response=it.reference) for it in items]


def _opposite(items):
    # another dialogue's reference (a stand-in for the opposite-emotion draw)
    return [replace(it, response=items[(k + 7) % len(items)].reference) for k, it in enumerate(items)]


@pytest.fixture
def runs(tmp_path, synthetic_scorers):
    base = make_items(100, 0.0, 0)
    answers = mmlu_answers(200, 0.45, 9)
    paths = {
        "human": write_run(tmp_path, "human", model="human", items=_human(base), reference=True),
        "opposite": write_run(tmp_path, "opposite", model="opposite-emotion", items=_opposite(base), reference=True),
        "sft1": write_run(tmp_path, "sft-s1", model="sft", seed=1, items=make_items(100, 0.3, 1),
                          mmlu=mmlu_answers(200, 0, 1, answers, 0.05), results=_results(bbh=0.3)),
        "sft2": write_run(tmp_path, "sft-s2", model="sft", seed=2, items=make_items(100, 0.35, 2),
                          mmlu=mmlu_answers(200, 0, 2, answers, 0.05), results=_results(bbh=0.32)),
        "base": write_run(tmp_path, "base", model="base", items=make_items(100, 0.1, 4),
                          mmlu=mmlu_answers(200, 0, 4, answers, 0.05), results=_results(bbh=0.3)),
        "dpo": write_run(tmp_path, "dpo-s1", model="dpo", seed=1, items=make_items(100, 0.6, 3),
                         mmlu=mmlu_answers(200, 0, 3, answers, 0.08), results=_results(bbh=0.31)),
    }
    return paths


def test_leaderboard_end_to_end(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "board" / "leaderboard.md"
    args = ["leaderboard", *[str(p) for p in runs.values()], "--reference", "human", "--output", str(out), *FAST]
    assert main(args) == 0
    text = out.read_text()
    # every table parses as GFM with whole rows (the |d| headers split the old one: no table at all)
    parsed = assert_tables(text, 2)
    assert "Valence |d| ↓" in parsed[0][0]
    # no absolute path of the machine anywhere
    for written in (out, out.with_suffix(".json"), out.with_suffix(".csv")):
        assert str(tmp_path) not in written.read_text()
    empathy, general = parsed
    rows = {r[0]: r for r in empathy[1:]}
    # one row per model, seeds folded, reference first
    assert list(rows) == ["human (reference)", "opposite-emotion", "sft", "base", "dpo"]
    assert "DIFF-EPITOME ↓" in empathy[0] and "NIDF ↑" in empathy[0] and "MMLU ↑" in general[0]
    assert "Length (chars)" in empathy[0]  # descriptive: no arrow
    assert rows["sft"][1] == "2" and " ± " in rows["sft"][2]
    # the ceiling: DIFF-EPITOME exactly 0 with a zero-width interval
    assert rows["human (reference)"][2] == "0 [0, 0]"
    # no MMLU for the reference systems: not shown in the general table, and said so
    assert [r[0] for r in general[1:]] == ["sft", "base", "dpo"]
    assert "not shown here, no general-ability results: human, opposite-emotion" in text
    # the floor differs significantly from the reference after correction; values rounded to
    # what their interval supports
    assert rows["opposite-emotion"][2].startswith("1.683* [1.603, 1.760]")
    # a glossary line per column, with direction and scale
    for label in ("DIFF-EPITOME", "NIDF", "Dist-2", "Length (chars)", "MMLU", "Open LLM v2"):
        assert f"- **{label}** " in text
    assert "- **Length (chars)** descriptive" in text and "- **DIFF-EPITOME** ↓ lower is better: 0-4" in text
    assert "accuracy on the MMLU questions (n = 200 per row)" in text
    # what the marks are against, and the resamples of every test
    assert "the row differs from the reference row **human**" in text and "Holm-corrected over the table's" in text
    assert "- approximate randomization, 20 resamples: Trie compression, Start words, Dist-2" in text
    # provenance block, methods, figures linked and written
    assert "## Provenance" in text and "config abc123def456" in text and "- _t_diff: backbone test; weights_sha256 w1" in text
    assert "Holm" in text and "approximate randomization" in text.lower()
    for name in ("iva_signed.png", "iva_abs.png", "nidf.png", "empathy_vs_mmlu.png", "diff_epitome_by_emotion.png"):
        assert (out.parent / "reports" / "figures" / name).stat().st_size > 1000
        assert f"(reports/figures/{name})" in text
    # CSV and JSON beside
    table = list(csv.DictReader(open(out.with_suffix(".csv"))))
    mmlu_human = next(r for r in table if r["model"] == "human" and r["metric"] == "mmlu")
    assert mmlu_human["value"] == ""
    data = json.loads(out.with_suffix(".json").read_text())
    cells = {r["model"]: r["cells"] for r in data["tables"][0]["rows"]}
    assert cells["sft"]["diff_epitome"]["runs"] == 2 and cells["sft"]["diff_epitome"]["sd"] > 0
    # the reference has no MMLU: no MMLU test, and the table says so
    assert cells["dpo"]["mmlu"]["test"] == "" and "human has no MMLU, Open LLM v2" in text
    assert cells["dpo"]["diff_epitome"]["versus"] == "human"
    assert cells["dpo"]["openllm"]["value"] == pytest.approx(openllm_avg(0.31))
    assert cells["dpo"]["dist2"]["test"] == "AR (20)" and cells["sft"]["dist2"]["test"] == "t1 (seeds)"
    assert math.isfinite(cells["dpo"]["dist2"]["ci"][0])
    assert data["tables"][0]["reference"] == "human"


def test_corpus_family_resampled_once_per_row(runs, tmp_path):
    """Two displayed corpus metrics of one scorer: each row's interval and test resample it
    once for both (20 resamples: an interval recomputes 1 + 20 per run, a test 2 + 4 x 20
    after a timed probe of 4 x PROBE)."""
    from tests.synthetic_runs import StartScorer

    StartScorer.calls = 0
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *[str(p) for p in runs.values()], "--reference", "human", "--output", str(out),
                 "--no-figures", *FAST]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]
    intervals = sum(r["cells"]["trie_start_words"]["runs"] * 21 for r in rows)
    per_test = 2 + 4 * (PROBE + 20)
    tests = sum(per_test for r in rows if r["cells"]["trie_start_words"]["test"].startswith("AR"))
    assert tests == 3 * per_test  # opposite-emotion, base, dpo (sft has two runs: no AR)
    assert StartScorer.calls == intervals + tests
    for r in rows:  # one family, one test kind (a row with seeds is t-tested metric by metric)
        if len(r["runs"]) == 1:
            assert r["cells"]["trie_compression"]["test"] == r["cells"]["trie_start_words"]["test"]


def test_row_too_slow_for_the_budget_gets_neither_interval_nor_test(runs, tmp_path):
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *[str(p) for p in runs.values()], "--reference", "human", "--output", str(out),
                 "--no-figures", "--resamples", "1000", "--corpus-resamples", "20", "--corpus-budget", "1e-9"]) == 0
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    dpo = cells["dpo"]["dist2"]
    assert dpo["test"] == "" and not math.isfinite(dpo["ci"][0] if dpo["ci"] else float("nan"))
    assert "budget affords fewer than 20 half-samples" in dpo["method"]
    assert "not tested against the reference for the same reason" in dpo["method"]


def test_scorer_time_recorded_at_scoring_skips_resampling_before_any_recomputation(runs, tmp_path):
    from tests.synthetic_runs import StartScorer

    provenance = runs["dpo"] / "tasks" / "ed_empathy" / "provenance.json"
    info = json.loads(provenance.read_text())
    provenance.write_text(json.dumps({**info, "scorer_seconds": {"_t_start": 40.0, "_t_dist": 0.001}}))
    StartScorer.calls = 0
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *[str(p) for p in runs.values()], "--reference", "human", "--output", str(out),
                 "--no-figures", "--resamples", "1000", "--corpus-resamples", "20", "--corpus-budget", "30"]) == 0
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    start = cells["dpo"]["trie_start_words"]
    assert start["test"] == "" and not start["ci"]
    assert "took 40.0 s when the run was scored, more than the 30 s budget" in start["method"]
    assert cells["dpo"]["dist2"]["test"] == "AR (20)"  # its other scorer is fast
    # dpo's rows never recomputed: the other rows' intervals and tests only
    per_test = 2 + 4 * (PROBE + 20)
    assert StartScorer.calls == 21 + (21 + per_test) + 42 + (21 + per_test)


def test_recorded_time_within_the_budget_is_measured_not_trusted(runs, tmp_path):
    """A recorded time includes one-off work (an instrument's loading): below the budget the
    row is resampled, and the fast synthetic scorer gets its test."""
    provenance = runs["dpo"] / "tasks" / "ed_empathy" / "provenance.json"
    info = json.loads(provenance.read_text())
    provenance.write_text(json.dumps({**info, "scorer_seconds": {"_t_start": 20.0}}))
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *[str(p) for p in runs.values()], "--reference", "human", "--output", str(out),
                 "--no-figures", "--resamples", "1000", "--corpus-resamples", "20", "--corpus-budget", "60"]) == 0
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    assert cells["dpo"]["trie_start_words"]["test"] == "AR (20)"


def test_unreadable_recorded_scorer_time_is_measured_instead(runs, tmp_path):
    provenance = runs["dpo"] / "tasks" / "ed_empathy" / "provenance.json"
    provenance.write_text(json.dumps({**json.loads(provenance.read_text()), "scorer_seconds": {"_t_start": "slow"}}))
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *[str(p) for p in runs.values()], "--reference", "human", "--output", str(out),
                 "--no-figures", *FAST]) == 0
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    assert cells["dpo"]["trie_start_words"]["test"] == "AR (20)"


def test_accuracy_tests_against_a_model_reference(runs, tmp_path):
    out = tmp_path / "lb.md"
    assert main(["leaderboard", *[str(p) for p in runs.values()], "--reference", "base", "--output", str(out),
                 "--no-figures", *FAST]) == 0
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    assert cells["dpo"]["mmlu"]["test"] == "McNemar (exact)" and "exact McNemar" in cells["dpo"]["mmlu"]["method"]
    assert cells["sft"]["mmlu"]["test"] == "perm (1,000)"  # several seeds: permutation on seed-averaged correctness
    assert "mmlu" not in cells["human"]


def openllm_avg(bbh: float) -> float:
    return (50 + 100 * bbh + 10 + 20 + 35 + 20) / 6


def test_different_example_sets_split_tables(tmp_path, synthetic_scorers, capsys):
    a = write_run(tmp_path, "a", model="a", items=make_items(60, 0.2, 1))
    b = write_run(tmp_path, "b", model="b", items=make_items(60, 0.5, 2))
    c = write_run(tmp_path, "c", model="c", items=make_items(40, 0.5, 3))
    out = tmp_path / "lb.md"
    assert main(["leaderboard", str(a), str(b), str(c), "--output", str(out), "--no-figures", *FAST]) == 0
    text = out.read_text()
    assert "Table 2: runs not comparable with table 1 (different ed_empathy example set: 40 examples, 40 shared " \
           "with table 1's 60)" in text
    assert "separate table 2" in capsys.readouterr().err
    assert len(json.loads(out.with_suffix(".json").read_text())["tables"]) == 2


def test_different_instruments_split_tables(tmp_path, synthetic_scorers):
    items = make_items(50, 0.3, 1)
    a = write_run(tmp_path, "a", model="a", items=items)
    b = write_run(tmp_path, "b", model="b", items=make_items(50, 0.3, 2),
                  instruments={"_t_diff": {"backbone": "other", "weights_sha256": "w1"}})
    out = tmp_path / "lb.md"
    assert main(["leaderboard", str(a), str(b), "--output", str(out), "--no-figures", *FAST]) == 0
    assert "different instruments: _t_diff.backbone 'test' vs 'other'" in out.read_text()


def test_names_on_the_command_line_fold_runs(tmp_path, synthetic_scorers):
    a = write_run(tmp_path, "a", model="x", items=make_items(40, 0.2, 1))
    b = write_run(tmp_path, "b", model="y", items=make_items(40, 0.3, 2))
    out = tmp_path / "lb.md"
    assert main(["leaderboard", f"both={a}", f"both={b}", "--output", str(out), "--no-figures", *FAST]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]
    assert [(r["model"], len(r["runs"])) for r in rows] == [("both", 2)]


def test_unknown_reference_is_a_clear_error(tmp_path, synthetic_scorers, capsys):
    a = write_run(tmp_path, "a", model="x", items=make_items(20, 0.2, 1))
    assert main(["leaderboard", str(a), "--reference", "human", "--output", str(tmp_path / "lb.md")]) == 2
    assert "--reference 'human' is not a model of these runs; models: x" in capsys.readouterr().err


def test_metrics_named_are_added_to_run_folders_that_lack_them(tmp_path, synthetic_scorers, monkeypatch):
    from harness.leaderboard import catalog
    from harness.metrics import base
    from harness.metrics.base import EXAMPLE, Output, Scorer, Scores

    class Words(Scorer):  # registered after the runs were scored: their folders lack it
        name = "_t_words"
        outputs = (Output("words", True, EXAMPLE),)
        inputs = ("response",)

        def compute(self, items):
            return Scores({"words": [float(len(it.response.split())) for it in items]})

    items = {"a": make_items(40, 0.2, 1), "b": make_items(40, 0.6, 2)}
    paths = [write_run(tmp_path, k, model=k, items=v) for k, v in items.items()]
    before = (paths[0] / "tasks" / "ed_empathy" / "scores.jsonl").read_bytes()
    monkeypatch.setitem(base._REGISTRY, "_t_words", Words)
    catalog.refresh()
    out = tmp_path / "lb.md"
    argv = ["leaderboard", *map(str, paths), "--extra-columns", "words", "--output", str(out), "--no-figures", *FAST]
    assert main(argv) == 0
    assert "words" not in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"][0]["cells"]
    assert main(argv + ["--metrics", "_t_words"]) == 0
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    for model, its in items.items():
        assert cells[model]["words"]["value"] == pytest.approx(sum(len(it.response.split()) for it in its) / 40)
    assert "a: task ed_empathy: _t_words scored from its generations here (not in the folder)" in out.read_text()
    # a model's seeds share a note once, counted
    assert main(["leaderboard", f"x={paths[0]}", f"x={paths[1]}", "--metrics", "_t_words", "--output", str(out),
                 "--no-figures", *FAST]) == 0
    assert "x: task ed_empathy: _t_words scored from its generations here (not in the folder) (2 runs)" in out.read_text()
    assert (paths[0] / "tasks" / "ed_empathy" / "scores.jsonl").read_bytes() == before  # the folder is not changed


def test_corpus_metrics_of_models_with_seeds_are_tested_over_the_runs(tmp_path, synthetic_scorers):
    from scipy import stats as sps

    a = [write_run(tmp_path, f"a{s}", model="a", seed=s, items=make_items(60, 0.2, s)) for s in (1, 2, 3)]
    b = [write_run(tmp_path, f"b{s}", model="b", seed=s, items=make_items(60, 0.7, 10 + s)) for s in (1, 2, 3)]
    one = write_run(tmp_path, "c", model="c", items=make_items(60, 0.5, 20))

    def dist2(paths):
        return [json.loads((p / "tasks" / "ed_empathy" / "summary.json").read_text())["dist2"] for p in paths]

    out = tmp_path / "lb.md"
    assert main(["leaderboard", *map(str, a + b + [one]), "--reference", "a", "--output", str(out), "--no-figures",
                 *FAST]) == 0
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    welch = sps.ttest_ind(dist2(b), dist2(a), equal_var=False).pvalue
    assert cells["b"]["dist2"]["test"] == "Welch (seeds)" and cells["b"]["dist2"]["p"] == pytest.approx(welch)
    single = sps.ttest_1samp(dist2(a), dist2([one])[0]).pvalue
    assert cells["c"]["dist2"]["test"] == "t1 (seeds)" and cells["c"]["dist2"]["p"] == pytest.approx(single)
    tests = {line.split(": ")[0]: line.split(": ")[1] for line in out.read_text().splitlines() if "t-test (seeds)" in line}
    assert "Dist-2" in tests["- Welch's t-test (seeds)"] and "Dist-2" in tests["- one-sample t-test (seeds)"]
