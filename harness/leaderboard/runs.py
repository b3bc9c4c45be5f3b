"""Reading what `compare` and `leaderboard` take: run folders, scored folders and
generations files (formats in docs/ARCHITECTURE.md), into one shape.

A `Run` is one system: its model identity and, per task, a `TaskData` with the example
ids, each per-example metric as a float array (NaN where undefined), the summary, the
provenance and, where present, the responses (needed to recompute corpus metrics).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from harness.errors import DataError, HarnessError
from harness.generations import read_generations
from harness.metrics.base import Item

MANIFEST, RESULTS, SCORES, SUMMARY, PROVENANCE, GENERATIONS = (
    "manifest.json", "results.json", "scores.jsonl", "summary.json", "provenance.json", "generations.jsonl")


@dataclass
class TaskData:
    """One task of one system: per-example values aligned with `ids`."""

    name: str
    source: Path
    ids: list[str]
    values: dict[str, np.ndarray]
    summary: dict[str, float]
    provenance: dict
    generations: Path | None = None
    lists: dict[str, list[list[float] | None]] = field(default_factory=dict)  # list-valued rows (IFEval instructions)
    _items: list[Item] | None = None

    @property
    def n(self) -> int:
        return len(self.ids)

    def items(self) -> list[Item] | None:
        """The responses in `ids` order (for corpus metrics), or None without generations."""
        if self._items is None and self.generations is not None:
            by_id = {it.id: it for it in read_generations(self.generations).items}
            missing = [i for i in self.ids if i not in by_id]
            if missing:
                raise DataError(f"{self.generations}: no generation for {len(missing)} scored example(s), "
                                f"e.g. id {missing[0]!r}; rescore the generations or remove the stale scores")
            self._items = [by_id[i] for i in self.ids]
        return self._items

    def emotions(self) -> list[str | None] | None:
        items = self.items()
        return None if items is None else [it.emotion for it in items]

    def instruments(self) -> dict:
        value = self.provenance.get("instruments", {})
        return value if isinstance(value, dict) else {}


@dataclass
class Run:
    """One system. `label` names it in tables; `model` / `seed` come from the manifest."""

    path: Path
    kind: str  # "run", "scored" or "generations"
    label: str
    model: str
    seed: object
    manifest: dict
    tasks: dict[str, TaskData]
    results: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def reference(self) -> bool:
        return bool(self.manifest.get("reference"))


def load_run(path: str | Path, *, metrics: Iterable[str] | None = None, add_metrics: Iterable[str] = ()) -> Run:
    """Read a run folder, a scored folder or a generations file (scored on the fly with
    `metrics`, the default suite when None). `add_metrics`: scorers that a run or scored
    folder's task lacks are computed here from its generations (in memory; the folder is
    not changed), with a note saying so."""
    p = Path(path)
    if not p.exists():
        raise HarnessError(f"{p}: no such file or folder (expected a run folder, a scored folder or a generations file)")
    if p.is_file():
        return _load_generations_file(p, metrics)
    if (p / MANIFEST).exists():
        run = _load_run_folder(p)
    elif (p / SCORES).exists():
        run = Run(p, "scored", p.name, p.name, None, {}, {"": load_scored_folder(p, name="")})
    else:
        raise HarnessError(f"{p}: neither a run folder ({MANIFEST}), a scored folder ({SCORES}) nor a generations file")
    for task in run.tasks.values():
        added = _add_scores(task, list(add_metrics))
        if added:
            run.notes.append(f"task {task.name or p.name}: {', '.join(added)} scored from its generations here "
                             f"(not in the folder)")
    return run


def _add_scores(task: TaskData, names: list[str]) -> list[str]:
    """Score `task`'s generations with the scorers in `names` that none of its keys come
    from; returns the scorers added."""
    from harness.metrics import base

    missing = [n for n in names
               if not any(o.name in task.values or o.name in task.summary for o in base.get_scorer(n).outputs)]
    items = task.items() if missing else None
    if not items:
        return []
    scored = _score(items, missing, task.source.name)
    task.values.update(scored.values)
    task.summary.update({k: v for k, v in scored.summary.items() if k != "n"})
    if isinstance(task.provenance.get("instruments", {}), dict):
        task.provenance.setdefault("instruments", {}).update(scored.instruments)
    return missing


def _load_run_folder(p: Path) -> Run:
    manifest = _read_json(p / MANIFEST)
    name = manifest.get("model") if isinstance(manifest.get("model"), str) and manifest.get("model") else p.name
    tasks: dict[str, TaskData] = {}
    notes: list[str] = []
    task_root = p / "tasks"
    for folder in sorted(task_root.iterdir()) if task_root.is_dir() else []:
        if not folder.is_dir():
            continue
        if (folder / SCORES).exists():
            tasks[folder.name] = load_scored_folder(folder, name=folder.name)
        else:
            notes.append(f"task {folder.name}: no {SCORES}, left out")
    results = _read_json(p / RESULTS) if (p / RESULTS).exists() else None
    if not tasks and results is None:
        raise HarnessError(f"{p}: run folder without scored tasks (tasks/<task>/{SCORES}) or {RESULTS}")
    return Run(p, "run", name, name, manifest.get("seed"), manifest, tasks, results, notes)


def load_scored_folder(folder: Path, *, name: str) -> TaskData:
    """A scored folder: scores.jsonl (required), summary.json, provenance.json."""
    ids, values, lists = read_scores(folder / SCORES)
    summary = {}
    if (folder / SUMMARY).exists():
        raw = _read_json(folder / SUMMARY)
        summary = {k: float(v) for k, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    provenance = _read_json(folder / PROVENANCE) if (folder / PROVENANCE).exists() else {}
    generations = folder / GENERATIONS if (folder / GENERATIONS).exists() else _provenance_input(provenance)
    return TaskData(name, folder, ids, values, summary, provenance, generations, lists)


def _provenance_input(provenance: dict) -> Path | None:
    """The scored generations file a provenance names, if it still exists."""
    candidates = [provenance.get("input_file")]
    if isinstance(provenance.get("input"), dict):
        candidates.append(provenance["input"].get("path"))
    for c in candidates:
        if isinstance(c, str) and Path(c).is_file():
            return Path(c)
    return None


def read_scores(path: Path) -> tuple[list[str], dict[str, np.ndarray], dict[str, list]]:
    """scores.jsonl: one object per example, `id` and numbers (null where undefined).
    A list of numbers (IFEval's per-instruction results) is kept apart in `lists`."""
    ids: list[str] = []
    rows: list[dict] = []
    lines: list[int] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {lineno}: invalid JSON ({exc.msg}); fix or remove the line") from None
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise DataError(f"{path}, line {lineno}: expected an object with a string \"id\"")
            if row["id"] in seen:
                raise DataError(f"{path}, line {lineno}: id {row['id']!r} appears twice")
            seen.add(row["id"])
            ids.append(row["id"])
            rows.append(row)
            lines.append(lineno)
    values: dict[str, np.ndarray] = {}
    lists: dict[str, list] = {}
    for key in dict.fromkeys(k for row in rows for k in row if k != "id"):
        column = [row.get(key) for row in rows]
        if all(v is None or type(v) in _NUMBER for v in column):
            values[key] = np.array(column, dtype=float)  # None -> NaN
            continue
        for k, v in enumerate(column):
            if isinstance(v, list):
                if not all(type(x) in _NUMBER for x in v):
                    raise DataError(f"{path}, line {lines[k]}: field {key!r} must be a number, a list of numbers or null")
            elif v is not None and type(v) not in _NUMBER:
                raise DataError(f"{path}, line {lines[k]}: field {key!r} is {type(v).__name__}, expected a number or null")
        lists[key] = [[float(x) for x in v] if isinstance(v, list) else None for v in column]
    return ids, values, lists


_NUMBER = (int, float, bool)


@dataclass
class _Scored:
    values: dict[str, np.ndarray]  # per-example key -> one value per item (NaN where undefined)
    summary: dict[str, float]
    instruments: dict[str, dict]
    seconds: dict[str, float]


def _score(items: list[Item], names: list[str], label: str) -> _Scored:
    """The scorers `names` on `items`, one at a time, so that a long scoring (thousands of
    responses) shows where it is."""
    from harness.metrics import base

    from tqdm.auto import tqdm

    rows: list[dict] = [{} for _ in items]
    scored = _Scored({}, {}, {}, {})
    bar = tqdm(names, desc=f"scoring {label}", unit="scorer", delay=2.0, leave=False)
    for name in bar:
        bar.set_postfix_str(name)
        result = base.score(items, [name])
        for row, extra in zip(rows, result.per_example):
            row.update(extra)
        scored.summary.update({k: float(v) for k, v in result.summary.items()})
        scored.instruments.update(result.instruments)
        scored.seconds.update(result.seconds)
    keys = sorted({k for row in rows for k in row if k != "id"})
    scored.values = {k: np.array([math.nan if row.get(k) is None else float(row[k]) for row in rows]) for k in keys}
    return scored


def _load_generations_file(p: Path, metrics: Iterable[str] | None) -> Run:
    from harness.metrics import base

    items = read_generations(p).items
    if not items:
        raise DataError(f"{p}: no generations")
    names = list(metrics) if metrics is not None else base.default_suite()
    scored = _score(items, names, p.name)
    task = TaskData("", p, [it.id for it in items], scored.values, scored.summary,
                    {"instruments": scored.instruments, "scorer_seconds": scored.seconds}, p, _items=list(items))
    return Run(p, "generations", p.stem, p.stem, None, {}, {"": task})


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            value = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object")
    return value
