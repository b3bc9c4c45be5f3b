"""EmpatheticDialogues: from the release CSVs to dialogues and evaluation examples.

Follows METRICS.md section 1 (EmPO's processing):
  1. `_comma_` is decoded to `,` in `prompt` and `utterance`;
  2. rows whose utterance contains `hit:` are dropped (EmPO's only filter);
  3. rows are grouped by `conv_id` and ordered by `utterance_idx`; conversations with
     fewer than 2 utterances are skipped; the label is the first row's `context`;
  4. turns alternate speaker ("user") / listener ("assistant") by position after the
     filters, as EmPO's code does; this is the utterance_idx parity rule whenever no row
     of the conversation was dropped;
  5. the target is the last listener turn (the last turn if the count is even, else the
     second to last); `context` is every turn before it and `prev` its last element.

Malformed rows (wrong field count, a non-numeric utterance_idx, an empty utterance,
bytes that are not UTF-8, a repeated utterance_idx) and conversations without a label
are skipped and counted; `strict=True` raises instead, naming file and line.
"""

from __future__ import annotations

import os
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from harness import resources
from harness.errors import DataError

SPLITS = ("train", "valid", "test")
HEADER = ["conv_id", "utterance_idx", "context", "prompt", "speaker_idx", "utterance", "selfeval", "tags"]
SPEAKER, LISTENER = "speaker", "listener"


@dataclass(frozen=True)
class Turn:
    idx: int
    role: str
    text: str


@dataclass(frozen=True)
class Dialogue:
    conv_id: str
    split: str
    emotion: str
    situation: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Example:
    """One evaluation example: generate the listener's `reference` turn after `context`."""

    id: str
    split: str
    emotion: str
    situation: str
    context: tuple[str, ...]
    reference: str

    @property
    def prev(self) -> str:
        """The last speaker turn, which the lexical and EPITOME metrics compare against."""
        return self.context[-1]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "emotion": self.emotion,
            "situation": self.situation,
            "context": list(self.context),
            "reference": self.reference,
        }


@dataclass
class SplitReport:
    """What loading one split kept and skipped, and why."""

    split: str
    source: str
    rows: int = 0
    conversations: int = 0
    dialogues: int = 0
    examples: int = 0
    labels: int = 0
    skipped_rows: Counter = field(default_factory=Counter)
    skipped_conversations: Counter = field(default_factory=Counter)

    def to_json(self) -> dict:
        return {
            "split": self.split,
            "source": self.source,
            "rows": self.rows,
            "conversations": self.conversations,
            "dialogues": self.dialogues,
            "examples": self.examples,
            "labels": self.labels,
            "skipped_rows": dict(self.skipped_rows),
            "skipped_conversations": dict(self.skipped_conversations),
        }


@dataclass(frozen=True)
class _Row:
    line: int
    conv_id: str
    idx: int
    emotion: str
    situation: str
    utterance: str


def _csv_lines(source: Path, split: str) -> tuple[str, Iterator[bytes]]:
    """The raw lines of `<split>.csv` from a release tarball or an extracted folder."""
    name = f"{split}.csv"
    if source.is_dir():
        for candidate in (source / "empatheticdialogues" / name, source / name):
            if candidate.exists():
                return str(candidate), iter(candidate.read_bytes().splitlines(keepends=True))
        raise DataError(f"{source}: no {name} in it or in its empatheticdialogues/ folder")
    try:
        with tarfile.open(source) as tar:
            member = tar.getmember(f"empatheticdialogues/{name}")
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
    except KeyError:
        raise DataError(f"{source}: the archive has no empatheticdialogues/{name}") from None
    except tarfile.TarError as exc:
        raise DataError(f"{source}: not a readable tar archive ({exc})") from None
    return f"{source}:empatheticdialogues/{name}", iter(data.splitlines(keepends=True))


