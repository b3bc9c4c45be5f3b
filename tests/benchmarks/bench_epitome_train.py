"""Training the EPITOME instrument on CPU with the MiniLM backbone: time per mechanism.

Target (2 cores): all three mechanisms in under 15 minutes, under 4 GiB. The three are
trained in one fresh process, as `empathy-harness epitome train` does, into a temporary
folder (the cached instrument is not touched); held-out scores come with the times. CPU
seconds are reported beside wall seconds: on a shared machine wall time is inflated by
the others' load, CPU time much less so. Needs the offline data mirror.
`--quick` (a smoke run) trains one epoch on a tenth of each mechanism's data.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_epitome import BACKBONE, MECHANISMS, isolated, peak_mib
from tests.benchmarks.common import write_report


def train_all(directory: str, quick: bool) -> dict:
    """Train the three mechanisms in one process, as `empathy-harness epitome train` does
    (the frozen seeker encoder's states are computed once for all three)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from harness.epitome.recipes import recipe_for
    from harness.epitome.training import train_instrument

    recipe = recipe_for(BACKBONE)
    data_paths = None
    if quick:
        recipe = recipe.updated(epochs=1)
        data_paths = {m: _subset_csv(m, directory) for m in MECHANISMS}
    wall, cpu = time.perf_counter(), time.process_time()
    manifests = train_instrument(BACKBONE, directory, MECHANISMS, recipe=recipe, progress=False,
                                 data_paths=data_paths, log=lambda _: None)
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "peak_mib": peak_mib(),
            "threads": torch.get_num_threads(), "epochs": recipe.epochs,
            "per_mechanism": {m: {"wall_s": man["training"]["seconds"], "cpu_s": man["training"]["cpu_seconds"],
                                  "best_epoch": man["training"]["best_epoch"],
                                  "train_pairs": man["split"]["sizes"]["train"], "accuracy": man["test"]["accuracy"],
                                  "macro_f1": man["test"]["macro_f1"]} for m, man in manifests.items()}}


def _subset_csv(mechanism: str, directory: str) -> str:
    import csv

    from harness.epitome.data import data_path

    with open(data_path(mechanism), newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    path = Path(directory) / f"{mechanism}-subset.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([rows[0]] + rows[1::10])
    return str(path)


def main(quick: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-epitome-train-") as tmp:
        t = isolated(train_all, tmp, quick)
    rows = []
    for m, r in t["per_mechanism"].items():
        rows.append({"what": f"train {m} ({t['epochs']} epochs, {r['train_pairs']} pairs, kept epoch {r['best_epoch']})",
                     "wall s": r["wall_s"], "CPU s": r["cpu_s"],
                     "held-out": f"accuracy {r['accuracy']:.3f}, macro-F1 {r['macro_f1']:.3f}"})
    rows.append({"what": "train ER+IP+EX (one process)", "wall s": t["wall_s"], "CPU s": t["cpu_s"],
                 "peak MiB": t["peak_mib"], "held-out": "target: < 900 s wall on 2 cores, < 4096 MiB"})
    notes = [f"backbone {BACKBONE}, torch threads {t['threads']}; CPU s = process CPU time (all threads)",
             "per-mechanism rows include their evaluation; the total also includes the seeker states computed once"]
    if quick:
        notes.append("quick (a smoke run): 1 epoch on a tenth of each mechanism's data")
    write_report("epitome_train", ["what", "wall s", "CPU s", "peak MiB", "held-out"], rows, notes)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
