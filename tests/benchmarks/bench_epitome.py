"""DIFF-EPITOME on CPU with the MiniLM instrument: throughput and peak memory on 2,540
ED test examples.

Target (2 cores): 2,540 examples in under 60 s with 6 classifier passes (responses and
references, 3 mechanisms: the cold run, nothing cached), under 4 GiB. The warm run has
the references' levels cached, as when many systems are scored on one test set. Scoring
runs in a fresh process so its peak RSS is its own; CPU seconds are reported beside wall
seconds (wall time is inflated by other load on a shared machine). Uses the cached
MiniLM instrument, training it first if it is missing (see bench_epitome_train for the
training time). Needs the offline data mirror. `--quick`: 254 examples.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import write_report

BACKBONE = "all-minilm-l6-v2"
MECHANISMS = ("ER", "IP", "EX")
N_EXAMPLES = 2540


def isolated(fn, *args):
    """Run fn(*args) in a fresh process (its own peak RSS, nothing loaded before)."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ed_items(n: int):
    """n ED test examples; the response is another example's reference (real ED text)."""
    from harness.data.ed import load_examples
    from harness.metrics.base import Item

    examples = load_examples("test")[:n]
    return [Item(e.id, e.context, examples[(i + 1) % len(examples)].reference, e.reference)
            for i, e in enumerate(examples)]


def score_epitome(directory: str, n: int, cache: str) -> dict:
    """Cold: 6 classifier passes (no cached reference levels); warm: 3 (references cached)."""
    os.environ["EMPATHY_HARNESS_CACHE"] = cache
    import torch

    from harness.metrics import base
    from harness.metrics.diff_epitome import configure

    configure(directory=directory, progress=False)
    items = ed_items(n)
    load = time.perf_counter()
    scorer = base.get_scorer("epitome")
    scorer.instrument()
    load = time.perf_counter() - load
    wall, cpu = time.perf_counter(), time.process_time()
    summary = base.score(items, ["epitome"]).summary
    cold, cold_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall = time.perf_counter()
    base.score(items, ["epitome"])
    warm = time.perf_counter() - wall
    return {"n": len(items), "load_s": load, "cold_s": cold, "cold_cpu_s": cold_cpu, "warm_s": warm,
            "threads": torch.get_num_threads(), "diff_epitome": summary["diff_epitome"], "emp_f1": summary["emp_f1"],
            "peak_mib": peak_mib()}


def main(quick: bool = False) -> None:
    from harness.epitome.prediction import ensure_instrument

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    directory = str(ensure_instrument(BACKBONE, progress=True))
    n = N_EXAMPLES // 10 if quick else N_EXAMPLES
    with tempfile.TemporaryDirectory(prefix="bench-epitome-") as tmp:
        s = isolated(score_epitome, directory, n, tmp)
    rows = [
        {"what": f"DIFF-EPITOME + Emp-F1, {s['n']} examples, 6 classifier passes (cold)", "wall s": s["cold_s"],
         "CPU s": s["cold_cpu_s"], "pairs/s": 2 * s["n"] / s["cold_s"], "peak MiB": s["peak_mib"],
         "note": f"target < 60 s; diff_epitome {s['diff_epitome']:.3f}, emp_f1 {s['emp_f1']:.1f}"},
        {"what": f"the same, reference levels cached (warm, 3 passes)", "wall s": s["warm_s"],
         "pairs/s": s["n"] / s["warm_s"], "note": ""},
        {"what": "loading the instrument (3 classifiers)", "wall s": s["load_s"], "note": ""},
    ]
    notes = [f"instrument {directory} ({BACKBONE}), torch threads {s['threads']}; CPU s = process CPU time",
             "responses are other examples' references from the ED test split (real text, realistic lengths)",
             "peak MiB: the scoring process's max RSS (target < 4096)"]
    write_report("epitome", ["what", "wall s", "CPU s", "pairs/s", "peak MiB", "note"], rows, notes)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
