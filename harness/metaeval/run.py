"""`empathy-harness meta-eval`: every metric (and a judge) against human ratings.

1. Read the ratings (EmPO's `he_data.csv` through harness.human_eval.empo) with the rated
   responses; map each rated dialogue to an ED test example through its turns (mapping.py).
2. Score every rated response with the suite (or `--metrics`) system by system (so corpus
   metrics get one value per system), and with the judge when asked.
3. Per metric and human dimension: Kendall tau-b and Spearman rho of the response's metric
   value against the mean of its annotators' ratings, 95% bootstrap intervals over dialogues,
   partial Spearman controlling for response length; on all rated responses and on the model
   responses only (the human-target rows *are* the ED references, so every reference-based
   metric scores them perfectly); system-level tau and rho over the systems.
4. The ceiling: each annotator's rating against the mean of the other annotators of the same
   response (leave one annotator out), pooled over responses, same intervals.

Orientation: values of lower-is-better metrics are negated before correlating, so agreement
with people is positive for every metric; descriptive outputs (no direction: length, signed
IVA) keep their raw sign.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from harness import __version__
from harness.errors import HarnessError
from harness.human_eval.empo import EMPO_CHECKBOX, EMPO_DIMENSIONS, EMPO_SYSTEMS, EmpoRatings, read_empo_ratings
from harness.metaeval.correlation import (
    DEFAULT_RESAMPLES, DEFAULT_SEED, Bootstrap, correlations, system_correlation,
)
from harness.metaeval.mapping import DialogueMapping, RatedDialogue, map_dialogues
from harness.metrics.base import EXAMPLE, Item, Output

MEAN_OF_FOUR = "mean_of_four"
DIMENSIONS = (*EMPO_DIMENSIONS, MEAN_OF_FOUR, EMPO_CHECKBOX)
HUMAN_SYSTEM = "human_targets"  # its responses are the ED references
LENGTH_KEY = "length_words"
# outputs that describe the reference, not the rated response: constant across a dialogue's systems
NOT_OF_THE_RESPONSE = ("ref_level_er", "ref_level_ip", "ref_level_ex")
SUBSETS = {"all": "every rated response", "models": "model responses only (human-target rows left out)"}


@dataclass
class MetaEvalRequest:
    ratings: Path | None
    output: Path
    metrics: list[str] | None = None  # None: the whole suite; [] none (judge only)
    ed_source: Path | None = None
    allow_unmatched: bool = False
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    judge: object | None = None  # a JudgeSettings, when the judge is asked for
    pairwise: tuple[str, str] | None = None  # two systems for the A/B judge
    judge_dialogues: int | None = None  # the judge rates the responses of the first N dialogues only
    command: list[str] | None = None


@dataclass
class Scored:
    """Per response (keyed (sample, system)): every example-level value; per system: every summary value."""

    values: dict[tuple[int, str], dict[str, float | None]] = field(default_factory=dict)
    system_summary: dict[str, dict[str, float]] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    instruments: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def read_ratings(path: Path | None) -> EmpoRatings:
    if path is not None and Path(path).exists():
        with open(path, encoding="utf-8", errors="replace") as handle:
            header = handle.readline().strip().split(",")
        if {"annotator", "sample", "system", "dimension", "value"} <= set(header):
            raise HarnessError(
                f"{path}: a tidy ratings file (the human-evaluation kit's) holds no responses or dialogues; "
                "meta-eval reads EmPO's he_data.csv (ratings with their chats); kit ratings are not supported yet")
    return read_empo_ratings(path)


def rated_dialogues(data: EmpoRatings) -> list[RatedDialogue]:
    by_sample: dict[int, RatedDialogue] = {}
    for (sample, _system), r in sorted(data.responses.items()):
        by_sample.setdefault(sample, RatedDialogue(sample, r.context, r.reference, r.emotion, r.ed_index))
    return list(by_sample.values())


def check_mapping(mapping: DialogueMapping, source: Path, allow_unmatched: bool) -> None:
    if not mapping.unmatched:
        return
    total = len(mapping.matched) + len(mapping.unmatched)
    listed = "; ".join(f"sample {s}: {why}" for s, why in list(sorted(mapping.unmatched.items()))[:5])
    more = f" (and {len(mapping.unmatched) - 5} more)" if len(mapping.unmatched) > 5 else ""
    if not mapping.matched:
        raise HarnessError(f"{source}: none of the {total} rated dialogues matches an ED test example ({listed}{more}); "
                           "check --ed (the ED release the ratings were made on)")
    if not allow_unmatched:
        raise HarnessError(f"{source}: {len(mapping.unmatched)} of {total} rated dialogues match no single ED test "
                           f"example: {listed}{more}; pass --allow-unmatched to leave their responses out")


def build_items(data: EmpoRatings, mapping: DialogueMapping) -> dict[str, list[tuple[tuple[int, str], Item]]]:
    """Per system: ((sample, system), Item) of every mapped response; our ED text, EmPO's response."""
    per_system: dict[str, list] = defaultdict(list)
    for (sample, system), rated in sorted(data.responses.items()):
        example = mapping.matched.get(sample)
        if example is None:
            continue
        item = Item(f"{sample}/{system}", example.context, rated.response, example.reference, example.emotion)
        per_system[system].append(((sample, system), item))
    return dict(per_system)


