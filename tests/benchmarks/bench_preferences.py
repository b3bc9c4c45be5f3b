"""Pair building (`preferences build`) with the EPITOME scorer: 2,546 ED test dialogues x 4
candidates, reference levels cached.

Target (2 cores): under 2 minutes for reading the 4 candidate files, checking they cover
the same dialogues, scoring every response (EPITOME levels, 3 mechanisms, the references'
levels read from the cache as when candidates of one dialogue set are scored), picking
best and worst per dialogue, and writing the pairs and their provenance. The instrument's
loading is reported apart. Candidate c's response to dialogue i is the reference of
dialogue i + c + 1 (real ED text, realistic lengths). Runs in a fresh process with a
temporary derived-data cache; CPU seconds beside wall seconds (the machine is shared).
Needs the offline data mirror and a trained MiniLM instrument (it is never trained
here: `empathy-harness epitome train` makes it). `--quick`: 254 dialogues.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_epitome import isolated, peak_mib
from tests.benchmarks.common import write_report

BACKBONE = "all-minilm-l6-v2"
N_DIALOGUES, N_CANDIDATES = 2546, 4


def write_candidates(folder: Path, n: int) -> list[Path]:
    from harness.data.ed import load_examples
    from harness.generations import write_jsonl

    examples = load_examples("test")[:n]
    if len(examples) < n:
        raise SystemExit(f"the ED test split has {len(examples)} dialogues, fewer than {n}")
    paths = []
    for c in range(N_CANDIDATES):
        path = folder / f"candidate-{c}.jsonl"
        write_jsonl(path, ({"id": e.id, "context": list(e.context), "reference": e.reference, "emotion": e.emotion,
                            "response": examples[(i + c + 1) % n].reference} for i, e in enumerate(examples)))
        paths.append(path)
    return paths


def build(directory: str, n: int, tmp: str) -> dict:
    os.environ["EMPATHY_HARNESS_CACHE"] = tmp
    import torch

    from harness.metrics import base
    from harness.metrics.diff_epitome import configure
    from harness.pairs.build import build_pairs, load_candidates, write_pairs
    from harness.pairs.scorers import get_preference_scorer

    configure(directory=directory, progress=False)
    paths = write_candidates(Path(tmp), n)
    start = time.perf_counter()
    scorer = get_preference_scorer("epitome_level_sum")
    scorer.instrument()
    load = time.perf_counter() - start
    # the references' levels, cached as after any earlier scoring of these dialogues
    warm = time.perf_counter()
    base.score(load_candidates(paths[0]).items, ["epitome"])
    warm = time.perf_counter() - warm
    wall, cpu = time.perf_counter(), time.process_time()
    candidates = [load_candidates(p) for p in paths]
    result = build_pairs(candidates, scorer)
    write_pairs(Path(tmp) / "pairs.jsonl", result, candidates, scorer, 0.0, "drop")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"n": n, "load_s": load, "warm_s": warm, "wall_s": wall, "cpu_s": cpu, "counts": result.counts,
            "threads": torch.get_num_threads(), "peak_mib": peak_mib()}


def main(quick: bool = False) -> None:
    from harness.epitome import store
    from harness.epitome.prediction import resolve_dir

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    directory, _choice = resolve_dir(BACKBONE)
    missing = store.missing_mechanisms(directory)
    if missing:
        raise SystemExit(f"no trained instrument in {directory} (missing {', '.join(missing)}): "
                         f"{store.train_command(BACKBONE)}")
    n = N_DIALOGUES // 10 if quick else N_DIALOGUES
    with tempfile.TemporaryDirectory(prefix="bench-preferences-") as tmp:
        s = isolated(build, str(directory), n, tmp)
    c = s["counts"]
    rows = [
        {"what": f"preferences build, {s['n']} dialogues x {N_CANDIDATES} candidates, epitome_level_sum, "
                 "reference levels cached", "wall s": s["wall_s"], "CPU s": s["cpu_s"],
         "responses/s": N_CANDIDATES * s["n"] / s["wall_s"], "peak MiB": s["peak_mib"],
         "note": f"target < 120 s; {c['pairs']} pairs; dropped: {c['all_tied']} all tied, "
                 f"{c['tied_best_or_worst']} tied best or worst, {c['fewer_than_two']} fewer than two"},
        {"what": "caching the references' levels first (one candidate file scored, 6 passes)",
         "wall s": s["warm_s"], "note": "not part of the target"},
        {"what": "loading the instrument (3 classifiers)", "wall s": s["load_s"], "note": ""},
    ]
    notes = [f"instrument <cache>/epitome/{directory.name} ({BACKBONE}), torch threads {s['threads']}; "
             "CPU s = process CPU time",
             "candidate c answers dialogue i with the reference of dialogue i + c + 1 (ED test split)",
             "ties: drop (the default), min margin 0"]
    write_report("preferences", ["what", "wall s", "CPU s", "responses/s", "peak MiB", "note"], rows, notes)


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
