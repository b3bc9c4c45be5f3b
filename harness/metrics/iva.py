"""Word choice: intensity, valence, arousal, dominance distance to the prompt (Lee 2024; EmPO Table 5).

METRICS.md s.6:
- tokens = `word_tokenize(text.lower())`;
- NRC Emotion Intensity lexicon: word -> score, a word listed under several emotions
  keeps its LAST row in file order (Lee's loader overwrites a dict entry per row);
- NRC-VAD: word -> (valence, arousal, dominance);
- a token missing from a lexicon scores 0 and still counts;
- per utterance and dimension: the max over its tokens ("mean" on request);
- per example: d = score(prev) - score(response), prev = the last speaker turn;
  `*_abs` is |d| (EmPO Table 5, lower is better), `*_signed` is d (Lee 2024).

An utterance without tokens (an empty or whitespace response) scores 0 on every
dimension: lexicon values lie in [0, 1] and unknown tokens score 0, so 0 is what an
utterance with nothing emotional in it gets. (Lee's code fails on an empty response;
EmPO drops empty generations before scoring.)
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from harness import resources
from harness.errors import DataError, HarnessError
from harness.metrics import tokenize
from harness.metrics.base import EXAMPLE, Item, Output, Scorer, Scores, register

DIMENSIONS = ("intensity", "valence", "arousal", "dominance")
AGGREGATES = ("max", "mean")


def load_intensity(path: str | os.PathLike) -> dict[str, float]:
    """NRC Emotion Intensity lexicon (word, emotion, score per line); the last row of a word wins."""
    scores: dict[str, float] = {}
    for line_no, fields in _rows(path):
        if len(fields) != 3:
            raise DataError(f"{path}, line {line_no}: expected word, emotion, score separated by tabs")
        word, _emotion, value = fields
        if line_no == 1 and not _is_number(value):
            continue  # header
        scores[word] = _number(value, path, line_no)
    return scores


def load_vad(path: str | os.PathLike) -> dict[str, tuple[float, float, float]]:
    """NRC-VAD lexicon (word, valence, arousal, dominance per line)."""
    scores: dict[str, tuple[float, float, float]] = {}
    for line_no, fields in _rows(path):
        if len(fields) != 4:
            raise DataError(f"{path}, line {line_no}: expected word, valence, arousal, dominance separated by tabs")
        word, *values = fields
        if line_no == 1 and not _is_number(values[0]):
            continue  # header
        v, a, d = (_number(x, path, line_no) for x in values)
        scores[word] = (v, a, d)
    return scores


def _rows(path: str | os.PathLike):
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield line_no, line.split("\t")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, path, line_no: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{path}, line {line_no}: {text!r} is not a number") from None


@lru_cache(maxsize=4)
def _lexicons(intensity_path: str, vad_path: str, _stamp: tuple) -> dict[str, tuple[float, float, float, float]]:
    """word -> (intensity, valence, arousal, dominance), 0 where a lexicon lacks the word."""
    intensity, vad = load_intensity(intensity_path), load_vad(vad_path)
    return {word: (intensity.get(word, 0.0), *vad.get(word, (0.0, 0.0, 0.0))) for word in intensity.keys() | vad.keys()}


_ZERO = (0.0, 0.0, 0.0, 0.0)


def utterance_scores(
    tokens: Sequence[str], lexicon: dict[str, tuple[float, float, float, float]], aggregate: str = "max"
) -> tuple[float, ...]:
    """Per-dimension max (or mean) over the tokens; unknown tokens score 0; no tokens: 0."""
    if not tokens:
        return _ZERO
    rows = [lexicon.get(token, _ZERO) for token in tokens]
    if aggregate == "max":
        return tuple(max(row[k] for row in rows) for k in range(4))
    return tuple(math.fsum(row[k] for row in rows) / len(rows) for k in range(4))


@register("iva")
class WordChoice(Scorer):
    """Intensity / valence / arousal / dominance of the response against the prompt (prev)."""

    name = "iva"
    inputs = ("prev", "response")
    outputs = tuple(
        Output(f"{dim}_abs", False, EXAMPLE, f"|{dim}(prev) - {dim}(response)|, per utterance the max over tokens", (0.0, 1.0))
        for dim in DIMENSIONS
    ) + tuple(
        Output(f"{dim}_signed", None, EXAMPLE, f"{dim}(prev) - {dim}(response) (Lee 2024's signed form)", (-1.0, 1.0))
        for dim in DIMENSIONS
    )

    def __init__(self, intensity: str | os.PathLike | None = None, vad: str | os.PathLike | None = None) -> None:
        self.paths = {"nrc-intensity": intensity, "nrc-vad": vad}
        self.aggregate = "max"

    def _resolved(self) -> dict[str, Path]:
        return {name: resources.resolve(name, path) for name, path in self.paths.items()}

    def compute(self, items: Sequence[Item]) -> Scores:
        if self.aggregate not in AGGREGATES:
            raise HarnessError(f"unknown IVA aggregate {self.aggregate!r}; use one of {', '.join(AGGREGATES)}")
        paths = self._resolved()
        stamp = tuple(resources.sha256_of(p) for p in paths.values())
        lexicon = _lexicons(str(paths["nrc-intensity"]), str(paths["nrc-vad"]), stamp)
        variant = tokenize.variant()
        per_example: dict[str, list[float | None]] = {f"{dim}_{kind}": [] for kind in ("abs", "signed") for dim in DIMENSIONS}
        for it in items:
            prev = utterance_scores(tokenize.word_tokenize(it.prev.lower(), variant), lexicon, self.aggregate)
            resp = utterance_scores(tokenize.word_tokenize(it.response.lower(), variant), lexicon, self.aggregate)
            for k, dim in enumerate(DIMENSIONS):
                d = prev[k] - resp[k]
                per_example[f"{dim}_abs"].append(abs(d))
                per_example[f"{dim}_signed"].append(d)
        return Scores(per_example)

    def instrument(self) -> dict:
        return {
            "tokenizer": tokenize.describe(),
            "aggregate": self.aggregate,
            "lowercase": True,
            "lexicons": {name: {"path": str(path), "sha256": resources.sha256_of(path)} for name, path in self._resolved().items()},
        }
