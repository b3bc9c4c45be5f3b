"""Benchmark the lexical metrics: time and memory on 1,000, 2,540 and 10,000 responses.

Data (needs the ED data, e.g. EMPATHY_HARNESS_MIRROR):
- short responses: ED references (test, then train) used as responses, each scored
  against the *next* example's reference and prompt so that BLEU/ROUGE see a mismatch;
  about 65 characters each, like the human row of EmPO;
- long responses (response tries only): consecutive listener turns of ED (test, train,
  valid; each turn used once) joined with a space until the text reaches 110
  characters: about 150 characters each, like a chatty 7B model's answers (EmPO:
  zephyr baseline 152);
- long templated responses (tries, 2,540 only): the long responses, each opened by one of
  eight stock sentences (round robin), to mimic a model's repetitive openings.
- looping responses (tries, 200 only, the demo's size): two in five responses repeat one
  or two ED listener turns until they are cut at 200 words, as the embedded 135M model
  does when it hits its token limit (its 200 demo responses need 661 spans); the others
  are the long responses.
NIDF's document frequencies are computed (or read from the cache) before any timing.
Each metric runs with cold tokenizer caches, so it pays for its own tokenization; the
"all but tries" row runs those metrics together, sharing tokenizations as `score` does.
Memory is the process's max RSS after the run (runs go from small to large sizes, so a
row's value bounds every run before it).
"""

from __future__ import annotations

import time

from tests.benchmarks.common import max_rss_mib, write_report

OPENERS = [
    "I'm so sorry to hear that.",
    "That sounds really tough.",
    "Oh no, that must have been hard for you.",
    "Wow, that's wonderful news!",
    "I can understand how you feel.",
    "That's great to hear!",
    "It sounds like you've been through a lot.",
    "I'm really happy for you!",
]


def _items(n: int):
    from harness.data.ed import load_examples
    from harness.metrics.base import Item

    examples = load_examples("test") + load_examples("train")
    examples = examples[: n + 1]
    return [
        Item(ex.id, nxt.context, ex.reference, nxt.reference, nxt.emotion) for ex, nxt in zip(examples, examples[1:])
    ][:n]


def _listener_turns() -> list[str]:
    from harness.data.ed import LISTENER, load_split

    turns = []
    for split in ("test", "train", "valid"):
        for dialogue in load_split(split)[0]:
            turns.extend(t.text for t in dialogue.turns if t.role == LISTENER)
    return turns


def _long(items, pool: list[str], templated: bool = False):
    from dataclasses import replace

    out, i = [], 0
    for k, it in enumerate(items):
        parts = [OPENERS[k % len(OPENERS)]] if templated else []
        parts.append(pool[i])
        i += 1
        while len(" ".join(parts)) < 110:
            parts.append(pool[i])
            i += 1
        out.append(replace(it, response=" ".join(parts)))
    return out


def _looping(items, pool: list[str]):
    from dataclasses import replace

    looping = [t for t in pool if 4 <= len(t.split()) <= 25]
    out = []
    for k, it in enumerate(_long(items, pool)):
        if k % 5 < 2:
            cycle = looping[k : k + 1 + k % 2]
            words = []
            while len(words) < 200:
                for turn in cycle:
                    words.extend(turn.split())
            it = replace(it, response=" ".join(words[:200]))
        out.append(it)
    return out


def _cold() -> None:
    from harness.metrics import tokenize

    tokenize._tokenize.cache_clear()
    tokenize._treebank.cache_clear()


def _run(metrics, items):
    from harness.metrics import base

    _cold()
    start = time.perf_counter()
    cpu = time.process_time()
    result = base.score(items, metrics)
    return result, time.perf_counter() - start, time.process_time() - cpu


def main(quick: bool = False) -> None:
    from harness.metrics import base, nidf, tokenize

    sizes = [200, 500] if quick else [1000, 2540, 10000]
    tokenize.word_tokenize("warm up the tokenizer.")
    nidf.document_frequencies()  # counts cached before timing
    singles = ["nidf", "iva", "dist", "bleu", "rouge_l", "length", "tries"]
    rows, times = [], {}
    pool = _listener_turns()
    for n in sizes:
        items = _items(n)
        runs = [(m, [m], items, "short") for m in singles]
        runs.append(("all but tries", [m for m in singles if m != "tries"], items, "short"))
        long_items = _long(items, pool)
        runs.append(("tries", ["tries"], long_items, "long"))
        if n == 2540 or quick:
            runs.append(("tries", ["tries"], _long(items, pool, templated=True), "long templated"))
        if n == sizes[0]:
            runs.append(("tries", ["tries"], _looping(items[:200], pool), "looping"))
        for label, metrics, batch, kind in runs:
            result, seconds, cpu = _run(metrics, batch)
            chars = sum(len(it.response) for it in batch) / len(batch)
            times[(label, kind, n)] = (seconds, cpu)
            rows.append({
                "metric": label, "responses": len(batch), "kind": kind, "mean chars": round(chars),
                "seconds": round(seconds, 2), "cpu s": round(cpu, 2), "max RSS MiB": round(max_rss_mib()),
            })
            print(f"{label:<14} {kind:<15} n={len(batch):<6} {seconds:7.2f} s  (cpu {cpu:.2f} s)", flush=True)
    notes = [
        "short: ED references as responses (~65 chars); long: ED listener turns joined to >= 110 chars (~150 chars); "
        "long templated: long + one of 8 stock openers; looping: 2 in 5 of 200 long responses replaced by 1-2 "
        "ED listener turns repeated up to 200 words (the embedded model at its token limit)",
        "targets: every metric but the tries, 2,540 short responses < 5 s; tries, 2,540 long responses < 30 s; < 1 GiB",
        "seconds: wall time; cpu s: this process's CPU time (closer to a quiet machine when others load it)",
        "NIDF document frequencies read from the cache (built once per ED release)",
    ]
    if not quick:
        for label, kind in [(m, "short") for m in singles] + [("all but tries", "short"), ("tries", "long")]:
            (w1, c1), (w10, c10) = times[(label, kind, 1000)], times[(label, kind, 10000)]
            notes.append(f"growth 1,000 -> 10,000 ({label}, {kind}): x{w10 / w1:.1f} wall, x{c10 / c1:.1f} cpu")
    write_report(
        "lexical", ["metric", "responses", "kind", "mean chars", "seconds", "cpu s", "max RSS MiB"], rows, notes
    )
