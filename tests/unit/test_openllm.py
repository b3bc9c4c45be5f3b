"""The Open LLM Leaderboard v2 normalization: by hand, and against lm-eval's own task files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.leaderboard import openllm
from harness.leaderboard.runs import TaskData


def test_normalize_by_hand():
    # the leaderboard's own GPQA example: 0.6 with 4 choices -> (0.6 - 0.25) / 0.75 = 46.67
    assert float(openllm.normalize(0.6, 0.25)) == pytest.approx(46.6667, abs=1e-4)
    assert float(openllm.normalize(0.2, 0.25)) == 0.0  # below the random baseline
    assert float(openllm.normalize(0.25, 0.25)) == 0.0
    assert float(openllm.normalize(0.37, 0.0)) == pytest.approx(37.0)


def _results(bbh=0.5, musr=(0.7, 0.4, 0.6), ifeval=(0.4, 0.6), math_=0.1, gpqa=0.4, mmlu_pro=0.28, drop=()):
    r = {}
    for sub, k in openllm.BBH_CHOICES.items():
        b = 1 / k
        r[f"leaderboard_bbh_{sub}"] = {"acc_norm,none": b + (1 - b) * bbh}  # normalizes to 100 * bbh
    for (sub, _), x in zip(openllm.MUSR_CHOICES.items(), musr):
        r[f"leaderboard_musr_{sub}"] = {"acc_norm,none": x}
    r["leaderboard_ifeval"] = {"prompt_level_strict_acc,none": ifeval[0], "inst_level_strict_acc,none": ifeval[1]}
    r["leaderboard_math_hard"] = {"exact_match,none": math_}
    r["leaderboard_gpqa"] = {"acc_norm,none": gpqa}
    r["leaderboard_mmlu_pro"] = {"acc,none": mmlu_pro}
    for key in drop:
        del r[key]
    return {"results": r}


def test_average_by_hand():
    score = openllm.from_results(_results())
    # IFEval (40 + 60) / 2 = 50; BBH 50; MATH 10; GPQA (0.4 - 0.25) / 0.75 = 20;
    # MuSR: the leaderboard's own example, (0.7-.5)/.5 = 40, (0.4-.2)/.8 = 25, (0.6-1/3)/(2/3) = 40 -> 35;
    # MMLU-Pro (0.28 - 0.1) / 0.9 = 20. Average (50 + 50 + 10 + 20 + 35 + 20) / 6.
    assert score.tasks == pytest.approx({"IFEval": 50, "BBH": 50, "MATH Lvl 5": 10, "GPQA": 20, "MuSR": 35,
                                         "MMLU-Pro": 20})
    assert score.average == pytest.approx(185 / 6)
    assert score.missing == []


def test_bbh_subtasks_are_normalized_one_by_one_then_averaged():
    r = _results()
    # one subtask below its baseline counts 0, not negative; the others keep 50
    r["results"]["leaderboard_bbh_navigate"]["acc_norm,none"] = 0.3
    assert openllm.from_results(r).tasks["BBH"] == pytest.approx(50 * 23 / 24)


def test_missing_task_leaves_the_average_blank():
    score = openllm.from_results(_results(drop=["leaderboard_gpqa"]))
    assert math.isnan(score.average) and math.isnan(score.tasks["GPQA"]) and score.tasks["BBH"] == pytest.approx(50)
    assert score.missing == ["leaderboard_gpqa acc_norm"]


def test_group_value_from_subtasks_weighted_by_size():
    r = _results(drop=["leaderboard_math_hard"])
    sizes = dict(zip(openllm.MATH_SUBTASKS, (100, 50, 50, 100, 100, 100, 100)))
    for sub, n in sizes.items():
        r["results"][sub] = {"exact_match,none": 0.2 if n == 50 else 0.1}
    r["n-samples"] = {sub: {"original": n, "effective": n} for sub, n in sizes.items()}
    # (500 * 0.1 + 100 * 0.2) / 600 = 70 / 600
    assert openllm.from_results(r).tasks["MATH Lvl 5"] == pytest.approx(100 * 70 / 600)


LM_EVAL = Path(__import__("lm_eval").__file__).parent / "tasks" / "leaderboard"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: None)


def _yaml(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


def test_tables_match_the_installed_lm_eval_leaderboard_tasks():
    group = _yaml(LM_EVAL / "leaderboard.yaml")
    assert sorted(group["task"]) == sorted({"leaderboard_mmlu_pro", "leaderboard_bbh", "leaderboard_gpqa",
                                            "leaderboard_math_hard", "leaderboard_ifeval", "leaderboard_musr"})
    bbh = {}
    for f in (LM_EVAL / "bbh_mc").glob("*.yaml"):
        if not f.name.startswith("_"):
            doc = _yaml(f)
            bbh[doc["task"]] = len(doc["doc_to_choice"])
    assert bbh == {f"leaderboard_bbh_{k}": v for k, v in openllm.BBH_CHOICES.items()}
    assert sorted(_yaml(LM_EVAL / "bbh_mc" / "_leaderboard_bbh.yaml")["task"]) == sorted(bbh)
    assert tuple(_yaml(LM_EVAL / "math" / "_leaderboard_math.yaml")["task"]) == openllm.MATH_SUBTASKS
    assert tuple(_yaml(LM_EVAL / "gpqa" / "_leaderboard_gpqa.yaml")["task"]) == openllm.GPQA_SUBTASKS
    assert _yaml(LM_EVAL / "musr" / "_musr.yaml")["task"] == [f"leaderboard_musr_{s}" for s in openllm.MUSR_CHOICES]
    assert len(_yaml(LM_EVAL / "gpqa" / "_template_yaml")["doc_to_choice"]) == 4
    # the metric each part reads is the one the task declares
    metrics = {"leaderboard_bbh": "acc_norm", "leaderboard_gpqa": "acc_norm", "leaderboard_musr": "acc_norm",
               "leaderboard_mmlu_pro": "acc", "leaderboard_math_hard": "exact_match"}
    for part in openllm.PARTS:
        prefix = next((k for k in metrics if part.result.startswith(k)), None)
        if prefix:
            assert part.metric == metrics[prefix]
    ifeval = [m["metric"] for m in _yaml(LM_EVAL / "ifeval" / "ifeval.yaml")["metric_list"]]
    assert {"prompt_level_strict_acc", "inst_level_strict_acc"} <= set(ifeval)


def _task_rows(rng, shift=0.0) -> list[TaskData]:
    """Per-example rows for every leaderboard subtask, as a run folder's tasks hold them."""
    ids, acc_norm, acc, em, prompt, inst = [], [], [], [], [], []
    subs = ([f"leaderboard_bbh_{s}" for s in openllm.BBH_CHOICES] + list(openllm.MATH_SUBTASKS)
            + list(openllm.GPQA_SUBTASKS) + [f"leaderboard_musr_{s}" for s in openllm.MUSR_CHOICES]
            + ["leaderboard_mmlu_pro", "leaderboard_ifeval"])
    for sub in subs:
        for k in range(30):
            ids.append(f"{sub}/{k}")
            p = min(0.95, 0.55 + shift)
            v = float(rng.random() < p)
            acc_norm.append(v if "bbh" in sub or "gpqa" in sub or "musr" in sub else math.nan)
            acc.append(v if "mmlu_pro" in sub else math.nan)
            em.append(v if "math" in sub else math.nan)
            prompt.append(v if "ifeval" in sub else math.nan)
            inst.append([1.0, v, 0.0] if "ifeval" in sub else None)
    values = {"acc_norm": np.array(acc_norm), "acc": np.array(acc), "exact_match": np.array(em),
              "prompt_level_strict_acc": np.array(prompt)}
    return [TaskData("leaderboard", Path("x"), ids, values, {}, {}, lists={"inst_level_strict_acc": inst})]


