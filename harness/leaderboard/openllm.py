"""The Open LLM Leaderboard v2 average, normalized as the leaderboard normalizes it.

Per score: 0 below the random baseline b, else 100 (x - b) / (1 - b). Task scores are
plain means of their parts; the average is the plain mean of the six tasks:

- IFEval: `leaderboard_ifeval`, mean of `prompt_level_strict_acc` and
  `inst_level_strict_acc` (b = 0; the instruction-level one is lm-eval's micro mean over
  all instructions);
- BBH: each of the 24 `leaderboard_bbh_*` subtasks normalized with its own
  b = 1 / len(doc_to_choice) on `acc_norm`, then the plain (not size-weighted) mean;
- MATH Lvl 5: `leaderboard_math_hard` `exact_match` (b = 0; lm-eval's group is the
  size-weighted mean of its 7 subtasks);
- GPQA: `leaderboard_gpqa` `acc_norm` (b = 1/4; size-weighted group of diamond,
  extended, main);
- MuSR: its 3 subtasks each normalized on `acc_norm` (murder mysteries b = 1/2, object
  placements 1/5, team allocation 1/3), then the plain mean;
- MMLU-Pro: `leaderboard_mmlu_pro` `acc` (b = 1/10).
Source: lm-eval 0.4.13 `lm_eval/tasks/leaderboard/` (group YAMLs and each BBH subtask's
`doc_to_choice`; a test checks these tables against the installed package) and the
leaderboard's normalization page (huggingface.co/docs/leaderboards/open_llm_leaderboard/
normalization), which gives the MuSR choice counts (they live in the data, not the YAML).

Values come from lm-eval's `results.json`; per-example rows (`{"id": "<subtask>/<doc_id>",
<metric>: value}` in any task's scores.jsonl) give the bootstrap interval and the paired
test, both computed on the clipped, normalized average itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.stats.paired import _CHUNK, flip_patterns

TASKS = ("IFEval", "BBH", "MATH Lvl 5", "GPQA", "MuSR", "MMLU-Pro")

BBH_CHOICES = {
    "boolean_expressions": 2, "causal_judgement": 2, "date_understanding": 6, "disambiguation_qa": 3,
    "formal_fallacies": 2, "geometric_shapes": 11, "hyperbaton": 2, "logical_deduction_five_objects": 5,
    "logical_deduction_seven_objects": 7, "logical_deduction_three_objects": 3, "movie_recommendation": 6,
    "navigate": 2, "object_counting": 19, "penguins_in_a_table": 5, "reasoning_about_colored_objects": 18,
    "ruin_names": 6, "salient_translation_error_detection": 6, "snarks": 2, "sports_understanding": 2,
    "temporal_sequences": 4, "tracking_shuffled_objects_five_objects": 5,
    "tracking_shuffled_objects_seven_objects": 7, "tracking_shuffled_objects_three_objects": 3, "web_of_lies": 2,
}
MUSR_CHOICES = {"murder_mysteries": 2, "object_placements": 5, "team_allocation": 3}
MATH_SUBTASKS = tuple(f"leaderboard_math_{s}_hard" for s in (
    "algebra", "counting_and_prob", "geometry", "intermediate_algebra", "num_theory", "prealgebra", "precalculus"))
GPQA_SUBTASKS = ("leaderboard_gpqa_diamond", "leaderboard_gpqa_extended", "leaderboard_gpqa_main")


@dataclass(frozen=True)
class Part:
    """One normalized score averaged into its task."""

    task: str
    result: str  # the results.json entry the leaderboard reads
    subtasks: tuple[str, ...]  # lm-eval tasks whose examples it pools (size-weighted, as lm-eval's group)
    metric: str
    baseline: float


PARTS: tuple[Part, ...] = (
    Part("IFEval", "leaderboard_ifeval", ("leaderboard_ifeval",), "prompt_level_strict_acc", 0.0),
    Part("IFEval", "leaderboard_ifeval", ("leaderboard_ifeval",), "inst_level_strict_acc", 0.0),
    *(Part("BBH", f"leaderboard_bbh_{s}", (f"leaderboard_bbh_{s}",), "acc_norm", 1 / k) for s, k in BBH_CHOICES.items()),
    Part("MATH Lvl 5", "leaderboard_math_hard", MATH_SUBTASKS, "exact_match", 0.0),
    Part("GPQA", "leaderboard_gpqa", GPQA_SUBTASKS, "acc_norm", 0.25),
    *(Part("MuSR", f"leaderboard_musr_{s}", (f"leaderboard_musr_{s}",), "acc_norm", 1 / k) for s, k in MUSR_CHOICES.items()),
    Part("MMLU-Pro", "leaderboard_mmlu_pro", ("leaderboard_mmlu_pro",), "acc", 0.1),
)

# PARTS x TASKS weights: a task's score is the plain mean of its parts.
_W = np.array([[1.0 if p.task == t else 0.0 for t in TASKS] for p in PARTS])
_W /= _W.sum(axis=0, keepdims=True)
_BASE = np.array([p.baseline for p in PARTS])


def normalize(x, baseline):
    """The leaderboard's normalization: 0 below the random baseline, else 100 (x - b) / (1 - b)."""
    x = np.asarray(x, dtype=float)
    return np.where(x < baseline, 0.0, 100.0 * (x - baseline) / (1.0 - baseline))


