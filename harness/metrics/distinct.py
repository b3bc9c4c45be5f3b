"""Distinct-n (Li et al. 2016; Qian et al. 2023, EmpRL): lexical diversity of one system's output.

METRICS.md s.8: `dist-n` = distinct n-grams / all n-grams over the whole system output,
x100. N-grams are taken inside each response (never across two), from `word_tokenize`
tokens with case kept, the lexical metrics' one tokenizer. With no n-gram at all the
value is undefined (null).
"""

from __future__ import annotations

import math
from typing import Sequence

from harness.metrics import tokenize
from harness.metrics.base import CORPUS, Item, Output, Scorer, Scores, register


def distinct_n(token_lists: Sequence[Sequence[str]], n: int) -> float:
    """100 x distinct / total n-grams over all responses; NaN without n-grams."""
    total = 0
    seen: set[tuple[str, ...]] = set()
    for tokens in token_lists:
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return 100.0 * len(seen) / total if total else math.nan


@register("dist")
class Distinct(Scorer):
    name = "dist"
    inputs = ("response",)
    outputs = (
        Output("dist1", True, CORPUS, "100 x distinct unigrams / unigrams over all responses"),
        Output("dist2", True, CORPUS, "100 x distinct bigrams / bigrams over all responses"),
    )

    def compute(self, items: Sequence[Item]) -> Scores:
        tokens = [tokenize.word_tokenize(it.response) for it in items]
        return Scores(corpus={"dist1": distinct_n(tokens, 1), "dist2": distinct_n(tokens, 2)})

    def instrument(self) -> dict:
        return {"tokenizer": tokenize.describe(), "lowercase": False}
