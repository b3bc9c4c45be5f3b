"""Shared by the benchmarks: time and peak memory of a call, and one report format."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

REPORTS = Path(__file__).resolve().parents[2] / "reports" / "benchmarks"


def measure(fn: Callable[[], Any], *, python_memory: bool = False) -> tuple[Any, float, float]:
    """(result, seconds, peak MiB). Peak is the process's max RSS growth in MiB, or with
    `python_memory` the peak of Python allocations (tracemalloc: slower, but per call)."""
    if python_memory:
        tracemalloc.start()
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return result, seconds, peak
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return result, seconds, max_rss_mib()


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_report(name: str, columns: list[str], rows: list[dict], notes: list[str] | None = None,
                 reproduce: str | None = None) -> str:
    """Print a markdown table and write reports/benchmarks/<name>.{md,json}; `reproduce` is
    the command that made it, when it is not `python -m tests.benchmarks <name>`."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    body = "\n".join("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows)
    text = (
        f"# Benchmark: {name}\n\n{header}\n{body}\n\n"
        + "".join(f"- {n}\n" for n in notes or [])
        + f"- machine: {info['cpus']} CPUs, load {info['load_1min']} at the end, Python {info['python']}\n"
        + f"- measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; "
        + (f"reproduce: `{reproduce}`\n" if reproduce else
           f"reproduce: `make bench BENCH={name}` or `python -m tests.benchmarks {name}`\n")
    )
    (REPORTS / f"{name}.md").write_text(text)
    (REPORTS / f"{name}.json").write_text(json.dumps({"name": name, "machine": info, "rows": rows, "notes": notes or []}, indent=2))
    print(text)
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
