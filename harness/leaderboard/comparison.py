"""Compare systems metric by metric: which test applies, run it, correct across tests.

Per task both systems share, each metric gets one of:
- per-example metric on shared examples: paired permutation test + paired bootstrap CI,
  effect d_z (all metrics of a task share one sign-flip matrix). When the example sets
  only partly overlap, the shared examples are compared (and the table says how many);
- per-example 0/1 accuracy (lm-eval `acc`, ...), shared examples: exact McNemar;
- per-example metric, no example shared: Welch's t-test, effect pooled d, noted;
- corpus-level metric on shared examples: approximate randomization and half-sampling
  interval; from per-example counts when the scorer decomposes (Emp-F1, Dist-n: every
  resample is a matrix product), else by recomputing the metric per resample, only when
  the resamples the test needs fit the time budget (else "not tested" with the reason);
- descriptive metric (declared with no better direction: lengths, EPITOME levels):
  values, difference and interval, no test;
- refused: the instruments that produced the metric differ (provenance.json);
- not tested, with the reason (a corpus metric without responses, an unknown key).

All p-values of one invocation (every metric of every pair) are corrected together, and
the number of resamples is chosen from the number of tests so that the corrected
threshold can be reached: R = max(minimum, ceil(20 x tests / alpha)) (`resamples_for`).
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
from harness.leaderboard.display import display_path
from harness.leaderboard.runs import Run, TaskData

# resamples per test: at least this many, and 20 x tests / alpha (the smallest p of a
# resampling test is 1 / (R + 1); Holm multiplies the smallest p by the number of tests)
RESOLUTION = 20


def resamples_for(tests: int, alpha: float, minimum: int) -> int:
    """Resamples that let the smallest p of `tests` corrected tests fall 20-fold below
    alpha: max(minimum, ceil(20 x tests / alpha)), rounded up to a thousand."""
    needed = math.ceil(RESOLUTION * max(tests, 1) / alpha)
    return max(minimum, int(math.ceil(needed / 1000) * 1000))


def smallest_adjusted_p(tests: int, resamples: int) -> float:
    """The smallest p a resampling test reaches (1 / (R + 1)) after Holm over `tests`."""
    return min(1.0, tests / (resamples + 1))


@dataclass
class Settings:
    resamples: int | None = None  # None: resamples_for(tests) at least stats.DEFAULT_RESAMPLES
    corpus_resamples: int | None = None  # None: as `resamples`; 0: corpus metrics neither tested nor resampled
    corpus_budget: float | None = 120.0  # seconds per recomputing scorer and pair (decomposed ones are exempt)
    # half-samples for the interval of a corpus metric recomputed per half-sample (the tries)
    corpus_interval_resamples: int = stats.DEFAULT_CORPUS_RESAMPLES
    seed: int = 0
    level: float = 0.95
    correction: str = "holm"
    alpha: float = 0.05
    power: float = 0.8
    progress: bool = True
    extra_columns: tuple[str, ...] = ()  # leaderboard: more ED metric keys, after the registered columns
    # filled in by the run: what each kind of test used
    used: dict = field(default_factory=dict)

    def resolved(self, tests: int) -> tuple[int, int]:
        """(resamples, corpus resamples) for a family of `tests` tests."""
        r = self.resamples if self.resamples is not None else resamples_for(tests, self.alpha,
                                                                              stats.DEFAULT_RESAMPLES)
        c = self.corpus_resamples if self.corpus_resamples is not None else r
        return r, c


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
    test: str = ""  # short label: perm (R), McNemar, Welch, AR (R), refused, descriptive, -
    n: int | None = None
    mdd: float = math.nan
    higher_is_better: bool | None = None
    resamples: int | None = None

    def to_json(self) -> dict:
        return {
            "a": _num(self.a), "b": _num(self.b), "diff": _num(self.diff),
            "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
            "p": _num(self.p), "p_adj": _num(self.p_adj), "effect": _num(self.effect), "method": self.method,
            "n": self.n, "test": self.test, "resamples": self.resamples, "higher_is_better": self.higher_is_better,
        }


@dataclass
class PairComparison:
    a: Run
    b: Run
    metrics: list[MetricComparison]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Job:
    """A test decided on but not run yet (the resamples depend on how many tests there are)."""

    kind: str  # "paired", "mcnemar", "welch", "corpus"
    metrics: list[MetricComparison]
    run: Callable[[int, int], None]  # (resamples, corpus resamples)
    tests: int  # how many tests it adds to the correction


def compare_runs(runs: list[Run], settings: Settings, *, all_pairs: bool = False, task: str | None = None,
                 log: Callable[[str], None] | None = None) -> list[PairComparison]:
    """Each later run against the first (or every pair), corrected across all tests."""
    if len(runs) < 2:
        raise HarnessError("compare needs at least two runs")
    if all_pairs:
        pairs = [(runs[i], runs[j]) for i in range(len(runs)) for j in range(i + 1, len(runs))]
    else:
        pairs = [(runs[0], r) for r in runs[1:]]
    jobs: list[_Job] = []
    result = []
    for a, b in pairs:
        pair, pair_jobs = plan_pair(a, b, settings, task=task, log=log)
        result.append(pair)
        jobs += pair_jobs
    run_jobs(jobs, settings, log)
    apply_correction([m for pair in result for m in pair.metrics], settings.correction)
    return result


def run_jobs(jobs: list[_Job], settings: Settings, log: Callable[[str], None] | None) -> None:
    """Run the planned tests with the resamples their number calls for."""
    tests = sum(j.tests for j in jobs)
    r, c = settings.resolved(tests)
    settings.used.update({"tests": tests, "resamples": r, "corpus_resamples": c})
    if log and jobs:
        log(f"{tests} tests planned: {r:,} resamples per resampling test"
            + (f", {c:,} for corpus metrics" if c != r else ""))
    for job in sorted(jobs, key=lambda j: j.kind == "corpus"):  # the quick ones first
        job.run(r, c)


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
            elif k not in x or k not in y:  # a whole instrument on one side: its name, not its record
                parts.append(f"{prefix}{k} only in {'the first' if k in x else 'the second'}")
            else:
                parts.append(f"{prefix}{k} {x.get(k)!r} vs {y.get(k)!r}")
    return "; ".join(parts)


def compare_pair(a: Run, b: Run, settings: Settings, *, task: str | None = None,
                 log: Callable[[str], None] | None = None) -> PairComparison:
    """One pair on its own (its tests corrected among themselves)."""
    pair, jobs = plan_pair(a, b, settings, task=task, log=log)
    run_jobs(jobs, settings, log)
    apply_correction(pair.metrics, settings.correction)
    return pair


def plan_pair(a: Run, b: Run, settings: Settings, *, task: str | None = None,
              log: Callable[[str], None] | None = None) -> tuple[PairComparison, list[_Job]]:
    tasks, notes = align_tasks(a, b, task)
    metrics: list[MetricComparison] = []
    jobs: list[_Job] = []
    for name, ta, tb in tasks:
        out, task_jobs = _plan_task(name, ta, tb, settings, notes, log)
        metrics += out
        jobs += task_jobs
    return PairComparison(a, b, metrics, notes), jobs


def _plan_task(task: str, ta: TaskData, tb: TaskData, s: Settings, notes: list[str],
               log: Callable[[str], None] | None) -> tuple[list[MetricComparison], list[_Job]]:
    prefix = f"{task}/" if task else ""
    where = f"task {task}: " if task else ""
    if not ta.provenance or not tb.provenance:
        missing = [display_path(t.source) for t in (ta, tb) if not t.provenance]
        notes.append(f"{where}no provenance.json in {', '.join(missing)}: instruments could not be checked")
    b_order = {i: k for k, i in enumerate(tb.ids)}
    shared_ids = [i for i in ta.ids if i in b_order]
    a_order = {i: k for k, i in enumerate(ta.ids)}
    paired = bool(shared_ids)
    why = ""
    if paired:
        a_index = np.array([a_order[i] for i in shared_ids], dtype=int)
        b_index = np.array([b_order[i] for i in shared_ids], dtype=int)
        if len(shared_ids) != ta.n or len(shared_ids) != tb.n:
            notes.append(f"{where}example sets differ (A {ta.n}, B {tb.n}): every metric is compared on the "
                         f"{len(shared_ids)} shared examples, paired; A and B are the values on those examples")
    else:
        why = f"no example shared (A {ta.n}, B {tb.n})"
        notes.append(f"{where}{why}: per-example metrics compared unpaired (Welch), corpus metrics not tested")

    for k in sorted(set(ta.lists) | set(tb.lists)):
        notes.append(f"{where}{k}: list values per example (e.g. IFEval's per-instruction results) are not compared")
    keys_a, keys_b = set(ta.values), set(tb.values)
    for k in sorted(keys_a ^ keys_b):
        notes.append(f"{where}{k}: only in {'A' if k in keys_a else 'B'}, not compared")
    per_example = sorted(keys_a & keys_b)
    summary_only = sorted((set(ta.summary) & set(tb.summary)) - set(per_example) - {"n"})

    out: list[MetricComparison] = []
    jobs: list[_Job] = []
    batch: list[MetricComparison] = []
    for key in per_example:
        info = catalog.info(key)
        m = MetricComparison(prefix + key, task, key, math.nan, math.nan, math.nan,
                             higher_is_better=info.higher_is_better)
        out.append(m)
        reason = instrument_difference(key, ta, tb)
        if reason:
            _refuse(m, float(np.nanmean(ta.values[key])), float(np.nanmean(tb.values[key])), reason)
            continue
        if not paired:
            va, vb = ta.values[key], tb.values[key]
            if info.descriptive:
                m.a, m.b = _mean(va), _mean(vb)
                m.diff, m.test, m.method = m.b - m.a, "descriptive", "descriptive (no better direction): not tested"
                continue
            jobs.append(_Job("welch", [m], lambda r, c, m=m, va=va, vb=vb: _welch(m, va, vb, s, why), 1))
            continue
        va, vb = ta.values[key][a_index], tb.values[key][b_index]
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
            jobs.append(_Job("mcnemar", [m], lambda r, c, m=m, va=va, vb=vb: _mcnemar(m, va, vb, s), 1))
        else:
            batch.append(m)
    if batch:
        a_mat = np.column_stack([ta.values[m.key][a_index] for m in batch])
        b_mat = np.column_stack([tb.values[m.key][b_index] for m in batch])
        tested = sum(1 for m in batch if not catalog.info(m.key).descriptive)
        jobs.append(_Job("paired", batch, lambda r, c: _paired(batch, a_mat, b_mat, r, s), tested))

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
            m.n = len(shared_ids)
            corpus_by_scorer.setdefault(info.scorer, []).append(m)
    whole = len(shared_ids) == ta.n == tb.n
    for scorer, group in corpus_by_scorer.items():
        job = _plan_corpus(scorer, group, ta, tb, shared_ids, whole, s, log)
        if job is not None:
            jobs.append(job)
    return out, jobs


def _paired(batch: list[MetricComparison], a_mat: np.ndarray, b_mat: np.ndarray, resamples: int,
            s: Settings) -> None:
    results = stats.paired_tests(a_mat, b_mat, resamples=resamples, seed=s.seed, level=s.level)
    for m, r in zip(batch, results):
        m.ci, _ = catalog.clip_interval(m.key, r.ci, difference=True)
        m.resamples = r.resamples
        if catalog.info(m.key).descriptive:
            m.method = f"descriptive (no better direction): not tested; {r.method.split('; ', 1)[1]}"
            m.test, m.effect, m.mdd = "descriptive", math.nan, math.nan
            continue
        m.p, m.method = r.pvalue, r.method + "; effect: Cohen's d_z"
        m.test = "perm (exact)" if r.method.startswith("exact") else f"perm ({r.resamples:,})"


def _mcnemar(m: MetricComparison, va: np.ndarray, vb: np.ndarray, s: Settings) -> None:
    r = stats.mcnemar_exact(va, vb, level=s.level)
    m.ci, m.p, m.method, m.test = r.ci, r.pvalue, r.method + "; effect: Cohen's d_z", "McNemar (exact)"
    m.ci, _ = catalog.clip_interval(m.key, m.ci, difference=True)


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


def corpus_decomposition(scorer, tasks: list[TaskData], ids: list[str]):
    """The scorer's `Decomposition` of these systems on `ids` (harness.stats.corpus), or
    None when it has no such hook or cannot decompose from what the folders hold."""
    from harness.metrics.base import CorpusSource

    hook = getattr(scorer, "corpus_decomposition", None)
    if hook is None:
        return None
    sources = []
    for t in tasks:
        order = {i: k for k, i in enumerate(t.ids)}
        index = [order[i] for i in ids]
        items = t.items()
        sources.append(CorpusSource(_rows(t, index), None if items is None else [items[k] for k in index]))
    return hook(sources)


def _plan_corpus(scorer_name: str, group: list[MetricComparison], ta: TaskData, tb: TaskData, ids: list[str],
                 whole: bool, s: Settings, log: Callable[[str], None] | None) -> _Job | None:
    from harness.metrics.base import get_scorer

    keys = [m.key for m in group]
    tested = sum(1 for m in group if not catalog.info(m.key).descriptive)
    scorer = get_scorer(scorer_name)
    if s.corpus_resamples == 0:
        for m in group:
            m.method = "not tested: --corpus-resamples 0"
        return None
    decomposition = corpus_decomposition(scorer, [ta, tb], ids)
    if decomposition is not None:
        def run_decomposed(r: int, c: int) -> None:
            start = time.monotonic()
            with _progress(c, f"{scorer_name}: {', '.join(keys)}", s) as bar:
                results = stats.decomposed_randomization(decomposition, resamples=c, seed=s.seed, level=s.level,
                                                         progress=bar)
            if log:
                log(f"  {scorer_name}: {c:,} resamples from per-example counts in {time.monotonic() - start:.1f} s")
            _corpus_results(group, results, whole, scorer_name)

        return _Job("corpus", group, run_decomposed, tested)
    if tested == 0:  # descriptive only (nidf_sd): not worth recomputing the metric for an interval
        for m in group:
            m.test, m.method = "descriptive", "descriptive (no better direction): not tested"
        return None
    inputs_a, inputs_b = corpus_inputs(scorer, ta, ids, keys), corpus_inputs(scorer, tb, ids, keys)
    if inputs_a is None or inputs_b is None:
        for m in group:
            m.method = "not tested: a corpus-level metric is recomputed from the responses, and no generations were found"
        return None
    (xa, statistic), (xb, _) = inputs_a, inputs_b

    def run_recomputed(r: int, c: int) -> None:
        with _progress(c, f"{scorer_name}: {', '.join(keys)}", s) as bar:
            results, why = recomputed_randomization(scorer_name, xa, xb, statistic, c, s, progress=bar,
                                                    recorded=recorded_seconds([ta, tb], scorer_name))
        if why is not None:
            if log:
                log(f"  {scorer_name}: {why}")
            for m in group:
                descriptive = catalog.info(m.key).descriptive
                m.method = why.replace("untested:", "descriptive, and no interval:") if descriptive else why
                m.test = "descriptive" if descriptive else "untested"
            return
        if log:
            log(f"  {scorer_name}: {c:,} resamples, recomputing the metric")
        _corpus_results(group, results, whole, scorer_name)

    return _Job("corpus", group, run_recomputed, tested)


PROBE = 3  # resamples timed before committing to a recomputing test


def recomputed_randomization(scorer_name: str, xa, xb, statistic, resamples: int, s: Settings, *,
                             progress: Callable[[int], None] | None = None,
                             recorded: float | None = None) -> tuple[dict | None, str | None]:
    """Approximate randomization recomputing the metric per resample, only when all
    `resamples` fit `s.corpus_budget`: (results, None), or (None, why not). A resample
    recomputes the metric twice at full size and twice at half size, so it costs at least
    two computations: `recorded` (seconds one computation took when the runs were
    scored; ten times over the budget, as it may include loading a model), then the two
    computations of the observed values, rule a test out early;
    otherwise a few real resamples are timed first (caches, a loaded machine). The budget
    also stops the run itself (a test short of its resamples cannot resolve the
    threshold: untested)."""
    budget = s.corpus_budget

    def too_slow(per_resample: float, how: str) -> str:
        return (f"untested: {scorer_name} is recomputed 4 times per resample ({how} {per_resample:.2g} s each), so "
                f"the {resamples:,} resamples that resolve the corrected threshold would take about "
                f"{_duration(per_resample * resamples)}, over the {budget:g} s budget (--corpus-budget)")

    # a recorded time may include one-off work (loading a model): only a wide miss counts
    if budget is not None and recorded is not None and 2 * recorded * resamples > 10 * budget:
        return None, too_slow(2 * recorded, "when scored,")
    start = time.monotonic()
    va = statistic(xa)
    vb = statistic(xb)
    one = (time.monotonic() - start) / 2
    if budget is not None and 2 * one * resamples > budget:
        return None, too_slow(2 * one, "at least")
    start = time.monotonic()
    stats.approximate_randomization(xa, xb, statistic, resamples=PROBE, seed=s.seed, level=s.level,
                                    observed=(va, vb))
    per_resample = (time.monotonic() - start) / PROBE
    if budget is not None and per_resample * resamples > budget:
        return None, too_slow(per_resample, "about")
    results = stats.approximate_randomization(xa, xb, statistic, resamples=resamples, seed=s.seed, level=s.level,
                                              budget_seconds=None if budget is None else 2 * budget,
                                              progress=progress, observed=(va, vb))
    used = next(iter(results.values())).resamples if results else resamples
    if used < resamples:
        return None, (f"untested: {scorer_name} stopped at twice the {budget:g} s budget after {used:,} of the "
                      f"{resamples:,} resamples that resolve the corrected threshold (--corpus-budget)")
    return results, None


def recorded_seconds(tasks: list[TaskData], scorer: str) -> float | None:
    """The longest time `scorer` took on one of these tasks when they were scored
    (provenance `scorer_seconds`), or None where not recorded."""
    values = []
    for t in tasks:
        seconds = t.provenance.get("scorer_seconds")
        value = seconds.get(scorer) if isinstance(seconds, dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        values.append(float(value))
    return max(values) if values else None


def _corpus_results(group: list[MetricComparison], results: dict, whole: bool, scorer_name: str) -> None:
    for m in group:
        r = results.get(m.key)
        if r is None:
            m.method = f"not tested: scorer {scorer_name!r} did not recompute {m.key}"
            continue
        m.ci, clipped = catalog.clip_interval(m.key, r.ci, difference=True)
        m.resamples = r.resamples
        m.method = r.method + ("; interval clipped to the metric's range" if clipped else "")
        if not whole:
            # the scored summaries are of the whole example sets: show the shared examples' values
            m.a, m.b = math.nan, math.nan
            m.diff = r.estimate
            m.method += "; values recomputed on the shared examples (A and B: see the scored summaries)"
        elif not math.isclose(r.estimate, m.diff, rel_tol=1e-6, abs_tol=1e-9):
            m.method += (f"; note: recomputed difference {r.estimate:.6g} differs from the scored summaries' "
                         f"{m.diff:.6g} (was the scorer changed since scoring?)")
        if catalog.info(m.key).descriptive:
            m.test = "descriptive"
            m.method = "descriptive (no better direction): not tested; " + m.method.split("; ", 1)[-1]
            continue
        m.p, m.test = r.pvalue, f"AR ({r.resamples:,})" if r.resamples else "-"


class _progress:
    """A tqdm bar on stderr for a long resampling loop (shown after 2 s), or nothing."""

    def __init__(self, total: int, what: str, s: Settings) -> None:
        self.total, self.what, self.enabled = total, what, s.progress
        self.bar = None
        self.done = 0

    def __enter__(self) -> Callable[[int], None]:
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.what, unit="resample", delay=2.0, file=sys.stderr,
                            leave=False)
        return self.update

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _rows(t: TaskData, index) -> list[dict]:
    keys = list(t.values)
    return [{"id": t.ids[k], **{key: (None if math.isnan(t.values[key][k]) else float(t.values[key][k])) for key in keys}}
            for k in index]


def _welch(m: MetricComparison, va: np.ndarray, vb: np.ndarray, s: Settings, why: str) -> None:
    r = stats.welch_t_test(va, vb, level=s.level, note=why)
    m.a, m.b = _mean(va), _mean(vb)
    m.diff, m.p, m.n = m.b - m.a, r.pvalue, r.n
    m.ci, _ = catalog.clip_interval(m.key, r.ci, difference=True)
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


def to_json(pairs: list[PairComparison], settings: Settings | None = None) -> dict:
    """`{"settings": {...}, "pairs": [{"a": .., "b": .., "notes": [..], "metrics": {NAME: {...}}}]}`."""
    out: dict = {}
    if settings is not None:
        out["settings"] = {"seed": settings.seed, "level": settings.level, "correction": settings.correction,
                           "alpha": settings.alpha, **settings.used}
    out["pairs"] = [{"a": display_path(p.a.path), "b": display_path(p.b.path), "notes": p.notes,
                     "metrics": {m.name: m.to_json() for m in p.metrics}} for p in pairs]
    return out


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
