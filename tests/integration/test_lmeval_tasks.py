"""The task folder under lm-eval itself: the index, the stock `lm_eval` command, and
MMLU-offline against lm-eval's own `mmlu`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.data import ed as ed_data
from harness.data.prompts import BASELINE_PROMPT
from harness.lmeval import ed, taskdir
from tests.conftest import REPO

TASKS = REPO / "tasks"


def test_the_index_of_our_folder():
    from lm_eval.tasks._index import Kind

    index = taskdir.own_index()
    assert index["ed_empathy"].kind == Kind.PY_TASK and index["ed_empathy_short"].kind == Kind.PY_TASK
    for group in ("empathy", "empo", "empo_offline", "mmlu_offline", "mmlu_offline_stem"):
        assert index[group].kind == Kind.GROUP, group
    assert len(taskdir.leaf_tasks("mmlu_offline", index)) == 57
    assert taskdir.leaf_tasks("empathy", index) == ["ed_empathy", "ed_empathy_short"]
    assert not taskdir.needs_builtin(["ed_empathy", "empathy", "empo_offline", "mmlu_offline"], index)
    assert taskdir.needs_builtin(["empo"], index)  # lm-eval's own mmlu, from the Hub
    assert taskdir.needs_builtin(["leaderboard"], index)


def test_mmlu_offline_files_match_the_installed_lm_eval():
    proc = subprocess.run([sys.executable, str(TASKS / "mmlu_offline" / "_generate_configs.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_offline_substitution(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("EMPATHY_HARNESS_OFFLINE", raising=False)
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(tmp_path))
    assert taskdir.offline_substitutes(["empo", "ed_empathy"]) == (["empo", "ed_empathy"], {})
    (tmp_path / "mmlu" / "data").mkdir(parents=True)
    assert taskdir.offline_substitutes(["empo", "mmlu"]) == (["empo_offline", "mmlu_offline"],
                                                           {"empo": "empo_offline", "mmlu": "mmlu_offline"})
    assert taskdir.offline_substitutes(["mmlu"], "hub") == (["mmlu"], {})
    monkeypatch.delenv("EMPATHY_HARNESS_MIRROR")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert taskdir.offline_substitutes(["mmlu"])[0] == ["mmlu_offline"]


@pytest.mark.slow
def test_leaderboard_is_reachable_through_our_task_manager():
    """lm-eval's Open LLM Leaderboard v2 group resolves through our command's TaskManager
    (running it needs the Hub and the `leaderboard` extra)."""
    manager = taskdir.task_manager(["leaderboard"])
    leaves = taskdir.leaf_tasks("leaderboard", manager.task_index)
    assert "leaderboard_ifeval" in leaves and "leaderboard_gpqa_main" in leaves and len(leaves) > 30
    assert "ed_empathy" in manager.task_index


# --- the stock lm_eval command on our folder -------------------------------------------------


@pytest.mark.slow
@pytest.mark.mirror
@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat-template"])
def test_stock_lm_eval_cli(mirror, tmp_path, chat):
    from harness.embedded import resolve_model

    tiny = resolve_model("tiny-llama")
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMPATHY_HARNESS_SCORER_MODULES": "tests.support.toy_scorers",
           "EMPATHY_HARNESS_METRICS": "toy_words,toy_distinct,toy_overlap"}
    command = [str(Path(sys.executable).parent / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={tiny}",
               "--device", "cpu", "--include_path", str(TASKS), "--tasks", "ed_empathy", "--limit", "2",
               "--gen_kwargs", "max_gen_toks=4", "--log_samples", "--output_path", str(tmp_path)]
    proc = subprocess.run(command + (["--apply_chat_template"] if chat else []), env=env, capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next(tmp_path.rglob("results_*.json")).read_text())["results"]["ed_empathy"]
    assert {"toy_unique,none", "toy_distinct,none", "toy_overlap,none"} <= set(results)
    samples = [json.loads(line) for line in next(tmp_path.rglob("samples_ed_empathy_*.jsonl")).read_text().splitlines()]
    examples = ed_data.load_examples("test", limit=2)
    assert [s["doc"] for s in samples] == [ex.to_json() for ex in examples]
    for sample, ex in zip(samples, examples):
        prompt = sample["arguments"]["gen_args_0"]["arg_0"]
        if chat:
            expected = "<|im_start|>system\n" + BASELINE_PROMPT + "<|im_end|>\n" + "".join(
                f"<|im_start|>{'user' if i % 2 == 0 else 'assistant'}\n{turn}<|im_end|>\n"
                for i, turn in enumerate(ex.context)) + "<|im_start|>assistant\n"
        else:
            expected = ed.plain_prompt(ex.context, BASELINE_PROMPT)
        assert prompt == expected
        assert sample["arguments"]["gen_args_0"]["arg_1"]["max_gen_toks"] == 4
        assert sample["toy_distinct"] == ex.id  # the corpus carrier is logged as the example id


# --- MMLU offline against lm-eval's mmlu -----------------------------------------------------

ROWS = {
    "dev": [[f"Dev question {i}?", f"a{i}", f"b{i}", f"c{i}", f"d{i}", "ABCD"[i % 4]] for i in range(5)],
    "test": [
        ['Which bone is "hyoid"?\n', "first arch", "second arch", "third, and fourth", "none", "B"],
        ["  Padded question  ", "w", "x", "y", "z", "D"],
    ],
}


def write_release(root: Path, subject: str = "anatomy") -> Path:
    for split, rows in ROWS.items():
        (root / "mmlu" / "data" / split).mkdir(parents=True, exist_ok=True)
        with open(root / "mmlu" / "data" / split / f"{subject}_{split}.csv", "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    return root


def cais_rows(split: str, subject: str = "anatomy") -> list[dict]:
    """cais/mmlu's schema for ROWS, written out by hand."""
    return [{"question": r[0], "subject": subject, "choices": r[1:5], "answer": "ABCD".index(r[5])} for r in ROWS[split]]


