"""What the harness knows about a metric key: direction, level, and the scorer that
produces it, from the scorers' declared outputs (harness.metrics.base.Output).

Keys no scorer declares are lm-eval's accuracy metrics (per-example 0/1, higher is
better: `acc`, `acc_norm`, `exact_match`, `*_acc`) or unknown: an unknown key is shown
but its direction is not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from harness.errors import HarnessError
from harness.metrics.base import CORPUS, EXAMPLE

ACCURACY = "accuracy"
_ACCURACY_KEYS = ("acc", "acc_norm", "exact_match")


@dataclass(frozen=True)
class MetricInfo:
    key: str
    higher_is_better: bool | None
    level: str | None  # EXAMPLE, CORPUS, ACCURACY (per-example 0/1), or None: unknown
    scorer: str | None
    description: str = ""


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
            out[o.name] = MetricInfo(o.name, o.higher_is_better, o.level, name, o.description)
    return out


def refresh() -> None:
    """Forget the cached declarations (tests register scorers on the fly)."""
    _declared.cache_clear()


def info(key: str) -> MetricInfo:
    declared = _declared()
    if key in declared:
        return declared[key]
    if is_accuracy_key(key):
        return MetricInfo(key, True, ACCURACY, None, "lm-eval per-example accuracy")
    return MetricInfo(key, None, None, None)


def scorer_of(key: str) -> str | None:
    return info(key).scorer


def level_of(key: str) -> str | None:
    return info(key).level


__all__ = ["ACCURACY", "CORPUS", "EXAMPLE", "MetricInfo", "info", "is_accuracy_key", "level_of", "refresh", "scorer_of"]
