"""`empathy-harness data`: what the harness reads from EmpatheticDialogues."""

from __future__ import annotations

import argparse
import json

from harness.data import ed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="dataset statistics")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    stats = sub.add_parser("stats", help="per split: conversations, examples, labels, skipped rows and why",
                           description="Read EmpatheticDialogues as the harness does and print, per split, the rows "
                                       "read, conversations, evaluation examples, labels, and every skipped row or "
                                       "conversation with its reason.")
    stats.add_argument("--source", help="ED release tarball or folder (default: mirror, cache, or download)")
    stats.add_argument("--splits", nargs="+", default=list(ed.SPLITS), choices=ed.SPLITS, metavar="SPLIT",
                       help=f"which splits to read: {', '.join(ed.SPLITS)} (default all)")
    stats.add_argument("--strict", action="store_true", help="fail on the first malformed row instead of skipping it")
    stats.add_argument("--json", metavar="FILE", help="also write the statistics as JSON")
    stats.set_defaults(func=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    reports = [ed.load_split(split, args.source, strict=args.strict)[1] for split in args.splits]
    print(format_stats(reports))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([r.to_json() for r in reports], fh, indent=2)
    return 0


def format_stats(reports: list[ed.SplitReport]) -> str:
    lines = [f"EmpatheticDialogues from {reports[0].source}", ""]
    lines.append(f"{'split':<6} {'rows':>7} {'conversations':>13} {'examples':>8} {'labels':>6}")
    for r in reports:
        lines.append(f"{r.split:<6} {r.rows:>7} {r.conversations:>13} {r.examples:>8} {r.labels:>6}")
    for r in reports:
        skipped = [f"  row: {why}: {n}" for why, n in sorted(r.skipped_rows.items())]
        skipped += [f"  conversation: {why}: {n}" for why, n in sorted(r.skipped_conversations.items())]
        lines += ["", f"{r.split}: skipped {'nothing' if not skipped else ''}".rstrip()] + skipped
    return "\n".join(lines) + "\n"
