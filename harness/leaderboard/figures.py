"""Leaderboard figures (matplotlib, Agg, PNG), from the per-example scores of each row:
IVA distance distributions, signed and absolute (EmPO Figures 5, 9, 10), NIDF
distributions (Figure 4), empathy against MMLU per model, and DIFF-EPITOME per emotion.
A figure whose data no run has is skipped, not drawn empty."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from harness.leaderboard.table import MMLU, Row, Table

IVA = ("intensity", "valence", "arousal")


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
        ("IVA distance, signed d = max(prev) - max(response)", "iva_signed.png", lambda p: _violins(table, [f"{d}_signed" for d in IVA], p, True)),
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


def _violins(table: Table, keys: list[str], path: Path, signed: bool) -> bool:
    data = {key: [(row.model, _values(row, table.task, key)) for row in table.rows] for key in keys}
    data = {k: [(m, v) for m, v in rows if v is not None and len(v)] for k, rows in data.items()}
    data = {k: rows for k, rows in data.items() if rows}
    if not data:
        return False
    plt = _plt()
    fig, axes = plt.subplots(1, len(data), figsize=(4.2 * len(data), 0.5 * max(len(r) for r in data.values()) + 2.2),
                             squeeze=False)
    for ax, (key, rows) in zip(axes[0], data.items()):
        parts = ax.violinplot([v for _, v in rows], orientation="horizontal", showmeans=True, showextrema=False)
        for body in parts["bodies"]:
            body.set_alpha(0.55)
        ax.set_yticks(range(1, len(rows) + 1), [m for m, _ in rows])
        ax.set_title(key)
        if signed:
            ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.invert_yaxis()
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
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for row in points:
        x, y = row.cells[MMLU], row.cells[y_key]
        xerr = None if x.ci is None else [[x.value - x.ci[0]], [x.ci[1] - x.value]]
        yerr = None if y.ci is None else [[y.value - y.ci[0]], [y.ci[1] - y.value]]
        ax.errorbar(x.value, y.value, xerr=xerr, yerr=yerr, fmt="o", capsize=3)
        ax.annotate(row.model, (x.value, y.value), textcoords="offset points", xytext=(5, 5))
    # rows without MMLU (the human and opposite-emotion references) as horizontal lines
    for row in table.rows:
        if row in points or y_key not in row.cells or math.isnan(row.cells[y_key].value):
            continue
        ax.axhline(row.cells[y_key].value, color="grey", lw=0.8, ls="--")
        ax.annotate(f"{row.model} (no MMLU)", (0.01, row.cells[y_key].value), xycoords=("axes fraction", "data"),
                    textcoords="offset points", xytext=(0, 3), fontsize=8, color="grey")
    direction = "lower is better" if y_key.startswith("diff") else "higher is better"
    ax.set_xlabel("MMLU accuracy (higher is better)")
    ax.set_ylabel(f"{y_key} ({direction})")
    ax.set_title("Empathy against general ability (95% intervals)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
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
    rows = [(row.model, _per_example_diff(row, table.task)) for row in table.rows]
    rows = [(m, d) for m, d in rows if d is not None]
    if not rows:
        return False
    labels = sorted({e for _, (em, _) in rows for e in em if e})
    if not labels:
        return False
    grid = np.full((len(rows), len(labels)), np.nan)
    for i, (_, (em, v)) in enumerate(rows):
        em = np.array([e or "" for e in em])
        for j, label in enumerate(labels):
            sel = (em == label) & ~np.isnan(v)
            if sel.any():
                grid[i, j] = v[sel].mean()
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 0.32 * len(labels) + 2.5), 0.45 * len(rows) + 2.2))
    image = ax.imshow(grid, aspect="auto", cmap="viridis_r")
    ax.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [m for m, _ in rows])
    fig.colorbar(image, ax=ax, label="mean DIFF-EPITOME (lower is better)")
    ax.set_title("DIFF-EPITOME per emotion of the dialogue")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