def score_suite(per_system: dict, metrics: Sequence[str], scored: Scored) -> None:
    from harness.metrics import base

    for system, rows in per_system.items():
        result = base.score([item for _, item in rows], metrics)
        for (key, _item), values in zip(rows, result.per_example):
            scored.values.setdefault(key, {}).update({k: v for k, v in values.items() if k != "id"})
        scored.system_summary.setdefault(system, {}).update({k: v for k, v in result.summary.items() if k != "n"})
        scored.outputs.update(result.outputs)
        scored.instruments.update(result.instruments)
        for name, sec in result.seconds.items():
            scored.seconds[name] = round(scored.seconds.get(name, 0.0) + sec, 3)


def judged_subset(per_system: dict, dialogues: int | None) -> dict:
    """The responses of the first `dialogues` rated dialogues (by sample number), per system."""
    if dialogues is None:
        return per_system
    samples = sorted({key[0] for rows in per_system.values() for key, _ in rows})[:dialogues]
    keep = set(samples)
    return {system: [row for row in rows if row[0][0] in keep] for system, rows in per_system.items()}


def score_judge(per_system: dict, scorer, scored: Scored) -> dict:
    """The judge over every response at once (one batched pass); returns its unparseable report.
    Responses outside `per_system` (a --judge-dialogues subset) have no judge value."""
    from harness.metrics.base import mean

    rows = [row for system_rows in per_system.values() for row in system_rows]
    start = time.perf_counter()
    generated_before = scorer.judge.generated
    result = scorer.compute([item for _, item in rows])
    seconds = time.perf_counter() - start
    for i, (key, _item) in enumerate(rows):
        scored.values.setdefault(key, {}).update({k: v[i] for k, v in result.per_example.items()})
    for system, system_rows in per_system.items():
        keys = {key for key, _ in system_rows}
        summary = scored.system_summary.setdefault(system, {})
        for name in result.per_example:
            summary[name] = mean([scored.values[k][name] for k in keys])
    for values in scored.values.values():
        for name in result.per_example:
            values.setdefault(name, None)
    for out in scorer.outputs:
        scored.outputs[out.name] = out
    scored.instruments["judge"] = scorer.instrument()
    scored.seconds["judge"] = round(seconds, 3)
    return {"responses": len(rows), "unparseable": scorer.unparseable_report(), "answers": len(rows) * len(scorer.rubric.items),
            "generated": scorer.judge.generated - generated_before, "seconds": round(seconds, 3),
            "distinct": {name: distinct_values(values) for name, values in result.per_example.items()}}