def test_csv_rows_become_cais_rows(tmp_path):
    from harness.lmeval import mmlu

    root = write_release(tmp_path) / "mmlu" / "data"
    assert mmlu.read_csv(root / "test" / "anatomy_test.csv", "anatomy") == cais_rows("test")
    bad = tmp_path / "bad.csv"
    bad.write_text("q,a,b,c,d,E\n")
    with pytest.raises(Exception, match="bad.csv, line 1: the answer 'E'"):
        mmlu.read_csv(bad, "anatomy")


def lm_eval_mmlu_task(subject: str, rows: dict[str, list[dict]]):
    """lm-eval's own mmlu_<subject> task config, its Hub dataset replaced by `rows`."""
    import datasets
    import lm_eval
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(Path(lm_eval.__file__).parent / "tasks" / "mmlu" / "default" / f"mmlu_{subject}.yaml")
    assert cfg.pop("dataset_path") == "cais/mmlu"
    cfg.pop("dataset_name"), cfg.pop("tag")
    cfg["custom_dataset"] = lambda **_: datasets.DatasetDict({s: datasets.Dataset.from_list(r) for s, r in rows.items()})
    return ConfigurableTask(config=cfg)


def our_mmlu_task(subject: str):
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASKS), include_defaults=False)
    return manager.load([f"mmlu_offline_{subject}"])["tasks"][f"mmlu_offline_{subject}"]


def requests_of(task, chat_template=None) -> list:
    task.set_config("num_fewshot", 5)
    task.set_fewshot_seed(1234)
    task.build_all_requests(apply_chat_template=chat_template is not None, fewshot_as_multiturn=True,
                            chat_template=chat_template)
    return [(i.doc_id, i.idx, i.arguments) for i in task.instances]


def _template():
    from transformers import AutoTokenizer

    from harness.embedded import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("tiny-llama"))

    def apply(messages, add_generation_prompt=True):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                             continue_final_message=not add_generation_prompt)

    return apply


def test_mmlu_offline_prompt_is_lm_eval_mmlu_prompt(tmp_path, monkeypatch):
    """The same rows through lm-eval's `mmlu` config and through ours give identical
    5-shot requests (prompt and continuations), plain and with a chat template."""
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(write_release(tmp_path)))
    theirs = lm_eval_mmlu_task("anatomy", {s: cais_rows(s) for s in ROWS})
    ours = our_mmlu_task("anatomy")
    assert ours.config.description == theirs.config.description
    plain = requests_of(ours)
    assert plain == requests_of(theirs)
    context, continuation = plain[0][2]
    assert context.startswith("The following are multiple choice questions (with answers) about anatomy.\n\n"
                              "Dev question 0?\nA. a0\nB. b0\nC. c0\nD. d0\nAnswer: A\n\n")
    assert context.endswith('Which bone is "hyoid"?\nA. first arch\nB. second arch\nC. third, and fourth\n'
                            "D. none\nAnswer:")
    assert [r[2][1] for r in plain[:4]] == [" A", " B", " C", " D"]
    assert ours.doc_to_target(ours.test_docs()[0]) == 1
    template = _template()
    assert requests_of(our_mmlu_task("anatomy"), template) == requests_of(
        lm_eval_mmlu_task("anatomy", {s: cais_rows(s) for s in ROWS}), template)


@pytest.mark.mirror
def test_mmlu_offline_on_the_mirror_matches_lm_eval_config(mirror):
    """Real anatomy questions from the mirror, through both configs."""
    from harness.lmeval import mmlu

    files = mmlu.subject_files("anatomy")
    rows = {s: mmlu.read_csv(p, "anatomy") for s, p in files.items()}
    assert len(rows["test"]) == 135 and len(rows["dev"]) == 5
    assert requests_of(our_mmlu_task("anatomy")) == requests_of(lm_eval_mmlu_task("anatomy", rows))
