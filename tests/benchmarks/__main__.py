"""Run benchmarks: `python -m tests.benchmarks [NAME ...] [--quick]`.

Each `bench_<name>.py` module here has `main(quick: bool) -> None`, which prints a table
and writes reports/benchmarks/<name>.{md,json} through `common.write_report`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_"))
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    unknown = set(args.names) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; available: {', '.join(names)}")
    for name in args.names or names:
        importlib.import_module(f"tests.benchmarks.bench_{name}").main(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
