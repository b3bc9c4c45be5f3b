"""Writing a run folder (docs/ARCHITECTURE.md, "Run folder") from lm-eval's results.

    RUN/manifest.json                 what produced the run (written last)
    RUN/results.json                  lm-eval's results, as lm-eval reports them (no samples)
    RUN/tasks/<task>/samples.jsonl    lm-eval's per-sample records
    RUN/tasks/<task>/generations.jsonl, summary.json, scores.jsonl, provenance.json   ED tasks
    RUN/tasks/<task>/scores.jsonl, summary.json, provenance.json                      other tasks

A folder per *unit*: each ED generation task on its own; a group whose tasks are all
scored with the same metrics (MMLU and its 57 subjects) as one folder, with ids
"<subtask>/<doc_id>"; other groups split into their children.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Iterable

from harness import __version__
from harness.errors import HarnessError
from harness.folders import replace_folder
from harness.lmeval import ed, suite
from harness.lmeval.taskdir import ED_KIND
from harness.metrics.base import EXAMPLE, Item, Output

ED_LIKELIHOOD = "ed_likelihood"  # metadata.kind of ed_perplexity

MANIFEST = "manifest.json"


def prepare_output(output: Path) -> Path:
    """Check that `output` can take a run folder; return the staging folder to write in.

    An existing run folder there is replaced when the new run completes; anything else
    that is not empty is refused."""
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not (output / MANIFEST).exists())):
        raise HarnessError(f"{output} exists and is not a run folder; choose another --output")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def publish(staging: Path, output: Path) -> None:
    """Move the finished run folder into place (an older run there is removed)."""
    replace_folder(staging, output)


def units(results: dict) -> dict[str, list[str]]:
    """{folder name: its leaf tasks} for everything in lm-eval's results."""
    subtasks: dict[str, list[str]] = results.get("group_subtasks", {})
    configs: dict[str, dict] = results.get("configs", {})
    metrics: dict[str, dict] = results.get("higher_is_better", {})

    def leaves(name: str) -> list[str]:
        children = subtasks.get(name)
        return [name] if not children else [leaf for child in children for leaf in leaves(child)]

    def assign(name: str) -> dict[str, list[str]]:
        below = leaves(name)
        if below == [name]:
            return {name: below}
        kinds = {is_ed(configs.get(leaf, {})) for leaf in below}
        metric_sets = {frozenset(metrics.get(leaf, {})) for leaf in below}
        if kinds == {False} and len(metric_sets) == 1:
            return {name: below}
        out: dict[str, list[str]] = {}
        for child in subtasks[name]:
            out.update(assign(child))
        return out

    children = {c for kids in subtasks.values() for c in kids}
    roots = [g for g in subtasks if g not in children]
    roots += [t for t in sorted(configs) if t not in children and t not in subtasks]
    out: dict[str, list[str]] = {}
    for root in roots:
        out.update(assign(root))
    return out


def is_ed(config: dict) -> bool:
    return (config.get("metadata") or {}).get("kind") == ED_KIND


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    from lm_eval.utils import handle_non_serializable

    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=handle_non_serializable, ensure_ascii=False) + "\n")


def write_json(path: Path, value) -> None:
    from lm_eval.utils import handle_non_serializable

    path.write_text(json.dumps(_finite(value), default=handle_non_serializable, indent=2, ensure_ascii=False) + "\n")


def write_results(run: Path, results: dict) -> None:
    write_json(run / "results.json", {k: v for k, v in results.items() if k != "samples"})


def write_unit(run: Path, name: str, leaves: list[str], results: dict) -> dict:
    """One task folder; returns what the manifest records about it."""
    folder = run / "tasks" / name
    folder.mkdir(parents=True, exist_ok=True)
    samples = {leaf: sorted(results.get("samples", {}).get(leaf, []), key=lambda s: s["doc_id"]) for leaf in leaves}
    if len(leaves) == 1:
        write_jsonl(folder / "samples.jsonl", samples[leaves[0]])
    else:
        write_jsonl(folder / "samples.jsonl", ({"task": leaf, **s} for leaf in leaves for s in samples[leaf]))
    if len(leaves) == 1 and is_ed(results["configs"].get(leaves[0], {})):
        return write_ed_scores(folder, samples[leaves[0]], task_outputs(results, leaves[0]))
    if len(leaves) == 1 and (results["configs"].get(leaves[0], {}).get("metadata") or {}).get("kind") == ED_LIKELIHOOD:
        return write_perplexity_scores(folder, samples[leaves[0]])
    return write_accuracy_scores(folder, leaves, samples, results)


def ed_items(samples: list[dict]) -> list[Item]:
    return [ed.item(s["doc"], s["filtered_resps"][0]) for s in samples]


def task_outputs(results: dict, task: str) -> dict[str, bool | None]:
    """{metric: higher_is_better} of a task's own per-example metrics beyond the suite's
    (the two-stage task's emotion accuracy)."""
    suite_keys = {out.name for out, _ in suite.plan().outputs}
    return {m: h for m, h in results.get("higher_is_better", {}).get(task, {}).items() if m not in suite_keys}