def test_examples_give_the_results_value_and_a_paired_test():
    rng = np.random.default_rng(0)
    a = openllm.examples_from_tasks(_task_rows(rng))
    assert a is not None and a.complete()
    x = a.parts()
    # the instruction-level part is the micro mean over instructions: (30 + sum(v)) / 90
    j = [p.metric for p in openllm.PARTS].index("inst_level_strict_acc")
    prompt_j = j - 1
    assert x[j] == pytest.approx((30 + x[prompt_j] * 30) / 90)
    # the same value as from a results.json holding these part values
    results = {"results": {}}
    for part, value in zip(openllm.PARTS, x):
        results["results"].setdefault(part.result, {})[f"{part.metric},none"] = value
    assert float(openllm.scores_from_parts(x)[1]) == pytest.approx(openllm.from_results(results).average)
    low, high = openllm.bootstrap_average([a], resamples=500, seed=1)
    avg = float(openllm.scores_from_parts(x)[1])
    assert low < avg < high
    diff, p, used = openllm.paired_test(a, a, resamples=500, seed=2)
    assert diff == 0 and p == 1.0 and used == 500
    b = openllm.examples_from_tasks(_task_rows(np.random.default_rng(1), shift=0.3))
    diff, p, _ = openllm.paired_test(a, b, resamples=500, seed=2)
    assert diff > 0 and p < 0.01
