"""Scorers that rank candidate responses for `preferences build`: one number per response and a direction.

A preference scorer is either

- any per-example output of the metric suite that declares a direction, named as the
  output (`diff_epitome`, `bertscore_f1`, `nidf`, `bleu4`...) or `SCORER:OUTPUT`; a scorer
  added to the suite later (an LLM judge with a written rubric, registered with
  `harness.metrics.register` in a module named by EMPATHY_HARNESS_SCORER_MODULES) is
  usable here as soon as it declares such an output; or
- a combination of such outputs registered here with `@register_preference(NAME)`
  (`epitome_level_sum`).

Corpus-level outputs (one number for all responses) and descriptive ones (a length, no
better direction) cannot rank responses and are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from harness.errors import HarnessError
from harness.metrics import base


@dataclass(frozen=True)
class PreferenceScorer:
    name: str
    metric: str  # the metric-suite scorer that computes the numbers
    higher_is_better: bool
    description: str
    value: Callable[[dict], float | None]  # one scores.jsonl-style row -> the response's number

    def score(self, items: Sequence[base.Item]) -> list[float | None]:
        """One number per item (None where the metric is undefined)."""
        result = base.score(items, [self.metric])
        return [self.value(row) for row in result.per_example]

    def instrument(self) -> dict:
        return base.get_scorer(self.metric).instrument()

    def describe(self) -> dict:
        return {"name": self.name, "metric": self.metric, "higher_is_better": self.higher_is_better,
                "description": self.description}


_PREFERENCE: dict[str, Callable[[], PreferenceScorer]] = {}


def register_preference(name: str):
    """Register a factory of a combined preference scorer under `name`."""

    def wrap(factory: Callable[[], PreferenceScorer]):
        _PREFERENCE[name] = factory
        return factory

    return wrap


@register_preference("epitome_level_sum")
def _epitome_level_sum() -> PreferenceScorer:
    def value(row: dict) -> float | None:
        levels = [row.get(f"level_{m}") for m in ("er", "ip", "ex")]
        return None if any(v is None for v in levels) else float(sum(levels))

    return PreferenceScorer(
        "epitome_level_sum", "epitome", True,
        "sum of the response's EPITOME levels ER + IP + EX (0-6): more, and stronger, empathy mechanisms", value)


def available() -> list[str]:
    """Registered combinations, then every per-example metric output with a direction."""
    names = list(_PREFERENCE)
    for scorer_name in base.available():
        try:
            scorer = base.get_scorer(scorer_name)
        except HarnessError:
            continue
        names += [o.name for o in scorer.outputs if o.level == base.EXAMPLE and o.higher_is_better is not None]
    return names


def get_preference_scorer(name: str) -> PreferenceScorer:
    """The named scorer, or a HarnessError saying why the name cannot rank responses."""
    if name in _PREFERENCE:
        return _PREFERENCE[name]()
    scorer_name, _, output_name = name.rpartition(":")
    matches = []
    for candidate in ([scorer_name] if scorer_name else base.available()):
        try:
            scorer = base.get_scorer(candidate)
        except HarnessError as exc:
            if scorer_name:
                raise HarnessError(f"--scorer {name}: {exc}") from None
            continue
        matches += [(candidate, o) for o in scorer.outputs if o.name == output_name]
    if not matches:
        raise HarnessError(f"--scorer {name}: no such scorer; per-example scorers with a direction: "
                           f"{', '.join(available())}")
    if len(matches) > 1:
        raise HarnessError(f"--scorer {name}: declared by {', '.join(m for m, _ in matches)}; "
                           "name it as SCORER:OUTPUT")
    metric, output = matches[0]
    if output.level != base.EXAMPLE:
        raise HarnessError(f"--scorer {name}: a corpus-level number (one value for all responses) cannot rank one "
                           f"dialogue's candidates; use a per-example scorer: {', '.join(available())}")
    if output.higher_is_better is None:
        raise HarnessError(f"--scorer {name}: a descriptive number with no better direction (higher_is_better is "
                           f"None), so it cannot say which response is better; use one of: {', '.join(available())}")
    return PreferenceScorer(output.name, metric, bool(output.higher_is_better), output.description,
                            lambda row, key=output.name: row.get(key))
