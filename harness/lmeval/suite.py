"""The metric suite as lm-eval metrics.

lm-eval calls `process_results(doc, results)` once per document and then one
aggregation function per metric key over the values `process_results` returned. The
suite's scorers are split accordingly (a `MetricPlan`):

- per-document: scorers whose outputs are all per-example and that run no model. They
  score each document in `process_results`; lm-eval averages the values with its own
  `mean` (and its standard error). An undefined value (None, NaN) is left out of the
  document's results, so the mean is over the defined values, as the suite's summary is.
- per-corpus: scorers with a corpus-level output, and model-based scorers (which score in
  batches). `process_results` returns, under each of their keys, a `CorpusItem`; each
  key's aggregation scores the corpus through `score_corpus`, which runs each scorer once
  per corpus and remembers the result by the corpus's content hash, so the other keys of
  the same corpus (and the run folder's scores) reuse it.

Corpus-level numbers see the responses in id order, so they depend neither on the order
lm-eval generated in nor on the number of ranks.

The scorers are the default suite (harness.metrics.base.default_suite), or those named
(comma-separated; `default` for the default suite) in EMPATHY_HARNESS_METRICS ("none":
generate and log, score nothing).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

from harness.config import METRICS_ENV, metric_selection
from harness.errors import HarnessError
from harness.lmeval import ed
from harness.metrics import base
from harness.metrics.base import CORPUS, Item, Output, ScoreResult


class CorpusItem(str):
    """A metric value standing for one document's item until its corpus is scored.

    lm-eval writes every metric value into its per-sample log; as a `str` this one is
    logged as the example id, while the aggregation reads the whole item it carries.
    """

    item: Item

    def __new__(cls, item: Item) -> "CorpusItem":
        obj = super().__new__(cls, item.id)
        obj.item = item
        return obj

    def __reduce__(self):  # multi-rank runs gather values by pickling
        return (CorpusItem, (self.item,))


@dataclass(frozen=True)
class MetricPlan:
    per_document: tuple[str, ...]
    per_corpus: tuple[str, ...]
    outputs: tuple[tuple[Output, str], ...]  # (output, the scorer producing it), in suite order

    @property
    def scorers(self) -> tuple[str, ...]:
        return self.per_document + self.per_corpus

    @property
    def corpus_keys(self) -> tuple[str, ...]:
        return tuple(out.name for out, scorer in self.outputs if scorer in self.per_corpus)

    def metric_list(self) -> list[dict]:
        """The lm-eval `metric_list` of an ED task."""
        metrics = []
        for out, scorer in self.outputs:
            aggregation = "mean" if scorer in self.per_document else corpus_aggregation(out.name, self.per_corpus)
            metrics.append({"metric": out.name, "aggregation": aggregation, "higher_is_better": out.higher_is_better})
        return metrics


def plan(names: Sequence[str] | None = None) -> MetricPlan:
    """The plan for the named scorers; by default the selected ones (see module doc)."""
    if names is None:
        selected = metric_selection()
        if selected:
            from harness.scoring import resolve_metrics

            try:
                selected = resolve_metrics(selected)
            except HarnessError as exc:
                raise HarnessError(f"{METRICS_ENV}: {exc}") from None
        names = selected if selected is not None else base.default_suite()
    return _plan(tuple(names))


@lru_cache(maxsize=16)
def _plan(names: tuple[str, ...]) -> MetricPlan:
    per_document, per_corpus, outputs = [], [], []
    seen: dict[str, str] = {}
    for name in names:
        scorer = base.get_scorer(name)
        for out in scorer.outputs:
            if out.name in seen:
                raise HarnessError(f"metrics {seen[out.name]!r} and {name!r} both produce {out.name!r}")
            seen[out.name] = name
            outputs.append((out, name))
        if scorer.model_based or any(out.level == CORPUS for out in scorer.outputs):
            per_corpus.append(name)
        else:
            per_document.append(name)
    return MetricPlan(tuple(per_document), tuple(per_corpus), tuple(outputs))


def document_metrics(doc: dict, response: str, metric_plan: MetricPlan | None = None) -> dict:
    """What `process_results` returns for one ED document."""
    metric_plan = metric_plan or plan()
    it = ed.item(doc, response)
    values: dict = {}
    if metric_plan.per_document:
        row = base.score([it], metric_plan.per_document).per_example[0]
        values.update({k: v for k, v in row.items() if k != "id" and _defined(v)})
    carrier = CorpusItem(it)
    values.update({key: carrier for key in metric_plan.corpus_keys})
    return values


def corpus_aggregation(key: str, scorers: Sequence[str]) -> Callable[[list], float]:
    """lm-eval's aggregation for one corpus-level key: the suite's summary value."""
    scorers = tuple(scorers)

    def aggregate(values: list) -> float:
        items = [v.item for v in values]
        return score_corpus(items, scorers).summary.get(key, math.nan)

    aggregate.__name__ = aggregate.__qualname__ = f"suite_{key}"
    return aggregate


_MEMO: "OrderedDict[tuple[str, str], ScoreResult]" = OrderedDict()
_MEMO_SIZE = 64


def score_corpus(items: Sequence[Item], scorers: Sequence[str]) -> ScoreResult:
    """`base.score` over one corpus, each scorer run once per corpus content.

    Rows come back in id order (the order the scorers saw)."""
    ordered = sorted(items, key=lambda it: it.id)
    ids = [it.id for it in ordered]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise HarnessError(f"the corpus has example id {duplicate!r} more than once")
    digest = corpus_hash(ordered)
    parts = []
    for name in scorers:
        key = (digest, name)
        if key in _MEMO:
            _MEMO.move_to_end(key)
        else:
            _MEMO[key] = base.score(ordered, [name])
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
        parts.append(_MEMO[key])
    return _merge(ordered, parts)


def corpus_hash(items: Sequence[Item]) -> str:
    digest = hashlib.sha256()
    for it in items:
        digest.update(json.dumps([it.id, list(it.context), it.response, it.reference, it.emotion]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _merge(items: Sequence[Item], parts: Sequence[ScoreResult]) -> ScoreResult:
    rows = [{"id": it.id} for it in items]
    summary: dict[str, float] = {}
    outputs: dict[str, Output] = {}
    instruments: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    for part in parts:
        for row, extra in zip(rows, part.per_example):
            row.update({k: v for k, v in extra.items() if k != "id"})
        summary.update({k: v for k, v in part.summary.items() if k != "n"})
        outputs.update(part.outputs)
        instruments.update(part.instruments)
        seconds.update(part.seconds)
    summary["n"] = len(items)
    return ScoreResult(rows, summary, outputs, instruments, seconds)


def _defined(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
