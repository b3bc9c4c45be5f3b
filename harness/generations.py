"""Generations files: read and write the JSON lines the scorers consume.

Two formats are read, detected line by line:
- the harness's generations format (docs/ARCHITECTURE.md): `id`, `context` (list of
  turns before the response, speaker first), `response`, `reference`, `emotion`
  (optional); other fields are ignored;
- lm-eval sample records of this project's ED tasks: `doc` holds the example
  (`harness.data.ed.Example.to_json()`: `id`, `emotion`, `situation`, `context`,
  `reference`) and the generated text is `filtered_resps[0]` (else `resps[0][0]`).

A bad line (invalid JSON, a missing field, a response that is not a string...) raises a
`DataError` naming the file and line, or with `skip_invalid=True` is skipped and
counted. Empty and whitespace-only responses are valid.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from harness.errors import DataError
from harness.metrics.base import Item


@dataclass
class Generations:
    """What a generations file held: the items, and the lines skipped (with reasons)."""

    items: list[Item]
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def __iter__(self):  # `items, skipped = read_generations(path)`
        return iter((self.items, self.skipped))


def read_generations(path: str | os.PathLike, skip_invalid: bool = False) -> Generations:
    """Items of a generations file or an lm-eval samples file (format detected per line)."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    result = Generations(items=[])
    first_line: dict[str, int] = {}
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
                record = json.loads(text)
                item = item_from_record(record)
                if item.id in first_line:
                    raise _Invalid(f"id {item.id!r} appears twice (first on line {first_line[item.id]})")
                first_line[item.id] = line_no
                result.items.append(item)
            except UnicodeDecodeError:
                _problem(result, path, line_no, "bytes that are not UTF-8", skip_invalid)
            except json.JSONDecodeError as exc:
                _problem(result, path, line_no, f"invalid JSON ({exc.msg}, {_where(exc.pos, text)})", skip_invalid)
            except _Invalid as exc:
                _problem(result, path, line_no, str(exc), skip_invalid)
    return result


class _Invalid(ValueError):
    pass


def _where(position: int, line: str) -> str:
    """The column of a JSON error within its line (json counts columns from the last newline
    it saw, so an error at a line's end read with its newline says column 1)."""
    if position >= len(line.rstrip()):
        return f"at the end of the line, column {position + 1}: is the line cut short?"
    return f"column {position + 1}"


def _problem(result: Generations, path: Path, line_no: int, reason: str, skip_invalid: bool) -> None:
    message = f"{path}, line {line_no}: {reason}"
    if not skip_invalid:
        raise DataError(message + " (fix the line, or pass --skip-invalid to skip such lines)")
    result.skipped += 1
    result.problems.append(message)


def item_from_record(record: Any) -> Item:
    """One scored item from a generations record or an lm-eval sample record."""
    if not isinstance(record, dict):
        raise _Invalid(f"expected a JSON object, found {type(record).__name__}")
    if "doc" in record and "response" not in record:
        return _from_lm_eval(record)
    missing = [key for key in ("id", "context", "response", "reference") if key not in record]
    if missing:
        raise _Invalid(
            f"missing field(s) {', '.join(missing)}: a generations line needs id, context, response, reference "
            "(or an lm-eval sample record with doc and filtered_resps)"
        )
    return _item(record, record["response"], "response")


def _from_lm_eval(record: dict) -> Item:
    doc = record["doc"]
    if not isinstance(doc, dict):
        raise _Invalid("lm-eval sample: 'doc' is not an object")
    missing = [key for key in ("id", "context", "reference") if key not in doc]
    if missing:
        raise _Invalid(f"lm-eval sample: doc lacks {', '.join(missing)} (not a sample of this project's ED tasks?)")
    if isinstance(record.get("filtered_resps"), list) and record["filtered_resps"]:
        response, where = record["filtered_resps"][0], "filtered_resps[0]"
    elif (
        isinstance(record.get("resps"), list)
        and record["resps"]
        and isinstance(record["resps"][0], list)
        and record["resps"][0]
    ):
        response, where = record["resps"][0][0], "resps[0][0]"
    else:
        raise _Invalid("lm-eval sample: no generated text (neither filtered_resps[0] nor resps[0][0])")
    return _item(doc, response, where)


def _item(fields: dict, response: Any, where: str) -> Item:
    if not isinstance(response, str):
        raise _Invalid(f"{where} must be a string, found {type(response).__name__}")
    ident = fields["id"]
    if not isinstance(ident, (str, int)) or isinstance(ident, bool):
        raise _Invalid(f"id must be a string, found {type(ident).__name__}")
    context = fields["context"]
    if not isinstance(context, list) or not all(isinstance(turn, str) for turn in context):
        raise _Invalid("context must be a list of strings (the turns before the response, speaker first)")
    reference = fields["reference"]
    if not isinstance(reference, str):
        raise _Invalid(f"reference must be a string, found {type(reference).__name__}")
    emotion = fields.get("emotion")
    if emotion is not None and not isinstance(emotion, str):
        raise _Invalid(f"emotion must be a string when given, found {type(emotion).__name__}")
    return Item(str(ident), tuple(context), response, reference, emotion)


def generation_record(item: Item, **extra: Any) -> dict:
    """The generations-format object of one item (extra fields are kept after the standard ones)."""
    record = {"id": item.id, "context": list(item.context), "response": item.response, "reference": item.reference}
    if item.emotion is not None:
        record["emotion"] = item.emotion
    record.update(extra)
    return record


def write_generations(path: str | os.PathLike, items: Iterable[Item | dict]) -> Path:
    """Write a generations file in one rename (an interrupted write leaves no partial file)."""
    path = Path(path)
    write_jsonl(path, (generation_record(it) if isinstance(it, Item) else it for it in items))
    return path


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> None:
    """JSON lines written to a temporary file beside `path`, then renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False) as out:
        try:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        except BaseException:
            out.close()
            os.unlink(out.name)
            raise
    os.chmod(out.name, 0o644)  # NamedTemporaryFile creates 0600
    os.replace(out.name, path)
