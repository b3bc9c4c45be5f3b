"""Cost of comparing two systems: paired tests on all per-example metrics, the compare
command end to end, and the resampling of corpus-level metrics (the response tries).

Targets (issue 6): two runs of 2,540 examples, every per-example metric, 10,000
permutations: under 5 s on 2 cores. The tries are recomputed on every corpus resample:
the bench reports the cost of one recomputation and of the resample count used.
Also: how well corpus-metric intervals cover (half-sampling against the bootstrap).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.common import measure, write_report

N = 2540


def per_example_metrics(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    """25 per-example metrics with the shapes the real ones have (discrete squared level
    differences, levels 0-2, BERTScore near 0.85, NIDF in (0, 1), signed and absolute IVA
    distances, lengths, ROUGE-L)."""
    out: dict[str, np.ndarray] = {}
    diffs = []
    for mech in ("er", "ip", "ex"):
        ref = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
        gen = np.clip(ref + rng.choice([-1, 0, 1], size=n, p=[0.25 - shift / 2, 0.5 + shift, 0.25 - shift / 2]), 0, 2)
        out[f"level_{mech}"] = gen.astype(float)
        out[f"ref_level_{mech}"] = ref.astype(float)
        out[f"diff_{mech}"] = ((gen - ref) ** 2).astype(float)
        diffs.append(out[f"diff_{mech}"])
    out["diff_epitome"] = np.mean(diffs, axis=0)
    for k in ("p", "r", "f1"):
        out[f"bertscore_{k}"] = rng.beta(40 + 20 * shift, 8, size=n)
    out["nidf"] = rng.beta(5, 10, size=n)
    for dim in ("intensity", "valence", "arousal", "dominance"):
        signed = np.clip(rng.normal(0.05 - shift / 4, 0.3, size=n), -1, 1)
        out[f"{dim}_signed"] = signed
        out[f"{dim}_abs"] = np.abs(signed)
    out["length_chars"] = np.exp(rng.normal(4.1 - shift, 0.5, size=n))
    out["length_words"] = np.round(out["length_chars"] / 5)
    out["rouge_l"] = rng.beta(2, 8, size=n)
    return out


def write_scored(folder: Path, ids: list[str], metrics: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True)
    keys = list(metrics)
    with open(folder / "scores.jsonl", "w") as fh:
        for k, rid in enumerate(ids):
            fh.write(json.dumps({"id": rid, **{key: float(metrics[key][k]) for key in keys}}) + "\n")
    (folder / "summary.json").write_text(json.dumps({k: float(v.mean()) for k, v in metrics.items()} | {"n": len(ids)}))
    (folder / "provenance.json").write_text(json.dumps({"instruments": {}}))


def trie_statistic():
    """The registered scorer declaring `trie_compression` (issue 3), or None."""
    from harness.metrics import base

    for name in base.available():
        scorer = base.get_scorer(name)
        if any(o.name == "trie_compression" for o in scorer.outputs):
            keys = [o.name for o in scorer.outputs if o.level == "corpus"]
            return name, lambda items: {k: v for k, v in scorer.compute(items).corpus.items() if k in keys}
    return None


def corpus_items(n: int):
    """Two systems of real text: the ED test references, and the valid-split references
    as the other system's responses to the same test dialogues; synthetic sentences of
    ED-like length without the data mirror."""
    from harness.metrics.base import Item

    try:
        from harness.data import ed

        test = ed.load_examples("test")[:n]
        other = [e.reference for e in ed.load_examples("valid")][:n]
        refs, contexts = [e.reference for e in test], [tuple(e.context) for e in test]
        source = "ED test references vs valid-split references"
    except Exception:  # no mirror
        rng = np.random.default_rng(0)
        words = [f"w{i}" for i in range(3000)]
        refs = [" ".join(rng.choice(words, size=rng.integers(6, 25))) for _ in range(2 * n)]
        refs, other = refs[:n], refs[n:]
        contexts = [("hello",)] * n
        source = "synthetic sentences (no data mirror)"
    n = min(len(refs), len(other))
    a = [Item(f"c{k}", contexts[k], refs[k], refs[k]) for k in range(n)]
    b = [Item(f"c{k}", contexts[k], other[k], refs[k]) for k in range(n)]
    return a, b, source


def coverage(reps: int, resamples: int, n: int) -> dict:
    """Share of simulated corpora whose 95% interval for a Dist-2 difference covers the
    expected difference: half-sampling (what the harness uses) against the bootstrap."""
    rng = np.random.default_rng(0)

    def corpus(zipf):
        return [tuple(np.minimum(rng.zipf(zipf, rng.integers(4, 14)) - 1, 399)) for _ in range(n)]

    def dist2(rs):
        grams = [(r[i], r[i + 1]) for r in rs for i in range(len(r) - 1)]
        return 100 * len(set(grams)) / len(grams)

    truth = np.mean([dist2(corpus(1.4)) - dist2(corpus(1.6)) for _ in range(200)])
    hits = {"half-sampling, centered (harness)": 0, "bootstrap, percentile": 0, "bootstrap, re-centered": 0}
    for _ in range(reps):
        a, b = corpus(1.6), corpus(1.4)
        obs = dist2(b) - dist2(a)
        half, boot = [], []
        for _ in range(resamples):
            idx = rng.permutation(n)[: n // 2]
            half.append(dist2([b[i] for i in idx]) - dist2([a[i] for i in idx]))
            idx = rng.integers(0, n, n)
            boot.append(dist2([b[i] for i in idx]) - dist2([a[i] for i in idx]))
        half, boot = np.array(half), np.array(boot)
        for name, values in (("half-sampling, centered (harness)", half - half.mean() + obs),
                             ("bootstrap, percentile", boot), ("bootstrap, re-centered", boot - boot.mean() + obs)):
            lo, hi = np.quantile(values, [0.025, 0.975])
            hits[name] += lo <= truth <= hi
    return {k: v / reps for k, v in hits.items()}


def main(quick: bool = False) -> None:
    from harness import stats
    from harness.leaderboard.comparison import Settings, compare_runs
    from harness.leaderboard.runs import load_run

    resamples = 2_000 if quick else 10_000
    rng = np.random.default_rng(0)
    a, b = per_example_metrics(rng, N, 0.0), per_example_metrics(rng, N, 0.05)
    keys = list(a)
    a_mat = np.column_stack([a[k] for k in keys])
    b_mat = np.column_stack([b[k] for k in keys])
    rows = []
    threads = os.environ.get("OMP_NUM_THREADS", "default")

    _, seconds, peak = measure(lambda: stats.paired_tests(a_mat, b_mat, resamples=resamples, seed=0))
    rows.append({"what": f"paired permutation + bootstrap, {len(keys)} metrics x {N} examples", "resamples": resamples,
                 "seconds": seconds, "peak MiB": peak})
    _, seconds, _ = measure(lambda: stats.paired.permutation_pvalues(b_mat - a_mat, resamples=resamples, seed=0))
    rows.append({"what": "  of which: sign-flip permutation p-values", "resamples": resamples, "seconds": seconds})

    with tempfile.TemporaryDirectory() as tmp:
        ids = [f"conv{k:05d}" for k in range(N)]
        for name, metrics in (("a", a), ("b", b)):
            write_scored(Path(tmp) / name, ids, metrics)
        settings = Settings(resamples=resamples, corpus_resamples=0)

        def engine():
            runs = [load_run(Path(tmp) / "a"), load_run(Path(tmp) / "b")]
            return compare_runs(runs, settings)

        _, seconds, peak = measure(engine)
        rows.append({"what": "compare engine: load 2 scored folders + every test, effect, MDD, Holm",
                     "resamples": resamples, "seconds": seconds, "peak MiB": peak})
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "harness", "compare", str(Path(tmp) / "a"), str(Path(tmp) / "b"),
                               "--resamples", str(resamples), "--json", str(Path(tmp) / "c.json")],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode:
            raise RuntimeError(proc.stderr)
        rows.append({"what": "`empathy-harness compare` command, interpreter start included", "resamples": resamples,
                     "seconds": seconds})

    notes = [f"{len(keys)} per-example metrics: {', '.join(keys)}",
             f"numpy threads: OMP_NUM_THREADS={threads}; the sign-flip and bootstrap matrices are drawn once per "
             "call and shared by every metric"]
    trie = trie_statistic()
    corpus_resamples = 4 if quick else 20
    items_a, items_b, source = corpus_items(N)
    if trie is None:
        notes.append("tries: no registered scorer declares trie_compression on this branch (issue 3's lexical "
                     "scorers); rerun after merging to measure the tries")
    else:
        name, statistic = trie
        _, one, _ = measure(lambda: statistic(items_a))
        rows.append({"what": f"tries ({name}) on {len(items_a)} {source}: one recomputation", "resamples": 1,
                     "seconds": one})
        r, seconds, _ = measure(lambda: stats.approximate_randomization(items_a, items_b, statistic,
                                                                         resamples=corpus_resamples, seed=0))
        used = next(iter(r.values())).resamples
        rows.append({"what": f"tries: approximate randomization + half-sampling interval ({4 * used + 2} recomputations)",
                     "resamples": used, "seconds": seconds})
        per = (seconds - 2 * one) / used
        budget = Settings().corpus_budget
        rows.append({"what": f"tries: projected for compare's default {stats.DEFAULT_CORPUS_RESAMPLES} resamples",
                     "resamples": stats.DEFAULT_CORPUS_RESAMPLES, "seconds": 2 * one + per * stats.DEFAULT_CORPUS_RESAMPLES})
        notes.append(f"tries: one resample costs {per:.1f} s here (2 full-size + 2 half-size recomputations); "
                     f"compare stops at its {budget:g} s budget per scorer and pair, i.e. after about "
                     f"{int(budget // per)} resamples (smallest p about {1 / (1 + int(budget // per)):.2g}), and "
                     f"does not start below 19; raise --corpus-budget for more")

    reps, per = (20, 30) if quick else (100, 200)
    cov, seconds, _ = measure(lambda: coverage(reps, per, 300))
    for method, share in cov.items():
        rows.append({"what": f"coverage of a 95% interval for a Dist-2 difference: {method}",
                     "resamples": per, "seconds": seconds if method.startswith("half") else "",
                     "coverage": share})
    notes.append(f"coverage: {reps} simulated pairs of 300-response corpora (Zipf word draws), the expected "
                 "difference from 200 more; the binomial SD of a coverage share is about "
                 f"{np.sqrt(0.05 * 0.95 / reps):.3f}")
    write_report("stats", ["what", "resamples", "seconds", "peak MiB", "coverage"], rows, notes)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
