"""Leaderboard tables: one row per model, seeds folded, intervals, marks against a reference.

Runs are split into tables that can be compared: same ED example ids and same
instruments for the empathy task; each split says why. Within a table a row is every
run with one model name (`manifest.json` `model.name`, or NAME= on the command line);
its runs are the seeds of one configuration. Cells:

- value: the mean over the row's runs of each run's number; `sd`: the SD across runs
  (EmPO's mean +- SD over seeds), blank for one run;
- interval: percentile bootstrap over examples of the seed-averaged number (per-example
  metrics: per-example values averaged over runs; corpus metrics: recomputed on the
  resampled examples of every run, bounded by `corpus_resamples` / `corpus_budget`);
- p: test against the reference row on the same examples: paired permutation
  (per-example metrics, on seed-averaged values), exact McNemar (MMLU, both rows one
  run), approximate randomization (corpus metrics, both rows one run), Welch (MMLU on
  different examples), the Open LLM paired test on the normalized average; p_adj:
  corrected over every test of the table (Holm by default).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from harness import stats
from harness.errors import HarnessError
from harness.leaderboard import catalog, openllm
from harness.leaderboard.comparison import Settings, corpus_inputs, instrument_difference
from harness.leaderboard.runs import Run, TaskData

ED_TASKS = ("ed_empathy", "ed_empathy_short", "")

EMPATHY_COLUMNS = (
    ("diff_epitome", "DIFF-EPITOME"), ("diff_er", "DIFF ER"), ("diff_ip", "DIFF IP"), ("diff_ex", "DIFF EX"),
    ("emp_f1", "Emp-F1"),
    ("emp_f1_full", "Emp-F1 (full context)"),
    ("bertscore_f1", "BERTScore F1"), ("nidf", "NIDF"),
    ("intensity_abs", "Intensity |d|"), ("valence_abs", "Valence |d|"), ("arousal_abs", "Arousal |d|"),
    ("trie_compression", "Trie compression"), ("trie_start_words", "Start words"),
    ("dist1", "Dist-1"),
    ("dist2", "Dist-2"),
    ("length_chars", "Length (chars)"),
)
MMLU, OPENLLM = "mmlu", "openllm"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    group: str  # "empathy" or "general"
    higher_is_better: bool | None
    with_interval: bool = True


@dataclass
class Cell:
    value: float = math.nan
    sd: float = math.nan
    runs: int = 0
    ci: tuple[float, float] | None = None
    p: float = math.nan
    p_adj: float = math.nan
    test: str = ""
    method: str = ""
    n: int | None = None

    def to_json(self) -> dict:
        return {"value": _num(self.value), "sd": _num(self.sd), "runs": self.runs,
                "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
                "p": _num(self.p), "p_adj": _num(self.p_adj), "test": self.test, "method": self.method, "n": self.n}


@dataclass
class Row:
    model: str
    runs: list[Run]
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def seeds(self) -> list:
        return [r.seed for r in self.runs]


@dataclass
class Table:
    title: str
    task: str | None
    n: int | None
    reference: str
    rows: list[Row]
    columns: list[Column]
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[Run]:
        return [run for row in self.rows for run in row.runs]


def build_tables(runs: list[Run], settings: Settings, *, reference: str | None = None, task: str | None = None,
                 log: Callable[[str], None] | None = None) -> list[Table]:
    if not runs:
        raise HarnessError("leaderboard needs at least one run")
    names = [r.model for r in runs]
    if reference is not None and reference not in names:
        raise HarnessError(f"--reference {reference!r} is not a model of these runs; models: {', '.join(dict.fromkeys(names))}")
    ed = task if task is not None else next((t for t in ED_TASKS if any(t in r.tasks for r in runs)), None)
    if task is not None and not any(task in r.tasks for r in runs):
        raise HarnessError(f"no run has task {task!r}")
    groups, reasons = _partition(runs, ed, reference)
    tables = []
    for k, (group, reason) in enumerate(zip(groups, reasons)):
        title = "Leaderboard" if k == 0 else f"Table {k + 1}: runs not comparable with table 1 ({reason})"
        if reason and log:
            log(f"leaderboard: separate table {k + 1}: {reason}")
        tables.append(_build_table(title, group, ed, reference, settings, log))
    return tables


def _ed_key(run: Run, ed: str | None):
    t = run.tasks.get(ed) if ed is not None else None
    if t is None:
        return None
    return frozenset(t.ids), json.dumps(t.instruments(), sort_keys=True)


def _partition(runs: list[Run], ed: str | None, reference: str | None) -> tuple[list[list[Run]], list[str]]:
    """Runs grouped by (ED example ids, ED instruments); runs without the ED task join the
    first group. The group holding the reference (or the first run) comes first."""
    keys: list = []
    groups: list[list[Run]] = []
    loose: list[Run] = []
    for run in runs:
        key = _ed_key(run, ed)
        if key is None:
            loose.append(run)
            continue
        if key not in keys:
            keys.append(key)
            groups.append([])
        groups[keys.index(key)].append(run)
    if not groups:
        return [loose], [""]
    first = next((i for i, g in enumerate(groups) if any(r.model == reference for r in g)), 0)
    order = [first] + [i for i in range(len(groups)) if i != first]
    groups = [groups[i] for i in order]
    keys = [keys[i] for i in order]
    groups[0] = groups[0] + loose
    reasons = [""]
    base_task = groups[0][0].tasks[ed]
    for g, key in zip(groups[1:], keys[1:]):
        t = g[0].tasks[ed]
        if key[0] != keys[0][0]:
            shared = len(set(t.ids) & set(base_task.ids))
            reasons.append(f"different {ed or 'ED'} example set: {t.n} examples, {shared} shared with table 1's "
                           f"{base_task.n}")
        else:
            diff = _instrument_text(base_task, t)
            reasons.append(f"different instruments: {diff}")
    return groups, reasons


def _instrument_text(ta: TaskData, tb: TaskData) -> str:
    from harness.leaderboard.comparison import _differing_fields

    return _differing_fields(ta.instruments(), tb.instruments()) or "instruments differ"


def _build_table(title: str, runs: list[Run], ed: str | None, reference: str | None, s: Settings,
                 log: Callable[[str], None] | None) -> Table:
    rows: dict[str, Row] = {}
    for run in runs:
        rows.setdefault(run.model, Row(run.model, [])).runs.append(run)
    notes: list[str] = []
    ref_name = reference if reference in rows else next(iter(rows))
    if reference is not None and reference not in rows:
        notes.append(f"reference {reference!r} is not in this table: {ref_name!r} is its reference")
    ordered = [rows[ref_name]] + [r for name, r in rows.items() if name != ref_name]
    ed_runs = [r for r in runs if ed is not None and ed in r.tasks]
    n = ed_runs[0].tasks[ed].n if ed_runs else None
    table = Table(title, ed, n, ref_name, ordered, [], notes)
    _empathy_cells(table, ed, s, log)
    _mmlu_cells(table, s)
    _openllm_cells(table, s)
    _correct(table, s.correction)
    untested = [c.label for c in table.columns if c.with_interval and c.key not in ordered[0].cells
                and any(c.key in r.cells for r in ordered[1:])]
    if untested:
        notes.append(f"the reference {ref_name} has no {', '.join(untested)}: those columns carry no marks")
    for run in runs:
        notes += [f"{run.label}: {note}" for note in run.notes]
        if ed is not None and ed not in run.tasks:
            notes.append(f"{run.label}: no task {ed or 'scores'}, so its empathy columns are blank")
    return table


# --- empathy (the ED task) ----------------------------------------------------------------------

def _empathy_cells(table: Table, ed: str | None, s: Settings, log) -> None:
    if ed is None:
        return
    present = {k for row in table.rows for run in row.runs if ed in run.tasks
               for k in set(run.tasks[ed].values) | set(run.tasks[ed].summary)}
    columns = [Column(k, label, "empathy", catalog.info(k).higher_is_better) for k, label in EMPATHY_COLUMNS if k in present]
    missing = [label for k, label in EMPATHY_COLUMNS if k not in present]
    if missing:
        table.notes.append(f"not in any run, so not shown: {', '.join(missing)}")
    table.columns += columns
    ref = table.rows[0]
    ids = next(run.tasks[ed].ids for row in table.rows for run in row.runs if ed in run.tasks)
    per_example = [c.key for c in columns if any(c.key in run.tasks[ed].values for row in table.rows
                                                 for run in row.runs if ed in run.tasks)]
    corpus = [c.key for c in columns if c.key not in per_example]
    mats = {row.model: _row_matrix(row, ed, ids, per_example) for row in table.rows}
    for row in table.rows:
        mat = mats[row.model]
        if mat is None:
            continue
        low, high = stats.paired.bootstrap_mean_intervals(mat, resamples=s.resamples, seed=s.seed, level=s.level)
        for j, key in enumerate(per_example):
            runs = [run for run in row.runs if ed in run.tasks and key in run.tasks[ed].values]
            if not runs:
                continue
            summary = stats.across_seeds([float(np.nanmean(run.tasks[ed].values[key])) for run in runs])
            row.cells[key] = Cell(summary.mean, summary.sd, summary.runs, (float(low[j]), float(high[j])),
                                  n=int((~np.isnan(mat[:, j])).sum()),
                                  method=f"{s.level:.0%} CI: percentile bootstrap over examples ({s.resamples:,} resamples)")
        if row is ref or mats[ref.model] is None:
            continue
        both = [j for j, key in enumerate(per_example) if key in row.cells and key in ref.cells]
        if both:
            results = stats.paired_tests(mats[ref.model][:, both], mat[:, both], resamples=s.resamples, seed=s.seed,
                                         level=s.level)
            for j, r in zip(both, results):
                reason = _instrument_reason(per_example[j], ref, row, ed)
                cell = row.cells[per_example[j]]
                if reason:
                    cell.test, cell.method = "refused", f"not tested: {reason}"
                    continue
                cell.p, cell.test = r.pvalue, "perm"
                cell.method += f"; vs {ref.model}: {r.method.split(';')[0]}" + (
                    " on per-example values averaged over seeds" if len(row.runs) > 1 or len(ref.runs) > 1 else "")
    families: dict[str | None, list[str]] = {}
    for key in corpus:
        info = catalog.info(key)
        families.setdefault(info.scorer if info.level == catalog.CORPUS else None, []).append(key)
    for scorer_name, keys in families.items():
        _corpus_columns(table, ed, scorer_name, keys, ids, s, log)


def _instrument_reason(key: str, ref: Row, row: Row, ed: str) -> str | None:
    for a in ref.runs:
        for b in row.runs:
            if ed in a.tasks and ed in b.tasks:
                reason = instrument_difference(key, a.tasks[ed], b.tasks[ed])
                if reason:
                    return reason
    return None


def _row_matrix(row: Row, ed: str, ids: list[str], keys: list[str]) -> np.ndarray | None:
    """examples x keys, per-example values averaged over the row's runs (NaN if none)."""
    runs = [run for run in row.runs if ed in run.tasks]
    if not runs or not keys:
        return None
    stack = []
    for run in runs:
        t = run.tasks[ed]
        order = {i: k for k, i in enumerate(t.ids)}
        idx = np.array([order[i] for i in ids])
        stack.append(np.column_stack([t.values[k][idx] if k in t.values else np.full(len(ids), np.nan) for k in keys]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN examples stay NaN
        return np.nanmean(np.stack(stack), axis=0)


def _corpus_columns(table: Table, ed: str, scorer_name: str | None, keys: list[str], ids: list[str], s: Settings,
                    log) -> None:
    """The corpus-level columns of one scorer: each row's values are resampled once for
    all of them (one interval and one test against the reference per row, not per key)."""
    from harness.metrics.base import get_scorer

    scorer = get_scorer(scorer_name) if scorer_name else None
    ref = table.rows[0]
    for row in table.rows:
        runs = [run for run in row.runs if ed in run.tasks]
        shown = [k for k in keys if runs and all(k in run.tasks[ed].summary for run in runs)]
        if not shown:
            continue
        cells = {}
        for key in shown:
            summary = stats.across_seeds([run.tasks[ed].summary[key] for run in runs])
            cells[key] = row.cells[key] = Cell(summary.mean, summary.sd, summary.runs, n=runs[0].tasks[ed].n)
        if scorer is None:
            _set_method(cells, "no interval: no scorer declares this corpus-level metric")
            continue
        inputs = [corpus_inputs(scorer, run.tasks[ed], ids, shown) for run in runs]
        if any(i is None for i in inputs):
            _set_method(cells, "no interval: the generations are needed to recompute a corpus metric")
            continue
        items = [i[0] for i in inputs]
        statistic = inputs[0][1]
        too_slow = _too_slow_to_resample(runs, ed, scorer.name, s)
        if too_slow:
            _set_method(cells, too_slow)
            continue
        if s.corpus_resamples > 0:
            intervals = stats.corpus_bootstrap_ci(items, statistic, resamples=s.corpus_resamples, seed=s.seed,
                                                  level=s.level, budget_seconds=s.corpus_budget)
            for key, cell in cells.items():
                ci = intervals[key]
                if ci.resamples:
                    cell.ci, cell.method = (ci.low, ci.high), f"{s.level:.0%} CI: {ci.method}"
                else:
                    cell.method = ci.method
        if row is ref:
            continue
        ref_runs = [run for run in ref.runs if ed in run.tasks and all(k in run.tasks[ed].summary for k in shown)]
        tested = {}
        for key, cell in cells.items():
            reason = _instrument_reason(key, ref, row, ed)
            if reason:
                cell.test, cell.method = "refused", f"not tested: {reason}"
            elif len(runs) != 1 or len(ref_runs) != 1:
                cell.method += "; not tested against the reference: approximate randomization needs one run per row"
            else:
                tested[key] = cell
        if not tested or s.corpus_resamples <= 0:
            continue
        if s.corpus_budget and all(intervals[k].resamples == 0 for k in tested):
            # the row alone is too slow to resample within the budget; a test, which resamples
            # two systems, would be refused too, after recomputing both once more
            for cell in tested.values():
                cell.method += "; not tested against the reference for the same reason"
            continue
        ref_inputs = corpus_inputs(scorer, ref_runs[0].tasks[ed], ids, list(tested))
        if ref_inputs is None:
            continue
        if log:
            log(f"leaderboard: approximate randomization {row.model} vs {ref.model} on {', '.join(tested)}")
        results = stats.approximate_randomization(ref_inputs[0], items[0], ref_inputs[1], resamples=s.corpus_resamples,
                                                  seed=s.seed, level=s.level, budget_seconds=s.corpus_budget)
        for key, cell in tested.items():
            r = results[key]
            if r.resamples:
                cell.p, cell.test = r.pvalue, f"AR ({r.resamples})"
            cell.method += f"; vs {ref.model}: {r.method.split(';')[0]}"


def _too_slow_to_resample(runs: list, ed: str, scorer: str, s: Settings) -> str | None:
    """Why a row is neither resampled nor tested, when the time its scorer took at scoring
    (provenance `scorer_seconds`) already exceeds the budget; known before recomputing
    anything. Below that the cost is measured while resampling: the recorded time includes
    one-off work (loading an instrument, caching reference levels) that a recomputation
    does not repeat (EPITOME: 18 s at scoring, 0.06 s per resample)."""
    if not s.corpus_budget or s.corpus_resamples <= 0:
        return None
    recorded = [_recorded_seconds(run.tasks[ed].provenance, scorer) for run in runs]
    if not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in recorded):
        return None  # not recorded (older run folders) or not a number: measured while resampling
    if sum(recorded) <= s.corpus_budget:
        return None
    needed = min(stats.MIN_RESAMPLES, s.corpus_resamples)
    return (f"no interval and not tested: computing {scorer} once took {sum(recorded):.1f} s when the run was "
            f"scored, more than the {s.corpus_budget:g} s budget, which affords fewer than {needed} resamples "
            f"(--corpus-budget)")


def _recorded_seconds(provenance: dict, scorer: str):
    seconds = provenance.get("scorer_seconds")
    return seconds.get(scorer) if isinstance(seconds, dict) else None


def _set_method(cells: dict[str, Cell], method: str) -> None:
    for cell in cells.values():
        cell.method = method


# --- MMLU ------------------------------------------------------------------------------------------

def mmlu_task(run: Run) -> TaskData | None:
    """The task named `mmlu`, else the one task whose name starts with `mmlu`."""
    if MMLU in run.tasks:
        return run.tasks[MMLU]
    candidates = [t for name, t in run.tasks.items() if name.startswith("mmlu")]
    return candidates[0] if len(candidates) == 1 else None


def _mmlu_cells(table: Table, s: Settings) -> None:
    ref = table.rows[0]
    found = False
    vectors: dict[str, tuple[list[str], np.ndarray] | None] = {}
    for row in table.rows:
        tasks = [mmlu_task(run) for run in row.runs]
        tasks = [t for t in tasks if t is not None and "acc" in t.values]
        from_results = [_results_acc(run) for run in row.runs if mmlu_task(run) is None]
        from_results = [v for v in from_results if v is not None]
        if not tasks and not from_results:
            vectors[row.model] = None
            continue
        found = True
        if not tasks:
            summary = stats.across_seeds(from_results)
            row.cells[MMLU] = Cell(summary.mean, summary.sd, summary.runs, method="from results.json: no interval "
                                   "(no per-example scores)")
            vectors[row.model] = None
            continue
        ids = tasks[0].ids
        if any(set(t.ids) != set(ids) for t in tasks):
            table.notes.append(f"{row.model}: MMLU runs on different examples, only the first is used")
            tasks = tasks[:1]
        stack = [_aligned(t, ids, "acc") for t in tasks]
        vec = np.mean(stack, axis=0)
        vectors[row.model] = (ids, vec, len(tasks))
        summary = stats.across_seeds([float(np.nanmean(v)) for v in stack])
        low, high = stats.paired.bootstrap_mean_intervals(vec, resamples=s.resamples, seed=s.seed, level=s.level)
        row.cells[MMLU] = Cell(summary.mean, summary.sd, summary.runs, (float(low[0]), float(high[0])), n=len(ids),
                               method=f"{s.level:.0%} CI: percentile bootstrap over examples ({s.resamples:,} resamples)")
    if not found:
        return
    table.columns.append(Column(MMLU, "MMLU", "general", True))
    ref_vec = vectors.get(ref.model)
    for row in table.rows[1:]:
        vec = vectors.get(row.model)
        if vec is None or ref_vec is None:
            continue
        cell = row.cells[MMLU]
        ids, values, k = vec
        rids, rvalues, rk = ref_vec
        if set(ids) != set(rids):
            r = stats.welch_t_test(rvalues, values, note="MMLU example sets differ")
            cell.p, cell.test = r.pvalue, "Welch"
        else:
            order = {i: j for j, i in enumerate(ids)}
            values = values[[order[i] for i in rids]]
            if k == 1 and rk == 1:
                r = stats.mcnemar_exact(rvalues, values)
                cell.p, cell.test = r.pvalue, "McNemar"
            else:
                r = stats.paired_permutation_test(rvalues, values, resamples=s.resamples, seed=s.seed)
                cell.p, cell.test = r.pvalue, "perm"
        cell.method += f"; vs {ref.model}: {r.method.split(';')[0]}"


def _results_acc(run: Run) -> float | None:
    entry = ((run.results or {}).get("results") or {}).get(MMLU)
    value = entry.get("acc,none") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _aligned(task: TaskData, ids: list[str], key: str) -> np.ndarray:
    order = {i: k for k, i in enumerate(task.ids)}
    return task.values[key][[order[i] for i in ids]]


# --- Open LLM Leaderboard v2 --------------------------------------------------------------------------

def _openllm_cells(table: Table, s: Settings) -> None:
    ref = table.rows[0]
    examples: dict[str, openllm.Examples | None] = {}
    found = False
    for row in table.rows:
        scores = [openllm.from_results(run.results) for run in row.runs if run.results]
        run_examples = [openllm.examples_from_tasks(run.tasks.values()) for run in row.runs]
        run_examples = [e for e in run_examples if e is not None and e.complete()]
        values = [sc.average for sc in scores if not math.isnan(sc.average)]
        if not values and run_examples:
            values = [float(openllm.scores_from_parts(e.parts())[1]) for e in run_examples]
        if not values:
            missing = sorted({m for sc in scores for m in sc.missing})
            if scores and len(missing) < len(openllm.PARTS):
                table.notes.append(f"{row.model}: no Open LLM average, missing {', '.join(missing)}")
            examples[row.model] = None
            continue
        found = True
        summary = stats.across_seeds(values)
        cell = row.cells[OPENLLM] = Cell(summary.mean, summary.sd, summary.runs,
                                         method="normalized as the Open LLM Leaderboard v2")
        for t in openllm.TASKS:
            task_values = [sc.tasks[t] for sc in scores if not math.isnan(sc.tasks[t])]
            if task_values:
                row.cells[f"{OPENLLM}:{t}"] = Cell(float(np.mean(task_values)), stats.across_seeds(task_values).sd,
                                                   len(task_values))
        aligned = _align_examples(run_examples)
        examples[row.model] = aligned
        if aligned is not None:
            low, high = openllm.bootstrap_average(run_examples if len(run_examples) == 1 else _split(aligned, run_examples),
                                                  resamples=s.resamples, seed=s.seed, level=s.level)
            cell.ci, cell.n = (low, high), len(aligned.ids)
            cell.method += f"; {s.level:.0%} CI: percentile bootstrap over examples ({s.resamples:,} resamples)"
    if not found:
        return
    table.columns.append(Column(OPENLLM, "Open LLM v2", "general", True))
    table.columns += [Column(f"{OPENLLM}:{t}", t, "general", True, with_interval=False) for t in openllm.TASKS]
    ref_ex = examples.get(ref.model)
    for row in table.rows[1:]:
        ex = examples.get(row.model)
        if ex is None or ref_ex is None or OPENLLM not in row.cells:
            continue
        if set(ex.ids) != set(ref_ex.ids):
            row.cells[OPENLLM].method += "; not tested: different examples from the reference"
            continue
        order = {i: k for k, i in enumerate(ex.ids)}
        idx = [order[i] for i in ref_ex.ids]
        ex = openllm.Examples(list(ref_ex.ids), ex.num[idx], ex.den[idx])
        try:
            _, p, used = openllm.paired_test(ref_ex, ex, resamples=s.resamples, seed=s.seed)
        except ValueError as exc:
            row.cells[OPENLLM].method += f"; not tested: {exc}"
            continue
        cell = row.cells[OPENLLM]
        cell.p, cell.test = p, "perm"
        cell.method += (f"; vs {ref.model}: paired permutation test of the normalized average ({used:,} random "
                        f"swaps, seed {s.seed})")


def _align_examples(runs: list[openllm.Examples]) -> openllm.Examples | None:
    """The runs' examples averaged over seeds, in the first run's order (None if they differ)."""
    if not runs:
        return None
    first = runs[0]
    nums, dens = [first.num], [first.den]
    for ex in runs[1:]:
        if set(ex.ids) != set(first.ids):
            return None
        order = {i: k for k, i in enumerate(ex.ids)}
        idx = [order[i] for i in first.ids]
        nums.append(ex.num[idx])
        dens.append(ex.den[idx])
    return openllm.Examples(list(first.ids), np.mean(nums, axis=0), np.mean(dens, axis=0))


def _split(aligned: openllm.Examples, runs: list[openllm.Examples]) -> list[openllm.Examples]:
    out = []
    for ex in runs:
        order = {i: k for k, i in enumerate(ex.ids)}
        idx = [order[i] for i in aligned.ids]
        out.append(openllm.Examples(list(aligned.ids), ex.num[idx], ex.den[idx]))
    return out


# --- corrections -------------------------------------------------------------------------------------

def _correct(table: Table, correction: str) -> None:
    cells = [cell for row in table.rows[1:] for cell in row.cells.values() if not math.isnan(cell.p)]
    adjusted = stats.adjust([c.p for c in cells], correction)
    for cell, p in zip(cells, adjusted):
        cell.p_adj = float(p)


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)
