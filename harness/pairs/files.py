"""Preference files for `train dpo --pairs`: read, validate every row, describe for the manifest.

Three row formats are accepted (one per file; the first row decides):

- `harness`: `context` (the turns before the response, speaker first), `chosen` and
  `rejected` (strings), optional `id` (the ED dialogue, checked against the training split).
  The prompt is rendered exactly as EmPO's pairs are: the recipe's system prompt, then the
  turns as user / assistant messages.
- `trl-standard`: trl's standard preference format, `prompt`, `chosen`, `rejected` as
  strings (used as they are: no chat template, no system prompt).
- `trl-conversational`: trl's conversational format, `prompt`, `chosen`, `rejected` as
  lists of `{role, content}` messages (used as they are: the file's own system message, if any).

Other fields are kept in the file and ignored. `PAIRS.provenance.json` beside the file
(written by `preferences build`) is carried into the training manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from harness.errors import DataError

FORMATS = ("harness", "trl-standard", "trl-conversational")
ROLES = ("system", "user", "assistant")
HINT = ("a pairs file has one JSON object per line: {\"context\": [...], \"chosen\": \"...\", \"rejected\": \"...\"} "
        "or trl's {\"prompt\", \"chosen\", \"rejected\"} (strings, or lists of chat messages)")


@dataclass(frozen=True)
class PairRow:
    line: int
    id: str | None
    prompt: str | tuple  # str (trl-standard), tuple of turns (harness), tuple of message dicts (trl-conversational)
    chosen: Any
    rejected: Any


@dataclass
class PairsFile:
    path: Path
    format: str
    rows: list[PairRow]
    sha256: str
    provenance: dict | None = None
    provenance_note: str | None = None
    ids: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        """What the training manifest records about the file."""
        return {
            "path": str(self.path.resolve()),
            "sha256": self.sha256,
            "rows": len(self.rows),
            "format": self.format,
            "provenance": self.provenance,
            **({"provenance_note": self.provenance_note} if self.provenance_note else {}),
        }

    def records(self, system_prompt: str | None) -> list[dict]:
        """trl's prompt/chosen/rejected records (conversational for `harness` rows, as EmPO's pairs)."""
        from harness.data.prompts import chat_messages

        out = []
        for row in self.rows:
            ident = row.id if row.id is not None else f"line-{row.line}"
            if self.format == "harness":
                out.append({"id": ident, "prompt": chat_messages(list(row.prompt), system_prompt),
                            "chosen": [{"role": "assistant", "content": row.chosen}],
                            "rejected": [{"role": "assistant", "content": row.rejected}]})
            elif self.format == "trl-conversational":
                out.append({"id": ident, "prompt": [dict(m) for m in row.prompt],
                            "chosen": [dict(m) for m in row.chosen], "rejected": [dict(m) for m in row.rejected]})
            else:
                out.append({"id": ident, "prompt": row.prompt, "chosen": row.chosen, "rejected": row.rejected})
        return out


class _Bad(ValueError):
    pass


def provenance_path(pairs_path: str | os.PathLike) -> Path:
    """The sidecar of a pairs file: `pairs.jsonl` -> `pairs.provenance.json`."""
    path = Path(pairs_path)
    return path.with_name(path.name.removesuffix(".jsonl") + ".provenance.json")


def row_format(record: dict) -> str:
    if "context" in record:
        return "harness"
    if "prompt" in record:
        return "trl-conversational" if isinstance(record["prompt"], list) else "trl-standard"
    raise _Bad("missing field 'context' (our format) or 'prompt' (trl's formats)")


def read_pairs(path: str | os.PathLike) -> PairsFile:
    """Read and validate every row; the first problem raises a DataError naming file, line and field."""
    from harness.resources import sha256_of

    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the pairs file ({exc.strerror or exc})") from None
    rows: list[PairRow] = []
    fmt: str | None = None
    first_line = 0
    seen: dict[str, int] = {}
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}, line {line_no}"
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise DataError(f"{where}: bytes that are not UTF-8") from None
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not JSON lines ({exc.msg}, column {exc.colno}); {HINT}") from None
            try:
                if not isinstance(record, dict):
                    raise _Bad(f"expected a JSON object, found {_kind(record)}; {HINT}")
                this = row_format(record)
                if fmt is None:
                    fmt, first_line = this, line_no
                elif this != fmt:
                    raise _Bad(f"a {this} row in a {fmt} file (line {first_line} is {fmt}): use one format per file")
                row = _ROW_READERS[this](record, line_no)
                if row.id is not None:
                    if row.id in seen:
                        raise _Bad(f"id {row.id!r} appears twice (first on line {seen[row.id]}): one pair per dialogue")
                    seen[row.id] = line_no
            except _Bad as exc:
                raise DataError(f"{where}: {exc}") from None
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: no pairs (the file is empty); {HINT}")
    pairs = PairsFile(path, fmt, rows, sha256_of(path), ids=list(seen))
    pairs.provenance, pairs.provenance_note = _read_provenance(path, pairs.sha256)
    return pairs


def check_ids(pairs: PairsFile, known: Iterable[str], split: str) -> None:
    """Every row's `id` must name a dialogue of the ED split the recipe trains DPO on."""
    known = set(known)
    for row in pairs.rows:
        if row.id is not None and row.id not in known:
            raise DataError(
                f"{pairs.path}, line {row.line}: id: unknown id {row.id!r}, not a dialogue of the ED {split} split "
                "(pairs must come from training dialogues, never from the dialogues a model is evaluated on; "
                "fix or remove the id)"
            )


