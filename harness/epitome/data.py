"""EPITOME training data: the three Reddit CSVs, rationale token labels, the fixed split.

Each CSV (`sp_id, rp_id, seeker_post, response_post, level, rationales`) holds 3,084
(seeker post, response post) pairs rated 0/1/2 for one communication mechanism;
`rationales` are `|`-separated substrings of the response that justify the level.
Texts are lowercased (METRICS.md s.3).
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness import resources
from harness.errors import DataError

MECHANISMS = ("ER", "IP", "EX")
MECHANISM_NAMES = {"ER": "emotional reactions", "IP": "interpretations", "EX": "explorations"}
RESOURCE = {"ER": "epitome-er", "IP": "epitome-ip", "EX": "epitome-ex"}
COLUMNS = ("sp_id", "rp_id", "seeker_post", "response_post", "level", "rationales")
LEVELS = (0, 1, 2)

# Sharma et al. held out 20% for test; 10% validation picks the epoch; the rest trains.
SPLIT_PROPORTIONS = {"train": 0.7, "validation": 0.1, "test": 0.2}
SPLIT_SEED = 12


@dataclass(frozen=True)
class Pair:
    """One rated (seeker post, response post) pair; texts already lowercased."""

    line: int
    seeker: str
    response: str
    level: int
    rationales: tuple[str, ...]


def check_mechanism(mechanism: str) -> str:
    upper = mechanism.upper()
    if upper not in MECHANISMS:
        raise DataError(f"unknown EPITOME mechanism {mechanism!r}; use one of {', '.join(MECHANISMS)}")
    return upper


def data_path(mechanism: str, path: str | os.PathLike | None = None) -> Path:
    return resources.resolve(RESOURCE[check_mechanism(mechanism)], path)


def load_pairs(mechanism: str, path: str | os.PathLike | None = None) -> list[Pair]:
    """All pairs of one mechanism's CSV, in file order; a malformed row is an error naming its line."""
    source = data_path(mechanism, path)
    pairs: list[Pair] = []
    with open(source, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{source}: header lacks column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
        for row in reader:
            line = reader.line_num
            level = (row.get("level") or "").strip()
            if level not in ("0", "1", "2"):
                raise DataError(f"{source}, line {line}: level must be 0, 1 or 2, found {level!r}")
            if row.get("seeker_post") is None or row.get("response_post") is None:
                raise DataError(f"{source}, line {line}: too few fields")
            spans = tuple(s.strip().lower() for s in (row.get("rationales") or "").split("|") if s.strip())
            pairs.append(Pair(line, row["seeker_post"].strip().lower(), row["response_post"].strip().lower(),
                              int(level), spans))
    if not pairs:
        raise DataError(f"{source}: no rows")
    return pairs


def stratified_split(levels: Sequence[int], seed: int = SPLIT_SEED,
                     proportions: dict[str, float] = SPLIT_PROPORTIONS) -> dict[str, list[int]]:
    """Indices per part, stratified by level. Written out (not sklearn's splitter) so that
    the held-out part stays the same across library versions: per level, the indices are
    shuffled with `random.Random(seed)` and cut by rounded proportions (test, validation, rest)."""
    rng = random.Random(seed)
    parts: dict[str, list[int]] = {name: [] for name in proportions}
    for level in sorted(set(levels)):
        members = [i for i, lv in enumerate(levels) if lv == level]
        rng.shuffle(members)
        n_test = round(len(members) * proportions["test"])
        n_val = round(len(members) * proportions["validation"])
        parts["test"] += members[:n_test]
        parts["validation"] += members[n_test:n_test + n_val]
        parts["train"] += members[n_test + n_val:]
    return {name: sorted(idx) for name, idx in parts.items()}


def split_pairs(pairs: Sequence[Pair], seed: int = SPLIT_SEED,
                proportions: dict[str, float] = SPLIT_PROPORTIONS) -> dict[str, list[Pair]]:
    """The pairs of each part of `stratified_split` (by the pairs' levels)."""
    split = stratified_split([p.level for p in pairs], seed, proportions)
    return {name: [pairs[i] for i in idx] for name, idx in split.items()}


def rationale_token_labels(response: str, rationales: Sequence[str],
                           offsets: Sequence[tuple[int, int]]) -> tuple[list[int], int]:
    """Token labels (1 inside a rationale, else 0) from a tokenizer's character offsets.

    Each rationale marks the tokens overlapping its first occurrence in `response`
    (Sharma et al. take the first match too). The annotators' spans differ from the
    posts in ways the match forgives: runs of whitespace, HTML entities (`&lt;3` in the
    post, `<3` in the span), and a post cut short inside the span (its tail is then the
    span's beginning, at least 10 characters). Special tokens (empty offsets) are 0.
    Returns the labels and the number of rationales not found."""
    text, starts, ends = _normalized(response)
    inside = [False] * len(response)
    unmatched = 0
    for span in rationales:
        needle = _normalized(span)[0].strip()
        begin = text.find(needle) if needle else -1
        length = len(needle)
        if begin < 0:
            tail = text.rstrip()
            length = next((j for j in range(len(needle) - 1, 9, -1) if tail.endswith(needle[:j])), 0)
            begin = len(tail) - length if length else -1
        if begin < 0:
            unmatched += 1
            continue
        for i in range(starts[begin], ends[begin + length - 1]):
            inside[i] = True
    labels = [int(end > begin and any(inside[begin:end])) for begin, end in offsets]
    return labels, unmatched


_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'", "&nbsp;": " "}


def _normalized(text: str) -> tuple[str, list[int], list[int]]:
    """`text` with whitespace runs as one space and HTML entities decoded, and for each
    of its characters the start and end offsets in `text`."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        j = i + 1
        ch = text[i]
        if ch.isspace():
            while j < len(text) and text[j].isspace():
                j += 1
            ch = " "
        elif ch == "&":
            for entity, decoded in _ENTITIES.items():
                if text.startswith(entity, i):
                    ch, j = decoded, i + len(entity)
                    break
        chars.append(ch)
        starts.append(i)
        ends.append(j)
        i = j
    return "".join(chars), starts, ends
