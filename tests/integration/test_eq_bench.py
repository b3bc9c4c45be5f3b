"""EQ-Bench offline: lm-eval's `eq_bench` task on the original questions file.

The documents against the original file field by field, the scoring against lm-eval's
own function on hand-written answers, the task config against lm-eval's installed one,
the stock `lm_eval` command, bad questions files, and the leaderboard's EQ-Bench columns.
"""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import resources, stats
from harness.cli import main
from harness.errors import DataError, HarnessError, ResourceError
from harness.lmeval import eq_bench, taskdir
from tests.conftest import REPO

RELPATH = Path("eq-bench") / "eq_bench_v2_questions_171.json"


@pytest.fixture
def questions_file() -> Path:
    value = os.environ.get("EMPATHY_HARNESS_MIRROR")
    if not value or not (Path(value) / RELPATH).exists():
        pytest.skip(f"needs the offline data mirror with {RELPATH}: set EMPATHY_HARNESS_MIRROR (e.g. ../shared/data)")
    return Path(value) / RELPATH


def offline_task():
    manager = taskdir.task_manager(["eq_bench_offline"])
    return manager.load(["eq_bench_offline"])["tasks"]["eq_bench_offline"]


def lm_eval_config() -> dict:
    """lm-eval's own eq_bench config, as its loader reads it (`!function` resolved)."""
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(Path(lm_eval.__file__).parent / "tasks" / "eq_bench" / "default.yaml")


# --- the documents ------------------------------------------------------------------------------


@pytest.mark.mirror
def test_offline_documents_are_the_original_questions(questions_file):
    original = json.loads(questions_file.read_text())
    task = offline_task()
    docs = list(task.validation_docs())
    assert len(docs) == len(original) == 171
    for doc, (qid, q) in zip(docs, original.items()):
        # the target lm-eval scores against: a Python literal that parses to the file's dict, types kept
        assert ast.literal_eval(task.doc_to_target(doc)) == q["reference_answer_fullscale"], qid
        assert ast.literal_eval(doc["reference_answer"]) == q["reference_answer"], qid
        prompt = task.doc_to_text(doc)
        assert prompt == doc["prompt"]
        # the dialogue, the character and the four emotions, as in the file
        head = q["prompt"][:q["prompt"].index("Give each of these possible emotions")]
        assert prompt.startswith(head), qid
        instructions = prompt[len(head):]
        ref = q["reference_answer_fullscale"]
        for i in range(1, 5):
            assert f"\n{ref[f'emotion{i}']}: <score>\n" in instructions, qid
            assert instructions.count(f"{ref[f'emotion{i}']}: <") == 1, qid  # one answer block: no revised scores
        # without the revision step, as lm-eval's copy (its README: no revision part)
        for gone in ("critique", "Critique", "revised", "Revised", "First pass"):
            assert gone not in instructions, (qid, gone)
        assert prompt.endswith("[End of answer]\n\nRemember: zero is a valid score, meaning they are likely not "
                               "feeling that emotion. You must score at least one emotion > 0.\n\nYour answer:\n")
    # EvalScope publishes the prompt lengths of its copy of these questions (whitespace-stripped):
    # mean 1550.02, min 922, max 3737 characters; the whole file with the revision step has 1807.19
    lengths = [len(task.doc_to_text(d).strip()) for d in docs]
    assert (round(statistics.mean(lengths), 2), min(lengths), max(lengths)) == (1550.02, 922, 3737)


@pytest.mark.mirror
def test_the_task_is_lm_evals_but_the_data_source(questions_file):
    from harness.lmeval import eq_bench as ours

    import lm_eval.tasks.eq_bench.utils as lm_utils

    from lm_eval.tasks._yaml_loader import load_yaml

    theirs = lm_eval_config()
    mine = load_yaml(REPO / "tasks" / "eq_bench_offline.yaml")
    assert offline_task().config.process_results is ours.process_results
    assert mine.pop("custom_dataset") is ours.dataset
    assert theirs.pop("dataset_path") == "pbevan11/EQ-Bench"
    # the same function from the same file (lm-eval's loader imports its task's utils.py by path)
    theirs_fn = theirs.pop("process_results")
    assert mine.pop("process_results") is ours.process_results is lm_utils.calculate_score_fullscale
    assert ours.process_results.__code__.co_filename == theirs_fn.__code__.co_filename
    assert ours.process_results.__code__.co_code == theirs_fn.__code__.co_code
    assert theirs.pop("task") == "eq_bench" and mine.pop("task") == "eq_bench_offline"
    assert mine == theirs  # prompt, target, split, generation, metrics, version


