"""Benchmark of `empathy-harness eval`: generation speed and start-up time.

1. New tokens per second of the HF backend on the embedded model (SmolLM2-135M-Instruct),
   batched, on the real ed_empathy requests (chat template, greedy, up to 200 new tokens):
   the requests are built by lm-eval from our task and answered by lm-eval's HFLM, as in
   a run. "New tokens" are the tokens of the returned responses (after the stop
   sequence); a batch runs until its longest response stops, which is the cost counted.
2. Start-up: wall time of a one-document, one-token run of `empathy-harness eval` against
   the stock `lm_eval --include_path tasks` on the same task and model (tiny-llama), which
   is almost all start-up (imports, task index, model load).

Needs the ED data (EMPATHY_HARNESS_MIRROR). Target: >= 80 new tokens/s on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import write_report

REPO = Path(__file__).resolve().parents[2]


def ed_requests(lm, n: int):
    """The first n ed_empathy requests, as lm-eval builds them for a chat model."""
    from harness.lmeval import taskdir

    manager = taskdir.task_manager(["ed_empathy"])
    task = manager.load(["ed_empathy"])["tasks"]["ed_empathy"]
    task.build_all_requests(limit=n, apply_chat_template=True, chat_template=lm.apply_chat_template)
    return task.instances


GENERATION_MODES = ("plain", "plain+static", "shared prefix")


def generation_row(prompts: int, batch_size: int, mode: str) -> dict:
    """One measurement, in this process (the OpenMP settings are this process's).

    plain: lm-eval's HFLM as it is (one `generate` call per batch, growing KV cache);
    plain+static: the same with a preallocated KV cache; shared prefix: what the eval
    command installs (harness/runs/hf_generation.py)."""
    import torch
    from lm_eval.api.registry import get_model

    from harness.embedded import resolve_model
    from harness.runs.hf_generation import use_shared_prefix_generation

    lm = get_model("hf").create_from_arg_obj({"pretrained": resolve_model("smollm2-135m-instruct")},
                                             {"batch_size": batch_size, "device": "cpu"})
    if mode == "plain+static":
        lm.model.generation_config.cache_implementation = "static"
    elif mode == "shared prefix":
        use_shared_prefix_generation(lm)
    elif mode != "plain":
        raise SystemExit(f"unknown generation mode {mode!r}; one of {', '.join(GENERATION_MODES)}")
    requests = ed_requests(lm, prompts)
    start = time.perf_counter()
    responses = lm.generate_until(requests, disable_tqdm=True)
    seconds = time.perf_counter() - start
    tokens = sum(len(lm.tok_encode(r, add_special_tokens=False)) for r in responses)
    return {
        "measure": "generation", "batch size": batch_size, "generation": mode, "prompts": prompts, "new tokens": tokens,
        "seconds": round(seconds, 2), "new tokens/s": round(tokens / seconds, 1),
        "threads": torch.get_num_threads(), "omp wait": os.environ.get("OMP_WAIT_POLICY", "default"),
        "load": round(os.getloadavg()[0], 2),
    }


def generation_rows(prompts: int, configs: list[tuple[int, str, str]]) -> list[dict]:
    """Each (batch size, OMP_WAIT_POLICY, generation mode) in a fresh process, since OpenMP
    reads the policy at start."""
    rows = []
    for batch_size, policy, mode in configs:
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        if policy == "default":
            env.pop("OMP_WAIT_POLICY")
        proc = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_eval", "--worker", str(prompts),
                               str(batch_size), mode], cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"generation worker failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    return rows


def startup_rows() -> list[dict]:
    from harness.embedded import resolve_model

    tiny = resolve_model("tiny-llama")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EMPATHY_HARNESS_METRICS": "none", "HF_HUB_OFFLINE": "1"}
        bin_dir = Path(sys.executable).parent
        commands = {
            "empathy-harness eval": [str(bin_dir / "empathy-harness"), "eval", "--model-args", "pretrained=tiny-llama",
                                     "--tasks", "ed_empathy", "--limit", "1", "--gen-kwargs", "max_gen_toks=1",
                                     "--no-cache", "--output", f"{tmp}/run"],
            "lm_eval (stock)": [str(bin_dir / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={tiny}",
                                "--device", "cpu", "--include_path", str(REPO / "tasks"), "--tasks", "ed_empathy",
                                "--limit", "1", "--gen_kwargs", "max_gen_toks=1"],
        }
        for label, command in commands.items():
            start = time.perf_counter()
            proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{label} failed:\n{proc.stderr[-3000:]}")
            rows.append({"measure": "start-up", "command": label, "seconds": round(seconds, 1),
                         "load": round(os.getloadavg()[0], 2)})
            print(rows[-1], flush=True)
    return rows


def main(quick: bool = False) -> None:
    if quick:  # the eval command's settings on an idle machine
        prompts, configs = 64, [(64, "default", "shared prefix")]
    else:
        prompts = 64
        configs = ([(b, "default", mode) for b in (16, 64) for mode in GENERATION_MODES]
                   + [(32, "default", "shared prefix"), (64, "PASSIVE", "shared prefix")])
    rows = generation_rows(prompts, configs) + startup_rows()
    best = max((r for r in rows if r["measure"] == "generation"), key=lambda r: r["new tokens/s"])
    write_report(
        "eval",
        ["measure", "batch size", "omp wait", "generation", "prompts", "new tokens", "seconds", "new tokens/s", "command", "load"],
        rows,
        notes=[
            f"generation: SmolLM2-135M-Instruct (float32, CPU, {best['threads']} torch threads), the first "
            f"{prompts} ed_empathy prompts with the chat template, greedy, up to 200 new tokens; best batch size "
            f"{best['batch size']} at {best['new tokens/s']} new tokens/s (target >= 80)",
            "start-up: one document, one new token, tiny-llama, no metrics; the stock command indexes every "
            "built-in lm-eval task, ours only the harness's task folder",
            "omp wait: OMP_WAIT_POLICY of the worker (the eval command chooses PASSIVE only when the load "
            "already fills the cores: spinning OpenMP threads are faster on idle cores, many times slower on "
            "shared ones); generation: plain is lm-eval's HFLM unchanged, plain+static the same with a "
            "preallocated KV cache, shared prefix what the eval command uses (the batch's common prompt "
            "prefix encoded once, stopped rows dropped every 16 tokens; same tokens)",
            "load is the 1-minute load average when the row was measured (the machine is shared)",
        ],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(generation_row(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
    else:
        main(quick="--quick" in sys.argv)
