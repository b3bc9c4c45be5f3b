"""`empathy-harness leaderboard RUN...`: one row per model, intervals, marks, figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli import metric_option


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "leaderboard", help="markdown / CSV / JSON leaderboard and figures from runs",
        description="Build a leaderboard from run folders (also scored folders or generations files). Runs of one "
                    "model (manifest.json model.name, or NAME=RUN) are folded into mean and SD; every cell has its "
                    "interval and a mark where it differs from the reference row after correction.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder, scored folder or generations file; "
                                                          "NAME=RUN names its row (runs with one name are seeds of one model)")
    p.add_argument("--reference", metavar="NAME", help="the row the marks compare against (default: the first run's model)")
    p.add_argument("--versus", choices=["reference", "best"], default="reference",
                   help="what the marks test against: the reference row (default), or the best model of each column "
                        "(which model is best? reference systems such as human are never the best)")
    p.add_argument("--output", default="leaderboard.md", help="markdown file; .csv and .json are written beside it "
                                                              "(default leaderboard.md)")
    p.add_argument("--figures", metavar="DIR", help="folder for the PNG figures (default: reports/figures beside the output)")
    p.add_argument("--no-figures", action="store_true", help="do not draw figures")
    p.add_argument("--task", help="the ED task whose metrics fill the empathy columns (default: ed_empathy if present)")
    p.add_argument("--correction", choices=["holm", "bh"], default="holm",
                   help="over every test of a table: holm (family-wise error, default) or bh (false discovery rate)")
    p.add_argument("--resamples", type=int, default=None,
                   help="bootstrap resamples and sign flips per test (default: enough for the corrected threshold, "
                        "max(10000, 20 x tests / 0.05))")
    p.add_argument("--corpus-resamples", type=int, default=None,
                   help="resamples for corpus-level metrics (Emp-F1, Dist-n, tries; default: as --resamples; 0 = no "
                        "intervals or tests for them)")
    p.add_argument("--corpus-budget", type=float, default=120.0,
                   help="seconds a corpus metric that must be recomputed per resample (the tries) may take per row "
                        "and test; beyond, its interval or test is left out with the reason (default 120; 0 = no "
                        "limit)")
    p.add_argument("--seed", type=int, default=0, help="seed of every resampling (default 0)")
    p.add_argument("--extra-columns", metavar="KEY[,KEY]", default="",
                   help="more metric keys after the empathy columns, e.g. dist1,bertscore_p,bertscore_r,bleu2,bleu4,"
                        "emotion_acc (Qian et al.'s reporting)")
    metric_option.add(p, "scorers to run on generations files (default: the default suite); named here, "
                      "also those a run folder's task lacks, scored from its generations")
    p.set_defaults(func=run_leaderboard)


def parse_run_argument(arg: str) -> tuple[str | None, str]:
    """`NAME=PATH` names a row; an argument that exists as a path is always a path."""
    if "=" in arg and not Path(arg).exists():
        name, path = arg.split("=", 1)
        if name:
            return name, path
    return None, arg


def run_leaderboard(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.leaderboard.comparison import Settings
    from harness.leaderboard.runs import load_run
    from harness.leaderboard.write import write_leaderboard

    if args.resamples is not None and args.resamples < 1:
        raise HarnessError("--resamples must be at least 1")
    runs = []
    for arg in args.runs:
        name, path = parse_run_argument(arg)
        run = load_run(path, metrics=metric_option.chosen(args.metrics), add_metrics=metric_option.added(args.metrics))
        if name:
            run.model = run.label = name
        runs.append(run)
    settings = Settings(resamples=args.resamples, corpus_resamples=args.corpus_resamples,
                        corpus_budget=args.corpus_budget or None, seed=args.seed, correction=args.correction,
                        extra_columns=tuple(k.strip() for k in args.extra_columns.split(",") if k.strip()))
    output = Path(args.output)
    figures = None if args.no_figures else Path(args.figures) if args.figures else output.parent / "reports" / "figures"
    text, written = write_leaderboard(runs, output, settings, reference=args.reference, task=args.task, figures=figures,
                                      versus=args.versus)
    print(text)
    from harness.leaderboard.display import display_path

    print("wrote " + ", ".join(display_path(p) for p in written))
    return 0
