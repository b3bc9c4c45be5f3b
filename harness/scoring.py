"""Score generations and write scored folders (docs/ARCHITECTURE.md, "Scored folder").

A scored folder `DIR/<stem>/` holds:
- `summary.json`: flat JSON, one number per key (null where undefined), plus `n`;
- `scores.jsonl`: one object per example: `id` and each per-example value;
- `provenance.json`: input file and sha256, harness version, tokenizer variant, lexicon
  checksums, every scorer's instrument, and each key's direction and level.
`empathy-harness score` and the eval command's per-task scoring both write it here.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from harness import __version__, resources
from harness.errors import HarnessError
from harness.folders import replace_folder
from harness.generations import Generations, read_generations, write_jsonl
from harness.metrics import base, tokenize
from harness.metrics.base import Item, ScoreResult


def resolve_metrics(requested: Iterable[str] | None) -> list[str]:
    """Scorer names for `requested` (scorer names or summary keys, each entry separated by
    commas and/or spaces; `default` stands for the default suite, `all` for every registered
    scorer); the default suite when None."""
    available = base.available()
    if requested is None:
        return base.default_suite()
    groups = {"default": base.default_suite(), "all": available}
    by_key = {out.name: name for name in available for out in base.get_scorer(name).outputs}
    chosen: list[str] = []
    for entry in requested:
        for name in entry.replace(",", " ").split():
            if name in groups:
                chosen += [s for s in groups[name] if s not in chosen]
                continue
            scorer = name if name in available else by_key.get(name)
            if scorer is None:
                raise HarnessError(_unknown_metric(name, available, list(by_key)))
            if scorer not in chosen:
                chosen.append(scorer)
    if not chosen:
        raise HarnessError("--metrics named no metric")
    return chosen


def _unknown_metric(name: str, available: list[str], keys: list[str]) -> str:
    close = difflib.get_close_matches(name, available + keys + ["default", "all"], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    if not close and Path(name).exists():
        hint = " (it is a file: put --metrics after the files, or end its names with --)"
    return (f"unknown metric {name!r}{hint}; metrics: {', '.join(available)}; or one of their keys: {', '.join(keys)}; "
            "or `default` (the default suite), `all`")


@contextmanager
def lexical_options(
    tokenizer: str = "punkt", iva_aggregate: str = "max", nidf_documents: str = "utterances",
    ed_source: str | os.PathLike | None = None,
) -> Iterator[None]:
    """Run the lexical scorers with these variants inside the block; the defaults are
    METRICS.md's. The previous settings come back afterwards."""
    iva, nidf = base.get_scorer("iva"), base.get_scorer("nidf")
    saved = (iva.aggregate, nidf.document_set, nidf.source)
    iva.aggregate, nidf.document_set, nidf.source = iva_aggregate, nidf_documents, ed_source
    try:
        with tokenize.using(tokenizer):
            yield
    finally:
        iva.aggregate, nidf.document_set, nidf.source = saved


def score_items(items: Sequence[Item], metrics: Sequence[str]) -> ScoreResult:
    return base.score(items, metrics)


def provenance(result: ScoreResult, metrics: Sequence[str], input_path: str | os.PathLike | None = None,
               skipped: int = 0) -> dict:
    info: dict = {
        "harness_version": __version__,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "n": result.summary.get("n"),
        "metrics": list(metrics),
        "tokenizer": tokenize.describe(),
    }
    if input_path is not None:
        path = Path(input_path)
        info["input"] = {"path": str(path.resolve()), "sha256": resources.sha256_of(path), "skipped_invalid_lines": skipped}
    lexicons = result.instruments.get("iva", {}).get("lexicons")
    if lexicons:
        info["lexicons"] = lexicons
    info["instruments"] = result.instruments
    # what the leaderboard's corpus resampling budget is checked against before it recomputes anything
    info["scorer_seconds"] = result.seconds
    info["outputs"] = {
        name: {"higher_is_better": out.higher_is_better, "level": out.level, "description": out.description}
        for name, out in result.outputs.items()
    }
    return info


def write_scored_files(folder: str | os.PathLike, result: ScoreResult, provenance_info: dict) -> None:
    """summary.json, scores.jsonl and provenance.json into an existing folder."""
    folder = Path(folder)
    (folder / "summary.json").write_text(json.dumps(_finite(result.summary), indent=2) + "\n")
    write_jsonl(folder / "scores.jsonl", (_finite(row) for row in result.per_example))
    (folder / "provenance.json").write_text(json.dumps(provenance_info, indent=2, ensure_ascii=False) + "\n")


def write_scored_folder(folder: str | os.PathLike, result: ScoreResult, provenance_info: dict) -> Path:
    """Write a scored folder that appears in one rename (an interrupted write leaves none)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        write_scored_files(staging, result, provenance_info)
        os.chmod(staging, 0o755)
        replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def score_file(path: str | os.PathLike, output_dir: str | os.PathLike, metrics: Sequence[str],
               skip_invalid: bool = False, generations: Generations | None = None) -> tuple[Path, ScoreResult, int]:
    """Score one generations (or lm-eval samples) file into `output_dir/<stem>/`
    (`generations`: the file as already read)."""
    if generations is None:
        generations = read_generations(path, skip_invalid=skip_invalid)
    result = score_items(generations.items, metrics)
    folder = Path(output_dir) / Path(path).stem
    write_scored_folder(folder, result, provenance(result, metrics, path, generations.skipped))
    return folder, result, generations.skipped


def _finite(row: dict) -> dict:
    """JSON has no NaN: undefined values are written as null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def format_table(columns: dict[str, ScoreResult]) -> str:
    """Keys down, one column per scored input; arrows give the better direction."""
    keys: list[str] = []
    outputs: dict[str, base.Output] = {}
    for result in columns.values():
        for key in result.summary:
            if key not in keys:
                keys.append(key)
        outputs.update(result.outputs)
    arrow = {True: "↑", False: "↓", None: " "}
    width = max([len(k) for k in keys] + [6]) + 2
    names = list(columns)
    col = max([len(n) for n in names] + [10])
    lines = [f"{'metric':<{width}}" + "".join(f"{n:>{col + 2}}" for n in names)]
    for key in keys:
        mark = arrow[outputs[key].higher_is_better] if key in outputs else " "
        cells = "".join(f"{_fmt(columns[n].summary.get(key)):>{col + 2}}" for n in names)
        lines.append(f"{key + ' ' + mark:<{width}}" + cells)
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "null"
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