# --- the scoring ----------------------------------------------------------------------------------

def answer(scores: dict[str, int | str], extra: str = "") -> str:
    return "".join(f"{emotion}: {value}\n" for emotion, value in scores.items()) + extra


def sigmoid_term(d: float) -> float:
    return 0.0 if d == 0 else 6.5 / (1 + math.exp(-1.2 * (d - 4))) if d <= 5 else d


@pytest.mark.mirror
def test_scoring_is_lm_evals_on_hand_written_answers(questions_file, capsys):
    task = offline_task()
    docs = list(task.validation_docs())
    lm_score = lm_eval_config()["process_results"]
    doc = docs[0]  # Remorseful 0, Indifferent 6, Affectionate 0, Annoyed 7
    ref = ast.literal_eval(doc["reference_answer_fullscale"])
    names = [ref[f"emotion{i}"] for i in range(1, 5)]
    exact = {n: int(ref[f"emotion{i}_score"]) for i, n in enumerate(names, 1)}
    cases = {
        "exact": (answer(exact), 100.0, 100),
        "one off each": (answer({n: v + 1 for n, v in exact.items()}), None, 100),
        "all zero": (answer({n: 0 for n in names}), None, 100),
        "revised scores win": (answer({n: 9 for n in names}) + "\n" + answer(exact), 100.0, 100),
        "three emotions": (answer(dict(list(exact.items())[:3])), 0, 0),
        "five emotions": (answer({**exact, "Happy": 3}), 0, 0),
        "no numbers": (answer({n: "high" for n in names}), 0, 0),
        "prose": ("Robert would feel mostly annoyed and a little indifferent.", 0, 0),
        "wrong emotion": (answer({**{n: v for n, v in list(exact.items())[:3]}, "Angry": 7}), 0, 0),
        "empty": ("", 0, 0),
    }
    for label, (text, score, parseable) in cases.items():
        got = task.process_results(doc, [text])
        assert got == lm_score(doc, [text]), label
        assert got["percent_parseable"] == parseable, label
        if score is not None:
            assert got["eqbench"] == pytest.approx(score), label
    # the v2 formula by hand: 10 - 0.7477 * sum of scaled differences, times 10
    one_off = task.process_results(doc, [cases["one off each"][0]])["eqbench"]
    assert one_off == pytest.approx(10 * (10 - 0.7477 * 4 * sigmoid_term(1)))
    zeros = task.process_results(doc, [cases["all zero"][0]])["eqbench"]
    assert zeros == pytest.approx(10 * (10 - 0.7477 * (sigmoid_term(6) + sigmoid_term(7))))
    # scores given as text in the file ("6") are compared as numbers
    assert isinstance(ref["emotion2_score"], str)


# --- which source a run reads ----------------------------------------------------------------------

def test_offline_substitution_of_eq_bench(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("EMPATHY_HARNESS_OFFLINE", raising=False)
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(tmp_path))
    names = ["empo", "eq_bench", "mmlu", "ed_empathy"]
    assert taskdir.offline_substitutes(names) == (names, {})
    (tmp_path / RELPATH).parent.mkdir(parents=True)
    (tmp_path / RELPATH).write_text("{}")
    # the mirror holds EQ-Bench only: eq_bench and empo (which reads it) offline, mmlu from the Hub
    assert taskdir.offline_substitutes(names)[0] == ["empo_offline", "eq_bench_offline", "mmlu", "ed_empathy"]
    assert taskdir.offline_substitutes(names, "hub") == (names, {})
    monkeypatch.delenv("EMPATHY_HARNESS_MIRROR")
    assert taskdir.offline_substitutes(["eq_bench"], "offline")[0] == ["eq_bench_offline"]
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    assert taskdir.offline_substitutes(["eq_bench"])[0] == ["eq_bench_offline"]
    with pytest.raises(HarnessError, match="unknown data source 'web'"):
        taskdir.offline_substitutes(["eq_bench"], "web")


def test_data_source_option_and_its_former_name():
    from harness.cli import build_parser
    from harness.runs.evaluate import request_from_cli

    parser = build_parser()
    for option in ("--data-source", "--mmlu-source"):
        args = parser.parse_args(["eval", option, "hub", "--tasks", "eq_bench"])
        assert request_from_cli(args).data_source == "hub"
    assert parser.parse_args(["eval"]).data_source == "auto"


