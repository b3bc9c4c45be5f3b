"""What the harness knows about a metric key: direction, level, range, and the scorer
that produces it, from the scorers' declared outputs (harness.metrics.base.Output).

This is the one source of each key's direction: `compare`, the leaderboard, the scored
folders' provenance and the lm-eval tasks' `higher_is_better` (harness.lmeval.suite) all
read the same declarations. A key declared with `higher_is_better=None` is *descriptive*
(a length, an SD, an EPITOME level): it is shown with its interval but gets no arrow, no
test and no mark, and does not count in the multiple-comparison correction.

Keys no scorer declares are lm-eval's accuracy metrics (per-example 0/1, higher is
better: `acc`, `acc_norm`, `exact_match`, `*_acc`), EQ-Bench's per-question keys
(`eqbench`, `percent_parseable`, higher is better), or unknown: an unknown key is shown
and tested two-sided, but its direction is not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from harness.errors import HarnessError
from harness.metrics.base import CORPUS, EXAMPLE

ACCURACY = "accuracy"
_ACCURACY_KEYS = ("acc", "acc_norm", "exact_match")
# lm-eval task keys that are per-example scores but not 0/1 accuracies (lm-eval's own
# `higher_is_better` for them is True): EQ-Bench's score per question and its parse rate
_LMEVAL_KEYS = {
    "eqbench": ("lm-eval's EQ-Bench v2 score per question (at most 100)", (float("-inf"), 100.0)),
    "percent_parseable": ("lm-eval's EQ-Bench share of parseable answers (0-100)", (0.0, 100.0)),
}


@dataclass(frozen=True)
class MetricInfo:
    key: str
    higher_is_better: bool | None
    level: str | None  # EXAMPLE, CORPUS, ACCURACY (per-example 0/1), or None: unknown
    scorer: str | None
    description: str = ""
    bounds: tuple[float, float] | None = None
    declared: bool = False

    @property
    def descriptive(self) -> bool:
        """Declared without a better direction: shown, never tested or marked."""
        return self.declared and self.higher_is_better is None

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]


def is_accuracy_key(key: str) -> bool:
    return key in _ACCURACY_KEYS or key.endswith("_acc")


@lru_cache(maxsize=1)
def _declared() -> dict[str, MetricInfo]:
    from harness.metrics import base

    out: dict[str, MetricInfo] = {}
    for name in base.available():
        try:
            scorer = base.get_scorer(name)
        except HarnessError:
            continue
        for o in scorer.outputs:
            out[o.name] = MetricInfo(o.name, o.higher_is_better, o.level, name, o.description,
                                     getattr(o, "bounds", None), declared=True)
    return out


def refresh() -> None:
    """Forget the cached declarations (tests register scorers on the fly)."""
    _declared.cache_clear()


def info(key: str) -> MetricInfo:
    declared = _declared()
    if key in declared:
        return declared[key]
    if is_accuracy_key(key):
        return MetricInfo(key, True, ACCURACY, None, "lm-eval per-example accuracy", (0.0, 1.0), declared=True)
    if key in _LMEVAL_KEYS:
        description, bounds = _LMEVAL_KEYS[key]
        return MetricInfo(key, True, EXAMPLE, None, description, bounds, declared=True)
    return MetricInfo(key, None, None, None)


def scorer_of(key: str) -> str | None:
    return info(key).scorer


def level_of(key: str) -> str | None:
    return info(key).level


def clip_interval(key: str, ci: tuple[float, float] | None, *, difference: bool = False
                  ) -> tuple[tuple[float, float] | None, bool]:
    """`ci` kept inside the key's declared range (for a difference B - A of two values in
    [lo, hi]: [lo - hi, hi - lo]); returns (interval, whether it was clipped)."""
    bounds = info(key).bounds
    if ci is None or bounds is None or any(x != x for x in ci):  # x != x: NaN
        return ci, False
    lo, hi = bounds
    if difference:
        lo, hi = lo - hi, hi - lo
    clipped = (min(max(ci[0], lo), hi), min(max(ci[1], lo), hi))
    return clipped, clipped != tuple(ci)


__all__ = ["ACCURACY", "CORPUS", "EXAMPLE", "MetricInfo", "clip_interval", "info", "is_accuracy_key", "level_of", "refresh", "scorer_of"]
