"""`--metrics`, one convention for every command that scores (score, compare, leaderboard):
names separated by commas, spaces or both (`--metrics length,nidf`, `--metrics length nidf`),
repeatable; metric names or their summary keys (`dist1` runs `dist`)."""

from __future__ import annotations

import argparse


def add(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--metrics", nargs="+", action="extend", metavar="NAME",
                        help=f"{help}: metric names or summary keys, separated by commas or spaces "
                             "(e.g. nidf,iva or nidf iva); `default` is the default suite, `all` every metric "
                             "(default,epitome_full adds EmpRL's full-context EPITOME reading)")


def chosen(values: list[str] | None) -> list[str]:
    """The scorer names `--metrics` asks for; the default suite without it."""
    from harness.scoring import resolve_metrics

    return resolve_metrics(values)


def added(values: list[str] | None) -> list[str]:
    """The scorers `--metrics` names explicitly (none without it): what compare and
    leaderboard compute for run and scored folders whose tasks lack them."""
    return chosen(values) if values else []