def distinct_values(values: list) -> dict:
    """How many different scores a judge statement gave (a constant judge ranks nothing: its
    correlations are undefined), with the most frequent ones."""
    from collections import Counter

    counts = Counter(v for v in values if v is not None)
    return {"parsed": sum(counts.values()), "distinct": len(counts),
            "most_common": [[value, n] for value, n in counts.most_common(3)]}


def human_means(data: EmpoRatings) -> tuple[dict[tuple[int, str], dict[str, float]], dict]:
    """Mean rating per response and dimension (plus the mean of the four), and every rating per
    response: {(sample, system): {dimension: [(annotator, value)]}} for the ceiling."""
    per: dict[tuple[int, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in data.ratings:
        per[(r.sample, r.system)][r.dimension].append((r.annotator, r.value))
    for key, dims in per.items():
        by_annotator = defaultdict(list)
        for dim in EMPO_DIMENSIONS:
            for annotator, value in dims[dim]:
                by_annotator[annotator].append(value)
        dims[MEAN_OF_FOUR] = [(a, float(np.mean(v))) for a, v in by_annotator.items() if len(v) == len(EMPO_DIMENSIONS)]
    means = {key: {dim: float(np.mean([v for _, v in dims[dim]])) for dim in DIMENSIONS if dims[dim]}
             for key, dims in per.items()}
    return means, per


def orientation(out: Output | None) -> float:
    return -1.0 if out is not None and out.higher_is_better is False else 1.0


def example_keys(scored: Scored) -> list[str]:
    return [name for name, out in scored.outputs.items()
            if out.level == EXAMPLE and name not in NOT_OF_THE_RESPONSE]


def _num(value) -> float:
    return math.nan if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)


def example_level(keys: list[str], scored: Scored, means: dict, responses: list[tuple[int, str]],
                  resamples: int, seed: int) -> dict:
    """{metric: {dimension: {kendall, spearman, spearman_partial}}} on the given responses."""
    boot = Bootstrap(np.array([sample for sample, _ in responses]), resamples, seed)
    length = np.array([_num(scored.values[r].get(LENGTH_KEY)) for r in responses])
    out: dict = {}
    for key in keys:
        sign = orientation(scored.outputs.get(key))
        x = np.array([sign * _num(scored.values[r].get(key)) for r in responses])
        out[key] = {}
        for dim in DIMENSIONS:
            y = np.array([_num(means[r].get(dim)) for r in responses])
            result = boot.correlations(x, y, control=length)
            out[key][dim] = {name: c.to_json() for name, c in result.items()}
    return out


def _seat_rows(per_rating: dict, responses: list[tuple[int, str]], dim: str):
    """(response, mean of the other annotators, the left-out annotator's rating) per rating."""
    for key in responses:
        values = [v for _, v in per_rating[key][dim]]
        if len(values) < 2:
            continue
        for i, value in enumerate(values):
            yield key, float(np.mean(values[:i] + values[i + 1:])), value


def ceiling(per_rating: dict, responses: list[tuple[int, str]], resamples: int, seed: int) -> dict:
    """Each annotator's rating against the mean of the others on the same response."""
    out = {}
    for dim in DIMENSIONS:
        rows = list(_seat_rows(per_rating, responses, dim))
        result = correlations([r[1] for r in rows], [r[2] for r in rows], np.array([r[0][0] for r in rows]),
                              resamples=resamples, seed=seed)
        out[dim] = {name: c.to_json() for name, c in result.items()}
    return out


def in_the_seat(keys: list[str], scored: Scored, per_rating: dict, responses: list[tuple[int, str]]) -> dict:
    """Each metric on the ceiling's own rows: its value against the mean of the other annotators
    (the left-out annotator replaced by the metric), point estimates; the like-for-like comparison
    with the annotators' agreement."""
    from scipy import stats

    out: dict = {key: {} for key in keys}
    for dim in DIMENSIONS:
        rows = list(_seat_rows(per_rating, responses, dim))
        others = np.array([r[1] for r in rows])
        for key in keys:
            sign = orientation(scored.outputs.get(key))
            x = np.array([sign * _num(scored.values[r[0]].get(key)) for r in rows])
            keep = np.isfinite(x)
            if keep.sum() < 3 or np.ptp(x[keep]) == 0:
                out[key][dim] = {"spearman": None, "kendall": None, "n": int(keep.sum())}
                continue
            out[key][dim] = {"spearman": round(float(stats.spearmanr(x[keep], others[keep]).statistic), 4),
                             "kendall": round(float(stats.kendalltau(x[keep], others[keep]).statistic), 4),
                             "n": int(keep.sum())}
    return out


def system_level(keys: list[str], scored: Scored, means: dict, systems: list[str]) -> dict:
    human = {s: {dim: float(np.mean([m[dim] for (sample, sys), m in means.items() if sys == s and dim in m]))
                 for dim in DIMENSIONS} for s in systems}
    out = {"human_means": human, "metric_values": {}, "correlations": {}}
    for key in keys:
        sign = orientation(scored.outputs.get(key))
        values = [_num(scored.system_summary.get(s, {}).get(key)) for s in systems]
        out["metric_values"][key] = dict(zip(systems, values))
        out["correlations"][key] = {
            dim: system_correlation([sign * v for v in values], [human[s][dim] for s in systems]).to_json()
            for dim in DIMENSIONS}
    return out


def pairwise(judge_settings, per_system: dict, means: dict, systems: tuple[str, str], judge=None) -> dict:
    """The A/B judge on (first system, second system) for each dialogue: flip rate and agreement
    with the human preference (higher mean rating; ties left out) on each statement."""
    from harness.metrics.judge import PairwiseJudge

    first, second = systems
    a = {key[0]: (key, item) for key, item in per_system[first]}
    b = {key[0]: (key, item) for key, item in per_system[second]}
    samples = sorted(set(a) & set(b))
    judge = PairwiseJudge(judge_settings, judge)  # the pointwise judge's model, loaded once
    start = time.perf_counter()
    generated = judge.judge.generated
    result = judge.compare([(a[s][1].context, a[s][1].response, b[s][1].response) for s in samples])
    seconds = time.perf_counter() - start
    summary = result.summary()
    for dim, outcomes in result.outcomes.items():
        if dim not in DIMENSIONS:
            continue
        agree = total = 0
        for s, outcome in zip(samples, outcomes):
            diff = means[a[s][0]][dim] - means[b[s][0]][dim]
            if outcome.winner is None or diff == 0:
                continue
            total += 1
            agree += (outcome.winner == "first") == (diff > 0)
        summary[dim]["human_agreement"] = agree / total if total else None
        summary[dim]["decided_and_human_untied"] = total
    return {"systems": [first, second], "dialogues": len(samples), "instrument": judge.instrument(),
            "per_statement": summary, "generated": judge.judge.generated - generated, "seconds": round(seconds, 3)}


def run(request: MetaEvalRequest) -> dict:
    from harness.data.ed import load_examples
    from harness.scoring import resolve_metrics

    started = time.perf_counter()
    data = read_ratings(request.ratings)
    metrics = resolve_metrics(request.metrics) if request.metrics is None or request.metrics else []
    judge_scorer = None
    if request.judge is not None:
        from harness.metrics.judge import JudgeScorer

        judge_scorer = JudgeScorer(request.judge)  # reads rubric and prompt: their errors come before any scoring
    if not metrics and judge_scorer is None:
        raise HarnessError("nothing to evaluate: --metrics none and no --judge")
    if request.pairwise is not None and request.judge is None:
        raise HarnessError("--judge-pairwise needs --judge")
    examples = load_examples("test", request.ed_source)
    mapping = map_dialogues(rated_dialogues(data), examples)
    check_mapping(mapping, data.path, request.allow_unmatched)
    per_system = build_items(data, mapping)
    unknown = [s for s in (request.pairwise or ()) if s not in per_system]
    if unknown:
        raise HarnessError(f"--judge-pairwise: no system {', '.join(map(repr, unknown))} in the ratings; "
                           f"systems: {', '.join(per_system)}")
    scored = Scored()
    # response length is the control: measured even when --metrics leaves it out
    score_suite(per_system, list(dict.fromkeys([*metrics, "length"])), scored)
    judged = judged_subset(per_system, request.judge_dialogues)
    judge_report = score_judge(judged, judge_scorer, scored) if judge_scorer is not None else None
    means, per_rating = human_means(data)
    requested = _requested_outputs(scored, metrics, judge_scorer)
    keys = [k for k in example_keys(scored) if k in requested]
    system_keys = [k for k in scored.outputs if k in requested and k not in NOT_OF_THE_RESPONSE
                   and not k.startswith("judge_unparseable_")]
    systems = [s for s in EMPO_SYSTEMS if s in per_system]
    all_responses = sorted(k for rows in per_system.values() for k, _ in rows)
    subsets = {"all": all_responses, "models": [k for k in all_responses if k[1] != HUMAN_SYSTEM]}
    report: dict = {
        "schema": 1,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "harness_version": __version__,
        "command": request.command,
        "ratings": {"file": data.path.name, "sha256": data.sha256, "responses": len(data.responses),
                    "ratings": sum(1 for r in data.ratings if r.dimension in EMPO_DIMENSIONS),
                    "annotators": len({r.annotator for r in data.ratings}), "systems": systems},
        "mapping": mapping.to_json(),
        "responses_scored": len(all_responses),
        "settings": {"resamples": request.resamples, "seed": request.seed, "interval": "percentile 95%, "
                     "dialogues resampled with replacement (all responses of a drawn dialogue kept)",
                     "orientation": "lower-is-better metrics negated: agreement with people is positive",
                     "partial": "partial Spearman on response length (length_words): rank correlations "
                                "r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))",
                     "human_target": "mean of the response's annotators' ratings"},
        "metrics": {k: {"higher_is_better": out.higher_is_better, "level": out.level,
                        "oriented": orientation(out) < 0, "description": out.description}
                    for k, out in scored.outputs.items() if k in system_keys},
        "instruments": scored.instruments,
        "scorer_seconds": scored.seconds,
        "example_level": {}, "ceiling": {},
        "system_level": system_level(system_keys, scored, means, systems),
    }
    for subset, responses in subsets.items():
        report["example_level"][subset] = example_level(keys, scored, means, responses, request.resamples, request.seed)
        report["ceiling"][subset] = ceiling(per_rating, responses, request.resamples, request.seed)
        report.setdefault("in_the_seat", {})[subset] = in_the_seat(keys, scored, per_rating, responses)
        report.setdefault("subsets", {})[subset] = {"responses": len(responses), "what": SUBSETS[subset]}
    if judge_report is not None:
        report["judge"] = {"identity_sha256": scorer_identity(judge_scorer), "dialogues": request.judge_dialogues
                           or len({k[0] for k in all_responses}), **judge_report}
    if request.pairwise is not None:
        report["judge_pairwise"] = pairwise(request.judge, judged, means, request.pairwise, judge_scorer.judge)
    report["seconds"] = round(time.perf_counter() - started, 1)
    from harness.metaeval.report import write_report

    write_report(request.output, report, scored, means)
    if judge_scorer is not None:
        from harness.leaderboard.judge import remember

        remember(report)  # the leaderboard labels this judge's columns with its agreement
    return report


def scorer_identity(scorer) -> str:
    return scorer.judge.identity_sha256


def _requested_outputs(scored: Scored, metrics: Sequence[str], judge_scorer) -> set[str]:
    from harness.metrics import base

    keys = {o.name for name in metrics for o in base.get_scorer(name).outputs}
    keys.add(LENGTH_KEY)
    if judge_scorer is not None:
        keys |= {o.name for o in judge_scorer.outputs}
    return keys