def write_ed_scores(folder: Path, samples: list[dict], extra: dict[str, bool | None] | None = None) -> dict:
    """generations.jsonl and the scored folder of an ED generation task; `extra` names the
    task's own per-example metrics (from lm-eval's per-sample records), added as columns."""
    from harness.generations import write_generations
    from harness.scoring import provenance, write_scored_files

    items = ed_items(samples)
    generations = write_generations(folder / "generations.jsonl", items)
    plan = suite.plan()
    result = suite.score_corpus(items, plan.scorers)
    by_id = {row["id"]: row for row in result.per_example}
    result.per_example = [by_id[it.id] for it in items]
    for key, higher in (extra or {}).items():
        values = [_number(s.get(key)) for s in samples]
        if all(v is None for v in values):
            continue
        for row, value in zip(result.per_example, values):
            row[key] = value
        defined = [v for v in values if isinstance(v, (int, float))]
        result.summary[key] = math.fsum(defined) / len(defined) if defined else math.nan
        result.outputs[key] = Output(key, higher, EXAMPLE, "the task's own per-example metric (lm-eval sample)")
    info = provenance(result, plan.scorers, generations)
    info["corpus_order"] = "by id"
    write_scored_files(folder, result, info)
    return {"kind": "ed_generation", "n": len(items), "metrics": list(plan.scorers), "instruments": result.instruments}


def write_perplexity_scores(folder: Path, samples: list[dict]) -> dict:
    """scores.jsonl with each reference's log-likelihood, words and bytes; summary.json with
    the word and byte perplexities and their 95 % percentile bootstrap intervals over
    examples (10,000 resamples, seed 0)."""
    from harness.stats.perplexity import perplexity_interval, weighted_perplexity

    rows = []
    for s in samples:
        ll = float(s["resps"][0][0][0]) if isinstance(s["resps"][0][0], (list, tuple)) else float(s["resps"][0][0])
        rows.append({"id": s["doc"]["id"], "loglikelihood": ll, "words": ed.count_words(s["doc"]["reference"]),
                     "bytes": len(s["doc"]["reference"].encode("utf-8"))})
    write_jsonl(folder / "scores.jsonl", rows)
    ll = [r["loglikelihood"] for r in rows]
    summary: dict = {}
    for unit in ("words", "bytes"):
        key = f"{unit[:-1]}_perplexity"
        weights = [r[unit] for r in rows]
        low, high = perplexity_interval(ll, weights)
        summary.update({key: weighted_perplexity(ll, weights), f"{key}_ci_low": low, f"{key}_ci_high": high})
    summary["loglikelihood"] = math.fsum(ll) / len(ll) if ll else math.nan
    summary["n"] = len(rows)
    write_json(folder / "summary.json", summary)
    write_json(folder / "provenance.json", {
        "metrics": ["word_perplexity", "byte_perplexity"],
        "definition": "exp(-sum of reference log-likelihoods / sum of words or bytes), teacher-forced after the prompt",
        "interval": "95% percentile bootstrap over examples, 10000 resamples, seed 0",
        "outputs": {"word_perplexity": {"higher_is_better": False}, "byte_perplexity": {"higher_is_better": False},
                    "loglikelihood": {"higher_is_better": True}},
        "harness_version": __version__,
    })
    return {"kind": ED_LIKELIHOOD, "n": len(rows), "metrics": ["word_perplexity", "byte_perplexity"]}


def write_accuracy_scores(folder: Path, leaves: list[str], samples: dict[str, list[dict]], results: dict) -> dict:
    """scores.jsonl with one row per question ({"id": "<subtask>/<doc_id>", metric: value})."""
    metrics = sorted({m for leaf in leaves for m in results.get("higher_is_better", {}).get(leaf, {})})
    rows = []
    for leaf in leaves:
        for s in samples[leaf]:
            row = {"id": f"{leaf}/{s['doc_id']}"}
            row.update({m: _number(s[m]) for m in metrics if m in s and _number(s[m]) is not None})
            rows.append(row)
    write_jsonl(folder / "scores.jsonl", rows)
    summary: dict = {}
    for m in metrics:
        values = [r[m] for r in rows if isinstance(r.get(m), (int, float))]
        if values:
            summary[m] = math.fsum(values) / len(values)
    summary["n"] = len(rows)
    write_json(folder / "summary.json", summary)
    write_json(folder / "provenance.json", {
        "tasks": leaves,
        "n_shot": {leaf: results.get("n-shot", {}).get(leaf) for leaf in leaves},
        "metrics": metrics,
        "harness_version": __version__,
    })
    return {"kind": "lm_eval", "n": len(rows), "tasks": leaves, "metrics": metrics}


def _number(value):
    """A per-sample metric value as a JSON number (0/1 for booleans and whole floats),
    a list of numbers, or None for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else int(value) if value.is_integer() else value
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return [_number(v) for v in value]
    return None


def _finite(value):
    """NaN and infinities as null, so the files are strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
