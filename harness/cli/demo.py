"""`empathy-harness demo`: the main job end to end on the embedded default model.

1. the embedded SmolLM2-135M-Instruct (HF backend) on the first N ED test dialogues
   (ed_empathy) and a small MMLU slice (mmlu_offline, 5-shot, the first K questions of
   each of the 57 subjects): the `empo_offline` group, limited;
2. the reference systems `human` and `opposite-emotion` on the same dialogues;
3. a results table built from the run folders alone.

Hook points for the parts that land with other issues (the lead wires them at merge):
`prepare_instruments` (train the EPITOME instrument on first use, issue 4) and
`build_report` (the leaderboard and figures, issue 6).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from harness.embedded import DEFAULT_MODEL

ED_TASK, MMLU_TASK, GROUP = "ed_empathy", "mmlu_offline", "empo_offline"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end on the embedded default model")
    parser.add_argument("--limit", type=int, default=200, help="ED test dialogues (default 200)")
    parser.add_argument("--mmlu-limit", type=int, default=1,
                        help="MMLU questions per subject, 5-shot, 57 subjects (default 1; 0 skips MMLU)")
    parser.add_argument("--output", default="reports/demo", help="where the run folders and report.md go")
    parser.add_argument("--model-args", default=f"pretrained={DEFAULT_MODEL}",
                        help="another model instead of the embedded default (lm-eval hf model arguments)")
    parser.add_argument("--batch-size", type=int, default=16, help="generation batch size (default 16)")
    parser.add_argument("--gen-kwargs", help="override generation arguments, e.g. max_gen_toks=64 (default: the task's)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.cli.eval import cpu_threads_yield, quiet_logs

    cpu_threads_yield()
    from lm_eval.utils import simple_parse_args_string

    from harness.lmeval import suite
    from harness.runs.evaluate import EvalRequest, run as evaluate

    quiet_logs(False)
    out = Path(args.output)
    model_args = simple_parse_args_string(args.model_args)
    name = Path(str(model_args.get("pretrained", "model"))).name
    scorers = suite.plan().scorers
    with_mmlu = args.mmlu_limit > 0
    steps = [
        f"{name} (HF backend) on the first {args.limit} ED test dialogues ({ED_TASK}, EmPO's baseline prompt, greedy, "
        f"up to 200 new tokens)" + (f" and MMLU 5-shot on the first {args.mmlu_limit} questions of each of the 57 "
                                    f"subjects ({MMLU_TASK})" if with_mmlu else ""),
        f"reference runs human and opposite-emotion on the same {args.limit} dialogues (no model)",
        f"a results table from the run folders ({out / 'report.md'})",
    ]
    print("Demo: " + "; ".join(f"({i}) {s}" for i, s in enumerate(steps, 1)))
    print("Metrics: " + (", ".join(scorers) if scorers else "no scorers are registered in this build: the table "
                         "shows sample counts and MMLU accuracy only"))
    prepare_instruments(scorers)
    timings = {}
    runs = []

    start = time.perf_counter()
    request = EvalRequest(
        backend="hf", model_args=model_args, name=name, tasks=[GROUP if with_mmlu else ED_TASK],
        task_limits={ED_TASK: args.limit, **({MMLU_TASK: args.mmlu_limit} if with_mmlu else {})},
        output=out / "runs" / name, batch_size=args.batch_size, gen_kwargs=args.gen_kwargs, command=sys.argv,
    )
    runs.append(evaluate(request))
    timings[name] = time.perf_counter() - start
    for reference in ("human", "opposite-emotion"):
        start = time.perf_counter()
        runs.append(evaluate(EvalRequest(backend=reference, tasks=[ED_TASK], limit=args.limit,
                                         output=out / "runs" / reference, command=sys.argv)))
        timings[reference] = time.perf_counter() - start

    report = build_report(runs)
    (out / "report.md").write_text(report)
    print()
    print(report)
    print("Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
          + f"; total {sum(timings.values()):.0f} s")
    return 0


def prepare_instruments(scorers) -> None:
    """Hook: get the model-based instruments ready before generating. Issue 4 wires the
    EPITOME instrument here: when "epitome" is among `scorers`, let it train on first use
    (with its progress bar) and say so, e.g. `harness.metrics.diff_epitome.configure(
    train_if_missing=True)` plus a printed line naming the backbone and the time it takes."""


def build_report(runs: list[Path]) -> str:
    """Hook: the final report from the run folders alone. Issue 6's leaderboard and
    figures replace this plain table at merge."""
    return results_table(runs)


def results_table(runs: list[Path]) -> str:
    """A markdown table: one row per run, the ED summary and MMLU accuracy."""
    rows = []
    keys: list[str] = []
    directions: dict[str, bool] = {}
    for run in runs:
        manifest = json.loads((run / "manifest.json").read_text())
        row = {"model": manifest["model"] + (" (reference)" if manifest.get("reference") else "")}
        ed_dir = run / "tasks" / ED_TASK
        if (ed_dir / "summary.json").exists():
            summary = json.loads((ed_dir / "summary.json").read_text())
            outputs = json.loads((ed_dir / "provenance.json").read_text()).get("outputs", {})
            row["ED n"] = summary.get("n")
            for key, value in summary.items():
                if key != "n":
                    row[key] = value
                    if key not in keys:
                        keys.append(key)
                    directions[key] = outputs.get(key, {}).get("higher_is_better", True)
        mmlu = run / "tasks" / MMLU_TASK / "summary.json"
        if mmlu.exists():
            summary = json.loads(mmlu.read_text())
            row["MMLU acc"], row["MMLU n"] = summary.get("acc"), summary.get("n")
        rows.append(row)
    columns = ["model", "ED n"] + keys + ["MMLU acc", "MMLU n"]
    header = ["model", "ED n"] + [f"{k} {'↑' if directions[k] else '↓'}" for k in keys] + ["MMLU acc ↑", "MMLU n"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "# Demo results\n\n" + "\n".join(lines) + "\n\n" + (
        "Reference rows need no model: `human` is the ED reference turn, `opposite-emotion` the rejected "
        "response of EmPO's preference pairs (the leaderboard's ceiling and floor). MMLU is a small slice "
        "(5-shot): its accuracy is a smoke check, not a measurement.\n")


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
