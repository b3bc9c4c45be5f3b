"""Overlap with the reference: BLEU-2/4 (nltk) and ROUGE-L (rouge-score), per example.

METRICS.md s.8 (Qian et al. 2023 report B-2/B-4, EmpRL ROUGE-L). The papers do not fix
an implementation, so the harness uses the two well-kept packages most of that
literature uses, and keeps per-example values so that paired tests can use them:
- BLEU: `nltk.translate.bleu_score.sentence_bleu` against the one reference, cumulative
  weights (1/2, 1/2) and (1/4, 1/4, 1/4, 1/4), smoothing `SmoothingFunction().method1`
  (an n-gram order without a match counts 0.1 matches instead of zeroing the sentence),
  on `word_tokenize(text.lower())`; x100, and the summary is the mean over examples
  (a mean sentence BLEU, not corpus BLEU). An empty response scores 0.
- ROUGE-L: `rouge_score.rouge_scorer.RougeScorer(["rougeL"])` F-measure (its own
  tokenizer: lowercase, alphanumeric runs, no stemming); x100, mean over examples.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from typing import Sequence

from harness.metrics import tokenize
from harness.metrics.base import EXAMPLE, Item, Output, Scorer, Scores, register

BLEU_WEIGHTS = ((0.5, 0.5), (0.25, 0.25, 0.25, 0.25))


def bleu_2_4(reference: Sequence[str], hypothesis: Sequence[str]) -> tuple[float, float]:
    """Sentence BLEU-2 and BLEU-4 (0-1) of one hypothesis against one reference."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    b2, b4 = sentence_bleu(
        [list(reference)], list(hypothesis), weights=list(BLEU_WEIGHTS), smoothing_function=SmoothingFunction().method1
    )
    return float(b2), float(b4)


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


@register("bleu")
class Bleu(Scorer):
    name = "bleu"
    inputs = ("response", "reference")
    outputs = (
        Output("bleu2", True, EXAMPLE, "sentence BLEU-2 x100 (nltk, smoothing method1, lowercased word_tokenize)", (0.0, 100.0)),
        Output("bleu4", True, EXAMPLE, "sentence BLEU-4 x100 (nltk, smoothing method1, lowercased word_tokenize)", (0.0, 100.0)),
    )

    def compute(self, items: Sequence[Item]) -> Scores:
        b2s, b4s = [], []
        for it in items:
            b2, b4 = bleu_2_4(tokenize.word_tokenize(it.reference.lower()), tokenize.word_tokenize(it.response.lower()))
            b2s.append(100.0 * b2)
            b4s.append(100.0 * b4)
        return Scores({"bleu2": b2s, "bleu4": b4s})

    def instrument(self) -> dict:
        return {
            "package": f"nltk {metadata.version('nltk')}",
            "function": "sentence_bleu, weights (1/2,1/2) and (1/4,)*4, SmoothingFunction().method1",
            "tokenizer": tokenize.describe(),
            "lowercase": True,
        }


@register("rouge_l")
class RougeL(Scorer):
    name = "rouge_l"
    inputs = ("response", "reference")
    outputs = (Output("rouge_l", True, EXAMPLE, "ROUGE-L F-measure x100 (rouge-score, no stemming)", (0.0, 100.0)),)

    def compute(self, items: Sequence[Item]) -> Scores:
        scorer = _rouge()
        return Scores({"rouge_l": [100.0 * scorer.score(it.reference, it.response)["rougeL"].fmeasure for it in items]})

    def instrument(self) -> dict:
        return {"package": f"rouge-score {metadata.version('rouge-score')}", "measure": "rougeL fmeasure", "stemmer": False}
