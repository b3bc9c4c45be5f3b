"""`empathy-harness demo`: the main job on the embedded default model and the offline mirror."""

from __future__ import annotations

import argparse

from harness.cli.data import format_stats
from harness.data import ed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end on the embedded default model")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    reports = [ed.load_split(split)[1] for split in ed.SPLITS]
    print(format_stats(reports))
    return 0
