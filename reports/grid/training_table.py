"""Markdown table of the grid's DPO training folders: the pairs, the steps, and the held-out
reward accuracy and margin after each epoch (the recipe's held-out opposite-emotion pairs,
one yardstick whatever the training pairs; harness/train/dpo.py).

    python reports/grid/training_table.py LABEL=DPO_DIR [LABEL=DPO_DIR ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(label: str, folder: Path) -> str:
    if not (folder / "training.json").is_file():
        sys.exit(f"{folder}: no training.json; pass a DPO training folder (`train dpo --output`)")
    state = json.loads((folder / "training.json").read_text())
    data = state["data"]
    source = data.get("pairs") or "opposite-emotion (EmPO)"  # runs before --pairs existed say nothing
    if source == "file":
        source = f"file `{Path(str(data['pairs_file'].get('path', ''))).name}`"
    start = "SFT" if state.get("sft_adapter") else "base"
    epochs = state.get("heldout_per_epoch") or []
    accuracy = " / ".join(f"{e['reward_accuracy']:.2f}" for e in epochs)
    margin = " / ".join(f"{e['reward_margin']:.3f}" for e in epochs)
    return (f"| {label} | {start} | {source} | {data.get('pairs_per_epoch')} | {state['steps']} | "
            f"{state['wall_seconds'] / 60:.1f} | {accuracy} | {margin} |")


def main(args: list[str]) -> None:
    lines = ["", "## DPO training", "",
             "Held-out: the recipe's 48 opposite-emotion pairs of the validation split, after epochs 1 / 2 / 3 "
             "(reward accuracy: the share of pairs whose implicit reward ranks chosen above rejected; margin: the "
             "mean chosen-minus-rejected implicit reward). Wall time on the shared 2-core machine.", "",
             "| cell | from | pairs | pairs per epoch | steps | wall min | held-out reward accuracy | held-out margin |",
             "|---|---|---|--:|--:|--:|---|---|"]
    for arg in args:
        label, _, path = arg.partition("=")
        lines.append(row(label, Path(path)))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
