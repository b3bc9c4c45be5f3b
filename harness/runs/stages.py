"""Two-stage tasks in one `empathy-harness eval`: first stages first, their texts to the second.

A task whose metadata names a `stage1_task` (ed_qian_twostage, ed_qian_knowledge_selfgen)
needs that task's generations. `first_stages` finds them among a run's tasks; `write` keeps
each first stage's texts in the run folder (`tasks/<task>/stage1.jsonl`) and returns the
lm-eval metadata that hands them to the second stage. Both calls go through the same
response cache, so an interrupted run started again regenerates neither finished first-
nor finished second-stage responses.
"""

from __future__ import annotations

from pathlib import Path

from harness.lmeval import taskdir
from harness.prompting import emotions
from harness.prompting.stages import STAGE_FILE, rows_from_samples, write_stage_file


def first_stages(tasks: list[str], index: dict) -> dict[str, list[str]]:
    """{first-stage task: [the run's tasks that need it]}."""
    out: dict[str, list[str]] = {}
    for name in tasks:
        for leaf in taskdir.leaf_tasks(name, index):
            stage = ((index[leaf].cfg or {}).get("metadata") or {}).get("stage1_task")
            if stage and leaf not in out.get(stage, []):
                out.setdefault(stage, []).append(leaf)
    return out


def stage_limits(task_limits: dict[str, int], stages: dict[str, list[str]]) -> dict[str, int]:
    """Per-task limits for the first stages: the limit given for a task that needs it."""
    out: dict[str, int] = {}
    for stage, needers in stages.items():
        limits = [task_limits[t] for t in needers if t in task_limits]
        if limits:
            out[stage] = max(limits)
    return out


def write(run: Path, stages: dict[str, list[str]], results: dict) -> tuple[dict, dict]:
    """The stage files of every first stage; (lm-eval metadata, what the manifest records)."""
    files: dict[str, str] = {}
    record: dict[str, dict] = {}
    for stage, needers in stages.items():
        rows = rows_from_samples(results.get("samples", {}).get(stage, []))
        if (results["configs"][stage].get("metadata") or {}).get("strategy") == "twostage_stage1":
            for row, sample in zip(rows, sorted(results["samples"][stage], key=lambda s: s["doc_id"])):
                row["emotion_gold"] = sample["doc"]["emotion"]
                row["emotion_mapped_to"] = emotions.map_emotion(row["texts"][0])
        for task in needers:
            folder = run / "tasks" / task
            folder.mkdir(parents=True, exist_ok=True)
            write_stage_file(folder / STAGE_FILE, rows)
        files[stage] = str((run / "tasks" / needers[0] / STAGE_FILE).resolve())
        record[stage] = {"tasks": needers, "file": f"tasks/{needers[0]}/{STAGE_FILE}", "n": len(rows),
                         "results": results.get("results", {}).get(stage), "config_version":
                         results.get("versions", {}).get(stage)}
    return {"stages": files}, record


def relative_paths(results: dict, run: Path) -> None:
    """The stage files in lm-eval's recorded task configs named relative to the run folder:
    the configs (results.json, their sha256 in the manifest) then do not depend on where or
    on which machine the run was made."""
    root = run.resolve()
    for config in results.get("configs", {}).values():
        files = (config.get("metadata") or {}).get("stages")
        if isinstance(files, dict):
            for stage, path in files.items():
                p = Path(path)
                if p.is_absolute() and p.is_relative_to(root):
                    files[stage] = p.relative_to(root).as_posix()
