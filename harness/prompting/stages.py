"""First-stage texts between two lm-eval calls (two-stage and model-generated knowledge).

A first-stage task generates per test dialogue (two-stage: one answer; knowledge: one
answer per relation); its texts are written to a stage file and read by the second-stage
task's dataset (lm-eval `metadata`: {"stages": {"<first-stage task>": "<file>"}}), which
puts them in each document as `stage1` (a list of texts). A stage file is either ours
(JSON lines {"id", "texts"}) or lm-eval's own samples file of the first-stage task
(`--log_samples`), so stock `lm_eval` can run the second stage on the first's output.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from harness.errors import HarnessError

STAGE_FILE = "stage1.jsonl"


def read_stage_file(path: str | Path) -> dict[str, list[str]]:
    p = Path(path)
    if not p.is_file():
        raise HarnessError(f"stage-1 file {p} does not exist: run the first-stage task first (docs/PROMPTING.md)")
    texts: dict[str, list[str]] = {}
    with open(p, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if "doc" in row:  # lm-eval's samples file
                    key, values = row["doc"]["id"], row["filtered_resps"]
                else:
                    key, values = row["id"], row["texts"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise HarnessError(f"{p}, line {lineno}: not a stage-1 row (expected {{\"id\", \"texts\"}} or an "
                                   "lm-eval sample with doc.id and filtered_resps)") from None
            texts[str(key)] = [str(v) for v in (values if isinstance(values, list) else [values])]
    return texts


def write_stage_file(path: Path, rows: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def rows_from_samples(samples: list[dict]) -> list[dict]:
    """Stage-file rows from lm-eval's per-sample records of a first-stage task, in doc order."""
    out = []
    for s in sorted(samples, key=lambda s: s["doc_id"]):
        texts = [t if isinstance(t, str) else t[0] for t in s["filtered_resps"]]
        prompts = [a[0] for a in s.get("arguments") or []]
        out.append({"id": s["doc"]["id"], "texts": texts,
                    "prompt_sha256": [hashlib.sha256(str(p).encode()).hexdigest() for p in prompts]})
    return out
