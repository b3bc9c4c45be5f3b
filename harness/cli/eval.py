"""`empathy-harness eval`: evaluate a model on the harness's lm-eval tasks into a run folder."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from harness.cli import instruments
from harness.cpu import openmp_wait_policy
from harness.errors import HarnessError

MODELS = ("hf", "vllm", "human", "opposite-emotion")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model (default: the embedded SmolLM2-135M-Instruct) into a run folder",
        description="Evaluate a model with lm-eval on the harness's tasks (ed_empathy, ed_empathy_short, empathy, "
        "empo, empo_offline, mmlu_offline, eq_bench_offline) or any lm-eval task (mmlu, leaderboard, ...), and write a run folder.",
    )
    parser.add_argument("--model", choices=MODELS, help="lm-eval backend (hf, vllm) or a reference system "
                        "(human, opposite-emotion); default: the embedded SmolLM2-135M-Instruct on hf")
    parser.add_argument("--model-args", default="", help="lm-eval model arguments, e.g. pretrained=PATH_OR_ID,"
                        "peft=ADAPTER,dtype=bfloat16 (vllm: lora_local_path=ADAPTER,max_lora_rank=R); embedded "
                        "names (smollm2-135m-instruct, tiny-llama) work as pretrained")
    parser.add_argument("--name", help="the model's display name in the run folder and tables")
    parser.add_argument("--tasks", default="ed_empathy", help="comma-separated tasks or groups (default ed_empathy)")
    parser.add_argument("--limit", action="append", default=[], metavar="N|TASK=N",
                        help="only the first N documents of each task; TASK=N for one requested task (repeatable)")
    parser.add_argument("--output", help="the run folder to write (default reports/runs/<model name>)")
    parser.add_argument("--seed", type=int, help="one seed for python, numpy, torch and few-shot sampling "
                        "(default: lm-eval's 0/1234/1234/1234)")
    parser.add_argument("--seeds", metavar="N,N,...", help="one evaluation per seed (e.g. 1,2,3,4,5 for sampled "
                        "decoding, as EmpRL reports 5 seeds), each into its own run folder OUTPUT/seed-N; the "
                        "leaderboard folds runs of one --name into mean +- SD")
    parser.add_argument("--batch-size", help="batch size, or auto (default on hf: 64 on CPU, 16 on GPUs; on vllm: "
                        "auto); hf generation decodes this many rows at once, refilling stopped rows' places from "
                        "lm-eval batches of 4x as many prompts")
    parser.add_argument("--likelihood-batch-size", help="hf: batch size for scoring choices (MMLU), default 2 on "
                        "CPU (full-vocabulary log-probabilities of long prompts are large), else --batch-size")
    parser.add_argument("--device", help="cpu, cuda, cuda:1... (default: cuda when available)")
    parser.add_argument("--chat-template", choices=("auto", "yes", "no"), default="auto",
                        help="apply the tokenizer's chat template (auto: when it has one)")
    parser.add_argument("--system-instruction", help="lm-eval's system instruction, put before each task's prompt")
    parser.add_argument("--gen-kwargs", help="override generation arguments, e.g. max_gen_toks=64")
    parser.add_argument("--num-fewshot", type=int, help="override the tasks' few-shot counts (not ed_empathy's; the "
                        "exemplars k of ed_qian_1shot, ed_qian_5shot and ed_qian_ssicl)")
    parser.add_argument("--data-source", "--mmlu-source", dest="data_source", choices=("auto", "hub", "offline"),
                        default="auto", help="mmlu/eq_bench/empo from the Hub, or as mmlu_offline/eq_bench_offline/"
                        "empo_offline from the original releases (auto: offline when downloads are off or the data "
                        "mirror holds them); --mmlu-source is the former name")
    parser.add_argument("--metadata", help="JSON object passed to every task's metadata, as lm_eval's --metadata "
                        "(e.g. '{\"encoder\": \"all-minilm-l6-v2\"}' for ed_qian_ssicl, comet_model for "
                        "ed_qian_knowledge; docs/PROMPTING.md)")
    parser.add_argument("--no-cache", action="store_true", help="do not reuse or keep this model's cached responses")
    parser.add_argument("-v", "--verbose", action="store_true", help="show lm-eval's log")
    instruments.add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    openmp_wait_policy()
    from harness.lmeval import taskdir

    taskdir.check_names(t.strip() for t in args.tasks.split(",") if t.strip())  # a typo fails before torch loads
    from harness.runs.evaluate import request_from_cli, run as evaluate

    quiet_logs(args.verbose)
    instruments.apply(args)
    seeds = parse_seeds(args.seeds, args.seed)
    if seeds is None:
        print(results_text(evaluate(request_from_cli(args, sys.argv))))
        return 0
    from harness.runs.evaluate import display_name
    from harness.runs.identity import slug

    first = request_from_cli(args, sys.argv)
    root = Path(args.output) if args.output else Path("reports") / "runs" / slug(display_name(first))
    for seed in seeds:
        request = request_from_cli(args, sys.argv)
        request.seed, request.output = seed, root / f"seed-{seed}"
        print(results_text(evaluate(request)))
    return 0


def parse_seeds(value: str | None, seed: int | None) -> list[int] | None:
    """--seeds 1,2,3 as [1, 2, 3]; None without it."""
    if value is None:
        return None
    if seed is not None:
        raise HarnessError("--seed and --seeds: give one of them")
    try:
        seeds = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise HarnessError(f"--seeds {value!r}: expected whole numbers separated by commas, e.g. 1,2,3,4,5") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise HarnessError(f"--seeds {value!r}: give distinct seeds, e.g. 1,2,3,4,5")
    return seeds


def results_text(folder: Path) -> str:
    """lm-eval's results tables (as `lm_eval` prints them), then where the run's files are."""
    import json

    from lm_eval.utils import make_table

    results = json.loads((folder / "results.json").read_text())
    tables = [make_table(results)] + ([make_table(results, "groups")] if results.get("groups") else [])
    files = [f"{folder}/manifest.json  what produced the run", f"{folder}/results.json  lm-eval's results"]
    for task in sorted(p for p in (folder / "tasks").iterdir() if p.is_dir()):
        names = sorted(p.name for p in task.iterdir() if p.is_file())
        files.append(f"{task}/{{{','.join(names)}}}")
    return "\n".join(tables) + "\nrun folder: " + str(folder) + "\n" + "\n".join("  " + f for f in files)


def quiet_logs(verbose: bool) -> None:
    """lm-eval logs every step at INFO; keep its warnings, its progress bars and ours."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for name in ("lm_eval", "harness"):
        logging.getLogger(name).setLevel(level)
    # lm-eval warns, once per task, that tasks with a custom dataset take --metadata; ours need none.
    logging.getLogger("lm_eval.api.task").addFilter(lambda record: "Custom kwargs can be passed" not in record.getMessage())


def parse_limits(values: list[str]) -> tuple[int | None, dict[str, int]]:
    """--limit N and --limit TASK=N into (N, {TASK: N})."""
    limit, per_task = None, {}
    for value in values:
        name, _, number = value.rpartition("=")
        try:
            n = int(number)
        except ValueError:
            raise HarnessError(f"--limit {value!r}: expected N or TASK=N with a whole number N") from None
        if n < 1:
            raise HarnessError(f"--limit {value!r}: N must be at least 1")
        if name:
            per_task[name] = n
        else:
            limit = n
    return limit, per_task
