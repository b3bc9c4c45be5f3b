"""`empathy-harness human-eval prepare|serve|analyze`: a human evaluation from sampling to statistics."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "human-eval", help="human evaluation: prepare a blinded study, serve the survey, analyse the ratings",
        description="Prepare a study from runs over the same dialogues, serve its survey on this machine, "
                    "analyse the collected ratings (or EmPO's released he_data.csv). See docs/HUMAN_EVAL.md.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("prepare", help="sample dialogues, make blinded block-randomised batches and the key",
                       description="Sample dialogues stratified by emotion (EmPO appendix D), make batches and write "
                                   "DIR/study.json (what annotators see) and DIR/key.json (which system is which).")
    p.add_argument("inputs", nargs="+", metavar="RUN_OR_GENERATIONS", help="run folders or generations files (same dialogues)")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="the study folder (must be new or empty)")
    p.add_argument("--design", default="empo", help="empo (default), likert-qian, likert-emprl, ab-emprl, ab-qian")
    p.add_argument("--names", help="comma-separated system names, one per input (default: run model or file name)")
    p.add_argument("--reference", action="store_true", help="add the ED reference responses as a system named 'human'")
    p.add_argument("--task", help="the ED task of run folders holding several")
    p.add_argument("--samples", type=int, default=135, help="dialogues to rate (default 135, as EmPO)")
    p.add_argument("--per-emotion", type=int, default=4, help="at least this many dialogues of every emotion (default 4)")
    p.add_argument("--batch-size", type=int, default=15, help="samples per batch (default 15)")
    p.add_argument("--ratings", type=int, default=3, help="annotators per sample and system (default 3)")
    p.add_argument("--blocks", help="block-randomisation groups, e.g. 'a,b,c;d' (default: the systems in threes, in "
                                    "the order given); a group of one gets single-system batches only")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample, the batches and the blinding (default 0)")
    p.set_defaults(func=run_prepare)

    s = sub.add_parser("serve", help="the survey as a local web server (127.0.0.1)",
                       description="Serve the study in DIR at http://127.0.0.1:PORT/. Answers are appended to "
                                   "DIR/answers.jsonl as they are given; DIR/ratings.csv is rewritten after each "
                                   "submitted batch.")
    s.add_argument("study", metavar="DIR", help="a study folder written by human-eval prepare")
    s.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0 = any free port)")
    s.add_argument("--verbose", action="store_true", help="log every request")
    s.set_defaults(func=run_serve)

    a = sub.add_parser("analyze", help="means, pairwise tests, A/B sign tests, agreement, figure",
                       description="Analyse a ratings file (serve's ratings.csv, CSV or JSON lines) with the study's "
                                   "key, or EmPO's he_data.csv as released (its columns are recognised).")
    a.add_argument("ratings", metavar="RATINGS",
                   help="ratings file: serve's ratings.csv, CSV or JSON lines, or EmPO's he_data.csv")
    a.add_argument("--key", metavar="KEY", help="the study's key.json (unblinds the system codes)")
    a.add_argument("--design", help="without --key: the design the ratings follow (system codes stay blinded)")
    a.add_argument("--order", help="comma-separated systems, hypothesised best first: each pair is tested one-sided "
                                   "'earlier > later' (default: the key's order; EmPO: Table 7's)")
    a.add_argument("--t-test", choices=["paired", "independent"], default="paired",
                   help="paired over the dialogues both systems were rated on (default) or independent samples")
    a.add_argument("--output", "-o", metavar="DIR", help="write report.md, report.json, ratings.png here")
    a.set_defaults(func=run_analyze)


def run_prepare(args: argparse.Namespace) -> int:
    from harness.human_eval.designs import design
    from harness.human_eval.study import prepare

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    blocks = [[n.strip() for n in g.split(",") if n.strip()] for g in args.blocks.split(";")] if args.blocks else None
    summary = prepare(args.inputs, args.output, design(args.design), names=names, reference=args.reference,
                      task=args.task, samples=args.samples, per_emotion=args.per_emotion, batch_size=args.batch_size,
                      ratings=args.ratings, blocks=blocks, seed=args.seed)
    for note in summary["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"study of {', '.join(summary['systems'])}: {summary['samples']} samples, {summary['batches']} batches -> "
          f"{summary['output']} (key.json holds which system is which: keep it from annotators)")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from harness.human_eval.server import serve
    from harness.human_eval.store import open_store

    serve(open_store(args.study), args.port, quiet=not args.verbose)
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from harness.human_eval.analysis import analyze
    from harness.human_eval.empo_table7 import FINDINGS, compare_table7
    from harness.human_eval.ratings import read_rating_set
    from harness.human_eval.report import markdown, rounded, write_report

    order = [s.strip() for s in args.order.split(",")] if args.order else None
    rating_set = read_rating_set(args.ratings, args.key, args.design, order)
    result = analyze(rating_set, t_test=args.t_test)
    if rating_set.kind == "empo":
        result["table7"] = compare_table7(result["pairwise"])
        result["notes"] += list(FINDINGS)
    if args.output:
        paths = write_report(result, rating_set, args.output)
        print(paths["md"].read_text())
        print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    else:
        print(markdown(rounded(result), None))
    return 0
