"""Markdown table of RL training folders for reports/rl: steps, time, peak memory, and
whether the mean reward rose (least-squares slope of the per-step mean reward on the step,
with its two-sided p-value, scipy.stats.linregress), the KL to the SFT model at the end.

    python reports/rl/training_table.py TRAIN_DIR [TRAIN_DIR ...]

A TRAIN_DIR's peak memory is read from TRAIN_DIR.time (GNU time -v, as run.sh writes it).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from scipy import stats


def peak_gib(folder: Path) -> str:
    timing = folder.with_name(folder.name + ".time")
    if not timing.is_file():
        return ""
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing.read_text())
    return f"{int(found.group(1)) / 2**20:.1f}" if found else ""


def row(folder: Path) -> str:
    if not (folder / "training.json").is_file():
        sys.exit(f"{folder}: no training.json; pass an RL training folder (`train rl --output`)")
    state = json.loads((folder / "training.json").read_text())
    curve = json.loads((folder / "reward_curve.json").read_text())
    steps = [r["step"] for r in curve if r.get("reward") is not None]
    rewards = [r["reward"] for r in curve if r.get("reward") is not None]
    kl = [r["kl"] for r in curve if r.get("kl") is not None]
    first_last = state.get("reward_first_last") or {}
    if len(set(rewards)) > 1:
        fit = stats.linregress(steps, rewards)
        trend = f"{fit.slope * 1000:+.2f} (p = {fit.pvalue:.2f})"
    else:
        trend = "constant reward"
    last_kl = f"{sum(kl[-5:]) / len(kl[-5:]):.3f}" if kl else "not logged"
    return (f"| `{folder.name}` | {state['steps']} | {state['wall_seconds'] / 60:.1f} | {peak_gib(folder)} | "
            f"{state['reward']['kind']} | {state['kl_coefficient']} | {first_last.get('first', float('nan')):.3f} | "
            f"{first_last.get('last', float('nan')):.3f} | {trend} | {last_kl} |")


def main(paths: list[str]) -> None:
    lines = ["", "## Training", "",
             "Mean reward per optimizer step (2 prompts x 4 completions); first and last 5: its mean over the first "
             "and over the last 5 steps; slope: the least-squares slope of the per-step mean reward on the step, "
             "times 1,000, with the two-sided p-value of a zero slope; KL: trl's mean per-token KL to the SFT model "
             "over the last 5 steps (not logged when the KL coefficient is 0). Wall time on the 2-core machine with "
             "other runs beside it (see the README).", "",
             "| run | steps | wall min | peak GiB | reward | KL coef. | reward, first 5 | reward, last 5 | "
             "slope x 1000 (p) | KL, last 5 |", "|---|--:|--:|--:|---|--:|--:|--:|--:|--:|"]
    lines += [row(Path(p)) for p in paths]
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
