"""BERTScore on CPU with the packaged MiniLM (the offline encoder): 2,540 ED test pairs.

Target (2 cores): under 20 s, under 4 GiB. Runs in a fresh process (its own peak RSS);
the encoder's loading is timed apart from scoring. CPU seconds are reported beside wall
seconds (wall time is inflated by other load on a shared machine). Needs the offline
data mirror. `--quick`: 254 pairs.
"""

from __future__ import annotations

import os
import time

from tests.benchmarks.bench_epitome import N_EXAMPLES, ed_items, isolated, peak_mib
from tests.benchmarks.common import write_report


def score_bertscore(n: int) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from harness.metrics import base

    items = ed_items(n)
    start = time.perf_counter()
    scorer = base.get_scorer("bertscore")
    described = scorer.instrument()
    load = time.perf_counter() - start
    wall, cpu = time.perf_counter(), time.process_time()
    summary = base.score(items, ["bertscore"]).summary
    return {"n": len(items), "load_s": load, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "f1": summary["bertscore_f1"], "peak_mib": peak_mib(), "threads": torch.get_num_threads(),
            "model": described["model"], "layers": described["num_layers"]}


def main(quick: bool = False) -> None:
    s = isolated(score_bertscore, N_EXAMPLES // 10 if quick else N_EXAMPLES)
    rows = [
        {"what": f"BERTScore, {s['n']} pairs", "wall s": s["wall_s"], "CPU s": s["cpu_s"],
         "pairs/s": s["n"] / s["wall_s"], "peak MiB": s["peak_mib"],
         "note": f"target < 20 s; mean F1 {s['f1']:.4f}"},
        {"what": "loading the encoder", "wall s": s["load_s"], "note": ""},
    ]
    notes = [f"encoder {s['model']}, layer {s['layers']}, no idf, no rescaling; torch threads {s['threads']}",
             "responses are other examples' references from the ED test split",
             "peak MiB: the scoring process's max RSS (target < 4096)"]
    write_report("bertscore", ["what", "wall s", "CPU s", "pairs/s", "peak MiB", "note"], rows, notes)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
