"""MMLU from its original release layout, in the schema of lm-eval's `mmlu` (cais/mmlu).

The release (resource "mmlu") is a folder with `dev/<subject>_dev.csv` and
`test/<subject>_test.csv`: no header, quoted CSV, one question per row as
question, A, B, C, D, answer letter. lm-eval's `mmlu` reads the Hub copy `cais/mmlu`,
whose rows are {question, subject, choices: [A, B, C, D], answer: 0-3}; this builds the
same rows, so lm-eval's own prompt template, few-shot sampler and metric apply unchanged.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from harness import resources
from harness.errors import DataError, ResourceError

LETTERS = "ABCD"
SPLITS = ("dev", "test")


def read_csv(path: Path, subject: str) -> list[dict]:
    """The rows of one MMLU CSV in cais/mmlu's schema."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        for record in reader:
            where = f"{path}, line {reader.line_num}"
            if len(record) != 6:
                raise DataError(f"{where}: expected 6 fields (question, A, B, C, D, answer), found {len(record)}")
            answer = record[5].strip()
            if answer not in LETTERS:
                raise DataError(f"{where}: the answer {answer!r} is not one of A, B, C, D")
            rows.append({"question": record[0], "subject": subject, "choices": record[1:5], "answer": LETTERS.index(answer)})
    if not rows:
        raise DataError(f"{path}: no questions in it")
    return rows


def subject_files(subject: str, source: str | os.PathLike | None = None) -> dict[str, Path]:
    root = resources.resolve("mmlu", source)
    files = {split: root / split / f"{subject}_{split}.csv" for split in SPLITS}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise ResourceError(f"MMLU subject {subject!r}: missing {', '.join(missing)} (the release has dev/ and test/ CSVs)")
    return files


def dataset(subject: str, source: str | os.PathLike | None = None, **_ignored):
    """One subject's dev and test splits as a `datasets.DatasetDict`.

    lm-eval calls this as `custom_dataset(**metadata, **dataset_kwargs)`; the task's
    dataset_kwargs name the subject, the other keys are not ours and are ignored.
    """
    import datasets

    features = datasets.Features({
        "question": datasets.Value("string"),
        "subject": datasets.Value("string"),
        "choices": datasets.Sequence(datasets.Value("string")),
        "answer": datasets.ClassLabel(names=list(LETTERS)),
    })
    files = subject_files(subject, source)
    return datasets.DatasetDict(
        {split: datasets.Dataset.from_list(read_csv(path, subject), features=features) for split, path in files.items()}
    )
