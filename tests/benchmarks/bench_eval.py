"""Benchmark of `empathy-harness eval`: generation speed, MMLU scoring and start-up time.

1. New tokens per second of the HF backend on the embedded model (SmolLM2-135M-Instruct),
   batched, on the real ed_empathy requests (chat template, greedy, up to 200 new tokens):
   the requests are built by lm-eval from our task and answered by lm-eval's HFLM, as in
   a run. "New tokens" are the tokens of the returned responses (after the stop
   sequence); a batch runs until its longest response stops, which is the cost counted.
2. MMLU scoring: the demo's MMLU slice (mmlu_offline, five-shot, the first question of
   each of the 57 subjects, chat template; 228 log-likelihood requests) on the embedded
   model, with lm-eval's HFLM as it is against the continuation-only logits the eval
   command installs (harness/runs/hf_scoring.py), at likelihood batch sizes 1 and 2; the
   largest difference in log-likelihood between the two is reported.
3. Start-up: wall time of a one-document, one-token run of `empathy-harness eval` against
   the stock `lm_eval --include_path tasks` on the same task and model (tiny-llama), which
   is almost all start-up (imports, task index, model load).

Needs the ED data (EMPATHY_HARNESS_MIRROR). Target: >= 80 new tokens/s on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
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


def mmlu_requests(lm, per_subject: int = 1, subjects: int | None = None):
    """The demo's MMLU requests: the first `per_subject` questions of each subject, five-shot
    as the empo group sets it, few-shot examples as chat turns (lm-eval's default with a
    chat template)."""
    from harness.lmeval import taskdir

    manager = taskdir.task_manager(["mmlu_offline"])
    leaves = sorted(taskdir.leaf_tasks("mmlu_offline", manager.task_index))[:subjects]
    tasks = manager.load(leaves)["tasks"]
    requests = []
    for name in leaves:
        task = tasks[name]
        task.set_config(key="num_fewshot", value=5)
        task.build_all_requests(limit=per_subject, apply_chat_template=True, fewshot_as_multiturn=True,
                                chat_template=lm.apply_chat_template)
        requests.extend(task.instances)
    return requests


SCORING_MODES = ("plain", "continuation logits")


def scoring_row(batch_size: int, mode: str, subjects: int | None) -> dict:
    """One MMLU scoring measurement in this process; the log-likelihoods go to a file
    beside the report so that the modes can be compared."""
    import torch
    from lm_eval.api.registry import get_model

    from harness.embedded import resolve_model
    from harness.runs.hf_scoring import use_continuation_logits

    lm = get_model("hf").create_from_arg_obj({"pretrained": resolve_model("smollm2-135m-instruct")},
                                             {"batch_size": batch_size, "device": "cpu"})
    if mode == "continuation logits":
        use_continuation_logits(lm)
    elif mode != "plain":
        raise SystemExit(f"unknown scoring mode {mode!r}; one of {', '.join(SCORING_MODES)}")
    requests = mmlu_requests(lm, subjects=subjects)
    start = time.perf_counter()
    results = lm.loglikelihood(requests, disable_tqdm=True)
    seconds = time.perf_counter() - start
    return {
        "measure": "mmlu scoring", "batch size": batch_size, "scoring": mode, "requests": len(requests),
        "seconds": round(seconds, 2), "threads": torch.get_num_threads(),
        "omp wait": os.environ.get("OMP_WAIT_POLICY", "default"), "load": round(os.getloadavg()[0], 2),
        "loglikelihoods": [ll for ll, _ in results], "greedy": [g for _, g in results],
    }


def scoring_rows(configs: list[tuple[int, str]], subjects: int | None) -> list[dict]:
    """Each (batch size, mode) in a fresh process; then the largest log-likelihood
    difference of each mode from plain HFLM at the same batch size."""
    rows = []
    for batch_size, mode in configs:
        proc = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_eval", "--score-worker", str(batch_size),
                               mode, str(subjects or 0)], cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"scoring worker failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    plain = {r["batch size"]: r for r in rows if r["scoring"] == "plain"}
    for row in rows:
        reference = plain.get(row["batch size"])
        if reference is not None:
            gap = max(abs(a - b) for a, b in zip(row["loglikelihoods"], reference["loglikelihoods"]))
            row["max |d loglik|"] = f"{gap:.1e}"
            row["same greedy"] = row["greedy"] == reference["greedy"]
    for row in rows:
        del row["loglikelihoods"], row["greedy"]
        print(row, flush=True)
    return rows


GENERATION_MODES = ("plain", "plain+static", "shared prefix")


def generation_row(prompts: int, batch_size: int, mode: str, responses_to: str | None = None) -> dict:
    """One measurement, in this process (the OpenMP settings are this process's).

    plain: lm-eval's HFLM as it is (one `generate` call per batch, growing KV cache);
    plain+static: the same with a preallocated KV cache; shared prefix: what the eval
    command installs (harness/runs/hf_generation.py; `batch_size` rows decoded at once).
    "responses" is a digest of the responses, to tell whether two rows answered alike; with
    `responses_to`, the responses are written there (JSON) to compare them one by one."""
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
    digest = hashlib.sha256(json.dumps(responses).encode()).hexdigest()[:12]
    if responses_to:
        Path(responses_to).write_text(json.dumps(responses))
    return {
        "measure": "generation", "batch size": batch_size, "generation": mode, "prompts": prompts, "new tokens": tokens,
        "seconds": round(seconds, 2), "new tokens/s": round(tokens / seconds, 1), "responses": digest,
        "threads": torch.get_num_threads(), "omp wait": os.environ.get("OMP_WAIT_POLICY", "default"),
        "load": round(os.getloadavg()[0], 2),
    }


def generation_rows(prompts: int, configs: list[tuple[int, str, str]], responses_to: str | None = None) -> list[dict]:
    """Each (batch size, OMP_WAIT_POLICY, generation mode) in a fresh process, since OpenMP
    reads the policy at start."""
    rows = []
    for batch_size, policy, mode in configs:
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        if policy == "default":
            env.pop("OMP_WAIT_POLICY")
        out = [f"{responses_to}-{prompts}-{batch_size}-{mode.replace(' ', '_')}.json"] if responses_to else []
        proc = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_eval", "--worker", str(prompts),
                               str(batch_size), mode, *out], cwd=REPO, env=env, capture_output=True, text=True)
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


DEMO_PROMPTS = 200  # the demo's ed_empathy slice


def main(quick: bool = False) -> None:
    if quick:  # the eval command's settings on an idle machine
        prompts, configs = 64, [(64, "default", "shared prefix")]
        subjects, scoring = 12, [(2, mode) for mode in SCORING_MODES]
        demo = []
    else:
        prompts = 64
        configs = ([(b, "default", mode) for b in (16, 64) for mode in GENERATION_MODES]
                   + [(32, "default", "shared prefix"), (64, "PASSIVE", "shared prefix")])
        subjects, scoring = None, [(b, mode) for b in (2, 1) for mode in SCORING_MODES]
        demo = generation_rows(DEMO_PROMPTS, [(64, "default", "shared prefix")])
    rows = generation_rows(prompts, configs) + demo + scoring_rows(scoring, subjects) + startup_rows()
    best = max((r for r in rows if r["measure"] == "generation" and r["prompts"] == prompts),
               key=lambda r: r["new tokens/s"])
    write_report(
        "eval",
        ["measure", "batch size", "omp wait", "generation", "prompts", "new tokens", "scoring", "requests", "seconds",
         "new tokens/s", "responses", "max |d loglik|", "same greedy", "command", "load"],
        rows,
        notes=[
            f"generation: SmolLM2-135M-Instruct (float32, CPU, {best['threads']} torch threads), the first "
            f"{prompts} ed_empathy prompts with the chat template, greedy, up to 200 new tokens; best batch size "
            f"{best['batch size']} at {best['new tokens/s']} new tokens/s (target >= 80)",
            f"mmlu scoring: the demo's MMLU slice ({f'the first {subjects} subjects' if subjects else '57 subjects'}, "
            "first question each, five-shot, chat template, 4 log-likelihood requests per question, one forward per "
            "question); plain is lm-eval's HFLM unchanged (full-vocabulary logits and log-softmax at every position), "
            "continuation logits what the eval command uses (logits only at the answer positions); max |d loglik| "
            "against plain at the same batch size",
            "start-up: one document, one new token, tiny-llama, no metrics; the stock command indexes every "
            "built-in lm-eval task, ours only the harness's task folder",
            "omp wait: OMP_WAIT_POLICY of the worker (the eval command chooses PASSIVE only when the load "
            "already fills the cores: spinning OpenMP threads are faster on idle cores, many times slower on "
            "shared ones); generation: plain is lm-eval's HFLM unchanged, plain+static the same with a "
            "preallocated KV cache, shared prefix what the eval command uses (the common prompt prefix encoded "
            "once, stopped rows dropped every 16 tokens and their slots given to waiting prompts, batch size = "
            "rows decoded at once, lm-eval batches of 4x that); responses: a digest of the responses (equal "
            f"digests, same responses); the {DEMO_PROMPTS}-prompt row is the demo's ed_empathy slice",
            "load is the 1-minute load average when the row was measured (the machine is shared)",
        ],
    )


def generation_only(argv: list[str]) -> None:
    """`python -m tests.benchmarks.bench_eval generation [--prompts N] [--batch-size B ...]`:
    generation rows only, printed and written to reports/benchmarks/eval_generation.{md,json}."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_eval generation")
    parser.add_argument("--prompts", type=int, default=64, help=f"first N ed_empathy prompts (demo: {DEMO_PROMPTS})")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64], help="rows decoded at once")
    parser.add_argument("--mode", choices=GENERATION_MODES, default="shared prefix")
    parser.add_argument("--omp-wait", default="default")
    parser.add_argument("--responses", metavar="PREFIX", help="write each row's responses to PREFIX-<row>.json")
    args = parser.parse_args(argv)
    rows = generation_rows(args.prompts, [(b, args.omp_wait, args.mode) for b in args.batch_size], args.responses)
    write_report("eval_generation", ["measure", "batch size", "omp wait", "generation", "prompts", "new tokens",
                                     "seconds", "new tokens/s", "responses", "load"], rows,
                 notes=[f"SmolLM2-135M-Instruct (float32, CPU, {rows[0]['threads']} torch threads), the first "
                        f"{args.prompts} ed_empathy prompts with the chat template, greedy, up to 200 new tokens; "
                        "generation and batch size as in the `eval` report's notes (target >= 80 new tokens/s)",
                        "load is the 1-minute load average when the row was measured (the machine is shared)"],
                 reproduce="python -m tests.benchmarks.bench_eval generation " + " ".join(argv))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(generation_row(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], *sys.argv[5:6])))
    elif sys.argv[1:2] == ["--score-worker"]:
        print(json.dumps(scoring_row(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) or None)))
    elif sys.argv[1:2] == ["generation"]:
        generation_only(sys.argv[2:])
    else:
        main(quick="--quick" in sys.argv)
