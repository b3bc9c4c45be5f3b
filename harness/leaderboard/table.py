"""Leaderboard tables: one row per model, seeds folded, intervals, marks against a baseline.

Runs are split into tables that can be compared: same ED example ids and same
instruments for the empathy task; each split says why. Within a table a row is every
run with one model name (`manifest.json` `model.name`, or NAME= on the command line);
its runs are the seeds of one configuration.

Columns come from a registry (`COLUMNS`, `register_column`): each has a label, a group
(the empathy table or the general-ability table), a glossary line, and a *source* that
fills its cells and tests them (`Source`): the ED task's per-example metrics, its
corpus-level metrics, a per-example task metric such as MMLU accuracy (`TaskMetric`), the
Open LLM Leaderboard v2 average. A new column is a `ColumnSpec` plus, for a new kind of
data, a `Source`.

Cells: value (mean over the row's runs of each run's number), ± SD across runs, interval
(percentile bootstrap over examples; corpus metrics: half-sampling, recomputed from
per-example counts where the scorer decomposes, else recomputed per half-sample within
the time budget). Marks: each row against the reference row (`versus="reference"`), or
each cell against the best model of its column (`versus="best"`; reference systems such
as the human and opposite-emotion rows are never "best"). Tests: paired permutation
(per-example metrics, on seed-averaged values), exact McNemar (accuracy, one run per
row), approximate randomization (corpus metrics, one run per row), Welch (no shared
example), the Open LLM paired test on the normalized average. The resamples of each test
are chosen from the number of tests so that the corrected threshold can be reached
(`comparison.resamples_for`); p_adj is corrected over every test of the table.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from harness import stats
from harness.errors import HarnessError
from harness.leaderboard import catalog, judge, openllm
from harness.leaderboard.comparison import (Settings, _differing_fields, corpus_decomposition, corpus_inputs,
                                            instrument_difference, recomputed_randomization, recorded_seconds)
from harness.leaderboard.runs import Run, TaskData

ED_TASKS = ("ed_empathy", "ed_empathy_short", "")
MMLU, EQ_BENCH, OPENLLM = "mmlu", "eq_bench", "openllm"
EMPATHY, GENERAL = "empathy", "general"
VERSUS = ("reference", "best")


# --- the column registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnSpec:
    """A column the leaderboard shows when some run has its data. `glossary`: scale and
    meaning in a few words (the direction is added from the metric catalog, or from
    `higher_is_better` for keys no scorer declares)."""

    key: str
    label: str
    group: str  # EMPATHY or GENERAL
    glossary: str
    source: str = "ed"  # the name of the Source that fills it (SOURCES)
    higher_is_better: bool | None = None  # only for keys the catalog does not know (Open LLM)
    with_interval: bool = True


_LEVEL_GAP = "squared gap between the EPITOME {m} levels (0-2) of the response and of the reference"
_IVA = "|{d}(prompt) - {d}(response)|, each the largest NRC lexicon value among the utterance's words"
COLUMNS: list[ColumnSpec] = [
    ColumnSpec("diff_epitome", "DIFF-EPITOME", EMPATHY, "0-4, mean over ER, IP, EX of the " + _LEVEL_GAP.format(m="")
               .replace("EPITOME  levels", "EPITOME levels")),
    ColumnSpec("diff_er", "DIFF ER", EMPATHY, "0-4, " + _LEVEL_GAP.format(m="emotional-reaction")),
    ColumnSpec("diff_ip", "DIFF IP", EMPATHY, "0-4, " + _LEVEL_GAP.format(m="interpretation")),
    ColumnSpec("diff_ex", "DIFF EX", EMPATHY, "0-4, " + _LEVEL_GAP.format(m="exploration")),
    ColumnSpec("emp_f1", "Emp-F1", EMPATHY, "0-100, weighted F1 of the response's EPITOME levels against the "
               "reference's, mean over ER, IP, EX (one number per system)"),
    ColumnSpec("emp_f1_full", "Emp-F1 (full context)", EMPATHY, "0-100, Emp-F1 with the whole dialogue history as "
               "the EPITOME seeker post, as EmpRL computes it (one number per system)"),
    ColumnSpec("r_emp", "R_emp", EMPATHY, "0-1, EmpRL's reward: the EPITOME instrument's probability of the "
               "reference's three levels for the response (whole history as seeker post; `emp_reward`)"),
    ColumnSpec("bertscore_f1", "BERTScore F1", EMPATHY, "about 0-1, token-embedding F1 against the reference "
               "(see Provenance for the encoder)"),
    ColumnSpec("nidf", "NIDF", EMPATHY, "0-1, mean normalized inverse document frequency of the response's words "
               "(specificity)"),
    ColumnSpec("intensity_abs", "Intensity |d|", EMPATHY, "0-1, " + _IVA.format(d="intensity")),
    ColumnSpec("valence_abs", "Valence |d|", EMPATHY, "0-1, " + _IVA.format(d="valence")),
    ColumnSpec("arousal_abs", "Arousal |d|", EMPATHY, "0-1, " + _IVA.format(d="arousal")),
    ColumnSpec("trie_compression", "Trie compression", EMPATHY, "0-1, nodes of the responses' template trie / "
               "nodes of their raw trie (lower: more template-like; one number per system)"),
    ColumnSpec("trie_start_words", "Start words", EMPATHY, "count of distinct first words of the responses "
               "(one number per system)"),
    ColumnSpec("dist1", "Dist-1", EMPATHY, "0-100, distinct unigrams / all unigrams of the responses (one number "
               "per system)"),
    ColumnSpec("dist2", "Dist-2", EMPATHY, "0-100, distinct bigrams / all bigrams of the responses (one number "
               "per system)"),
    ColumnSpec("length_chars", "Length (chars)", EMPATHY, "characters per response"),
    ColumnSpec(MMLU, "MMLU", GENERAL, "0-1, accuracy on the MMLU questions", source="task:mmlu:acc"),
    # lm-eval's eq_bench or eq_bench_offline (docs/EQ_BENCH.md): its per-question metrics
    ColumnSpec(EQ_BENCH, "EQ-Bench", GENERAL, "at most 100, lm-eval's EQ-Bench v2 score per question (100: the "
               "reference emotion intensities; random answers about 0; unparseable answers 0)",
               source="task:eq_bench:eqbench"),
    ColumnSpec(f"{EQ_BENCH}_parseable", "EQ-Bench % parseable", GENERAL, "0-100, share of EQ-Bench answers lm-eval "
               "could score (four emotions of the question, each with a number)",
               source="task:eq_bench:percent_parseable"),
    ColumnSpec(OPENLLM, "Open LLM v2", GENERAL, "0-100, the Open LLM Leaderboard v2 average of the six normalized "
               "task scores", source="openllm", higher_is_better=True),
    *(ColumnSpec(f"{OPENLLM}:{t}", t, GENERAL, f"0-100, the normalized {t} score of the Open LLM average",
                 source="openllm", higher_is_better=True, with_interval=False) for t in openllm.TASKS),
]


# Labels of keys a leaderboard can add with --extra-columns (Qian et al.'s reporting; any key works)
EXTRA_LABELS = {"dist1": "Dist-1", "bertscore_p": "BERTScore P", "bertscore_r": "BERTScore R", "bleu2": "BLEU-2",
                "bleu4": "BLEU-4", "emotion_acc": "Emotion acc", "emotion_mapped": "Emotion mapped"}


def register_column(spec: ColumnSpec, *, after: str | None = None) -> None:
    """Add a column (after the column `after`, else at the end of its group)."""
    if any(c.key == spec.key for c in COLUMNS):
        raise ValueError(f"a leaderboard column {spec.key!r} exists already")
    keys = [c.key for c in COLUMNS]
    if after is not None:
        COLUMNS.insert(keys.index(after) + 1, spec)
        return
    last = max((k for k, c in enumerate(COLUMNS) if c.group == spec.group), default=len(COLUMNS) - 1)
    COLUMNS.insert(last + 1, spec)


@dataclass
class Column:
    key: str
    label: str
    group: str
    higher_is_better: bool | None
    with_interval: bool = True
    glossary: str = ""
    source: str = "ed"
    best: str | None = None  # versus="best": the model the column's marks are against

    @property
    def tested(self) -> bool:
        """Directional columns with intervals are tested; descriptive ones and the Open LLM
        parts are shown only."""
        return self.higher_is_better is not None and self.with_interval


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
    versus: str | None = None  # the model it was tested against

    def to_json(self) -> dict:
        return {"value": _num(self.value), "sd": _num(self.sd), "runs": self.runs,
                "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
                "p": _num(self.p), "p_adj": _num(self.p_adj), "test": self.test, "method": self.method, "n": self.n,
                "versus": self.versus}


@dataclass
class Row:
    model: str
    runs: list[Run]
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def seeds(self) -> list:
        return [r.seed for r in self.runs]

    @property
    def is_reference_system(self) -> bool:
        """A reference system (human, opposite-emotion), not a model: never "best"."""
        return bool(self.runs) and all(r.reference for r in self.runs)


@dataclass
class Table:
    title: str
    task: str | None
    n: int | None
    reference: str
    rows: list[Row]
    columns: list[Column]
    notes: list[str] = field(default_factory=list)
    versus: str = "reference"
    tests: int = 0
    resamples: int = 0
    corpus_resamples: int = 0

    @property
    def runs(self) -> list[Run]:
        return [run for row in self.rows for run in row.runs]

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


@dataclass
class Context:
    settings: Settings
    log: Callable[[str], None] | None = None
    resamples: int = 0
    corpus_resamples: int = 0


# --- building -------------------------------------------------------------------------------------------

def build_tables(runs: list[Run], settings: Settings, *, reference: str | None = None, task: str | None = None,
                 versus: str = "reference", log: Callable[[str], None] | None = None) -> list[Table]:
    if not runs:
        raise HarnessError("leaderboard needs at least one run")
    if versus not in VERSUS:
        raise HarnessError(f"unknown --versus {versus!r}; use one of {', '.join(VERSUS)}")
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
        tables.append(_build_table(title, group, ed, reference, versus, settings, log))
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
            reasons.append(f"different instruments: {_instrument_text(base_task, t)}")
    return groups, reasons


def _instrument_text(ta: TaskData, tb: TaskData) -> str:
    return _differing_fields(ta.instruments(), tb.instruments()) or "instruments differ"


def _build_table(title: str, runs: list[Run], ed: str | None, reference: str | None, versus: str, s: Settings,
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
    table = Table(title, ed, n, ref_name, ordered, [], notes, versus)
    ctx = Context(s, log)
    sources = {name: factory(ed) for name, factory in SOURCES.items()}
    for spec in COLUMNS:
        source = _source_for(spec.source, sources, ed)
        if source is None:
            continue
        column = source.column(table, spec)
        if column is not None:
            table.columns.append(column)
    table.columns += sources["ed"].unregistered(table)
    table.columns += sources["ed"].extra(table, s.extra_columns)
    _label_judge_columns(table)
    for source in dict.fromkeys(_source_for(c.source, sources, ed) for c in table.columns):
        source.fill(table, [c for c in table.columns if _source_for(c.source, sources, ed) is source], ctx)
    comparisons = _comparisons(table)
    table.tests = sum(len(cols) for _, _, cols in comparisons)
    ctx.resamples, ctx.corpus_resamples = s.resolved(table.tests)
    table.resamples, table.corpus_resamples = ctx.resamples, ctx.corpus_resamples
    if log and table.tests:
        log(f"leaderboard: {table.tests} tests against the {'reference row' if versus == 'reference' else 'best models'}"
            f", {ctx.resamples:,} resamples each")
    for base, row, cols in comparisons:
        by_source: dict = {}
        for c in cols:
            by_source.setdefault(_source_for(c.source, sources, ed), []).append(c.key)
        for source, keys in by_source.items():
            source.test(table, base, row, keys, ctx)
    _correct(table, s.correction)
    if versus == "reference":
        untested = [c.label for c in table.columns if c.tested and c.key not in ordered[0].cells
                    and any(c.key in r.cells for r in ordered[1:])]
        if untested:
            notes.append(f"the reference {ref_name} has no {', '.join(untested)}: those columns carry no marks")
    per_run: dict[str, int] = {}  # a model's seeds share their notes: each once, with a count
    for run in runs:
        for note in run.notes + ([f"no task {ed or 'scores'}, so its empathy columns are blank"]
                                 if ed is not None and ed not in run.tasks else []):
            key = f"{run.label}: {note}"
            per_run[key] = per_run.get(key, 0) + 1
    notes += [key if count == 1 else f"{key} ({count} runs)" for key, count in per_run.items()]
    return table


def _label_judge_columns(table: Table) -> None:
    """An LLM judge's columns carry their validation in the label: the agreement with people of
    the last meta-eval of that judge (harness/leaderboard/judge.py), or "not validated"."""
    if table.task is None:
        return
    tasks = [run.tasks[table.task] for row in table.rows for run in row.runs if table.task in run.tasks]
    instruments = [j for t in tasks if (j := t.provenance.get("instruments", {}).get("judge"))]
    for k, column in enumerate(table.columns):
        if column.key.startswith(judge.PREFIX) and not column.key.startswith(judge.PREFIX + "unparseable"):
            table.columns[k] = replace(column, label=judge.column_label(column.key, instruments))


def _source_for(name: str, sources: dict, ed: str | None):
    if name in sources:
        return sources[name]
    if name.startswith("task:"):
        _, task, key = name.split(":", 2)
        sources[name] = TaskMetric(task, key)
        return sources[name]
    return None


def _comparisons(table: Table) -> list[tuple[Row, Row, list[Column]]]:
    """(baseline row, row, columns) to test: every row against the reference row, or every
    cell against the best model of its column."""
    def has(row: Row, c: Column) -> bool:
        cell = row.cells.get(c.key)
        return cell is not None and not math.isnan(cell.value)

    tested = [c for c in table.columns if c.tested]
    if table.versus == "reference":
        base = table.rows[0]
        out = []
        for row in table.rows[1:]:
            cols = [c for c in tested if has(row, c) and has(base, c) and _testable(c, base, row)]
            if cols:
                out.append((base, row, cols))
        return out
    pairs: dict[tuple[str, str], tuple[Row, Row, list[Column]]] = {}
    for c in tested:
        candidates = [r for r in table.rows if not r.is_reference_system and has(r, c)]
        if not candidates:
            continue
        pick = max if c.higher_is_better else min
        best = pick(candidates, key=lambda r: r.cells[c.key].value)
        c.best = best.model
        for row in table.rows:
            if row is not best and has(row, c) and _testable(c, best, row):
                pairs.setdefault((best.model, row.model), (best, row, []))[2].append(c)
    return list(pairs.values())


def _testable(c: Column, base: Row, row: Row) -> bool:
    """Whether a test of this column between these rows can run at all (the planned count)."""
    if c.source == "ed" and catalog.level_of(c.key) == catalog.CORPUS:
        if len(base.runs) > 1 or len(row.runs) > 1:
            return True  # a t-test over the runs' values (EdMetrics._seed_test)
        return "no interval" not in row.cells[c.key].method
    return True


# --- sources -----------------------------------------------------------------------------------------------

class Source:
    """Fills the cells of its columns (`fill`) and tests a row against a baseline row
    (`test`). `column` says whether the table shows a registered column at all."""

    def column(self, table: Table, spec: ColumnSpec) -> Column | None:
        raise NotImplementedError

    def fill(self, table: Table, columns: list[Column], ctx: Context) -> None:
        raise NotImplementedError

    def test(self, table: Table, base: Row, row: Row, keys: list[str], ctx: Context) -> None:
        raise NotImplementedError


def _column(spec: ColumnSpec) -> Column:
    # a task column ("task:<task>:<metric>") takes the direction of the metric it shows
    info = catalog.info(spec.source.rsplit(":", 1)[-1] if spec.source.startswith("task:") else spec.key)
    direction = info.higher_is_better if info.declared else spec.higher_is_better
    return Column(spec.key, spec.label, spec.group, direction, spec.with_interval, spec.glossary, spec.source)


class EdMetrics(Source):
    """The ED task's metrics: per-example ones (bootstrap intervals, permutation tests on
    seed-averaged values) and corpus-level ones (recomputed on half-samples and swaps)."""

    def __init__(self, ed: str | None) -> None:
        self.ed = ed
        self.matrices: dict[str, np.ndarray | None] = {}
        self.per_example: list[str] = []

    def _tasks(self, row: Row) -> list[TaskData]:
        return [run.tasks[self.ed] for run in row.runs if self.ed in run.tasks]

    def column(self, table: Table, spec: ColumnSpec) -> Column | None:
        if self.ed is None:
            return None
        present = any(spec.key in t.values or spec.key in t.summary for row in table.rows for t in self._tasks(row))
        return _column(spec) if present else None

    def unregistered(self, table: Table) -> list[Column]:
        """Columns for the ED keys of scorers none of whose outputs has a registered column
        (a user's own scorer, EMPATHY_HARNESS_SCORER_MODULES): shown with their declared
        direction and description, after the registered ones."""
        if self.ed is None:
            return []
        from harness.metrics.base import get_scorer

        registered = {c.key for c in COLUMNS}
        present = [k for row in table.rows for t in self._tasks(row) for k in (*t.values, *t.summary) if k != "n"]
        out = []
        for key in dict.fromkeys(present):
            info = catalog.info(key)
            if key in registered or info.scorer is None:
                continue
            if any(o.name in registered for o in get_scorer(info.scorer).outputs):
                continue
            glossary = info.description or f"declared by scorer {info.scorer}"
            out.append(Column(key, key, EMPATHY, info.higher_is_better, True, glossary, "ed"))
        return out

    def extra(self, table: Table, keys: tuple[str, ...]) -> list[Column]:
        """Columns for ED keys asked for by name (`leaderboard --extra-columns`, e.g. Qian et
        al.'s Dist-1, BERTScore P/R, BLEU-2/4, emotion accuracy), with their declared direction."""
        if self.ed is None:
            return []
        shown = {c.key for c in table.columns}
        present = {k for row in table.rows for t in self._tasks(row) for k in (*t.values, *t.summary)}
        out = []
        for key in keys:
            if key in shown or key not in present:
                continue
            info = catalog.info(key)
            out.append(Column(key, EXTRA_LABELS.get(key, key), EMPATHY, info.higher_is_better, True,
                              info.description or "asked for with --extra-columns", "ed"))
        return out

    def fill(self, table: Table, columns: list[Column], ctx: Context) -> None:
        s = ctx.settings
        ed = self.ed
        missing = [spec.label for spec in COLUMNS if spec.source == "ed" and not table.column(spec.key)]
        if missing:
            table.notes.append(f"not in any run, so not shown: {', '.join(missing)}")
        self.ids = next(t.ids for row in table.rows for t in self._tasks(row))
        self.per_example = [c.key for c in columns if any(c.key in t.values for row in table.rows
                                                          for t in self._tasks(row))]
        corpus = [c.key for c in columns if c.key not in self.per_example]
        r_interval = s.resamples or stats.DEFAULT_RESAMPLES
        for row in table.rows:
            mat = self.matrices[row.model] = _row_matrix(row, ed, self.ids, self.per_example)
            if mat is None:
                continue
            low, high = stats.paired.bootstrap_mean_intervals(mat, resamples=r_interval, seed=s.seed, level=s.level)
            for j, key in enumerate(self.per_example):
                tasks = [t for t in self._tasks(row) if key in t.values]
                if not tasks:
                    continue
                summary = stats.across_seeds([float(np.nanmean(t.values[key])) for t in tasks])
                ci, _ = catalog.clip_interval(key, (float(low[j]), float(high[j])))
                row.cells[key] = Cell(summary.mean, summary.sd, summary.runs, ci, n=int((~np.isnan(mat[:, j])).sum()),
                                      method=f"{s.level:.0%} CI: percentile bootstrap over examples "
                                             f"({r_interval:,} resamples)")
        families: dict[str | None, list[str]] = {}
        for key in corpus:
            info = catalog.info(key)
            families.setdefault(info.scorer if info.level == catalog.CORPUS else None, []).append(key)
        self.families = families
        for scorer_name, keys in families.items():
            self._corpus_intervals(table, scorer_name, keys, ctx)

    def _corpus_intervals(self, table: Table, scorer_name: str | None, keys: list[str], ctx: Context) -> None:
        from harness.metrics.base import get_scorer

        s, ed = ctx.settings, self.ed
        scorer = get_scorer(scorer_name) if scorer_name else None
        for row in table.rows:
            tasks = self._tasks(row)
            shown = [k for k in keys if tasks and all(k in t.summary for t in tasks)]
            if not shown:
                continue
            cells = {}
            for key in shown:
                summary = stats.across_seeds([t.summary[key] for t in tasks])
                cells[key] = row.cells[key] = Cell(summary.mean, summary.sd, summary.runs, n=tasks[0].n)
            if scorer is None:
                _set_method(cells, "no interval: no scorer declares this corpus-level metric")
                continue
            if s.corpus_resamples == 0:
                _set_method(cells, "no interval: --corpus-resamples 0")
                continue
            decomposition = corpus_decomposition(scorer, tasks, self.ids)
            if decomposition is not None:
                r = s.corpus_resamples or stats.DEFAULT_RESAMPLES
                intervals = stats.decomposed_half_sampling(decomposition, resamples=r, seed=s.seed, level=s.level)
            else:
                inputs = [corpus_inputs(scorer, t, self.ids, shown) for t in tasks]
                if any(i is None for i in inputs):
                    _set_method(cells, "no interval: the generations are needed to recompute a corpus metric")
                    continue
                r = min(s.corpus_interval_resamples, s.corpus_resamples or s.corpus_interval_resamples)
                too_slow = _too_slow_to_resample(tasks, scorer.name, r, s)
                if too_slow:
                    _set_method(cells, too_slow)
                    continue
                # all r half-samples or none: an interval from the few that fit a budget is not one
                intervals = stats.corpus_bootstrap_ci([i[0] for i in inputs], inputs[0][1], resamples=r, seed=s.seed,
                                                      level=s.level, budget_seconds=s.corpus_budget, min_resamples=r)
            for key, cell in cells.items():
                ci = intervals[key]
                if ci.resamples:
                    cell.ci, clipped = catalog.clip_interval(key, (ci.low, ci.high))
                    cell.method = f"{s.level:.0%} CI: {ci.method}" + ("; clipped to the metric's range" if clipped
                                                                      else "")
                else:
                    cell.method = ci.method + "; not tested against the reference for the same reason"

    def test(self, table: Table, base: Row, row: Row, keys: list[str], ctx: Context) -> None:
        s = ctx.settings
        per_example = [k for k in keys if k in self.per_example]
        if per_example:
            idx = [self.per_example.index(k) for k in per_example]
            results = stats.paired_tests(self.matrices[base.model][:, idx], self.matrices[row.model][:, idx],
                                         resamples=ctx.resamples, seed=s.seed, level=s.level)
            for key, r in zip(per_example, results):
                cell = row.cells[key]
                cell.versus = base.model
                reason = _instrument_reason(key, base, row, self.ed)
                if reason:
                    cell.test, cell.method = "refused", f"not tested: {reason}"
                    continue
                cell.p = r.pvalue
                cell.test = "perm (exact)" if r.method.startswith("exact") else f"perm ({r.resamples:,})"
                cell.method += f"; vs {base.model}: {r.method.split(';')[0]}" + (
                    " on per-example values averaged over seeds" if len(row.runs) > 1 or len(base.runs) > 1 else "")
        corpus = [k for k in keys if k not in self.per_example]
        for scorer_name, family in self.families.items():
            chosen = [k for k in family if k in corpus]
            if chosen:
                self._corpus_test(table, base, row, scorer_name, chosen, ctx)

    def _corpus_test(self, table: Table, base: Row, row: Row, scorer_name: str | None, keys: list[str],
                     ctx: Context) -> None:
        from harness.metrics.base import get_scorer

        s, ed = ctx.settings, self.ed
        cells = {k: row.cells[k] for k in keys}
        for cell in cells.values():
            cell.versus = base.model
        if scorer_name is None:
            return
        tested = {}
        for key, cell in cells.items():
            reason = _instrument_reason(key, base, row, ed)
            if reason:
                cell.test, cell.method = "refused", f"not tested: {reason}"
            else:
                tested[key] = cell
        if not tested:
            return
        if len(base.runs) > 1 or len(row.runs) > 1:
            self._seed_test(base, row, tested, ctx)
            return
        scorer = get_scorer(scorer_name)
        ta, tb = self._tasks(base)[0], self._tasks(row)[0]
        c = ctx.corpus_resamples
        decomposition = corpus_decomposition(scorer, [ta, tb], self.ids)
        start = time.monotonic()
        if decomposition is not None:
            results = stats.decomposed_randomization(decomposition, resamples=c, seed=s.seed, level=s.level)
        else:
            ia, ib = corpus_inputs(scorer, ta, self.ids, list(tested)), corpus_inputs(scorer, tb, self.ids, list(tested))
            if ia is None or ib is None:
                return
            results, why = recomputed_randomization(scorer_name, ia[0], ib[0], ia[1], c, s,
                                                    recorded=recorded_seconds([ta, tb], scorer_name))
            if why is not None:
                for cell in tested.values():
                    cell.test, cell.method = "untested", cell.method + "; " + why
                return
        if ctx.log:
            ctx.log(f"leaderboard: approximate randomization {row.model} vs {base.model} on {', '.join(tested)}: "
                    f"{c:,} resamples in {time.monotonic() - start:.1f} s")
        for key, cell in tested.items():
            r = results[key]
            cell.p, cell.test = r.pvalue, f"AR ({r.resamples:,})"
            cell.method += f"; vs {base.model}: {r.method.split(';')[0]}"


    def _seed_test(self, base: Row, row: Row, cells: dict, ctx: Context) -> None:
        """Corpus metrics of models with several runs: each run's corpus value is one
        observation (swapping responses between systems is not defined across seeds).
        Welch's t-test of the two sets of run values, or, where one row has a single run,
        EmpRL's one-sample t-test of the other's run values against it."""
        from harness.stats.seeds import one_sample_t
        from harness.stats.unpaired import welch_t_test

        level = ctx.settings.level
        for key, cell in cells.items():
            a = [t.summary.get(key, math.nan) for t in self._tasks(base)]
            b = [t.summary.get(key, math.nan) for t in self._tasks(row)]
            spread = [v for v in (a, b) if len(v) > 1 and np.nanstd(v) == 0]
            if spread:
                cell.test, cell.method = "untested", cell.method + "; untested: a row's runs all have the same value"
                continue
            if len(a) > 1 and len(b) > 1:
                p = welch_t_test(a, b, level=level).pvalue
                cell.test, words = "Welch (seeds)", f"Welch's t-test of the {len(b)} and {len(a)} runs' values"
            else:
                single, runs = (a[0], b) if len(a) == 1 else (b[0], a)
                p = one_sample_t(runs, single, level).p
                cell.test, words = "t1 (seeds)", f"one-sample t-test of the {len(runs)} runs' values against one run"
            if math.isnan(p):
                cell.test, cell.method = "untested", cell.method + "; untested: too few runs with a value for a t-test"
                continue
            cell.p = p
            cell.method += f"; vs {base.model}: {words}"


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


def _too_slow_to_resample(tasks: list[TaskData], scorer: str, resamples: int, s: Settings) -> str | None:
    """Why a row is neither resampled nor tested, when the time its scorer took at scoring
    (provenance `scorer_seconds`) already exceeds the budget; known before recomputing
    anything. Below that the cost is measured while resampling: the recorded time includes
    one-off work (loading an instrument, caching reference levels) that a recomputation
    does not repeat (EPITOME: 18 s at scoring, 0.06 s per resample)."""
    if not s.corpus_budget or resamples <= 0:
        return None
    recorded = [_recorded_seconds(t.provenance, scorer) for t in tasks]
    if not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in recorded):
        return None  # not recorded (older run folders) or not a number: measured while resampling
    if sum(recorded) <= s.corpus_budget:
        return None
    needed = min(stats.MIN_RESAMPLES, resamples)
    return (f"no interval and not tested: computing {scorer} once took {sum(recorded):.1f} s when the run was "
            f"scored, more than the {s.corpus_budget:g} s budget, which affords fewer than {needed} resamples "
            f"(--corpus-budget)")


def _recorded_seconds(provenance: dict, scorer: str):
    seconds = provenance.get("scorer_seconds")
    return seconds.get(scorer) if isinstance(seconds, dict) else None


def _set_method(cells: dict[str, Cell], method: str) -> None:
    for cell in cells.values():
        cell.method = method


# --- a per-example metric of another task (MMLU accuracy) -------------------------------------------------

def task_named(run: Run, name: str) -> TaskData | None:
    """The task `name`, else the one task whose name starts with `name` (mmlu_offline)."""
    if name in run.tasks:
        return run.tasks[name]
    candidates = [t for task, t in run.tasks.items() if task.startswith(name)]
    return candidates[0] if len(candidates) == 1 else None


def mmlu_task(run: Run) -> TaskData | None:
    return task_named(run, MMLU)


class TaskMetric(Source):
    """One per-example metric of a named task (`task:<task>:<key>` in a ColumnSpec), e.g.
    MMLU's 0/1 `acc`: mean over examples with a bootstrap interval; tests: exact McNemar
    for 0/1 values when both rows have one run, else the paired permutation test (on
    seed-averaged values), paired on the shared examples; Welch when none is shared.
    Runs without per-example scores fall back to results.json's `<key>,none` (no interval)."""

    def __init__(self, task: str, key: str) -> None:
        self.task, self.key = task, key
        self.vectors: dict[str, tuple[list[str], np.ndarray, int] | None] = {}

    def _tasks(self, row: Row) -> list[TaskData]:
        tasks = [task_named(run, self.task) for run in row.runs]
        return [t for t in tasks if t is not None and self.key in t.values]

    def _from_results(self, row: Row) -> list[float]:
        out = []
        for run in row.runs:
            if task_named(run, self.task) is not None:
                continue
            entry = ((run.results or {}).get("results") or {}).get(self.task)
            value = entry.get(f"{self.key},none") if isinstance(entry, dict) else None
            if isinstance(value, (int, float)):
                out.append(float(value))
        return out

    def column(self, table: Table, spec: ColumnSpec) -> Column | None:
        present = any(self._tasks(row) or self._from_results(row) for row in table.rows)
        return _column(spec) if present else None

    def fill(self, table: Table, columns: list[Column], ctx: Context) -> None:
        s = ctx.settings
        for column in columns:
            for row in table.rows:
                tasks = self._tasks(row)
                if not tasks:
                    values = self._from_results(row)
                    self.vectors[row.model] = None
                    if values:
                        summary = stats.across_seeds(values)
                        row.cells[column.key] = Cell(summary.mean, summary.sd, summary.runs,
                                                     method="from results.json: no interval (no per-example scores)")
                    continue
                ids = tasks[0].ids
                if any(set(t.ids) != set(ids) for t in tasks):
                    table.notes.append(f"{row.model}: {column.label} runs on different examples, only the first is used")
                    tasks = tasks[:1]
                stack = [_aligned(t, ids, self.key) for t in tasks]
                vec = np.mean(stack, axis=0)
                self.vectors[row.model] = (ids, vec, len(tasks))
                summary = stats.across_seeds([float(np.nanmean(v)) for v in stack])
                r = s.resamples or stats.DEFAULT_RESAMPLES
                low, high = stats.paired.bootstrap_mean_intervals(vec, resamples=r, seed=s.seed, level=s.level)
                ci, _ = catalog.clip_interval(self.key, (float(low[0]), float(high[0])))
                row.cells[column.key] = Cell(summary.mean, summary.sd, summary.runs, ci, n=len(ids),
                                             method=f"{s.level:.0%} CI: percentile bootstrap over examples "
                                                    f"({r:,} resamples)")

    def test(self, table: Table, base: Row, row: Row, keys: list[str], ctx: Context) -> None:
        s = ctx.settings
        for key in keys:
            cell = row.cells[key]
            cell.versus = base.model
            vec, ref_vec = self.vectors.get(row.model), self.vectors.get(base.model)
            if vec is None or ref_vec is None:
                cell.method += f"; not tested against {base.model}: no per-example scores"
                continue
            ids, values, k = vec
            rids, rvalues, rk = ref_vec
            order = {i: j for j, i in enumerate(ids)}
            shared = [j for j, i in enumerate(rids) if i in order]
            if not shared:
                r = stats.welch_t_test(rvalues, values, note=f"no {key} example shared")
                cell.p, cell.test = r.pvalue, "Welch"
            else:
                a = rvalues[shared]
                b = values[[order[rids[j]] for j in shared]]
                if len(shared) != len(ids) or len(shared) != len(rids):
                    cell.method += f"; compared on the {len(shared)} shared examples"
                if k == 1 and rk == 1 and stats.is_binary(a) and stats.is_binary(b):
                    r = stats.mcnemar_exact(a, b)
                    cell.p, cell.test = r.pvalue, "McNemar (exact)"
                else:
                    r = stats.paired_permutation_test(a, b, resamples=ctx.resamples, seed=s.seed)
                    cell.p = r.pvalue
                    cell.test = "perm (exact)" if r.method.startswith("exact") else f"perm ({r.resamples:,})"
            cell.method += f"; vs {base.model}: {r.method.split(';')[0]}"


def _aligned(task: TaskData, ids: list[str], key: str) -> np.ndarray:
    order = {i: k for k, i in enumerate(task.ids)}
    return task.values[key][[order[i] for i in ids]]


# --- Open LLM Leaderboard v2 --------------------------------------------------------------------------------

class OpenLLM(Source):
    """The Open LLM Leaderboard v2 average (harness.leaderboard.openllm) and its six parts."""

    def __init__(self, ed: str | None) -> None:
        self.examples: dict[str, openllm.Examples | None] = {}
        self.filled = False

    def column(self, table: Table, spec: ColumnSpec) -> Column | None:
        if not self.filled:
            self._values(table)
            self.filled = True
        present = any(spec.key in row.cells for row in table.rows)
        return _column(spec) if present else None

    def fill(self, table: Table, columns: list[Column], ctx: Context) -> None:
        s = ctx.settings
        r = s.resamples or stats.DEFAULT_RESAMPLES
        for row in table.rows:
            cell = row.cells.get(OPENLLM)
            ex = self.examples.get(row.model)
            if cell is None or ex is None:
                continue
            run_examples = self.run_examples[row.model]
            low, high = openllm.bootstrap_average(run_examples if len(run_examples) == 1 else _split(ex, run_examples),
                                                  resamples=r, seed=s.seed, level=s.level)
            cell.ci, cell.n = (low, high), len(ex.ids)
            cell.method += f"; {s.level:.0%} CI: percentile bootstrap over examples ({r:,} resamples)"

    def _values(self, table: Table) -> None:
        self.run_examples: dict[str, list[openllm.Examples]] = {}
        for row in table.rows:
            scores = [openllm.from_results(run.results) for run in row.runs if run.results]
            run_examples = [openllm.examples_from_tasks(run.tasks.values()) for run in row.runs]
            run_examples = [e for e in run_examples if e is not None and e.complete()]
            self.run_examples[row.model] = run_examples
            values = [sc.average for sc in scores if not math.isnan(sc.average)]
            if not values and run_examples:
                values = [float(openllm.scores_from_parts(e.parts())[1]) for e in run_examples]
            if not values:
                missing = sorted({m for sc in scores for m in sc.missing})
                if scores and len(missing) < len(openllm.PARTS):
                    table.notes.append(f"{row.model}: no Open LLM average, missing {', '.join(missing)}")
                self.examples[row.model] = None
                continue
            summary = stats.across_seeds(values)
            row.cells[OPENLLM] = Cell(summary.mean, summary.sd, summary.runs,
                                      method="normalized as the Open LLM Leaderboard v2")
            for t in openllm.TASKS:
                task_values = [sc.tasks[t] for sc in scores if not math.isnan(sc.tasks[t])]
                if task_values:
                    row.cells[f"{OPENLLM}:{t}"] = Cell(float(np.mean(task_values)),
                                                       stats.across_seeds(task_values).sd, len(task_values))
            self.examples[row.model] = _align_examples(run_examples)

    def test(self, table: Table, base: Row, row: Row, keys: list[str], ctx: Context) -> None:
        s = ctx.settings
        if OPENLLM not in keys:
            return  # the six parts are shown, not tested
        cell = row.cells[OPENLLM]
        cell.versus = base.model
        ex, ref_ex = self.examples.get(row.model), self.examples.get(base.model)
        if ex is None or ref_ex is None:
            cell.method += f"; not tested against {base.model}: no per-example results"
            return
        if set(ex.ids) != set(ref_ex.ids):
            cell.method += f"; not tested against {base.model}: different examples"
            return
        order = {i: k for k, i in enumerate(ex.ids)}
        idx = [order[i] for i in ref_ex.ids]
        ex = openllm.Examples(list(ref_ex.ids), ex.num[idx], ex.den[idx])
        try:
            _, p, used = openllm.paired_test(ref_ex, ex, resamples=ctx.resamples, seed=s.seed)
        except ValueError as exc:
            cell.method += f"; not tested: {exc}"
            return
        cell.p, cell.test = p, f"perm ({used:,})"
        cell.method += (f"; vs {base.model}: paired permutation test of the normalized average ({used:,} random "
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


# the sources by name (ColumnSpec.source); "task:<task>:<key>" makes a TaskMetric
SOURCES: dict[str, Callable[[str | None], Source]] = {"ed": EdMetrics, "openllm": OpenLLM}


# --- corrections ---------------------------------------------------------------------------------------------

def _correct(table: Table, correction: str) -> None:
    cells = [cell for row in table.rows for cell in row.cells.values() if not math.isnan(cell.p)]
    adjusted = stats.adjust([c.p for c in cells], correction)
    for cell, p in zip(cells, adjusted):
        cell.p_adj = float(p)


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)
