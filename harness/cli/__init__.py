"""`empathy-harness`: one command line for the whole pipeline.

Each subcommand lives in its own module with a `register(subparsers)` function that adds
its parser and sets `func`; heavy imports stay inside the functions so `--help` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__
from harness.errors import HarnessError

COMMANDS = ["data", "eval", "score", "epitome", "compare", "leaderboard", "train", "preferences", "demo", "human-eval",
            "meta_eval"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="empathy-harness",
        description="Empathy evaluation on EmpatheticDialogues beside MMLU and the Open LLM Leaderboard.",
    )
    parser.add_argument("--version", action="version", version=f"empathy-harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"harness.cli.{name.replace('-', '_')}").register(subparsers)
    _describe(subparsers)
    return parser


def _describe(subparsers: argparse._SubParsersAction) -> None:
    """A command's `--help` opens with its description; one given only a one-line help gets
    that line."""
    helps = {action.dest: action.help for action in subparsers._choices_actions}
    for name, sub in subparsers.choices.items():
        if sub.description is None and helps.get(name):
            sub.description = helps[name][0].upper() + helps[name][1:] + "."
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe(action)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HarnessError as exc:
        print(f"empathy-harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("empathy-harness: interrupted; finished work was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
