"""`empathy-harness demo`: the main job end to end on the embedded default model.

1. the embedded SmolLM2-135M-Instruct (HF backend) on the first N ED test dialogues
   (ed_empathy), a small MMLU slice (mmlu_offline, 5-shot, the first K questions of
   each of the 57 subjects) and the first Q EQ-Bench questions (eq_bench_offline): the
   `empo_offline` group, limited;
2. the reference systems `human` and `opposite-emotion` on the same dialogues;
3. the leaderboard (markdown, CSV, JSON) and figures, built from the run folders alone.

The EPITOME instrument is trained first if this machine has none (once; it is cached).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness.cli import instruments
from harness.embedded import DEFAULT_MODEL

ED_TASK, MMLU_TASK, EQ_TASK, GROUP = "ed_empathy", "mmlu_offline", "eq_bench_offline", "empo_offline"
MMLU_SHOTS = 5  # as in the group
# EQ-Bench questions the demo asks by default: at most about 2 s each on 2 idle cores for the
# embedded model (prompts of 277-1,052 tokens with its chat template, up to 80 new tokens;
# estimated from CPU time, docs/EQ_BENCH.md), so 50 should keep the demo under 10 minutes
DEMO_EQ_BENCH_QUESTIONS = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the main job end to end on the embedded default model",
        description="The main job end to end: the embedded SmolLM2-135M-Instruct on the first --limit ED test "
                    "dialogues and a 5-shot MMLU slice, the human and opposite-emotion reference runs on the same "
                    "dialogues, then the leaderboard and figures in --output. The first run on a machine trains the "
                    "EPITOME instrument (about 8-12 minutes on 2 CPU cores, once); each step's time and the total "
                    "are printed. Run again, cached responses are reused.")
    parser.add_argument("--limit", type=int, default=200, help="ED test dialogues (default 200)")
    parser.add_argument("--mmlu-limit", type=int, default=1,
                        help="MMLU questions per subject, 5-shot, 57 subjects (default 1; 0 skips MMLU)")
    parser.add_argument("--eq-bench-limit", type=int, default=DEMO_EQ_BENCH_QUESTIONS,
                        help=f"the first Q of EQ-Bench's 171 questions (default {DEMO_EQ_BENCH_QUESTIONS}; 0 skips "
                        "EQ-Bench)")
    parser.add_argument("--output", default="reports/demo", help="where the run folders, leaderboard.md and figures go")
    parser.add_argument("--model-args", default=f"pretrained={DEFAULT_MODEL}",
                        help="another model instead of the embedded default (lm-eval hf model arguments)")
    parser.add_argument("--batch-size", type=int,
                        help="generation batch size: rows decoded at once (default: as eval, 64 on CPU)")
    parser.add_argument("--gen-kwargs", help="override generation arguments, e.g. max_gen_toks=64 (default: the task's)")
    instruments.add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    begun = time.perf_counter()
    from harness.cli.eval import quiet_logs
    from harness.cpu import openmp_wait_policy

    openmp_wait_policy()
    from lm_eval.utils import simple_parse_args_string

    from harness.lmeval import suite
    from harness.runs.evaluate import EvalRequest, run as evaluate

    quiet_logs(False)
    instruments.apply(args)
    out = Path(args.output)
    model_args = simple_parse_args_string(args.model_args)
    name = Path(str(model_args.get("pretrained", "model"))).name
    scorers = suite.plan().scorers
    with_mmlu, with_eq = args.mmlu_limit > 0, args.eq_bench_limit > 0
    steps = [
        f"{name} (HF backend) on the first {args.limit} ED test dialogues ({ED_TASK}, EmPO's baseline prompt, greedy, "
        f"up to 200 new tokens)" + (f", MMLU 5-shot on the first {args.mmlu_limit} questions of each of the 57 "
                                    f"subjects ({MMLU_TASK})" if with_mmlu else "")
        + (f", the first {args.eq_bench_limit} of EQ-Bench's 171 questions ({EQ_TASK})" if with_eq else ""),
        f"reference runs human and opposite-emotion on the same {args.limit} dialogues (no model)",
        f"the leaderboard and figures from the run folders ({out / 'leaderboard.md'}, {out / 'figures'})",
    ]
    print("Demo: " + "; ".join(f"({i}) {s}" for i, s in enumerate(steps, 1)))
    print("Metrics: " + (", ".join(scorers) if scorers else "no scorers are registered in this build: the table "
                         "shows sample counts and MMLU accuracy only"))
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if prepare_instruments(scorers):
        timings["training the EPITOME instrument"] = _took("training the EPITOME instrument", start)
    runs = []

    start = time.perf_counter()
    tasks, num_fewshot = demo_tasks(with_mmlu, with_eq)
    request = EvalRequest(
        backend="hf", model_args=model_args, name=name, tasks=tasks, num_fewshot=num_fewshot,
        task_limits={ED_TASK: args.limit, **({MMLU_TASK: args.mmlu_limit} if with_mmlu else {}),
                     **({EQ_TASK: args.eq_bench_limit} if with_eq else {})},
        output=out / "runs" / name, batch_size=args.batch_size, gen_kwargs=args.gen_kwargs, command=sys.argv,
    )
    runs.append(evaluate(request))
    timings[name] = _took(name, start)
    for reference in ("human", "opposite-emotion"):
        start = time.perf_counter()
        runs.append(evaluate(EvalRequest(backend=reference, tasks=[ED_TASK], limit=args.limit,
                                         output=out / "runs" / reference, command=sys.argv)))
        timings[reference] = _took(reference, start)

    start = time.perf_counter()
    report = build_report(runs, out)
    timings["leaderboard and figures"] = _took("leaderboard and figures", start)
    print()
    print(report)
    print("Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
          + f"; total {time.perf_counter() - begun:.0f} s")
    return 0


def demo_tasks(with_mmlu: bool, with_eq: bool) -> tuple[list[str], int | None]:
    """The tasks of step 1 and the few-shot override they need: the `empo_offline` group
    when it is whole; without EQ-Bench, MMLU outside the group takes the group's 5 shots
    from the override (which leaves the ED task alone)."""
    if with_mmlu and with_eq:
        return [GROUP], None
    if with_mmlu:
        return [ED_TASK, MMLU_TASK], MMLU_SHOTS
    return [ED_TASK] + ([EQ_TASK] if with_eq else []), None


def _took(step: str, start: float) -> float:
    seconds = time.perf_counter() - start
    print(f"[demo] {step}: {seconds:.0f} s", flush=True)
    return seconds


def prepare_instruments(scorers) -> bool:
    """Train the EPITOME instrument now if it is missing (once per machine: it lives in the
    harness cache), so that generation is not followed by a surprise; True if it trained."""
    if "epitome" not in scorers:
        return False
    from harness.epitome import ensure_instrument
    from harness.epitome.prediction import resolve_dir
    from harness.epitome.store import missing_mechanisms
    from harness.metrics.diff_epitome import SETTINGS

    folder, choice = resolve_dir(SETTINGS.backbone, SETTINGS.directory)
    missing = missing_mechanisms(folder)
    if missing:
        print(f"The EPITOME instrument ({choice.name}) is not trained on this machine yet: training "
              f"{', '.join(missing)} now, once, into {folder} (on 2 idle CPU cores about 8-12 minutes).", flush=True)
        ensure_instrument(SETTINGS.backbone, progress=True, directory=SETTINGS.directory)
    return bool(missing)


def build_report(runs: list[Path], output: Path) -> str:
    """The leaderboard (markdown, CSV, JSON) and figures from the run folders alone, the
    human reference row as the row the marks compare against."""
    from harness.leaderboard.comparison import Settings
    from harness.leaderboard.runs import load_run
    from harness.leaderboard.write import write_leaderboard

    loaded = [load_run(run) for run in runs]
    settings = Settings(corpus_budget=15.0)  # a demo: the tries resample slowly
    text, _ = write_leaderboard(loaded, output / "leaderboard.md", settings, reference="human",
                                figures=output / "figures")
    return text
