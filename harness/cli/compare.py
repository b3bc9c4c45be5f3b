"""`empathy-harness compare RUN_A RUN_B [RUN ...]`: is B different from A, metric by metric?"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from harness.cli import instruments, metric_option


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
    p.add_argument("--resamples", type=int, default=None,
                   help="sign flips, bootstrap and randomization resamples per test (default: enough for the "
                        "corrected threshold, max(10000, 20 x tests / 0.05))")
    p.add_argument("--corpus-resamples", type=int, default=None,
                   help="resamples for corpus-level metrics (Emp-F1, Dist-n, tries; default: as --resamples; 0: do "
                        "not test them)")
    p.add_argument("--corpus-budget", type=float, default=120.0,
                   help="seconds a corpus metric that must be recomputed per resample (the tries) may take per pair; "
                        "a test that needs longer is reported untested with the reason (default 120; 0 = no limit). "
                        "Emp-F1 and Dist-n are resampled from per-example counts and need no budget")
    p.add_argument("--seed", type=int, default=0, help="seed of every resampling (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")
    metric_option.add(p, "scorers to run on generations files (default: the default suite); named here, "
                      "also those a run folder's task lacks, scored from its generations")
    instruments.add_options(p)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.leaderboard import comparison
    from harness.leaderboard.runs import load_run

    instruments.apply(args)
    if args.resamples is not None and args.resamples < 1:
        raise HarnessError("--resamples must be at least 1")
    if not 0 < args.level < 1:
        raise HarnessError("--level must be between 0 and 1, e.g. 0.95")
    runs = [load_run(path, metrics=metric_option.chosen(args.metrics), add_metrics=metric_option.added(args.metrics))
            for path in args.runs]
    settings = comparison.Settings(
        resamples=args.resamples, corpus_resamples=args.corpus_resamples,
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
        payload = comparison.to_json(pairs, settings)
        if seed_rows:
            payload["seed_mean_tests"] = seed_rows
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def seed_mean_tests(runs, task: str | None, level: float) -> tuple[str, list[dict]]:
    """EmpRL's test where one model has several runs (seeds, same --name) and another one run:
    per task and summary metric, a one-sample t-test of the seed values against the single
    run's value (harness.stats.seeds.one_sample_t). Empty where no such pair exists."""
    from harness.leaderboard.display import fmt, fmt_p
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
    """Markdown: one table per pair (A before B), then the notes and the methods used."""
    from harness.leaderboard import catalog
    from harness.leaderboard.comparison import smallest_adjusted_p
    from harness.leaderboard.display import display_path, fmt, fmt_p, mark, table, value_with_interval
    from harness.stats.corrections import NAMES

    blocks = []
    tests = sum(1 for pair in pairs for m in pair.metrics if not math.isnan(m.p))
    for pair in pairs:
        lines = [f"## A: {pair.a.label} vs B: {pair.b.label}", "",
                 f"A = `{display_path(pair.a.path)}`, B = `{display_path(pair.b.path)}`. B - A with its "
                 f"{settings.level:.0%} interval; p adjusted by {NAMES[settings.correction]} over all {tests} tests "
                 f"of this comparison; ↑ / ↓: the better direction (none: descriptive, not tested).", ""]
        methods: dict[str, int] = {}
        rows = []
        for m in pair.metrics:
            ref = methods.setdefault(m.method, len(methods) + 1) if m.method else None
            test = f"{m.test} [{ref}]" if ref else m.test
            diff, ci = value_with_interval(m.diff, m.ci)
            rows.append([m.name, catalog.info(m.key).arrow, fmt(m.a), fmt(m.b), diff, ci, fmt_p(m.p),
                         fmt_p(m.p_adj) + mark(m.p_adj), fmt(m.effect, 2), fmt(m.mdd, 2),
                         "" if m.n is None else str(m.n), test])
        lines += table(["metric", "better", "A", "B", "B - A", "CI", "p", "p adj", "effect", "MDD", "n", "test"],
                       ["l", "c", "r", "r", "r", "c", "r", "r", "r", "r", "r", "l"], rows)
        lines.append("")
        lines += [f"- note: {n}" for n in pair.notes]
        lines += [f"- [{k}] {method}" for method, k in methods.items()]
        blocks.append("\n".join(lines))
    legend = [f"MDD: the smallest difference this many examples detect with power {settings.power:g} at alpha "
              f"{settings.alpha:g} (paired or two-sample t approximation). Marks on p adj: * < 0.05, ** < 0.01, "
              f"*** < 0.001."]
    r = settings.used.get("resamples")
    if r and tests:
        floor = smallest_adjusted_p(tests, r)
        legend.append(f"Resampling tests used {r:,} resamples (corpus metrics "
                      f"{settings.used.get('corpus_resamples', r):,}): the smallest p they reach is 1/{r + 1:,}, "
                      f"{floor:.2g} after correcting over {tests} tests"
                      + ("; NOT enough to reach the 0.05 threshold: raise --resamples." if floor >= 0.05 else "."))
    return "\n\n".join(blocks) + "\n\n" + " ".join(legend) + "\n"