def _harness_row(record: dict, line: int) -> PairRow:
    _require(record, ("context", "chosen", "rejected"), "our format (context, chosen, rejected, optional id)")
    context = record["context"]
    if not isinstance(context, list) or not context or not all(isinstance(t, str) for t in context):
        raise _Bad(f"context: a non-empty list of strings (the turns before the response, speaker first), "
                   f"found {_kind(context)}")
    chosen, rejected = _text(record, "chosen"), _text(record, "rejected")
    ident = record.get("id")
    if ident is not None and (not isinstance(ident, str) or not ident):
        raise _Bad(f"id: a non-empty string (the ED dialogue id) when given, found {_kind(ident)}")
    _differ(chosen, rejected)
    return PairRow(line, ident, tuple(context), chosen, rejected)


def _standard_row(record: dict, line: int) -> PairRow:
    _require(record, ("prompt", "chosen", "rejected"), "trl's standard format (prompt, chosen, rejected)")
    prompt = record["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise _Bad(f"prompt: a non-empty string (or a list of chat messages), found {_kind(prompt)}")
    chosen, rejected = _text(record, "chosen"), _text(record, "rejected")
    _differ(chosen, rejected)
    return PairRow(line, _optional_id(record), prompt, chosen, rejected)


def _conversational_row(record: dict, line: int) -> PairRow:
    _require(record, ("prompt", "chosen", "rejected"), "trl's conversational format (prompt, chosen, rejected)")
    prompt = _messages(record["prompt"], "prompt")
    chosen, rejected = _messages(record["chosen"], "chosen"), _messages(record["rejected"], "rejected")
    _differ(chosen, rejected)
    return PairRow(line, _optional_id(record), prompt, chosen, rejected)


_ROW_READERS = {"harness": _harness_row, "trl-standard": _standard_row, "trl-conversational": _conversational_row}


def _require(record: dict, keys: tuple[str, ...], what: str) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        raise _Bad(f"missing field {', '.join(repr(k) for k in missing)}: {what}")


def _text(record: dict, key: str) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise _Bad(f"{key}: must be a string, found {_kind(value)}")
    if not value.strip():
        raise _Bad(f"{key}: empty; a pair needs two non-empty responses (drop the row)")
    return value


def _messages(value: Any, key: str) -> tuple:
    if not isinstance(value, list) or not value:
        raise _Bad(f"{key}: a non-empty list of chat messages {{role, content}}, found {_kind(value)}")
    for i, message in enumerate(value):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise _Bad(f"{key}[{i}]: a chat message is an object with 'role' and 'content'")
        if message["role"] not in ROLES:
            raise _Bad(f"{key}[{i}].role: {message['role']!r} is not one of {', '.join(ROLES)}")
        if not isinstance(message["content"], str):
            raise _Bad(f"{key}[{i}].content: must be a string, found {_kind(message['content'])}")
    if key != "prompt" and not any(m["content"].strip() for m in value):
        raise _Bad(f"{key}: empty; a pair needs two non-empty responses (drop the row)")
    return tuple({"role": m["role"], "content": m["content"]} for m in value)


def _differ(chosen: Any, rejected: Any) -> None:
    if chosen == rejected:
        raise _Bad("chosen and rejected are the same response; such a pair teaches nothing (drop the row)")


def _optional_id(record: dict) -> str | None:
    ident = record.get("id")
    if ident is not None and (not isinstance(ident, str) or not ident):
        raise _Bad(f"id: a non-empty string when given, found {_kind(ident)}")
    return ident


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _read_provenance(path: Path, sha256: str) -> tuple[dict | None, str | None]:
    sidecar = provenance_path(path)
    if not sidecar.is_file():
        return None, None
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{sidecar}: unreadable provenance beside the pairs file ({exc}); fix or remove it") from None
    if data.get("pairs_sha256") != sha256:
        return data, f"{sidecar.name} describes another version of the file (its pairs_sha256 differs): edited since"
    return data, None
