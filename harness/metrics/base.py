"""The metric suite's contract: items in, per-example values and corpus numbers out.

A *scorer* computes one family of numbers (the trie statistics, the IVA distances, the
three DIFF-EPITOME parts...). It declares every *output* it produces: its summary key,
whether higher is better (None for descriptive numbers such as a length), and whether
it is per-example (one value per item, averaged for the summary, usable by paired
tests) or corpus-level (one number for the system).
Scorers register by name; `score()` runs a selection of them over one system's items.

Scorers are pure: the same items give the same bits. Model-based scorers load their
model lazily, once per process, and score in batches.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from harness.errors import HarnessError

EXAMPLE, CORPUS = "example", "corpus"
INPUTS = ("response", "reference", "prev", "context", "emotion")


@dataclass(frozen=True)
class Item:
    """One scored response. `prev` is the last speaker turn, `context[-1]`."""

    id: str
    context: tuple[str, ...]
    response: str
    reference: str
    emotion: str | None = None

    @property
    def prev(self) -> str:
        return self.context[-1] if self.context else ""


@dataclass(frozen=True)
class Output:
    name: str
    # None: a descriptive number with no better direction (a length, an SD, an EPITOME
    # level): shown, never marked or tested (harness.leaderboard.catalog)
    higher_is_better: bool | None
    level: str  # EXAMPLE or CORPUS
    description: str = ""
    # the range the number can take (intervals are kept inside it); None: unbounded/unknown
    bounds: tuple[float, float] | None = None


@dataclass
class Scores:
    """What one scorer returns: `per_example[name]` has one value per item (None where
    undefined); `corpus[name]` one number. Summary keys that are not plain means (an SD,
    a count) also go in `corpus`."""

    per_example: dict[str, list[float | None]] = field(default_factory=dict)
    corpus: dict[str, float] = field(default_factory=dict)


@dataclass
class CorpusSource:
    """One system's output on a list of examples, as a significance test has it: the
    scored rows (scores.jsonl objects) and, where generations were found, the items."""

    rows: list[dict]
    items: list[Item] | None = None


class Scorer:
    """Base class: set `name`, `outputs`, `inputs`; implement `compute`; describe the
    instrument (tokenizer variant, lexicon checksum, model and layer) in `instrument`.

    Optional hooks that make significance tests of corpus-level outputs cheap:
    `corpus_decomposition(systems: list[CorpusSource])` returns a
    `harness.stats.corpus.Decomposition` (per-example feature rows whose sums give the
    corpus values) or None; `corpus_from_rows(rows)` recomputes the corpus values from
    per-example rows without a model. Without either, tests call `compute` per resample."""

    name: str = ""
    outputs: tuple[Output, ...] = ()
    inputs: tuple[str, ...] = ("response",)
    # True for scorers that run a model (EPITOME, BERTScore): lm-eval tasks then score
    # them once per corpus, in batches, never one document at a time.
    model_based: bool = False

    def compute(self, items: Sequence[Item]) -> Scores:  # pragma: no cover - abstract
        raise NotImplementedError

    def instrument(self) -> dict:
        return {}


_REGISTRY: dict[str, Callable[[], Scorer]] = {}
_INSTANCES: dict[str, Scorer] = {}


def register(name: str) -> Callable[[Callable[[], Scorer]], Callable[[], Scorer]]:
    """Register a scorer factory under `name` (a class works: it is called once, lazily)."""

    def wrap(factory: Callable[[], Scorer]) -> Callable[[], Scorer]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def _load_scorer_modules() -> None:
    import importlib

    from harness.config import extra_scorer_modules
    from harness.metrics import SCORER_MODULES

    for module in SCORER_MODULES:
        importlib.import_module(module)
    for module in extra_scorer_modules():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise HarnessError(f"cannot import scorer module {module!r} (EMPATHY_HARNESS_SCORER_MODULES): {exc}") from None


def available() -> list[str]:
    """Names of the registered scorers, in SCORER_MODULES order (whatever imported them first),
    then any registered elsewhere, in registration order."""
    from harness.metrics import SCORER_MODULES

    _load_scorer_modules()
    rank = {module: i for i, module in enumerate(SCORER_MODULES)}
    names = list(_REGISTRY)
    return sorted(names, key=lambda name: (rank.get(getattr(_REGISTRY[name], "__module__", ""), len(rank)), names.index(name)))


def default_suite() -> list[str]:
    """The scorers that run when no metrics are named: every registered one except those
    whose class sets `in_default_suite = False` (readings few users need, at a cost)."""
    return [name for name in available() if getattr(_REGISTRY[name], "in_default_suite", True)]


def get_scorer(name: str) -> Scorer:
    """The process-wide instance of a scorer (model-based ones load their model once)."""
    _load_scorer_modules()
    if name not in _REGISTRY:
        raise HarnessError(f"unknown metric {name!r}; available: {', '.join(available())}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


@dataclass
class ScoreResult:
    per_example: list[dict]  # [{"id": ..., key: value, ...}] in item order
    summary: dict[str, float]  # flat: one number per key, plus "n"
    outputs: dict[str, Output]
    instruments: dict[str, dict]
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each scorer's compute


def score(items: Sequence[Item], metrics: Iterable[str] | None = None) -> ScoreResult:
    """Run the named scorers (default: the default suite) over one system's items."""
    names = list(metrics) if metrics is not None else default_suite()
    rows = [{"id": it.id} for it in items]
    summary: dict[str, float] = {}
    outputs: dict[str, Output] = {}
    instruments: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    for name in names:
        scorer = get_scorer(name)
        start = time.perf_counter()
        result = scorer.compute(items)
        seconds[name] = round(time.perf_counter() - start, 3)
        for out in scorer.outputs:
            outputs[out.name] = out
        for key, values in result.per_example.items():
            if len(values) != len(items):
                raise AssertionError(f"scorer {name} gave {len(values)} values for {len(items)} items")
            for row, value in zip(rows, values):
                row[key] = value
            summary[key] = mean(values)
        summary.update(result.corpus)
        instruments[name] = scorer.instrument()
    summary["n"] = len(items)
    return ScoreResult(rows, summary, outputs, instruments, seconds)


def mean(values: Sequence[float | None]) -> float:
    """Mean of the defined values; NaN when none is defined."""
    defined = [v for v in values if v is not None]
    return math.fsum(defined) / len(defined) if defined else math.nan
