"""Reading collected ratings for `analyze`: the tidy file `serve` writes (CSV or JSON
lines: annotator, batch, sample, system, dimension, value, time) unblinded with the
study's key, or EmPO's released `he_data.csv` (detected by its columns).

Every value is checked against the design's scale; an unknown system or question, an
out-of-range value or a second answer to the same question raise a `DataError` naming
the file, line and field.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError, HarnessError
from harness.human_eval.designs import Design, design as design_named
from harness.human_eval.empo import EMPO_SYSTEMS, Rating, read_empo_ratings
from harness.human_eval.study import read_key
from harness.human_eval.store import COLUMNS

# Table 7's order: each system is hypothesised to be rated higher than every later one.
EMPO_ORDER = ("baseline", "SFT + DPO", "baseline-len-control", "SFT", "human")


@dataclass
class RatingSet:
    ratings: list[Rating]
    design: Design
    systems: list[str]  # the order of the pairwise hypotheses: earlier > later
    source: Path
    kind: str  # "study" or "empo"
    sha256: str | None = None
    notes: list[str] = field(default_factory=list)


def is_empo_file(path: Path) -> bool:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError):
        return False
    return {"Dim1", "Dim5", "chat_templates", "model"} <= set(header)


def read_rating_set(path: str | Path, key: str | Path | None = None, design_name: str | None = None,
                    order: list[str] | None = None) -> RatingSet:
    p = Path(path)
    if not p.is_file():
        raise HarnessError(f"{path}: no such ratings file")
    if p.suffix == ".csv" and is_empo_file(p):
        data = read_empo_ratings(p)
        ratings = [Rating(r.annotator, r.sample, EMPO_SYSTEMS[r.system], r.dimension, r.value) for r in data.ratings]
        return RatingSet(ratings, design_named("empo"), _order(order, list(EMPO_ORDER), p), p, "empo", data.sha256)
    key_data = read_key(key) if key is not None else None
    if key_data is not None:
        design = design_named(key_data["design"])
        names = {code: info["name"] for code, info in key_data["systems"].items()}
    elif design_name is not None:
        design, names = design_named(design_name), None
    else:
        raise HarnessError(f"{path}: pass --key (the study's key.json), or --design to analyse blinded system codes")
    ratings = list(_read_tidy(p, design, names, key_data))
    if not ratings:
        raise DataError(f"{path}: no ratings in it")
    if names is not None:
        present = [n for n in names.values() if any(n in r.system.split("|") for r in ratings)]
    else:
        present = sorted({s for r in ratings for s in r.system.split("|")})
    return RatingSet(ratings, design, _order(order, present, p), p, "study")


def _order(order: list[str] | None, systems: list[str], path: Path) -> list[str]:
    if not order:
        return systems
    unknown = [s for s in order if s not in systems]
    if unknown or sorted(order) != sorted(systems):
        raise HarnessError(f"--order must list each system of {path.name} once: {', '.join(systems)}")
    return list(order)


def _rows(path: Path):
    """(line number, row dict) of a CSV (header on line 1) or JSON lines file."""
    if path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}, line {number}: invalid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path}, line {number}: expected a JSON object")
                yield number, row
        return
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}, line 1: column(s) {', '.join(missing)} missing; a ratings file has "
                            f"{', '.join(COLUMNS)}")
        for row in reader:
            yield reader.line_num, row


def _read_tidy(path: Path, design: Design, names: dict[str, str] | None, key: dict | None):
    seen: dict[tuple, int] = {}
    arity = 2 if design.kind == "ab" else 1
    for number, row in _rows(path):
        where = f"{path}, line {number}"
        for column in COLUMNS[:-1]:
            if row.get(column) in (None, ""):
                raise DataError(f"{where}: field {column!r} is empty; every rating needs {', '.join(COLUMNS[:-1])}")
        codes = str(row["system"]).split("|")
        if len(codes) != arity:
            what = "two codes 'A|B'" if arity == 2 else "one system code"
            raise DataError(f"{where}: field 'system' = {row['system']!r}; design {design.name} expects {what}")
        if names is not None:
            unknown = [c for c in codes if c not in names]
            if unknown:
                raise DataError(f"{where}: field 'system': unknown system {unknown[0]!r}; the key knows "
                                f"{', '.join(sorted(names))} (is it this study's key?)")
            batch = key["batches"].get(str(row["batch"]))
            if batch is None or not any(s == codes for s in batch["items"].values()):
                raise DataError(f"{where}: field 'batch': batch {row['batch']!r} showed no response of "
                                f"{row['system']!r}; the ratings do not belong to this key")
        try:
            criterion = design.criterion(str(row["dimension"]))
        except KeyError:
            raise DataError(f"{where}: field 'dimension': unknown question {row['dimension']!r}; design "
                            f"{design.name} asks {', '.join(c.name for c in design.criteria)}") from None
        try:
            value = criterion.check(row["value"])
        except ValueError as exc:
            raise DataError(f"{where}: field 'value': {exc}") from None
        ident = (str(row["annotator"]), str(row["sample"]), str(row["system"]), criterion.name)
        if ident in seen:
            raise DataError(f"{where}: duplicate answer: annotator {ident[0]!r} already answered {ident[3]!r} for "
                            f"sample {ident[1]!r} of {ident[2]!r} on line {seen[ident]}; keep one of the two")
        seen[ident] = number
        system = "|".join(names[c] for c in codes) if names is not None else str(row["system"])
        yield Rating(ident[0], ident[1], system, criterion.name, value, str(row["batch"]), row.get("time") or None)
