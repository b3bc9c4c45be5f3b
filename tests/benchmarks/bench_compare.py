"""`compare` and `leaderboard` at EmPO's size: 2,540 ED test dialogues per system.

Systems are built from the ED test references (no model needed): the human references
themselves, and "shifted" systems whose response to dialogue i is the reference of
dialogue i + k (fluent, on-topic for another dialogue: a realistic spread of every
metric). Measured end to end through the command line, scoring included, with every
registered metric (EPITOME needs the trained instrument in the cache; without it the
run says so and scores the rest).

Rows: `compare` of two generations files (scoring both included); scoring a file;
`leaderboard` of 5 scored systems. The compare table itself is kept as
reports/benchmarks/compare_example.md (what a reader sees).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import REPORTS, machine, write_report

N = 2540


def build_systems(folder: Path, n: int, shifts: tuple[int, ...]) -> dict[str, Path]:
    from harness.data.ed import load_examples
    from harness.generations import write_generations
    from harness.metrics.base import Item

    examples = load_examples("test")[:n]
    files = {}
    for k in shifts:
        name = "human" if k == 0 else f"shifted-{k}"
        items = [Item(e.id, e.context, examples[(i + k) % len(examples)].reference, e.reference, e.emotion)
                 for i, e in enumerate(examples)]
        files[name] = write_generations(folder / f"{name}.jsonl", items)
    return files


def cold_derived_cache(folder: Path) -> None:
    """Point the harness cache at `folder`: the real cache's trained instrument, models and
    data files (symlinked), but an empty `derived/`, so that what scoring computes once and
    caches (the references' EPITOME levels, NIDF's document frequencies) is timed too."""
    from harness.config import CACHE_ENV, cache_dir

    real = cache_dir()
    folder.mkdir(parents=True)
    for entry in real.iterdir() if real.exists() else ():
        if entry.name != "derived":
            (folder / entry.name).symlink_to(entry.resolve())
    os.environ[CACHE_ENV] = str(folder)


def _run(args: list[str], log: Path) -> tuple[float, float, str]:
    """Run a command in this process (one heavy process for the machine's scheduler);
    returns (wall seconds, CPU seconds of the process, all threads), and its output."""
    from harness.cli import main as cli

    wall, cpu = time.perf_counter(), time.process_time()
    with open(log, "w") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        code = cli(args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    text = log.read_text()
    if code:
        raise RuntimeError(f"{' '.join(args)} failed:\n{text[-3000:]}")
    return wall, cpu, text


def main(quick: bool = False) -> None:
    # every module now: a run waiting in a queue must not mix code edited meanwhile
    import harness.cli.compare  # noqa: F401
    import harness.leaderboard.write  # noqa: F401
    import harness.scoring  # noqa: F401

    n = int(os.environ.get("BENCH_COMPARE_N", 300 if quick else N))
    rows, notes = [], []
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold_derived_cache(tmp / "cache")
        files = build_systems(tmp, n, (0, 1, 2, 3, 5))
        wall, cpu, text = _run(["compare", str(files["human"]), str(files["shifted-1"]),
                                "--json", str(tmp / "c.json"), "--output", str(tmp / "c.md")], tmp / "compare.log")
        data = json.loads((tmp / "c.json").read_text())
        settings = data["settings"]
        metrics = data["pairs"][0]["metrics"]
        tested = sum(1 for m in metrics.values() if m["p"] is not None)
        untested = sorted(k for k, m in metrics.items() if m["test"] == "untested")
        rows.append({"what": f"compare of two {n}-example generations files, all metrics, scoring included",
                     "wall s": wall, "CPU s": cpu, "tests": tested, "resamples": settings["resamples"]})
        for scorer, resamples, secs in re.findall(r"(\S+): ([\d,]+) resamples from per-example counts in ([\d.]+) s",
                                                  text):
            rows.append({"what": f"  of which: {scorer} corpus test from per-example counts", "wall s": float(secs),
                         "resamples": int(resamples.replace(",", ""))})
        if untested:
            notes.append(f"untested in compare (the reason is in its table): {', '.join(untested)}")
        if not any(k.endswith("emp_f1") for k in metrics):
            notes.append("no EPITOME instrument in the cache: Emp-F1 / DIFF-EPITOME were not scored")
        (REPORTS_EXAMPLE).write_text(_example(tmp / "c.md"))
        _report(rows, notes, load)

        wall, cpu, _ = _run(["score", *map(str, files.values()), "--output", str(tmp / "scored")], tmp / "score.log")
        rows.append({"what": f"scoring the 5 {n}-example files (`empathy-harness score`), per file",
                     "wall s": wall / len(files), "CPU s": cpu / len(files)})
        _report(rows, notes, load)
        scored = [f"{name}={tmp / 'scored' / path.stem}" for name, path in files.items()]
        wall, cpu, _ = _run(["leaderboard", *scored, "--reference", "human", "--output", str(tmp / "lb" / "lb.md")],
                            tmp / "lb.log")
        table = json.loads((tmp / "lb" / "lb.json").read_text())["tables"][0]
        rows.append({"what": f"leaderboard of the 5 scored {n}-example systems, figures included",
                     "wall s": wall, "CPU s": cpu, "tests": table["tests"], "resamples": table["resamples"]})
        untested = sorted({c for r in table["rows"] for c, cell in r["cells"].items() if cell["test"] == "untested"})
        if untested:
            notes.append(f"untested in the leaderboard (the reason is in its table): {', '.join(untested)}")
    _report(rows, notes, load)


def _report(rows: list[dict], notes: list[str], load: list[float]) -> None:
    notes = notes + [
        "systems: ED test references (human) and the references shifted by 1, 2, 3, 5 dialogues; run in one process "
        "(the machine's scheduler admits few heavy processes at a time), so no interpreter start; the cache's "
        "derived/ folder starts empty (the trained instrument and models are the cache's), so the first scoring "
        "classifies the references' EPITOME levels and counts NIDF's document frequencies, later ones reuse them",
        f"CPU load (1, 5, 15 min) before: {load}; wall seconds on a shared machine are upper bounds of an idle one's "
        "(CPU s: this process's CPU time, all threads)",
        f"{machine()['cpus']} CPUs; torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}"]
    write_report("compare", ["what", "wall s", "CPU s", "tests", "resamples"], rows, notes,
                 reproduce="EMPATHY_HARNESS_MIRROR=<mirror> EMPATHY_HARNESS_CACHE=<cache> python -m tests.benchmarks compare")


REPORTS_EXAMPLE = REPORTS / "compare_example.md"


def _example(path: Path) -> str:
    """The compare table of the benchmark, as a reader sees it (temporary paths shortened)."""
    text = path.read_text()
    return re.sub(r"`[^`]*/(human|shifted-\d)\.jsonl`", r"`\1.jsonl`", text)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
