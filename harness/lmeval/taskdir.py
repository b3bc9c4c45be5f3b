"""The harness's lm-eval task folder, and a TaskManager that scans only what a run needs.

lm-eval's TaskManager parses every built-in task YAML (thousands) when it starts. Runs
that name only this folder's tasks (and the groups in it that reference only its
tasks) build the index of this folder alone (`include_defaults=False`).
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from pathlib import Path
from typing import Iterable

from harness import config
from harness.errors import HarnessError

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
ED_KIND = "ed_generation"  # metadata.kind of the ED generation tasks

# lm-eval's Hub-backed names, the offline variants that read the original releases
# instead, and the resources those read.
OFFLINE_VARIANTS = {"mmlu": "mmlu_offline", "eq_bench": "eq_bench_offline", "empo": "empo_offline"}
OFFLINE_RESOURCES = {"mmlu": ("mmlu",), "eq_bench": ("eq-bench",), "empo": ("mmlu", "eq-bench")}
SOURCES = ("auto", "hub", "offline")

log = logging.getLogger(__name__)


def tasks_dir() -> Path:
    if not (TASKS_DIR / "utils.py").exists():
        raise HarnessError(
            f"the harness's lm-eval task folder {TASKS_DIR} is missing; install the harness from its "
            "repository (pip install -e .) so that tasks/ sits next to harness/"
        )
    return TASKS_DIR


def own_index() -> dict:
    """lm-eval's index of this folder alone: {name: Entry}."""
    from lm_eval.tasks._index import TaskIndex

    return TaskIndex.build([tasks_dir()])


def referenced_names(name: str, index: dict) -> set[str]:
    """Every task, group and tag name a group of `index` reaches, `name` included."""
    from lm_eval.tasks._index import Kind

    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        entry = index.get(current)
        if entry is None:
            continue
        if entry.kind == Kind.GROUP:
            for member in (entry.cfg or {}).get("task") or []:
                if isinstance(member, str):
                    todo.append(member)
                elif isinstance(member, dict):
                    todo.append(member.get("group") or member.get("task"))
        elif entry.kind == Kind.TAG:
            todo.extend(entry.tags)
    return seen


def needs_builtin(names: Iterable[str], index: dict | None = None) -> bool:
    """True when a name, or something a group of ours references, is not in our folder."""
    index = own_index() if index is None else index
    return any(n not in index for name in names for n in referenced_names(name, index))


def task_manager(names: Iterable[str], metadata: dict | None = None):
    """A TaskManager on our folder, with lm-eval's built-in tasks only when needed."""
    from lm_eval.tasks import TaskManager

    names = list(names)
    check_names(names)  # a name no index knows fails here, before lm-eval indexes its tasks
    builtin = needs_builtin(names)
    log.info("task index: %s", "built-in tasks and the harness's" if builtin else "the harness's tasks only")
    return TaskManager(include_path=str(tasks_dir()), include_defaults=builtin, metadata=metadata)


def offline_substitutes(names: Iterable[str], mode: str = "auto") -> tuple[list[str], dict[str, str]]:
    """Names with `mmlu`/`eq_bench`/`empo` replaced by their offline variants where chosen.

    mode "hub": never; "offline": always; "auto": when downloads are off
    (EMPATHY_HARNESS_OFFLINE / HF_HUB_OFFLINE) or the data mirror holds a resource the
    variant reads, i.e. when the user has said this machine works from local copies.
    """
    if mode not in SOURCES:
        raise HarnessError(f"unknown data source {mode!r}; use {', '.join(SOURCES)}")
    replaced = {n: OFFLINE_VARIANTS[n] for n in names if n in OFFLINE_VARIANTS and _use_offline(n, mode)}
    return [replaced.get(n, n) for n in names], replaced


def _use_offline(name: str, mode: str) -> bool:
    if mode != "auto":
        return mode == "offline"
    if config.offline():
        return True
    mirror = config.mirror_dir()
    from harness.resources import get

    return bool(mirror) and any((mirror / get(r).relpath).exists() for r in OFFLINE_RESOURCES[name])


def leaf_tasks(name: str, index: dict) -> list[str]:
    """The tasks (not groups or tags) that `name` reaches, sorted."""
    from lm_eval.tasks._index import Kind

    return sorted(n for n in referenced_names(name, index) if n in index and index[n].kind in (Kind.TASK, Kind.PY_TASK))


def check_names(names: Iterable[str], index: dict | None = None) -> None:
    """Stop on a task name that neither our folder nor lm-eval knows, suggesting close names.

    Without `index` (before the TaskManager is built) the check uses our folder's index and
    the lm-eval names remembered from an earlier full index, so a typo fails in a second
    instead of after lm-eval indexes its thousands of tasks; names it cannot settle pass on
    to the check with the full index, which remembers lm-eval's names for next time."""
    names = list(names)
    own = own_index()
    if index is None:
        builtin = _remembered_builtin_names()
        if builtin is None and any(n not in own for n in names):
            return
        known = set(own) | (builtin or set())
    else:
        _remember_builtin_names(set(index) - set(own))
        known = set(own) | set(index)
    unknown = [n for n in names if n not in known]
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.85)
        hints.append(f"{name} (did you mean {' or '.join(close)}?)" if close else name)
    ours = sorted(n for n in own if not n.startswith(("mmlu_offline_", "_")))
    raise HarnessError(f"unknown task(s) {', '.join(hints)}; the harness's: {', '.join(ours)}; "
                       "lm-eval's: see `lm_eval ls tasks`")


def _builtin_names_file() -> Path:
    import importlib.metadata

    return config.cache_dir() / "derived" / "lm-eval-tasks" / f"lm_eval-{importlib.metadata.version('lm_eval')}.json"


def _remembered_builtin_names() -> set[str] | None:
    try:
        return set(json.loads(_builtin_names_file().read_text()))
    except (OSError, ValueError):
        return None


def _remember_builtin_names(names: set[str]) -> None:
    if not names:  # an index of our folder alone says nothing about lm-eval's tasks
        return
    path = _builtin_names_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        staging.write_text(json.dumps(sorted(names)))
        os.replace(staging, path)
    except OSError as exc:  # a read-only cache only costs the fast check
        log.info("cannot remember lm-eval's task names in %s: %s", path, exc)
