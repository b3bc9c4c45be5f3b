"""EmPO's released ratings file (`he_data.csv`) made by hand: its columns, its chat format,
and a writer that fills every column a row does not give."""

from __future__ import annotations

import csv
from pathlib import Path

FIELDS = ["", "sample_index", "Dim1", "Dim2", "Dim3", "Dim4", "Dim5", "annotator", "ED_index", "chat_templates",
          "gen_targets", "prevs", "emotions", "gens", "chat_cut", "tidy_chat", "model"]
DEFAULTS = {"sample_index": 0, "Dim1": 10, "Dim2": 20, "Dim3": 30, "Dim4": 40, "Dim5": 1, "annotator": "a1",
            "ED_index": 7, "gen_targets": "That is awful.", "prevs": "", "emotions": "sad", "gens": "So sorry.",
            "chat_cut": "", "tidy_chat": "", "model": "SFT"}


def chat(*turns: str) -> str:
    """Turns in EmPO's zephyr chat format, speaker first, ending where the listener answers."""
    roles = ["user", "assistant"]
    body = "".join(f"<|{roles[i % 2]}|>\n{t}</s>\n" for i, t in enumerate(turns))
    return f"<|system|>\nBe kind.</s>\n{body}<|assistant|>\n"


def write_ratings(path: Path, rows: list[dict], **defaults) -> Path:
    """One CSV line per row, numbered from 0; columns a row leaves out take `defaults`, then DEFAULTS."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({"": i, **DEFAULTS, **defaults, **row})
    return path