def test_groups_hold_eq_bench():
    index = taskdir.own_index()
    assert "eq_bench_offline" in taskdir.leaf_tasks("empo_offline", index)
    assert "eq_bench" in taskdir.referenced_names("empo", index)
    assert not taskdir.needs_builtin(["empo_offline", "eq_bench_offline"], index)


# --- bad questions files ----------------------------------------------------------------------------

def bad_mirror(tmp_path: Path, original: Path, edit) -> Path:
    data = json.loads(original.read_text())
    edit(data)
    target = tmp_path / "mirror" / RELPATH
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(data, indent=4))
    return target


@pytest.mark.mirror
def test_a_changed_file_fails_its_sha256(questions_file, tmp_path):
    def edit(data):
        data["3"]["prompt"] = data["3"]["prompt"].replace("Robert", "Rob")

    path = bad_mirror(tmp_path, questions_file, edit)
    with pytest.raises(ResourceError) as err:
        eq_bench.rows(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "sha256" in message
    assert resources.get("eq-bench").url in message
    assert len(eq_bench.rows(questions_file)) == 171  # the published file passes


@pytest.mark.mirror
def test_a_missing_field_names_the_question(questions_file, tmp_path):
    path = bad_mirror(tmp_path, questions_file, lambda data: data["5"].pop("reference_answer_fullscale"))
    with pytest.raises(DataError, match=r"question 5: no field reference_answer_fullscale; use the published file"):
        eq_bench.rows(path)
    path = bad_mirror(tmp_path / "b", questions_file, lambda data: data["7"]["reference_answer_fullscale"].pop("emotion3"))
    with pytest.raises(DataError, match=r"question 7: reference_answer_fullscale lacks emotion3"):
        eq_bench.rows(path)
    path = bad_mirror(tmp_path / "c", questions_file,
                      lambda data: data["9"].update(prompt=data["9"]["prompt"].split("Critique:")[0]))
    with pytest.raises(DataError, match=r"question 9: the prompt lacks the v2 revision instructions"):
        eq_bench.rows(path)
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        eq_bench.rows(tmp_path / "c.json")


@pytest.mark.slow
@pytest.mark.mirror
def test_eval_with_a_bad_file_prints_one_line(questions_file, tmp_path, monkeypatch, capsys):
    path = bad_mirror(tmp_path, questions_file, lambda data: data["5"].pop("prompt"))
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(path.parents[1]))
    code = main(["eval", "--model-args", "pretrained=tiny-llama", "--tasks", "eq_bench", "--limit", "1",
                 "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("empathy-harness: error: ") and str(path) in err[-1] and "question 5: no field prompt" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "run").exists()


# --- the stock lm_eval command -------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.mirror
def test_stock_lm_eval_cli(questions_file, tmp_path):
    from harness.embedded import resolve_model

    tiny = resolve_model("tiny-llama")
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMPATHY_HARNESS_MIRROR": str(questions_file.parents[1])}
    command = [str(Path(sys.executable).parent / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={tiny}",
               "--device", "cpu", "--include_path", str(REPO / "tasks"), "--tasks", "eq_bench_offline", "--limit", "2",
               "--gen_kwargs", "max_gen_toks=4", "--log_samples", "--output_path", str(tmp_path)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next(tmp_path.rglob("results_*.json")).read_text())["results"]["eq_bench_offline"]
    assert {"eqbench,none", "percent_parseable,none"} <= set(results)
    samples = [json.loads(line) for line in next(tmp_path.rglob("samples_eq_bench_offline_*.jsonl")).read_text().splitlines()]
    rows = eq_bench.rows(questions_file)[:2]
    assert [s["doc"] for s in samples] == rows
    lm_score = lm_eval_config()["process_results"]
    for s, row in zip(samples, rows):
        assert s["arguments"]["gen_args_0"]["arg_0"] == row["prompt"]
        expected = lm_score(row, [s["filtered_resps"][0]])
        assert (s["eqbench"], s["percent_parseable"]) == (expected["eqbench"], expected["percent_parseable"])


# --- the leaderboard's EQ-Bench columns --------------------------------------------------------------

def write_eq_bench(run: Path, scores: np.ndarray, parseable: np.ndarray, order: list[int]) -> None:
    """scores.jsonl as `eval` writes it for eq_bench_offline, questions in the given order."""
    folder = run / "tasks" / "eq_bench_offline"
    folder.mkdir(parents=True)
    with open(folder / "scores.jsonl", "w") as fh:
        for k in order:
            fh.write(json.dumps({"id": f"eq_bench_offline/{k}", "eqbench": float(scores[k]),
                                 "percent_parseable": int(parseable[k])}) + "\n")
    (folder / "summary.json").write_text(json.dumps({"eqbench": float(np.mean(scores)), "n": len(scores)}))


def test_leaderboard_shows_eq_bench_with_interval_and_paired_test(tmp_path, synthetic_scorers):
    from tests.synthetic_runs import make_items, write_run

    rng = np.random.default_rng(0)
    n = 40
    parse_a = (rng.random(n) < 0.9).astype(int) * 100
    score_a = np.where(parse_a > 0, rng.normal(40, 15, n), 0.0)
    parse_b = np.where(rng.random(n) < 0.3, 0, parse_a)
    score_b = np.where(parse_b > 0, score_a + rng.normal(5, 5, n), 0.0)
    items = make_items(30, 0.2, 1)
    a = write_run(tmp_path, "a", model="base", items=items)
    b = write_run(tmp_path, "b", model="tuned", items=make_items(30, 0.4, 2))
    human = write_run(tmp_path, "h", model="human", items=items, reference=True)
    write_eq_bench(a, score_a, parse_a, list(range(n)))
    write_eq_bench(b, score_b, parse_b, list(reversed(range(n))))  # another file order: the ids pair them
    out = tmp_path / "lb.md"
    assert main(["leaderboard", str(a), str(b), str(human), "--reference", "base", "--output", str(out),
                 "--no-figures", "--resamples", "2000", "--corpus-resamples", "0"]) == 0
    text = out.read_text()
    assert "| EQ-Bench ↑ | EQ-Bench % parseable ↑ |" in text
    cells = {r["model"]: r["cells"] for r in json.loads(out.with_suffix(".json").read_text())["tables"][0]["rows"]}
    for key, ref, other in (("eq_bench", score_a, score_b), ("eq_bench_parseable", parse_a, parse_b)):
        assert cells["base"][key]["value"] == pytest.approx(float(np.mean(ref)))
        assert cells["tuned"][key]["value"] == pytest.approx(float(np.mean(other)))
        low, high = cells["tuned"][key]["ci"]
        assert low < np.mean(other) < high and cells["tuned"][key]["n"] == n
        expected = stats.paired_permutation_test(ref, other, resamples=2000, seed=0)
        assert cells["tuned"][key]["test"] == "perm (2,000)"
        assert cells["tuned"][key]["p"] == pytest.approx(expected.pvalue)
        assert key not in cells["human"]  # not measured: blank, not zero
    assert cells["tuned"]["eq_bench_parseable"]["p_adj"] >= cells["tuned"]["eq_bench_parseable"]["p"]


def test_compare_tests_eq_bench_in_its_better_direction(tmp_path, synthetic_scorers):
    """EQ-Bench's keys come from lm-eval, not from a scorer: compare and the leaderboard
    read their direction from the one catalog (higher is better), not leave them arrowless."""
    from tests.synthetic_runs import make_items, write_run

    rng = np.random.default_rng(1)
    n = 30
    parse = np.full(n, 100)
    score_a = rng.normal(40, 10, n)
    a = write_run(tmp_path, "a", model="base", items=make_items(20, 0.2, 1))
    b = write_run(tmp_path, "b", model="tuned", items=make_items(20, 0.3, 2))
    write_eq_bench(a, score_a, parse, list(range(n)))
    write_eq_bench(b, score_a + rng.normal(3, 2, n), parse, list(range(n)))
    assert main(["compare", str(a), str(b), "--json", str(tmp_path / "c.json"), "--output", str(tmp_path / "c.md"),
                 "--resamples", "1000"]) == 0
    metrics = json.loads((tmp_path / "c.json").read_text())["pairs"][0]["metrics"]
    eq = next(m for k, m in metrics.items() if k.endswith("eqbench"))
    assert eq["higher_is_better"] is True and eq["p"] is not None
    row = next(line for line in (tmp_path / "c.md").read_text().splitlines() if "eqbench" in line)
    assert "| ↑ |" in row
