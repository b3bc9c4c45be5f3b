"""`empathy-harness compare RUN_A RUN_B [RUN ...]`: is B different from A, metric by metric?"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from harness.cli import instruments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="significance tests between runs, metric by metric",
        description="Compare runs (run folders, scored folders or generations files) metric by metric: both "
                    "values, B - A, its interval, p, corrected p, effect size and the test used. Each later "
                    "run is compared with the first (--all-pairs: every pair).")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder, scored folder or generations file (.jsonl)")
    p.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    p.add_argument("--output", metavar="FILE", help="also write the printed markdown to FILE")
    p.add_argument("--all-pairs", action="store_true", help="compare every pair, not each run with the first")
    p.add_argument("--task", help="compare only this task (needed to align one scored output with a multi-task run)")
    p.add_argument("--correction", choices=["holm", "bh"], default="holm",
                   help="across all metrics and pairs: holm (family-wise error, default) or bh (false discovery rate)")
    p.add_argument("--resamples", type=int, default=10_000, help="sign flips and bootstrap resamples (default 10000)")
    p.add_argument("--corpus-resamples", type=int, default=None,
                   help="resamples for corpus-level metrics (tries, Dist-n, BLEU), each recomputing the metric "
                        "4 times (default 200)")
    p.add_argument("--corpus-budget", type=float, default=600.0,
                   help="seconds of resampling per corpus scorer and pair, after which it stops and reports the "
                        "resamples used (default 600; 0 = no limit)")
    p.add_argument("--seed", type=int, default=0, help="seed of every resampling (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")
    p.add_argument("--metrics", nargs="+", help="scorers to run on generations files (default: all registered)")
    instruments.add_options(p)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from harness import stats
    from harness.errors import HarnessError
    from harness.leaderboard import comparison
    from harness.leaderboard.runs import load_run

    instruments.apply(args)
    if args.resamples < 1:
        raise HarnessError("--resamples must be at least 1")
    if not 0 < args.level < 1:
        raise HarnessError("--level must be between 0 and 1, e.g. 0.95")
    runs = [load_run(path, metrics=args.metrics) for path in args.runs]
    settings = comparison.Settings(
        resamples=args.resamples,
        corpus_resamples=stats.DEFAULT_CORPUS_RESAMPLES if args.corpus_resamples is None else args.corpus_resamples,
        corpus_budget=args.corpus_budget or None, seed=args.seed, level=args.level, correction=args.correction)
    pairs = comparison.compare_runs(runs, settings, all_pairs=args.all_pairs, task=args.task,
                                    log=comparison.stderr_log)
    text = format_comparison(pairs, settings)
    seed_text, seed_rows = seed_mean_tests(runs, args.task, args.level)
    text += seed_text
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    if args.json:
        payload = comparison.to_json(pairs)
        if seed_rows:
            payload["seed_mean_tests"] = seed_rows
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def seed_mean_tests(runs, task: str | None, level: float) -> tuple[str, list[dict]]:
    """EmpRL's test where one model has several runs (seeds, same --name) and another one run:
    per task and summary metric, a one-sample t-test of the seed values against the single
    run's value (harness.stats.seeds.one_sample_t). Empty where no such pair exists."""
    from harness.stats.seeds import one_sample_t

    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.model, []).append(run)
    seeded = {k: v for k, v in groups.items() if len(v) > 1}
    single = {k: v[0] for k, v in groups.items() if len(v) == 1}
    lines, rows = [], []
    for name, group in seeded.items():
        for base_name, base in single.items():
            tasks = [t for t in base.tasks if (task is None or t == task) and all(t in r.tasks for r in group)]
            for t in tasks:
                keys = [k for k, v in base.tasks[t].summary.items() if k != "n" and isinstance(v, (int, float))
                        and all(k in r.tasks[t].summary for r in group)]
                if not keys:
                    continue
                lines += [f"## {name} ({len(group)} seeds) vs {base_name} (one run), {t}", "",
                          f"One-sample t-test of the seed values against the single run's value (EmpRL), "
                          f"two-sided, {level:.0%} interval of the seed mean.", "",
                          "| metric | baseline | seed mean | SD | mean - baseline | CI | t | df | p |",
                          "|---|--:|--:|--:|--:|:-:|--:|--:|--:|"]
                for k in keys:
                    res = one_sample_t([r.tasks[t].summary[k] for r in group], float(base.tasks[t].summary[k]), level)
                    lines.append(f"| {k} | {fmt(res.baseline)} | {fmt(res.mean)} | {fmt(res.sd)} | {fmt(res.diff)} | "
                                 f"[{fmt(res.ci[0])}, {fmt(res.ci[1])}] | {fmt(res.t)} | {res.df} | {fmt_p(res.p)} |")
                    rows.append({"model": name, "baseline_model": base_name, "task": t, "metric": k, **res.__dict__})
                lines.append("")
    return ("\n" + "\n".join(lines)) if lines else "", rows


def format_comparison(pairs, settings) -> str:
    """Markdown: one table per pair, then the notes and the methods used."""
    from harness.stats.corrections import NAMES

    blocks = []
    for pair in pairs:
        lines = [f"## {pair.b.label} vs {pair.a.label}", "",
                 f"A = `{pair.a.path}`, B = `{pair.b.path}`; B - A, {settings.level:.0%} intervals, "
                 f"p adjusted by {NAMES[settings.correction]} over every test of this comparison.", "",
                 "| metric | better | A | B | B - A | CI | p | p adj | effect | MDD | test |",
                 "|---|:-:|--:|--:|--:|:-:|--:|--:|--:|--:|---|"]
        methods: dict[str, int] = {}
        for m in pair.metrics:
            arrow = {True: "↑", False: "↓", None: ""}[m.higher_is_better]
            ci = f"[{fmt(m.ci[0])}, {fmt(m.ci[1])}]" if m.ci else ""
            ref = methods.setdefault(m.method, len(methods) + 1) if m.method else None
            test = f"{m.test} [{ref}]" if ref else m.test
            lines.append(f"| {m.name} | {arrow} | {fmt(m.a)} | {fmt(m.b)} | {fmt(m.diff)} | {ci} | {fmt_p(m.p)} | "
                         f"{fmt_p(m.p_adj)}{mark(m.p_adj)} | {fmt(m.effect)} | {fmt(m.mdd)} | {test} |")
        lines.append("")
        lines += [f"- note: {n}" for n in pair.notes]
        lines += [f"- [{k}] {method}" for method, k in methods.items()]
        blocks.append("\n".join(lines))
    legend = ("MDD: the smallest difference this many examples detect with power "
              f"{settings.power:g} at alpha {settings.alpha:g} (paired or two-sample t approximation). "
              "Marks on p adj: * < 0.05, ** < 0.01, *** < 0.001.")
    return "\n\n".join(blocks) + "\n\n" + legend + "\n"


def mark(p: float) -> str:
    if p is None or math.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.4g}"


def fmt_p(p) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"
