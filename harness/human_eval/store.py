"""The answers of a study: an append-only log, and the tidy ratings made from it.

`answers.jsonl` gets one JSON line per event, flushed and fsync'ed before the server
answers the request that caused it, so what a browser was told is kept survives a crash:
- {"event": "claim",  "annotator", "batch", "time"}  a batch handed to an annotator
- {"event": "answer", "annotator", "batch", "item", "dimension", "value", "time"}
- {"event": "submit", "annotator", "batch", "time"}
Nothing is ever rewritten: a changed answer is a later line, and the last one counts.
A crash in the middle of a line leaves a line without its end; it is skipped (with a
note) when the log is read, and the next event starts on a new line.

`ratings.csv` (rewritten whole, by rename, after each submit) holds the submitted
batches: annotator, batch, sample, system, dimension, value, time; `system` is the
blinded code (for A/B items "A|B", e.g. "S2|S1"), which `analyze --key` unblinds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.human_eval.designs import Design

ANSWERS, RATINGS = "answers.jsonl", "ratings.csv"
COLUMNS = ("annotator", "batch", "sample", "system", "dimension", "value", "time")


class Refused(Exception):
    """A request the study cannot take (the message says why); nothing was written."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class State:
    claims: dict[str, str] = field(default_factory=dict)  # batch -> annotator
    submitted: dict[str, str] = field(default_factory=dict)  # batch -> time
    answers: dict[tuple[str, str, str], tuple[object, str]] = field(default_factory=dict)  # (batch, item, dim) -> (value, time)
    notes: list[str] = field(default_factory=list)


def _iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


class Store:
    """One study's answers; every method is safe to call from several server threads."""

    def __init__(self, folder: str | Path, study: dict, sync: bool = True):
        self.folder = Path(folder)
        self.sync = sync  # False only for simulations (tests): no fsync, a crash may lose the last answers
        self.design = Design.from_json(study["design"])
        self.batches = {b["id"]: b for b in study["batches"]}
        self.order = [b["id"] for b in study["batches"]]
        self.items = {b["id"]: {it["item"]: it for it in b["items"]} for b in study["batches"]}
        self.path = self.folder / ANSWERS
        self._lock = threading.Lock()
        self.state = self._replay()

    # -- reading -----------------------------------------------------------------------
    def _replay(self) -> State:
        state = State()
        if not self.path.exists():
            return state
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(self.path, "ab") as fh:  # the next event must start on its own line
                fh.write(b"\n")
                fh.flush()
                os.fsync(fh.fileno())
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
                self._apply(state, event)
            except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
                state.notes.append(f"{self.path}, line {number}: unreadable (cut by a crash?); skipped")
        return state

    @staticmethod
    def _apply(state: State, event: dict) -> None:
        kind = event["event"]
        if kind == "claim":
            state.claims.setdefault(event["batch"], event["annotator"])
        elif kind == "answer":
            state.answers[(event["batch"], event["item"], event["dimension"])] = (event["value"], event["time"])
        elif kind == "submit":
            state.submitted.setdefault(event["batch"], event["time"])
        else:
            raise KeyError(kind)

    def _append(self, event: dict) -> None:
        line = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        with open(self.path, "ab") as fh:
            fh.write(line)
            fh.flush()
            if self.sync:
                os.fsync(fh.fileno())
        self._apply(self.state, event)

    # -- what the server asks ------------------------------------------------------------
    def batch_for(self, annotator: str) -> str | None:
        """The annotator's open batch, else the next unclaimed one whose samples they have
        not seen in another batch (claimed now); None when none is left."""
        with self._lock:
            mine = [b for b in self.order if self.state.claims.get(b) == annotator]
            for b in mine:
                if b not in self.state.submitted:
                    return b
            seen = {it["sample"] for b in mine for it in self.batches[b]["items"]}
            for b in self.order:
                if b in self.state.claims:
                    continue
                if seen & {it["sample"] for it in self.batches[b]["items"]}:
                    continue
                self._append({"event": "claim", "annotator": annotator, "batch": b, "time": _iso()})
                return b
            return None

    def check_owner(self, annotator: str, batch: str) -> None:
        if batch not in self.batches:
            raise Refused(404, f"no batch {batch!r} in this study")
        owner = self.state.claims.get(batch)
        if owner != annotator:
            raise Refused(403, f"batch {batch} is not handed to annotator {annotator!r}; start from the first page")
        if batch in self.state.submitted:
            raise Refused(409, f"batch {batch} was already submitted; it cannot be changed or submitted again")

    def answer(self, annotator: str, batch: str, item: str, dimension: str, value) -> None:
        with self._lock:
            self.check_owner(annotator, batch)
            if item not in self.items[batch]:
                raise Refused(400, f"item {item!r} is not in batch {batch}")
            try:
                criterion = self.design.criterion(dimension)
            except KeyError:
                raise Refused(400, f"unknown question {dimension!r}") from None
            try:
                stored = criterion.check(value)
            except ValueError as exc:
                raise Refused(400, str(exc)) from None
            self._append({"event": "answer", "annotator": annotator, "batch": batch, "item": item,
                          "dimension": dimension, "value": stored, "time": _iso()})

    def answers_of(self, batch: str) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for (b, item, dim), (value, _) in self.state.answers.items():
            if b == batch:
                out.setdefault(item, {})[dim] = value
        return out

    def submit(self, annotator: str, batch: str) -> None:
        """Close the batch: every required question answered; an untouched checkbox is an
        explicit 0 (logged now). Then rewrite ratings.csv."""
        with self._lock:
            self.check_owner(annotator, batch)
            given = self.answers_of(batch)
            for number, item in enumerate(self.batches[batch]["items"], start=1):
                for c in self.design.criteria:
                    if c.required and c.name not in given.get(item["item"], {}):
                        raise Refused(400, f"sample {number}: '{c.name}' is not answered yet")
            for item in self.batches[batch]["items"]:
                for c in self.design.criteria:
                    if not c.required and c.name not in given.get(item["item"], {}):
                        self._append({"event": "answer", "annotator": annotator, "batch": batch, "item": item["item"],
                                      "dimension": c.name, "value": 0.0, "time": _iso()})
            self._append({"event": "submit", "annotator": annotator, "batch": batch, "time": _iso()})
            self.export()

    # -- the tidy file -------------------------------------------------------------------
    def rows(self) -> list[dict]:
        rows = []
        for batch in self.order:
            if batch not in self.state.submitted:
                continue
            for item in self.batches[batch]["items"]:
                for c in self.design.criteria:
                    value, when = self.state.answers[(batch, item["item"], c.name)]
                    rows.append({"annotator": self.state.claims[batch], "batch": batch, "sample": item["sample"],
                                 "system": "|".join(item["systems"]), "dimension": c.name, "value": value, "time": when})
        return rows

    def export(self) -> Path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({**row, "value": _plain(row["value"])})
        target = self.folder / RATINGS
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return target


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else repr(value)
    return str(value)


def open_store(folder: str | Path, sync: bool = True) -> Store:
    from harness.human_eval.study import read_study

    study = read_study(folder)
    try:
        return Store(folder, study, sync)
    except (KeyError, TypeError) as exc:
        raise HarnessError(f"{folder}: study.json lacks {exc}; prepare the study again") from None