def _parse_rows(where: str, lines: Iterator[bytes], report: SplitReport, strict: bool) -> list[_Row]:
    def skip(line_no: int, reason: str) -> None:
        if strict:
            raise DataError(f"{where}, line {line_no}: {reason} (run without --strict to skip such rows)")
        report.skipped_rows[reason] += 1

    rows: list[_Row] = []
    header = next(lines, b"").decode("utf-8", "replace").strip().split(",")
    if header != HEADER:
        raise DataError(f"{where}, line 1: expected the header {','.join(HEADER)}, found {','.join(header)}")
    for line_no, raw in enumerate(lines, start=2):
        if not raw.strip():
            continue
        report.rows += 1
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            skip(line_no, "bytes that are not UTF-8")
            continue
        fields = text.split(",")
        if len(fields) != len(HEADER):
            skip(line_no, f"wrong field count (expected {len(HEADER)})")
            continue
        conv_id, idx, emotion, prompt, _speaker, utterance = fields[:6]
        if not idx.strip().isdigit() or not conv_id:
            skip(line_no, "missing conv_id or non-numeric utterance_idx")
            continue
        if "hit:" in utterance:
            skip(line_no, "utterance contains 'hit:' (EmPO's filter)")
            continue
        utterance = utterance.replace("_comma_", ",").strip()
        if not utterance:
            skip(line_no, "empty utterance")
            continue
        rows.append(_Row(line_no, conv_id, int(idx), emotion.strip(), prompt.replace("_comma_", ",").strip(), utterance))
    return rows


def _dialogues(split: str, where: str, rows: list[_Row], report: SplitReport, strict: bool) -> list[Dialogue]:
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(row.conv_id, []).append(row)
    report.conversations = len(groups)
    dialogues = []
    for conv_id, group in groups.items():
        group.sort(key=lambda r: r.idx)
        reason = None
        if len({r.idx for r in group}) != len(group):
            reason = "repeated utterance_idx"
        elif not group[0].emotion:
            reason = "empty emotion label"
        elif len(group) < 2:
            reason = "fewer than 2 utterances"
        if reason:
            if strict:
                raise DataError(f"{where}, line {group[0].line}: conversation {conv_id}: {reason}")
            report.skipped_conversations[reason] += 1
            continue
        turns = tuple(Turn(r.idx, SPEAKER if pos % 2 == 0 else LISTENER, r.utterance) for pos, r in enumerate(group))
        dialogues.append(Dialogue(conv_id, split, group[0].emotion, group[0].situation, turns))
    report.dialogues = len(dialogues)
    return dialogues


def example_from(dialogue: Dialogue) -> Example:
    """The evaluation example of a dialogue: its last listener turn after everything before it."""
    n = len(dialogue.turns)
    target = n - 1 if n % 2 == 0 else n - 2
    context = tuple(t.text for t in dialogue.turns[:target])
    return Example(
        dialogue.conv_id, dialogue.split, dialogue.emotion, dialogue.situation, context, dialogue.turns[target].text
    )


def _source_path(source: str | os.PathLike | None) -> Path:
    return resources.resolve("ed", source)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: int, split: str, strict: bool) -> tuple[tuple[Dialogue, ...], SplitReport]:
    report = SplitReport(split=split, source=path)
    where, lines = _csv_lines(Path(path), split)
    rows = _parse_rows(where, lines, report, strict)
    dialogues = _dialogues(split, where, rows, report, strict)
    report.examples = len(dialogues)
    report.labels = len({d.emotion for d in dialogues})
    return tuple(dialogues), report


def load_split(
    split: str, source: str | os.PathLike | None = None, *, strict: bool = False
) -> tuple[list[Dialogue], SplitReport]:
    """Dialogues of one split and the report of what was skipped.

    `source` is a release tarball or extracted folder; by default the `ed` resource.
    """
    if split not in SPLITS:
        raise DataError(f"unknown ED split {split!r}; use one of {', '.join(SPLITS)}")
    path = _source_path(source)
    dialogues, report = _load_cached(str(path.resolve()), path.stat().st_mtime_ns, split, strict)
    return list(dialogues), report


def load_examples(
    split: str = "test", source: str | os.PathLike | None = None, *, strict: bool = False, limit: int | None = None
) -> list[Example]:
    """Evaluation examples of one split, in file order (`limit` keeps the first N)."""
    dialogues, _ = load_split(split, source, strict=strict)
    examples = [example_from(d) for d in dialogues]
    return examples[:limit] if limit is not None else examples
