"""RL with EmpRL's empathy reward on CPU: reward throughput, seconds per RL step, peak memory.

- reward: R_emp of 1,024 responses (ED test examples, each answered by another example's
  reference: real text of realistic length) with the MiniLM instrument, the seeker side
  `full`, in batches of 32 (one RL step's completions), reference levels computed before
  (as training does, once per example). Target on 2 cores: >= 50 responses/s.
- steps: 3 optimizer steps (8 completions each) of the smollm2-135m-cpu recipe's RL stage
  from its SFT folder (`RL_BENCH_SFT`, default runs/smollm2/sft), in a fresh process:
  wall and CPU seconds per step and the process's peak RSS.

Wall time on a shared machine says more about the neighbours than about the code: CPU
seconds are reported beside it, and the load average with it. Needs the offline data mirror
and the trained MiniLM instrument (never trained here: `empathy-harness epitome train
--backbone all-minilm-l6-v2`). `--quick`: 256 responses, 1 step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.bench_epitome import isolated, peak_mib
from harness.leaderboard.display import display_path
from tests.benchmarks.common import REPORTS, write_report

BACKBONE = "all-minilm-l6-v2"
BATCH = 32
REPO = Path(__file__).resolve().parents[2]


def reward_throughput(n: int) -> dict:
    import torch

    from harness.data.ed import load_examples
    from harness.train.reward import EmpathyReward, instrument, seeker_text

    t0 = time.perf_counter()
    inst = instrument(BACKBONE, None)
    load = time.perf_counter() - t0
    examples = load_examples("test")[:n]
    seekers = [seeker_text(e.context, "full") for e in examples]
    responses = [examples[(i + 1) % n].reference for i in range(n)]
    reward = EmpathyReward(inst, "full")
    t0 = time.perf_counter()
    levels = inst.levels(seekers, [e.reference for e in examples])
    reference_s = time.perf_counter() - t0
    columns = {f"ref_level_{m.lower()}": levels[m] for m in levels}
    rewards = []
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, BATCH):
        part = slice(start, start + BATCH)
        rewards += reward(prompts=None, completions=responses[part], seeker=seekers[part],
                          **{k: v[part] for k, v in columns.items()})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"n": n, "load_s": load, "reference_s": reference_s, "wall_s": wall, "cpu_s": cpu,
            "mean_reward": sum(rewards) / len(rewards), "threads": torch.get_num_threads(), "peak_mib": peak_mib(),
            "instrument": inst.describe()["instrument_id"][:12]}


def rl_steps(steps: int, sft: Path, work: Path) -> dict:
    import yaml

    raw = yaml.safe_load((REPO / "models" / "recipes" / "smollm2-135m-cpu.yaml").read_text())
    raw["rl"].update({"max_steps": steps, "save_steps": 1000, "disable_tqdm": True})
    recipe = work / "smollm2-135m-cpu-bench.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    out = work / "rl"
    command = ["/usr/bin/time", "-f", "%M %U %S %e", sys.executable, "-m", "harness", "train", "rl",
               "--recipe", str(recipe), "--from", str(sft), "--output", str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    peak_kib, user, system, elapsed = proc.stderr.strip().splitlines()[-1].split()
    state = json.loads((out / "training.json").read_text())
    history = json.loads((out / "loss_curve.json").read_text())
    runtime = next(e["train_runtime"] for e in history if "train_runtime" in e)
    return {"steps": state["steps"], "train_s": runtime, "process_s": float(elapsed),
            "cpu_s": float(user) + float(system), "peak_mib": int(peak_kib) / 1024,
            "curve": json.loads((out / "reward_curve.json").read_text())}


def main(quick: bool = False) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    n = 256 if quick else 1024
    steps = int(os.environ.get("RL_BENCH_STEPS", 1 if quick else 3))
    r = isolated(reward_throughput, n)
    load = [round(x, 2) for x in os.getloadavg()]
    rows = [
        {"what": f"R_emp of {r['n']} responses in batches of {BATCH} (seeker: full history)",
         "wall s": r["wall_s"], "CPU s": r["cpu_s"], "per s": r["n"] / r["wall_s"], "peak MiB": r["peak_mib"],
         "note": f"target >= 50 responses/s; mean reward {r['mean_reward']:.4f}"},
        {"what": f"reference levels of the {r['n']} examples (once per training example)",
         "wall s": r["reference_s"], "per s": r["n"] / r["reference_s"], "note": ""},
        {"what": "loading the instrument (3 classifiers)", "wall s": r["load_s"], "note": ""},
    ]
    sft = Path(os.environ.get("RL_BENCH_SFT", REPO / "runs" / "smollm2" / "sft"))
    notes = [f"instrument {BACKBONE} (id {r['instrument']}...), torch threads {r['threads']}; "
             f"load average (1, 5, 15 min) after the reward rows: {load}"]
    if steps and (sft / "training.json").exists():
        with tempfile.TemporaryDirectory(prefix="bench-rl-") as tmp:
            s = rl_steps(steps, sft, Path(tmp))
        rows.append({"what": f"smollm2-135m-cpu RL: {s['steps']} optimizer step(s), 8 completions each",
                     "wall s": s["train_s"] / s["steps"], "CPU s": s["cpu_s"] / s["steps"], "per s": "",
                     "peak MiB": s["peak_mib"],
                     "note": f"per step (trainer runtime); the whole process {s['process_s']:.0f} s with loading"})
        notes.append(f"RL steps from {display_path(sft, REPO)}; CPU s per step = the process's user + system time / steps "
                     f"(loading included); load average after: {[round(x, 2) for x in os.getloadavg()]}")
    else:
        notes.append(f"RL steps not measured here: RL_BENCH_STEPS=0, or no SFT folder at {sft} (set RL_BENCH_SFT)")
    write_report("rl", ["what", "wall s", "CPU s", "per s", "peak MiB", "note"], rows, notes)
    assert REPORTS.exists()


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
