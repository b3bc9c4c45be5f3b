"""Meta-evaluation on EmPO's 675 rated responses, and the LLM judge's throughput on CPU.

- `meta-eval` of the whole metric suite (EPITOME MiniLM instrument, BERTScore MiniLM, the
  lexical metrics) on the 675 responses, with 1,000 bootstrap resamples: target under 3
  minutes on 2 cores once the EPITOME instrument exists (it is not trained here: that row
  is skipped, saying so, without it).
- The judge (SmolLM2-135M-Instruct, HF backend, greedy, at most 8 new tokens) rating the
  first N rated responses on EmPO's four statements, into a fresh answer cache; then the
  same again, all from the cache (nothing generated).
The whole-suite run is also the committed report: its folder is copied to
reports/meta-eval/empo/ (README.md, meta_eval.json, agreement.png), the same as
`empathy-harness meta-eval --output reports/meta-eval/empo`. Each part runs in a fresh process. Wall time is inflated by other load on a shared machine;
CPU seconds are reported beside it. Needs the offline data mirror. `--quick`: N = 16.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_epitome import isolated, peak_mib
from tests.benchmarks.common import write_report

JUDGE_RESPONSES = 64
REPORT = Path(__file__).resolve().parents[2] / "reports" / "meta-eval" / "empo"
REPORT_FILES = ("README.md", "meta_eval.json", "agreement.png")  # scores.jsonl (per response) stays out of git


def full_suite(output: str) -> dict:
    from harness.metaeval.run import MetaEvalRequest, run

    wall, cpu = time.perf_counter(), time.process_time()
    command = ["empathy-harness", "meta-eval", "--output", "reports/meta-eval/empo"]
    report = run(MetaEvalRequest(ratings=None, output=Path(output), command=command))
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    REPORT.mkdir(parents=True, exist_ok=True)
    for name in REPORT_FILES:
        shutil.copy2(Path(output) / name, REPORT / name)
    return {"wall_s": seconds, "cpu_s": cpu_seconds, "peak_mib": peak_mib(),
            "responses": report["responses_scored"], "scorer_seconds": report["scorer_seconds"],
            "load": os.getloadavg()[0]}


def judge_throughput(n: int, answers: str) -> dict:
    import torch

    from harness.data.ed import load_examples
    from harness.human_eval.empo import read_empo_ratings
    from harness.metaeval.mapping import map_dialogues
    from harness.metaeval.run import build_items, rated_dialogues
    from harness.metrics.judge import JudgeScorer, JudgeSettings

    data = read_empo_ratings()
    mapping = map_dialogues(rated_dialogues(data), load_examples("test"))
    items = [item for rows in build_items(data, mapping).values() for _, item in rows][:n]
    settings = JudgeSettings(device="cpu", answers_dir=answers)
    scorer = JudgeScorer(settings)
    start = time.perf_counter()
    scorer.judge.lm  # noqa: B018 - load apart from generating
    load = time.perf_counter() - start
    wall, cpu = time.perf_counter(), time.process_time()
    scorer.compute(items)
    first = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
             "generated": scorer.judge.generated}
    unparseable = sum(u["count"] for u in scorer.unparseable_report().values())
    again = JudgeScorer(settings)
    wall = time.perf_counter()
    again.compute(items)
    cached = {"wall_s": time.perf_counter() - wall, "generated": again.judge.generated}
    return {"n": len(items), "load_s": load, "first": first, "cached": cached, "unparseable": unparseable,
            "threads": torch.get_num_threads(), "peak_mib": peak_mib(), "load": os.getloadavg()[0]}


def main(quick: bool = False) -> None:
    from harness.epitome.store import choose_backbone, default_dir, missing_mechanisms

    rows, notes = [], []
    n = 16 if quick else JUDGE_RESPONSES
    with tempfile.TemporaryDirectory() as tmp:
        j = isolated(judge_throughput, n, str(Path(tmp) / "answers"))
        requests = j["n"] * 4
        rows.append({"what": f"judge: {j['n']} responses x 4 statements, fresh cache", "wall s": j["first"]["wall_s"],
                     "CPU s": j["first"]["cpu_s"], "per s": requests / j["first"]["wall_s"],
                     "peak MiB": j["peak_mib"], "note": f"{j['first']['generated']} generated, "
                     f"{j['unparseable']} unparseable; load {j['load']:.1f} at the end"})
        rows.append({"what": "judge: the same again (cached)", "wall s": j["cached"]["wall_s"],
                     "per s": requests / max(j["cached"]["wall_s"], 1e-9),
                     "note": f"{j['cached']['generated']} generated, no model loaded"})
        rows.append({"what": "judge: loading SmolLM2-135M-Instruct", "wall s": j["load_s"], "note": ""})
        notes.append(f"judge: HF backend on CPU, torch threads {j['threads']}, lm-eval batch 64, greedy, "
                     "at most 8 new tokens per answer; per s = answers per second")
        instrument = default_dir(choose_backbone().name)
        if not missing_mechanisms(instrument) and not quick:
            s = isolated(full_suite, str(Path(tmp) / "report"))
            rows.append({"what": f"meta-eval, whole suite, {s['responses']} responses", "wall s": s["wall_s"],
                         "CPU s": s["cpu_s"], "peak MiB": s["peak_mib"],
                         "note": f"target < 180 s; load {s['load']:.1f} at the end; scorer s: "
                         + ", ".join(f"{k} {v:.0f}" for k, v in s["scorer_seconds"].items())})
        else:
            why = "--quick" if quick else f"no trained EPITOME instrument in <cache>/epitome/{instrument.name}"
            notes.append(f"meta-eval of the whole suite not measured: {why}")
    write_report("meta_eval", ["what", "wall s", "CPU s", "per s", "peak MiB", "note"], rows, notes)


if __name__ == "__main__":
    main()
