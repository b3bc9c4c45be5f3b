"""Leaderboard figures (matplotlib, Agg, PNG), from the per-example scores of each row:
IVA distance distributions, signed and absolute (EmPO Figures 5, 9, 10), NIDF
distributions (Figure 4), empathy against MMLU per model, and DIFF-EPITOME per emotion.
A figure whose data no run has is skipped, not drawn empty.

Every figure reads without the README: titles in words, labelled axes with the scale and
the better direction, n per model, counts in the heatmap's cells, and a legend (not text
next to the points) for the models in the scatter plot, so labels never overlap.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from harness.leaderboard.table import COLUMNS, MMLU, Row, Table

IVA = ("intensity", "valence", "arousal")
_MARKERS = "osD^vP*Xph<>"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_figures(table: Table, folder: Path, prefix: str = "") -> dict[str, Path]:
    """Write every figure the table has data for; returns {caption: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for caption, name, draw in (
        ("IVA distance, signed d = max(prompt) - max(response)", "iva_signed.png",
         lambda p: _violins(table, [f"{d}_signed" for d in IVA], p, True)),
        ("IVA distance, absolute |d|", "iva_abs.png", lambda p: _violins(table, [f"{d}_abs" for d in IVA], p, False)),
        ("NIDF specificity per response", "nidf.png", lambda p: _violins(table, ["nidf"], p, False)),
        ("Empathy against MMLU per model", "empathy_vs_mmlu.png", lambda p: _empathy_vs_mmlu(table, p)),
        ("DIFF-EPITOME per emotion", "diff_epitome_by_emotion.png", lambda p: _emotion_heatmap(table, p)),
    ):
        path = folder / f"{prefix}{name}"
        if draw(path):
            out[caption + (f" ({prefix.rstrip('_')})" if prefix else "")] = path
    return out


def _values(row: Row, task: str | None, key: str) -> np.ndarray | None:
    """A row's per-example values of `key`, pooled over its runs."""
    chunks = [run.tasks[task].values[key] for run in row.runs
              if task in run.tasks and key in run.tasks[task].values]
    if not chunks:
        return None
    v = np.concatenate(chunks)
    return v[~np.isnan(v)]


def _title(key: str) -> tuple[str, str]:
    """(panel title, x-axis label) of a per-example key."""
    for dim in IVA:
        name = dim.capitalize()
        if key == f"{dim}_signed":
            return (f"{name}: prompt - response",
                    f"signed d = max {dim} of the prompt's words - of the response's\n(NRC lexicon, -1 to 1; "
                    "> 0: the response scores lower)")
        if key == f"{dim}_abs":
            return f"{name}: |prompt - response|", f"|d| (NRC lexicon, 0 to 1; lower is better)"
    if key == "nidf":
        return "NIDF (specificity)", "mean NIDF of the response's words (0 to 1; higher: more specific words)"
    label = next((c.label for c in COLUMNS if c.key == key), key)
    return label, label


def _runs_label(row: Row, n: int) -> str:
    runs = f", {len(row.runs)} runs" if len(row.runs) > 1 else ""
    return f"{row.model}\n(n = {n}{runs})"


def _violins(table: Table, keys: list[str], path: Path, signed: bool) -> bool:
    data = {key: [(row, _values(row, table.task, key)) for row in table.rows] for key in keys}
    data = {k: [(r, v) for r, v in rows if v is not None and len(v)] for k, rows in data.items()}
    data = {k: rows for k, rows in data.items() if rows}
    if not data:
        return False
    plt = _plt()
    height = 0.6 * max(len(r) for r in data.values()) + 2.4
    fig, axes = plt.subplots(1, len(data), figsize=(4.6 * len(data) + 1.2, height), squeeze=False, sharey=True)
    for k, (ax, (key, rows)) in enumerate(zip(axes[0], data.items())):
        parts = ax.violinplot([v for _, v in rows], orientation="horizontal", showmeans=True, showextrema=False)
        for body in parts["bodies"]:
            body.set_alpha(0.55)
        ax.set_yticks(range(1, len(rows) + 1), [_runs_label(r, len(v) // max(len(r.runs), 1)) for r, v in rows])
        title, xlabel = _title(key)
        ax.set_title(title)
        ax.set_xlabel(xlabel, fontsize=8)
        if signed:
            ax.axvline(0, color="grey", lw=0.8, ls="--")
        if k == 0:
            ax.invert_yaxis()
    fig.suptitle("Distribution over responses (line: mean); n = dialogues per run", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _empathy_vs_mmlu(table: Table, path: Path) -> bool:
    y_key = next((k for k in ("diff_epitome", "emp_f1", "bertscore_f1") if any(k in r.cells for r in table.rows)), None)
    points = [r for r in table.rows if y_key and y_key in r.cells and MMLU in r.cells
              and not math.isnan(r.cells[y_key].value) and not math.isnan(r.cells[MMLU].value)]
    if not points:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for k, row in enumerate(points):
        x, y = row.cells[MMLU], row.cells[y_key]
        xerr = None if x.ci is None else [[x.value - x.ci[0]], [x.ci[1] - x.value]]
        yerr = None if y.ci is None else [[y.value - y.ci[0]], [y.ci[1] - y.value]]
        label = f"{row.model} (MMLU n = {x.n or '?'}, ED n = {y.n or '?'})"
        ax.errorbar(x.value, y.value, xerr=xerr, yerr=yerr, fmt=_MARKERS[k % len(_MARKERS)], capsize=3, ms=7,
                    label=label)
    # rows without MMLU (the human and opposite-emotion references) as horizontal lines
    styles = ["--", ":", "-.", (0, (5, 1))]
    others = [row for row in table.rows
              if row not in points and y_key in row.cells and not math.isnan(row.cells[y_key].value)]
    for k, row in enumerate(others):
        ax.axhline(row.cells[y_key].value, color="grey", lw=1.0, ls=styles[k % len(styles)],
                   label=f"{row.model} (no MMLU; ED n = {row.cells[y_key].n or '?'})")
    label = next((c.label for c in COLUMNS if c.key == y_key), y_key)
    direction = "lower is better" if y_key.startswith("diff") else "higher is better"
    ax.set_xlabel("MMLU accuracy (0-1, higher is better)")
    ax.set_ylabel(f"{label} ({direction})")
    ax.set_title(f"Empathy ({label}) against general ability (MMLU), 95% intervals")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True


def _per_example_diff(row: Row, task: str | None) -> tuple[list[str | None], np.ndarray] | None:
    """(emotions, per-example DIFF-EPITOME) pooled over the row's runs; DIFF-EPITOME is
    the mean of diff_er, diff_ip, diff_ex where the run has no per-example total."""
    emotions: list[str | None] = []
    values: list[np.ndarray] = []
    for run in row.runs:
        t = run.tasks.get(task) if task is not None else None
        if t is None:
            continue
        if "diff_epitome" in t.values:
            v = t.values["diff_epitome"]
        elif all(k in t.values for k in ("diff_er", "diff_ip", "diff_ex")):
            v = (t.values["diff_er"] + t.values["diff_ip"] + t.values["diff_ex"]) / 3
        else:
            continue
        e = t.emotions()
        if e is None:
            continue
        emotions += e
        values.append(v)
    if not values:
        return None
    return emotions, np.concatenate(values)


def _emotion_heatmap(table: Table, path: Path) -> bool:
    rows = [(row, _per_example_diff(row, table.task)) for row in table.rows]
    rows = [(r, d) for r, d in rows if d is not None]
    if not rows:
        return False
    labels = sorted({e for _, (em, _) in rows for e in em if e})
    if not labels:
        return False
    grid = np.full((len(rows), len(labels)), np.nan)
    counts = np.zeros((len(rows), len(labels)), dtype=int)
    for i, (row, (em, v)) in enumerate(rows):
        em = np.array([e or "" for e in em])
        for j, label in enumerate(labels):
            sel = (em == label) & ~np.isnan(v)
            counts[i, j] = int(sel.sum()) // max(len(row.runs), 1)
            if sel.any():
                grid[i, j] = v[sel].mean()
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(7, 0.36 * len(labels) + 3), 0.55 * len(rows) + 2.6))
    image = ax.imshow(grid, aspect="auto", cmap="viridis_r", vmin=0)
    for i in range(len(rows)):
        for j in range(len(labels)):
            if counts[i, j]:
                shade = image.cmap(image.norm(grid[i, j])) if not np.isnan(grid[i, j]) else (1, 1, 1, 1)
                light = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.5
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6,
                        color="black" if light else "white")
    ax.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [_runs_label(r, len(d[1]) // max(len(r.runs), 1)).replace("\n", " ")
                                     for r, d in rows], fontsize=8)
    ax.set_xlabel("emotion label of the dialogue (EmpatheticDialogues)")
    fig.colorbar(image, ax=ax, label="mean DIFF-EPITOME (0-4, lower is better)")
    ax.set_title("DIFF-EPITOME per emotion (colour: mean; number: dialogues in the cell)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
