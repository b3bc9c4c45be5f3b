"""Small scorers for testing the lm-eval wiring without the real suite's data or models.

Importing this module registers them (so EMPATHY_HARNESS_SCORER_MODULES can name it for a
stock `lm_eval` subprocess); in-process tests use the `toys` fixture instead, which puts
them in a temporary registry. `CALLS` counts `compute` calls per scorer, so tests can
check that the corpus-level ones run once per corpus.
"""

from __future__ import annotations

from collections import Counter

from harness.metrics.base import CORPUS, EXAMPLE, Output, Scorer, Scores, register

CALLS: Counter = Counter()
NAMES = ("toy_words", "toy_distinct", "toy_overlap")


class Words(Scorer):
    """Per-example: words in the response; undefined (None) for an empty response."""

    name = "toy_words"
    outputs = (Output("toy_words", False, EXAMPLE, "words in the response"),)

    def compute(self, items):
        CALLS[self.name] += 1
        return Scores({"toy_words": [float(len(it.response.split())) if it.response else None for it in items]})


class Distinct(Scorer):
    """Corpus-level: distinct responses / responses; per example: 1 if the response is unique."""

    name = "toy_distinct"
    outputs = (Output("toy_unique", True, EXAMPLE), Output("toy_distinct", True, CORPUS))

    def compute(self, items):
        CALLS[self.name] += 1
        counts = Counter(it.response for it in items)
        unique = [1.0 if counts[it.response] == 1 else 0.0 for it in items]
        return Scores({"toy_unique": unique}, {"toy_distinct": len(counts) / len(items) if items else 0.0})


class Overlap(Scorer):
    """A stand-in for a model-based scorer: words shared with the reference."""

    name = "toy_overlap"
    model_based = True
    outputs = (Output("toy_overlap", True, EXAMPLE),)

    def compute(self, items):
        CALLS[self.name] += 1
        return Scores({"toy_overlap": [float(len(set(it.response.lower().split()) & set(it.reference.lower().split())))
                                       for it in items]})

    def instrument(self):
        return {"model": "none (test scorer)"}


SCORERS = {"toy_words": Words, "toy_distinct": Distinct, "toy_overlap": Overlap}
for _name, _cls in SCORERS.items():
    register(_name)(_cls)
