"""Compare systems metric by metric: which test applies, run it, correct across tests.

Per task both systems share, each metric gets one of:
- per-example metric, same examples: paired permutation test + paired bootstrap CI,
  effect d_z (all metrics of a task share one sign-flip matrix);
- per-example 0/1 accuracy (lm-eval `acc`, ...), same examples: exact McNemar;
- per-example metric, different example sets: Welch's t-test, effect pooled d, noted;
- corpus-level metric, same examples, responses available: approximate randomization
  and bootstrap over examples, recomputing the metric with its scorer (bounded);
- refused: the instruments that produced the metric differ (provenance.json);
- not tested, with the reason (a corpus metric without responses, an unknown key).
All p-values of one invocation (every metric of every pair) are corrected together.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from harness import stats
from harness.errors import HarnessError
from harness.leaderboard import catalog
from harness.leaderboard.runs import Run, TaskData


@dataclass
class Settings:
    resamples: int = stats.DEFAULT_RESAMPLES
    corpus_resamples: int = stats.DEFAULT_CORPUS_RESAMPLES
    corpus_budget: float | None = 600.0  # seconds per scorer and pair
    seed: int = 0
    level: float = 0.95
    correction: str = "holm"
    alpha: float = 0.05
    power: float = 0.8
    extra_columns: tuple[str, ...] = ()  # leaderboard: metric keys shown after the empathy columns


@dataclass
class MetricComparison:
    name: str  # "task/key", or "key" for single-task inputs
    task: str
    key: str
    a: float
    b: float
    diff: float
    ci: tuple[float, float] | None = None
    p: float = math.nan
    p_adj: float = math.nan
    effect: float = math.nan
    method: str = ""
    test: str = ""  # short label: perm, McNemar, Welch, AR, refused, -
    n: int | None = None
    mdd: float = math.nan
    higher_is_better: bool | None = None

    def to_json(self) -> dict:
        return {
            "a": _num(self.a), "b": _num(self.b), "diff": _num(self.diff),
            "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
            "p": _num(self.p), "p_adj": _num(self.p_adj), "effect": _num(self.effect), "method": self.method,
        }


@dataclass
class PairComparison:
    a: Run
    b: Run
    metrics: list[MetricComparison]
    notes: list[str] = field(default_factory=list)


def compare_runs(runs: list[Run], settings: Settings, *, all_pairs: bool = False, task: str | None = None,
                 log: Callable[[str], None] | None = None) -> list[PairComparison]:
    """Each later run against the first (or every pair), corrected across all tests."""
    if len(runs) < 2:
        raise HarnessError("compare needs at least two runs")
    if all_pairs:
        pairs = [(runs[i], runs[j]) for i in range(len(runs)) for j in range(i + 1, len(runs))]
    else:
        pairs = [(runs[0], r) for r in runs[1:]]
    result = [compare_pair(a, b, settings, task=task, log=log) for a, b in pairs]
    apply_correction([m for pair in result for m in pair.metrics], settings.correction)
    return result


def apply_correction(metrics: list[MetricComparison], correction: str) -> None:
    adjusted = stats.adjust([m.p for m in metrics], correction)
    tested = int((~np.isnan([m.p for m in metrics])).sum()) if metrics else 0
    for m, p_adj in zip(metrics, adjusted):
        m.p_adj = float(p_adj)
        if not math.isnan(m.p):
            m.method += f"; p_adj: {stats.corrections.NAMES[correction]} over {tested} tests"


def align_tasks(a: Run, b: Run, task: str | None = None) -> tuple[list[tuple[str, TaskData, TaskData]], list[str]]:
    """Pairs of tasks to compare, and notes on what was left out."""
    notes: list[str] = []
    single_a, single_b = set(a.tasks) == {""}, set(b.tasks) == {""}
    if single_a and single_b:
        return [("", a.tasks[""], b.tasks[""])], notes
    if single_a or single_b:
        whole, single, flip = (b, a, False) if single_a else (a, b, True)
        names = [task] if task else list(whole.tasks)
        if task and task not in whole.tasks:
            raise HarnessError(f"{whole.path}: no task {task!r}; it has {', '.join(sorted(whole.tasks)) or 'none'}")
        if len(names) != 1:
            raise HarnessError(f"cannot align {single.path} (one scored output) with {whole.path} (tasks "
                               f"{', '.join(sorted(whole.tasks))}): pass --task NAME")
        t = whole.tasks[names[0]]
        pair = (names[0], t, single.tasks[""]) if flip else (names[0], single.tasks[""], t)
        return [pair], notes
    common = sorted(set(a.tasks) & set(b.tasks))
    if task:
        if task not in common:
            raise HarnessError(f"task {task!r} is not in both runs ({a.path}: {', '.join(sorted(a.tasks))}; "
                               f"{b.path}: {', '.join(sorted(b.tasks))})")
        common = [task]
    for name in sorted(set(a.tasks) - set(b.tasks)):
        notes.append(f"task {name}: only in {a.label}, not compared")
    for name in sorted(set(b.tasks) - set(a.tasks)):
        notes.append(f"task {name}: only in {b.label}, not compared")
    if not common:
        raise HarnessError(f"{a.path} and {b.path} share no task")
    return [(name, a.tasks[name], b.tasks[name]) for name in common], notes


def instrument_difference(key: str, ta: TaskData, tb: TaskData) -> str | None:
    """Why the instruments behind `key` differ between the two scored folders, or None."""
    scorer = catalog.scorer_of(key)
    ia, ib = ta.instruments(), tb.instruments()
    if scorer is not None:
        xa, xb, what = ia.get(scorer), ib.get(scorer), f"the instrument of scorer {scorer!r} differs"
    else:
        xa, xb, what = ia, ib, "the instruments differ (no scorer declares this metric, so all must match)"
    if xa == xb:
        return None
    fields = _differing_fields(xa, xb)
    return f"{what}: {fields}" if fields else what


def _differing_fields(x, y, prefix: str = "") -> str:
    if not isinstance(x, dict) or not isinstance(y, dict):
        return f"{prefix or 'value'} {x!r} vs {y!r}"
    parts = []
    for k in sorted(set(x) | set(y)):
        if x.get(k) != y.get(k):
            if isinstance(x.get(k), dict) and isinstance(y.get(k), dict):
                parts.append(_differing_fields(x[k], y[k], f"{prefix}{k}."))
            else:
                parts.append(f"{prefix}{k} {x.get(k)!r} vs {y.get(k)!r}")
    return "; ".join(parts)


def compare_pair(a: Run, b: Run, settings: Settings, *, task: str | None = None,
                 log: Callable[[str], None] | None = None) -> PairComparison:
    tasks, notes = align_tasks(a, b, task)
    metrics: list[MetricComparison] = []
    for name, ta, tb in tasks:
        metrics += _compare_task(name, ta, tb, settings, notes, log)
    return PairComparison(a, b, metrics, notes)


def _compare_task(task: str, ta: TaskData, tb: TaskData, s: Settings, notes: list[str],
                  log: Callable[[str], None] | None) -> list[MetricComparison]:
    prefix = f"{task}/" if task else ""
    where = f"task {task}: " if task else ""
    if not ta.provenance or not tb.provenance:
        missing = [str(t.source) for t in (ta, tb) if not t.provenance]
        notes.append(f"{where}no provenance.json in {', '.join(missing)}: instruments could not be checked")
    paired = set(ta.ids) == set(tb.ids)
    if paired:
        order = {i: k for k, i in enumerate(tb.ids)}
        b_index = np.array([order[i] for i in ta.ids], dtype=int)
    else:
        shared = len(set(ta.ids) & set(tb.ids))
        why = f"example sets differ (A {ta.n}, B {tb.n}, {shared} shared)"
        notes.append(f"{where}{why}: per-example metrics compared unpaired (Welch), corpus metrics not tested")

    for k in sorted(set(ta.lists) | set(tb.lists)):
        notes.append(f"{where}{k}: list values per example (e.g. IFEval's per-instruction results) are not compared")
    keys_a, keys_b = set(ta.values), set(tb.values)
    for k in sorted(keys_a ^ keys_b):
        notes.append(f"{where}{k}: only in {'A' if k in keys_a else 'B'}, not compared")
    per_example = sorted(keys_a & keys_b)
    summary_only = sorted((set(ta.summary) & set(tb.summary)) - set(per_example) - {"n"})

    out: list[MetricComparison] = []
    batch: list[MetricComparison] = []
    for key in per_example:
        info = catalog.info(key)
        va = ta.values[key]
        vb = tb.values[key][b_index] if paired else tb.values[key]
        m = MetricComparison(prefix + key, task, key, math.nan, math.nan, math.nan, higher_is_better=info.higher_is_better)
        out.append(m)
        reason = instrument_difference(key, ta, tb)
        if reason:
            _refuse(m, float(np.nanmean(va)), float(np.nanmean(vb)), reason)
            continue
        if not paired:
            _welch(m, va, vb, s, why)
            continue
        both = ~(np.isnan(va) | np.isnan(vb))
        m.a, m.b = _mean(va[both]), _mean(vb[both])
        m.diff, m.n = m.b - m.a, int(both.sum())
        if np.array_equal(va[both], vb[both]):
            # e.g. the reference's own EPITOME levels: not a property of the systems, so
            # not a test that should count in the correction
            m.ci, m.method, m.test = (0.0, 0.0), "not tested: identical values in both runs", "-"
            continue
        m.effect = stats.cohens_dz(va, vb)
        sd = float(np.std(vb[both] - va[both], ddof=1)) if m.n > 1 else math.nan
        m.mdd = stats.minimum_detectable_difference(sd, m.n, alpha=s.alpha, power=s.power).difference
        if info.level == catalog.ACCURACY and stats.is_binary(va) and stats.is_binary(vb):
            r = stats.mcnemar_exact(va, vb, level=s.level)
            m.ci, m.p, m.method, m.test = r.ci, r.pvalue, r.method + "; effect: Cohen's d_z", "McNemar"
        else:
            batch.append(m)
    if batch:
        a_mat = np.column_stack([ta.values[m.key] for m in batch])
        b_mat = np.column_stack([tb.values[m.key][b_index] for m in batch])
        for m, r in zip(batch, stats.paired_tests(a_mat, b_mat, resamples=s.resamples, seed=s.seed, level=s.level)):
            m.ci, m.p, m.method = r.ci, r.pvalue, r.method + "; effect: Cohen's d_z"
            m.test = "perm (exact)" if r.method.startswith("exact") else "perm"

    corpus_by_scorer: dict[str, list[MetricComparison]] = {}
    for key in summary_only:
        info = catalog.info(key)
        m = MetricComparison(prefix + key, task, key, ta.summary[key], tb.summary[key],
                             tb.summary[key] - ta.summary[key], higher_is_better=info.higher_is_better, test="-")
        out.append(m)
        reason = instrument_difference(key, ta, tb)
        if reason:
            _refuse(m, m.a, m.b, reason)
        elif info.level != catalog.CORPUS or info.scorer is None:
            m.method = "not tested: no scorer declares this metric, so it cannot be recomputed"
        elif not paired:
            m.method = "not tested: a corpus-level metric needs both systems on the same examples"
        else:
            m.n = ta.n
            corpus_by_scorer.setdefault(info.scorer, []).append(m)
    for scorer, group in corpus_by_scorer.items():
        _corpus_tests(scorer, group, ta, tb, s, log)
    return out


def corpus_inputs(scorer, task: TaskData, ids: list[str], keys: list[str]):
    """(outputs in `ids` order, statistic) for recomputing a scorer's corpus values, or
    None when they cannot be recomputed. With the scorer's `corpus_from_rows` hook the
    outputs are the per-example score rows (cheap: no model, no text); else the
    responses from the generations, through `compute`."""
    hook = getattr(scorer, "corpus_from_rows", None)
    order = {i: k for k, i in enumerate(task.ids)}
    index = [order[i] for i in ids]
    if hook is not None:
        def from_rows(rows):
            values = hook(rows)
            return {k: values[k] for k in keys if k in values}

        return _rows(task, index), from_rows
    items = task.items()
    if items is None:
        return None

    def from_items(items):
        corpus = scorer.compute(items).corpus
        return {k: corpus[k] for k in keys if k in corpus}

    return [items[k] for k in index], from_items


def _corpus_tests(scorer_name: str, group: list[MetricComparison], ta: TaskData, tb: TaskData, s: Settings,
                  log: Callable[[str], None] | None) -> None:
    from harness.metrics.base import get_scorer

    keys = [m.key for m in group]
    scorer = get_scorer(scorer_name)
    inputs_a, inputs_b = corpus_inputs(scorer, ta, ta.ids, keys), corpus_inputs(scorer, tb, ta.ids, keys)
    if inputs_a is None or inputs_b is None:
        for m in group:
            m.method = "not tested: a corpus-level metric is recomputed from the responses, and no generations were found"
        return
    (xa, statistic), (xb, _) = inputs_a, inputs_b
    if log:
        budget = f", budget {s.corpus_budget:g} s" if s.corpus_budget else ""
        log(f"resampling corpus metrics of {scorer_name!r} ({', '.join(keys)}): up to {s.corpus_resamples} "
            f"resamples{budget}")
    start = time.monotonic()
    results = stats.approximate_randomization(xa, xb, statistic, resamples=s.corpus_resamples, seed=s.seed,
                                              level=s.level, budget_seconds=s.corpus_budget)
    if log:
        used = next(iter(results.values())).resamples if results else 0
        log(f"  {used} resamples in {time.monotonic() - start:.1f} s")
    for m in group:
        r = results.get(m.key)
        if r is None:
            m.method = f"not tested: scorer {scorer_name!r} did not recompute {m.key}"
            continue
        m.ci, m.p, m.test = r.ci, r.pvalue, f"AR ({r.resamples})" if r.resamples else "-"
        m.method = r.method
        if not math.isclose(r.estimate, m.diff, rel_tol=1e-6, abs_tol=1e-9):
            m.method += (f"; note: recomputed difference {r.estimate:.6g} differs from the scored summaries' "
                         f"{m.diff:.6g} (was the scorer changed since scoring?)")


def _rows(t: TaskData, index) -> list[dict]:
    keys = list(t.values)
    return [{"id": t.ids[k], **{key: (None if math.isnan(t.values[key][k]) else float(t.values[key][k])) for key in keys}}
            for k in index]


def _welch(m: MetricComparison, va: np.ndarray, vb: np.ndarray, s: Settings, why: str) -> None:
    r = stats.welch_t_test(va, vb, level=s.level, note=why)
    m.a, m.b = _mean(va), _mean(vb)
    m.diff, m.ci, m.p, m.n = m.b - m.a, r.ci, r.pvalue, r.n
    m.effect = stats.cohens_d(va, vb)
    m.method, m.test = r.method + "; effect: Cohen's d (pooled SD)", "Welch"
    da, db = va[~np.isnan(va)], vb[~np.isnan(vb)]
    if len(da) > 1 and len(db) > 1:
        pooled = math.sqrt(((len(da) - 1) * da.var(ddof=1) + (len(db) - 1) * db.var(ddof=1)) / (len(da) + len(db) - 2))
        m.mdd = stats.minimum_detectable_difference(pooled, len(da), n_b=len(db), paired=False,
                                                    alpha=s.alpha, power=s.power).difference


def _refuse(m: MetricComparison, a: float, b: float, reason: str) -> None:
    m.a, m.b, m.diff = a, b, b - a
    m.method, m.test = f"refused: {reason}", "refused"


def _mean(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else math.nan


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def to_json(pairs: list[PairComparison]) -> dict:
    """`{"pairs": [{"a": .., "b": .., "metrics": {NAME: {...}}}]}` (docs in README)."""
    return {"pairs": [{"a": str(p.a.path), "b": str(p.b.path), "metrics": {m.name: m.to_json() for m in p.metrics}}
                      for p in pairs]}


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
