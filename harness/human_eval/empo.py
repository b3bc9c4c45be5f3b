"""EmPO's released human ratings (`he_data.csv`, Sotolar et al. 2024, appendix D).

The file has one row per (system, sample, annotator): `Dim1`..`Dim4` are 0-100 ratings of
the four statements of the paper's Table 8, in the order of `EMPO_DIMENSIONS` (this order
reproduces Table 7's Cohen's d); `Dim5` is the understandable-and-consistent checkbox.
`chat_templates` holds the dialogue as the model saw it (zephyr format), `gens` the rated
response, `gen_targets` the ED reference, `ED_index` the row of EmPO's own ED test file
(not an ED `conv_id`).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness import resources
from harness.errors import DataError

EMPO_DIMENSIONS = (
    "emotion_understanding",
    "situational_appropriateness",
    "contextual_naturalness",
    "conversational_engagingness",
)
EMPO_CHECKBOX = "understandable_consistent"
# The file's `model` values and the names the paper gives those systems.
EMPO_SYSTEMS = {
    "zephyr_base": "baseline",
    "zephyr_base_output_limit": "baseline-len-control",
    "SFT": "SFT",
    "zephyr_dpo": "SFT + DPO",
    "human_targets": "human",
}
_COLUMNS = ("sample_index", "annotator", "ED_index", "chat_templates", "gens", "gen_targets", "emotions", "model")
_TURN = re.compile(r"<\|(user|assistant|system)\|>\n(.*?)</s>", re.DOTALL)


@dataclass(frozen=True)
class Rating:
    """One answer: `value` of `dimension` given by `annotator` to `system`'s response to `sample`."""

    annotator: str
    sample: int | str  # EmPO: sample_index; studies made here: the ED example id
    system: str
    dimension: str
    value: float | str  # a number, or "A" / "B" / "tie" in A/B designs
    batch: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class RatedResponse:
    """A rated response with its dialogue: `context` speaker first, alternating."""

    sample: int
    system: str
    ed_index: int
    emotion: str
    context: tuple[str, ...]
    response: str
    reference: str


@dataclass(frozen=True)
class EmpoRatings:
    ratings: tuple[Rating, ...]
    responses: dict[tuple[int, str], RatedResponse]
    path: Path
    sha256: str


def parse_chat(template: str) -> tuple[str, ...]:
    """The user/assistant turns of a zephyr-format chat, system prompt dropped."""
    return tuple(text.strip() for role, text in _TURN.findall(template) if role != "system")


def read_empo_ratings(path: str | os.PathLike | None = None) -> EmpoRatings:
    """Read `he_data.csv` (a path, else the resource `empo-human-eval`: mirror, cache, download)."""
    source = resources.resolve("empo-human-eval", path)
    ratings: list[Rating] = []
    responses: dict[tuple[int, str], RatedResponse] = {}
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (*_COLUMNS, "Dim1", "Dim2", "Dim3", "Dim4", "Dim5") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{source}: not EmPO's he_data.csv: missing columns {', '.join(missing)}")
        for number, row in enumerate(reader, start=1):
            line = f"row {number}"  # records span several lines (the chat), so rows are counted
            system = row["model"]
            if system not in EMPO_SYSTEMS:
                raise DataError(f"{source}: {line}: unknown system {system!r}; expected one of {', '.join(EMPO_SYSTEMS)}")
            try:
                sample = int(row["sample_index"])
                ed_index = int(row["ED_index"])
                values = [float(row[f"Dim{i}"]) for i in range(1, 6)]
            except ValueError as exc:
                raise DataError(f"{source}: {line}: {exc}; sample_index, ED_index and Dim1..Dim5 must be numbers") from None
            for name, value in zip(EMPO_DIMENSIONS, values[:4]):
                if not 0 <= value <= 100:
                    raise DataError(f"{source}: {line}: {name} (Dim{EMPO_DIMENSIONS.index(name) + 1}) = {value} is outside 0-100")
                ratings.append(Rating(row["annotator"], sample, system, name, value))
            if values[4] not in (0.0, 1.0):
                raise DataError(f"{source}: {line}: Dim5 (the checkbox) = {values[4]} is not 0 or 1")
            ratings.append(Rating(row["annotator"], sample, system, EMPO_CHECKBOX, values[4]))
            turns = parse_chat(row["chat_templates"])
            if not turns:
                raise DataError(f"{source}: {line}: chat_templates holds no <|user|> turn")
            response = RatedResponse(sample, system, ed_index, row["emotions"], turns, row["gens"], row["gen_targets"])
            known = responses.setdefault((sample, system), response)
            if known != response:
                raise DataError(f"{source}: {line}: sample {sample} of {system} differs from an earlier row of the same sample")
    return EmpoRatings(tuple(ratings), responses, source, resources.sha256_of(source))
