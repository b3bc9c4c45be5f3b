"""Do two versions of the code give the same EPITOME levels? A check for changes that
should change only speed: `python -m tests.benchmarks.compare_epitome_levels [--against REV] [--n N]`.

Runs `Instrument.levels` as DIFF-EPITOME's cold pass does (prevs + prevs against responses
+ references, batches of 64) on N ED test examples (default 2,540, as bench_epitome),
once with this tree's `harness` and once with REV's (default main, taken with
`git archive`), each in a fresh process on the cached MiniLM instrument (never trained
here), and prints per mechanism how many levels differ and the largest difference of
the level logits (read from the level head, batch by batch). Needs the offline mirror.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_levels(n: int, out: str, tree: str) -> None:
    """In the process whose `harness` is being checked: levels and level-head outputs."""
    import torch

    import harness

    if not Path(harness.__file__).resolve().is_relative_to(Path(tree).resolve()):
        raise RuntimeError(f"imported {harness.__file__}, not the harness of {tree}")
    from harness.epitome.prediction import load_instrument
    from tests.benchmarks.bench_epitome import BACKBONE, ed_items

    inst = load_instrument(BACKBONE, announce=False)
    heads: dict[str, list[torch.Tensor]] = {m: [] for m in inst.classifiers}
    for m, clf in inst.classifiers.items():
        clf.model.level_head.register_forward_hook(lambda mod, args, result, m=m: heads[m].append(result.detach()))
    items = ed_items(n)
    prevs = [it.prev for it in items]
    start = time.perf_counter()
    levels = inst.levels(prevs + prevs, [it.response for it in items] + [it.reference for it in items], batch_size=64)
    seconds = time.perf_counter() - start
    torch.save({m: torch.cat(rows) for m, rows in heads.items()}, out + ".pt")
    Path(out).write_text(json.dumps({"levels": levels, "seconds": seconds, "load_1min": os.getloadavg()[0]}))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.compare_epitome_levels")
    parser.add_argument("--against", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--n", type=int, default=2540, help="ED test examples (default 2540)")
    args = parser.parse_args()
    import torch

    with tempfile.TemporaryDirectory(prefix="epitome-levels-") as tmp:
        other = Path(tmp) / "other"
        other.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.against, "harness"], check=True,
                                 capture_output=True).stdout
        Path(tmp, "other.tar").write_bytes(archive)
        with tarfile.open(Path(tmp, "other.tar")) as tar:
            tar.extractall(other, filter="data")
        results = {}
        for name, tree in ((args.against, other), ("this tree", REPO)):
            out = str(Path(tmp) / f"{'other' if tree == other else 'this'}.json")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(REPO)]), "HF_HUB_OFFLINE": "1"}
            code = f"from tests.benchmarks.compare_epitome_levels import run_levels; run_levels({args.n}, {out!r}, {str(tree)!r})"
            subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp)
            results[name] = (json.loads(Path(out).read_text()), torch.load(out + ".pt"))
        (a, a_heads), (b, b_heads) = results.values()
        print(f"{2 * args.n} pairs; levels() took {a['seconds']:.1f} s with {args.against} (load {a['load_1min']:.2f}), "
              f"{b['seconds']:.1f} s with this tree (load {b['load_1min']:.2f})")
        differ = 0
        for m in a["levels"]:
            diff = sum(x != y for x, y in zip(a["levels"][m], b["levels"][m]))
            differ += diff
            gap = (a_heads[m] - b_heads[m]).abs().max().item()
            print(f"{m}: {diff} of {len(a['levels'][m])} levels differ; largest level-logit difference {gap:.3g}")
        print(f"levels that differ: {differ}")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