def scores_from_parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw part values (... x len(PARTS)) -> (task scores (... x 6), average (...))."""
    x = np.asarray(x, dtype=float)
    missing = np.isnan(x)
    tasks = np.where(missing, 0.0, normalize(x, _BASE)) @ _W
    tasks = np.where((missing @ (_W > 0)) > 0, np.nan, tasks)  # a task with a missing part is missing
    return tasks, tasks.mean(axis=-1)


@dataclass
class OpenLLMScore:
    average: float  # NaN when a task is missing
    tasks: dict[str, float]
    missing: list[str]  # results entries not found


def from_results(results: dict | None) -> OpenLLMScore:
    """The average from lm-eval's results.json (`results[task]["<metric>,none"]`)."""
    table = (results or {}).get("results", {})
    x = np.full(len(PARTS), np.nan)
    missing = []
    for j, part in enumerate(PARTS):
        value = _result_value(results or {}, table, part)
        if value is None:
            missing.append(f"{part.result} {part.metric}")
        else:
            x[j] = value
    tasks, avg = scores_from_parts(x)
    return OpenLLMScore(float(avg), {t: float(v) for t, v in zip(TASKS, tasks)}, missing)


def _result_value(results: dict, table: dict, part: Part) -> float | None:
    key = f"{part.metric},none"
    entry = table.get(part.result)
    if isinstance(entry, dict) and isinstance(entry.get(key), (int, float)):
        return float(entry[key])
    # A group without its own entry: the size-weighted mean of its subtasks, as lm-eval's group does.
    values, sizes = [], []
    for sub in part.subtasks:
        e = table.get(sub)
        n = (results.get("n-samples", {}).get(sub) or {}).get("effective")
        if not isinstance(e, dict) or not isinstance(e.get(key), (int, float)) or not n:
            return None
        values.append(float(e[key]))
        sizes.append(float(n))
    return float(np.dot(values, sizes) / sum(sizes)) if values else None


@dataclass
class Examples:
    """Per-example numerators and denominators of every part: a part's value is
    num[:, p].sum() / den[:, p].sum() (den 1 per example, or the number of instructions
    of an IFEval prompt for the instruction-level accuracy)."""

    ids: list[str]
    num: np.ndarray  # examples x PARTS
    den: np.ndarray

    def parts(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.num.sum(axis=0) / self.den.sum(axis=0)

    def complete(self) -> bool:
        return bool((self.den.sum(axis=0) > 0).all())


def examples_from_tasks(tasks) -> Examples | None:
    """Collect leaderboard examples from the tasks of a run (ids `<subtask>/<doc_id>`)."""
    part_of: dict[tuple[str, str], list[int]] = {}
    for j, part in enumerate(PARTS):
        for sub in part.subtasks:
            part_of.setdefault((sub, part.metric), []).append(j)
    subtasks = {sub for sub, _ in part_of}
    ids: list[str] = []
    nums: list[np.ndarray] = []
    dens: list[np.ndarray] = []
    for task in tasks:
        for k, rid in enumerate(task.ids):
            sub = rid.split("/", 1)[0]
            if sub not in subtasks:
                continue
            num, den = np.zeros(len(PARTS)), np.zeros(len(PARTS))
            for (s, metric), cols in part_of.items():
                if s != sub:
                    continue
                if metric in task.lists and task.lists[metric][k] is not None:
                    flags = task.lists[metric][k]
                    value, weight = float(sum(flags)), float(len(flags))
                elif metric in task.values and not math.isnan(task.values[metric][k]):
                    value, weight = float(task.values[metric][k]), 1.0
                else:
                    continue
                num[cols], den[cols] = value, weight
            ids.append(rid)
            nums.append(num)
            dens.append(den)
    if not ids:
        return None
    return Examples(ids, np.array(nums), np.array(dens))


def bootstrap_average(examples: list[Examples], *, resamples: int, seed, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the normalized average (clipping included), over
    examples resampled with replacement; several runs (seeds) on the same examples are
    resampled together and their averages averaged."""
    n = len(examples[0].ids)
    rng = np.random.default_rng(seed)
    out = np.empty(resamples)
    done = 0
    while done < resamples:
        k = min(_CHUNK // 4 or 1, resamples - done)
        idx = rng.integers(0, n, size=(k, n)) + (np.arange(k) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=k * n).reshape(k, n).astype(np.float64)
        runs = []
        for ex in examples:
            with np.errstate(invalid="ignore", divide="ignore"):
                x = (counts @ ex.num) / (counts @ ex.den)
            runs.append(scores_from_parts(x)[1])
        out[done:done + k] = np.mean(runs, axis=0)
        done += k
    alpha = 1 - level
    return float(np.nanquantile(out, alpha / 2)), float(np.nanquantile(out, 1 - alpha / 2))


def paired_test(a: Examples, b: Examples, *, resamples: int, seed) -> tuple[float, float, int]:
    """Paired permutation test of average(B) - average(A) on the same examples: each
    random pattern swaps the two systems' results on a subset of examples and the
    normalized average (clipping included) is recomputed. Returns (diff, p, patterns)."""
    if a.ids != b.ids or not np.array_equal(a.den, b.den):
        raise ValueError("paired Open LLM test needs the same examples (and IFEval instructions) in both runs")
    den = a.den.sum(axis=0)
    sum_a, sum_b = a.num.sum(axis=0), b.num.sum(axis=0)
    d = b.num - a.num
    observed = float(scores_from_parts(sum_b / den)[1] - scores_from_parts(sum_a / den)[1])
    count, used = 0, 0
    n = len(a.ids)
    for flips in flip_patterns(n, resamples, seed):
        moved = flips @ d
        null = scores_from_parts((sum_b - moved) / den)[1] - scores_from_parts((sum_a + moved) / den)[1]
        count += int((np.abs(null) >= abs(observed) - 1e-9).sum())
        used += len(flips)
    exact = n <= 16
    p = count / used if exact else (1 + count) / (1 + used)
    return observed, p, used
