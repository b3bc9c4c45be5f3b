"""Write a leaderboard (markdown, CSV, JSON and figures) from loaded runs."""

from __future__ import annotations

import json
from pathlib import Path

from harness.leaderboard import render
from harness.leaderboard.comparison import Settings, stderr_log
from harness.leaderboard.figures import write_figures
from harness.leaderboard.runs import Run
from harness.leaderboard.table import build_tables


def write_leaderboard(runs: list[Run], output: Path, settings: Settings, *, reference: str | None = None,
                      task: str | None = None, figures: Path | None = None,
                      versus: str = "reference") -> tuple[str, list[Path]]:
    """Build the tables and write `output` (.md) with .csv and .json beside it, and the
    figures into `figures` (None: no figures). Returns the markdown and the files written."""
    tables = build_tables(runs, settings, reference=reference, task=task, versus=versus, log=stderr_log)
    output.parent.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, Path] = {}
    if figures is not None:
        for k, table in enumerate(tables):
            drawn.update(write_figures(table, figures, prefix="" if k == 0 else f"table{k + 1}_"))
    text = render.markdown(tables, settings, drawn, base=output.parent)
    output.write_text(text)
    output.with_suffix(".csv").write_text(render.to_csv(tables))
    output.with_suffix(".json").write_text(json.dumps(render.to_json(tables, settings), indent=2) + "\n")
    return text, [output, output.with_suffix(".csv"), output.with_suffix(".json"), *drawn.values()]
