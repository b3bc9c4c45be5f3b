"""Response length (EmPO s.4.3 reports characters: human 65, zephyr baseline 152).

`length_chars`: characters of the response as given (Python `len`, whitespace
included); `length_words`: its `word_tokenize` tokens (punctuation tokens count). Both
are descriptive: no direction is better.
"""

from __future__ import annotations

import math
from typing import Sequence

from harness.metrics import tokenize
from harness.metrics.base import EXAMPLE, Item, Output, Scorer, Scores, register


@register("length")
class Length(Scorer):
    name = "length"
    inputs = ("response",)
    outputs = (
        Output("length_chars", None, EXAMPLE, "characters in the response", (0.0, math.inf)),
        Output("length_words", None, EXAMPLE, "word_tokenize tokens in the response", (0.0, math.inf)),
    )

    def compute(self, items: Sequence[Item]) -> Scores:
        return Scores(
            {
                "length_chars": [float(len(it.response)) for it in items],
                "length_words": [float(len(tokenize.word_tokenize(it.response))) for it in items],
            }
        )

    def instrument(self) -> dict:
        return {"tokenizer": tokenize.describe()}
