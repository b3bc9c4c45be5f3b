"""Benchmark: wall time of SFT then DPO with the `smollm2-135m-cpu` recipe (the target: under
30 minutes in all on 2 CPU cores, held-out DPO reward accuracy above 0.6).

`--quick` runs the same recipe on a sliver of the data (16 dialogues, 16 pairs for one
epoch, 16 held-out pairs), to check the command end to end in a few minutes; its held-out
numbers mean nothing. Needs the ED release (EMPATHY_HARNESS_MIRROR or the cache).

    python -m tests.benchmarks train [--quick]

A run made with the CLI (`empathy-harness train sft|dpo`) can be reported instead of
training again; the times are then the trainers' own (training.json), without start-up:

    python -m tests.benchmarks.bench_train --from-runs SFT_DIR DPO_DIR
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import max_rss_mib, write_report

RECIPE = "smollm2-135m-cpu"


def main(quick: bool) -> None:
    from harness.train.dpo import train_dpo
    from harness.train.recipe import load_recipe
    from harness.train.sft import train_sft

    recipe = load_recipe(RECIPE)
    if quick:
        recipe.sft_data = dataclasses.replace(recipe.sft_data, limit=16)
        recipe.dpo_data = dataclasses.replace(recipe.dpo_data, limit=16)
        recipe.heldout = dataclasses.replace(recipe.heldout, limit=16)
        recipe.dpo = {**recipe.dpo, "num_train_epochs": 1}
    seed = recipe.seeds[0]
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        start = time.perf_counter()
        sft_dir = train_sft(recipe, Path(tmp) / "sft", seed)
        sft_seconds = time.perf_counter() - start
        start = time.perf_counter()
        dpo_dir = train_dpo(recipe, sft_dir, Path(tmp) / "dpo", seed)
        dpo_seconds = time.perf_counter() - start
        import torch

        report(sft_dir, dpo_dir, sft_seconds, dpo_seconds, [
            f"recipe {RECIPE}{' (quick: 16 dialogues, 16 pairs x 1 epoch, 16 held-out pairs)' if quick else ''}, "
            f"seed {seed}, timed around the training calls; torch threads {torch.get_num_threads()}, "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
            f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}",
            f"peak RSS {max_rss_mib():.0f} MiB"])


def report(sft_dir: Path, dpo_dir: Path, sft_seconds: float, dpo_seconds: float, how: list[str]) -> None:
    sft_state = json.loads((Path(sft_dir) / "training.json").read_text())
    dpo_state = json.loads((Path(dpo_dir) / "training.json").read_text())
    epochs = len(dpo_state["data"]["sha256_per_epoch"])
    rows = [
        _row("SFT", sft_state, sft_seconds, f"{sft_state['data']['dialogues']} dialogues"),
        _row("DPO", dpo_state, dpo_seconds, f"{dpo_state['data']['pairs_per_epoch']} pairs x {epochs} epochs"),
        {"stage": "total", "seconds": round(sft_seconds + dpo_seconds, 1),
         "minutes": round((sft_seconds + dpo_seconds) / 60, 1),
         "cpu seconds": round(sft_state["cpu_seconds"] + dpo_state["cpu_seconds"], 1)},
    ]
    heldout = dpo_state["heldout_per_epoch"]
    notes = how + [
        f"held-out DPO pairs ({dpo_state['data']['heldout']['pairs']}) per epoch (epoch: reward accuracy / margin): "
        + "; ".join(f"{r['epoch']:g}: {r['reward_accuracy']:.3f} / {r['reward_margin']:.3f}" for r in heldout),
        "cpu seconds: CPU time of all threads (user + system); on a shared machine the wall time "
        "depends on the neighbours, the CPU time much less",
    ]
    write_report("train", ["stage", "data", "steps", "seconds", "minutes", "s/step", "cpu seconds"], rows, notes)


def _row(stage: str, state: dict, seconds: float, data: str) -> dict:
    steps = state["steps"]
    return {"stage": stage, "data": data, "steps": steps, "seconds": round(seconds, 1),
            "minutes": round(seconds / 60, 1), "s/step": round(seconds / max(steps, 1), 1),
            "cpu seconds": state["cpu_seconds"]}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_train")
    parser.add_argument("--from-runs", nargs=2, metavar=("SFT_DIR", "DPO_DIR"), required=True)
    sft, dpo = (Path(p) for p in parser.parse_args().from_runs)
    states = [json.loads((d / "training.json").read_text()) for d in (sft, dpo)]
    report(sft, dpo, states[0]["wall_seconds"], states[1]["wall_seconds"],
           [f"recipe from {sft / 'recipe.yaml'}, seed {states[0]['seed']}, trained with the CLI "
            f"(empathy-harness train sft|dpo, run with OMP_WAIT_POLICY=PASSIVE); seconds from training.json"])
