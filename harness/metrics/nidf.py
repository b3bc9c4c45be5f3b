"""Specificity: normalized inverse document frequency (See et al. 2019; Lee 2024; EmPO Table 5).

METRICS.md s.5:
- `c_w` = number of utterances of ED train + valid containing word `w` (tokens from
  `word_tokenize`, case kept); every turn of every dialogue the ED loader keeps is one
  utterance (document), as Lee's `count_ed` counts every row of train.csv and valid.csv;
- `NIDF(w) = (log c_max - log c_w) / (log c_max - log c_min)`; an unseen word scores 1;
- per response: the mean NIDF over the *set* of its distinct tokens; system: mean and
  SD (population SD, numpy's default, as Lee's `results_report`) over responses.

A response without tokens (empty or whitespace) has no NIDF (None): the mean over an
empty set is undefined, and Lee's code yields NaN there (EmPO drops empty generations).
Its examples are left out of the mean and SD; `n` still counts them.

Documents, on request (`documents="empo-sp1"`): EmPO's copy of `count_ed` reads the
`sp1` column of a pair-format ED (one row per (utterance, reply) pair), so its documents
are the utterances that have a reply: every turn but the last of each conversation. On
the ED test references this gives the 0.30 +- 0.07 of EmPO Table 5, where the
METRICS.md counting gives 0.29 +- 0.07.

The document frequencies are computed once per ED source file (by sha256), document
set and tokenizer variant, and cached under `<cache>/derived/`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from harness import resources
from harness.config import cache_dir
from harness.errors import HarnessError
from harness.metrics import tokenize
from harness.metrics.base import CORPUS, EXAMPLE, Item, Output, Scorer, Scores, register

COUNT_SPLITS = ("train", "valid")
DOCUMENT_SETS = ("utterances", "empo-sp1")
COUNTS_FORMAT = 1  # bump when the counting changes, so old caches are not reused


@dataclass(frozen=True)
class DocumentFrequencies:
    counts: dict[str, int]
    documents: int
    source: str  # path of the ED release the counts come from
    source_sha256: str
    variant: str
    document_set: str

    @property
    def c_max(self) -> int:
        return max(self.counts.values())

    @property
    def c_min(self) -> int:
        return min(self.counts.values())


def count_documents(utterances: Iterable[str], variant: str) -> tuple[Counter, int]:
    """Document frequency of every token over `utterances` (each one document)."""
    counts: Counter = Counter()
    documents = 0
    for text in utterances:
        counts.update(set(tokenize.uncached(text, variant)))
        documents += 1
    return counts, documents


def document_frequencies(
    source: str | os.PathLike | None = None, document_set: str = "utterances"
) -> DocumentFrequencies:
    """ED train + valid document frequencies for the current tokenizer variant, cached."""
    if document_set not in DOCUMENT_SETS:
        raise HarnessError(f"unknown NIDF document set {document_set!r}; use one of {', '.join(DOCUMENT_SETS)}")
    path = resources.resolve("ed", source)
    return _document_frequencies(str(path), resources.sha256_of(path), tokenize.variant(), document_set)


@lru_cache(maxsize=4)
def _document_frequencies(path: str, sha256: str, variant: str, document_set: str) -> DocumentFrequencies:
    name = f"nidf-counts-{sha256[:16]}-{document_set}-{variant}-v{COUNTS_FORMAT}.json"
    cached = cache_dir() / "derived" / name
    if cached.exists():
        data = json.loads(cached.read_text())
        return DocumentFrequencies(data["counts"], data["documents"], path, sha256, variant, document_set)
    from harness.data.ed import load_split

    def utterances() -> Iterable[str]:
        for split in COUNT_SPLITS:
            dialogues, _ = load_split(split, path)
            for dialogue in dialogues:
                turns = dialogue.turns if document_set == "utterances" else dialogue.turns[:-1]
                for turn in turns:
                    yield turn.text

    counts, documents = count_documents(utterances(), variant)
    if not counts:
        raise HarnessError(f"{path}: ED train + valid have no tokens; NIDF needs their document frequencies")
    data = {"source_sha256": sha256, "variant": variant, "document_set": document_set, "splits": list(COUNT_SPLITS),
            "documents": documents, "counts": dict(sorted(counts.items()))}
    _write_atomically(cached, json.dumps(data))
    return DocumentFrequencies(dict(counts), documents, path, sha256, variant, document_set)


def nidf_table(frequencies: DocumentFrequencies) -> dict[str, float]:
    """NIDF of every counted word."""
    log_max, log_min = math.log(frequencies.c_max), math.log(frequencies.c_min)
    if log_max == log_min:
        raise HarnessError("every word has the same document frequency: NIDF's normalization is undefined")
    span = log_max - log_min
    return {word: (log_max - math.log(count)) / span for word, count in frequencies.counts.items()}


def response_nidf(tokens: Sequence[str], table: dict[str, float]) -> float | None:
    """Mean NIDF over the distinct tokens; None without tokens."""
    distinct = set(tokens)
    if not distinct:
        return None
    return math.fsum(table.get(word, 1.0) for word in distinct) / len(distinct)


def population_sd(values: Sequence[float | None]) -> float:
    defined = [v for v in values if v is not None]
    if not defined:
        return math.nan
    mean = math.fsum(defined) / len(defined)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in defined) / len(defined))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


@register("nidf")
class Specificity(Scorer):
    """Mean NIDF per response (higher: more specific words) and its SD over responses."""

    name = "nidf"
    inputs = ("response",)
    outputs = (
        Output("nidf", True, EXAMPLE, "mean NIDF over the response's distinct tokens (ED train+valid counts)", (0.0, 1.0)),
        Output("nidf_sd", None, CORPUS, "population SD of the per-response NIDF"),
    )

    def __init__(self, source: str | os.PathLike | None = None) -> None:
        self.source = source
        self.document_set = "utterances"
        self._frequencies: DocumentFrequencies | None = None

    def compute(self, items: Sequence[Item]) -> Scores:
        frequencies = self._frequencies = document_frequencies(self.source, self.document_set)
        table = _table(frequencies)
        values = [response_nidf(tokenize.word_tokenize(it.response, frequencies.variant), table) for it in items]
        return Scores({"nidf": values}, {"nidf_sd": population_sd(values)})

    def instrument(self) -> dict:
        info: dict = {"tokenizer": tokenize.describe()}
        if self._frequencies is not None:
            f = self._frequencies
            info["document_frequencies"] = {
                "resource": "ed",
                "path": f.source,
                "sha256": f.source_sha256,
                "splits": list(COUNT_SPLITS),
                "document_set": f.document_set,
                "documents": f.documents,
                "vocabulary": len(f.counts),
                "c_max": f.c_max,
                "c_min": f.c_min,
            }
        return info


_TABLES: dict[tuple[str, str, str], dict[str, float]] = {}


def _table(frequencies: DocumentFrequencies) -> dict[str, float]:
    key = (frequencies.source_sha256, frequencies.variant, frequencies.document_set)
    if key not in _TABLES:
        _TABLES[key] = nidf_table(frequencies)
    return _TABLES[key]
