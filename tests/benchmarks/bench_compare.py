"""`compare` and `leaderboard` at EmPO's size: 2,540 ED test dialogues per system.

Systems are built from the ED test references (no model needed): the human references
themselves, and "shifted" systems whose response to dialogue i is the reference of
dialogue i + k (fluent, on-topic for another dialogue: a realistic spread of every
metric). Measured end to end through the command line, scoring included, with every
registered metric (EPITOME needs the trained instrument in the cache; without it the
run says so and scores the rest).

Rows: `compare` of two generations files (scoring both included); scoring one file;
`leaderboard` of 5 pre-scored systems (scoring excluded, then the whole thing).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import machine, write_report

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


def _run(args: list[str], log: Path) -> tuple[float, str]:
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "harness", *args], stdout=fh, stderr=subprocess.STDOUT,
                              text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - start
    text = log.read_text()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{text[-3000:]}")
    return seconds, text


def main(quick: bool = False) -> None:
    n = 300 if quick else N
    rows, notes = [], []
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = build_systems(tmp, n, (0, 1, 2, 3, 5))
        # warm the caches a first scoring fills once per machine (NIDF document frequencies,
        # the EPITOME reference levels of these references), as a user's second run finds them
        _run(["score", str(files["human"]), "--output", str(tmp / "warm")], tmp / "warm.log")

        seconds, text = _run(["compare", str(files["human"]), str(files["shifted-1"]),
                              "--json", str(tmp / "c.json"), "--output", str(tmp / "c.md")], tmp / "compare.log")
        data = json.loads((tmp / "c.json").read_text())
        settings = data["settings"]
        metrics = data["pairs"][0]["metrics"]
        tested = sum(1 for m in metrics.values() if m["p"] is not None)
        untested = sorted(k for k, m in metrics.items() if m["test"] == "untested")
        rows.append({"what": f"compare of two {n}-example generations files, all metrics, scoring included",
                     "seconds": seconds, "tests": tested, "resamples": settings["resamples"]})
        m = re.findall(r"(\S+): ([\d,]+) resamples from per-example counts in ([\d.]+) s", text)
        for scorer, resamples, secs in m:
            rows.append({"what": f"  of which: {scorer} corpus test from per-example counts",
                         "seconds": float(secs), "resamples": int(resamples.replace(",", ""))})
        if untested:
            notes.append(f"untested in compare (the reason is in its table): {', '.join(untested)}")
        if not any(k.endswith("emp_f1") for k in metrics):
            notes.append("no EPITOME instrument in the cache: Emp-F1 / DIFF-EPITOME were not scored")

        seconds, _ = _run(["score", str(files["shifted-2"]), "--output", str(tmp / "scored")], tmp / "score.log")
        rows.append({"what": f"of which: scoring one {n}-example file (`empathy-harness score`)", "seconds": seconds})
        for name, path in files.items():
            if name != "shifted-2":
                _run(["score", str(path), "--output", str(tmp / "scored")], tmp / f"score-{name}.log")
        scored = [f"{name}={tmp / 'scored' / path.stem}" for name, path in files.items()]
        seconds, text = _run(["leaderboard", *scored, "--reference", "human", "--output", str(tmp / "lb" / "lb.md")],
                             tmp / "lb.log")
        table = json.loads((tmp / "lb" / "lb.json").read_text())["tables"][0]
        rows.append({"what": f"leaderboard of 5 pre-scored {n}-example systems, figures included",
                     "seconds": seconds, "tests": table["tests"], "resamples": table["resamples"]})
        seconds, _ = _run(["leaderboard", *[f"{name}={path}" for name, path in files.items()], "--reference", "human",
                           "--output", str(tmp / "lb2" / "lb.md")], tmp / "lb2.log")
        rows.append({"what": f"leaderboard of 5 {n}-example generations files, scoring included", "seconds": seconds,
                     "tests": table["tests"], "resamples": table["resamples"]})
        untested = sorted({c for r in table["rows"] for c, cell in r["cells"].items() if cell["test"] == "untested"})
        if untested:
            notes.append(f"untested in the leaderboard (the reason is in its table): {', '.join(untested)}")
    notes.append(f"systems: ED test references (human) and the references shifted by 1, 2, 3, 5 dialogues; "
                 f"caches warmed by one `score` first (NIDF frequencies, EPITOME reference levels)")
    notes.append(f"CPU load (1, 5, 15 min) before: {load}; the machine is shared, so seconds are upper bounds of "
                 f"an idle machine's")
    notes.append(f"{machine()['cpus']} CPUs; torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}")
    write_report("compare", ["what", "seconds", "tests", "resamples"], rows, notes,
                 reproduce="EMPATHY_HARNESS_MIRROR=<mirror> EMPATHY_HARNESS_CACHE=<cache> python -m tests.benchmarks compare")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
