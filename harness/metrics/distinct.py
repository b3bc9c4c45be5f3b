"""Distinct-n (Li et al. 2016; Qian et al. 2023, EmpRL): lexical diversity of one system's output.

METRICS.md s.8: `dist-n` = distinct n-grams / all n-grams over the whole system output,
x100. N-grams are taken inside each response (never across two), from `word_tokenize`
tokens with case kept, the lexical metrics' one tokenizer. With no n-gram at all the
value is undefined (null).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from harness.metrics import tokenize
from harness.metrics.base import CORPUS, CorpusSource, Item, Output, Scorer, Scores, register

NS = (1, 2)


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
        Output("dist1", True, CORPUS, "100 x distinct unigrams / unigrams over all responses", (0.0, 100.0)),
        Output("dist2", True, CORPUS, "100 x distinct bigrams / bigrams over all responses", (0.0, 100.0)),
    )

    def compute(self, items: Sequence[Item]) -> Scores:
        tokens = [tokenize.word_tokenize(it.response) for it in items]
        return Scores(corpus={"dist1": distinct_n(tokens, 1), "dist2": distinct_n(tokens, 2)})

    def corpus_decomposition(self, systems: Sequence[CorpusSource]):
        """Per example: its n-gram counts and which n-grams it holds (a shared vocabulary
        over the systems): Dist-n of any rearrangement is 100 x (n-grams present in some
        chosen example) / (sum of the chosen counts)."""
        if any(s.items is None for s in systems):
            return None
        from scipy import sparse

        from harness.stats.corpus import Decomposition

        vocab: dict[tuple[str, ...], int] = {}
        columns = {n: [] for n in NS}
        matrices = []
        for source in systems:
            data, indices, indptr = [], [], [0]
            for it in source.items:
                tokens = tokenize.word_tokenize(it.response)
                row = {}
                for n in NS:
                    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
                    row[n - 1] = float(len(grams))  # columns 0, 1: the n-gram counts
                    for gram in set(grams):
                        col = vocab.get(gram)
                        if col is None:
                            col = vocab[gram] = len(vocab)
                            columns[n].append(col)
                        row[len(NS) + col] = 1.0
                indices += list(row)
                data += list(row.values())
                indptr.append(len(indices))
            matrices.append((data, indices, indptr))
        width = len(NS) + len(vocab)
        features = [sparse.csr_matrix((np.array(d), np.array(i, dtype=np.int64), np.array(p, dtype=np.int64)),
                                      shape=(len(p) - 1, width)) for d, i, p in matrices]
        grams = {n: np.array(columns[n], dtype=np.int64) + len(NS) for n in NS}

        def finish(sums: np.ndarray) -> dict[str, np.ndarray]:
            out = {}
            for k, n in enumerate(NS):
                total = sums[:, k]
                distinct = (sums[:, grams[n]] > 0).sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[f"dist{n}"] = np.where(total > 0, 100.0 * distinct / np.where(total > 0, total, 1), np.nan)
            return out

        return Decomposition(features, finish)

    def instrument(self) -> dict:
        return {"tokenizer": tokenize.describe(), "lowercase": False}
