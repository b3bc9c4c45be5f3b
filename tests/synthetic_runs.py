"""Synthetic run folders for the compare / leaderboard tests, scored by small test
scorers registered the way real scorers are (harness.metrics.base.register)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.metrics import base
from harness.metrics.base import CORPUS, EXAMPLE, Item, Output, Scorer, Scores

EMOTIONS = ("sad", "joyful", "afraid", "angry")
WORDS = ("i", "am", "so", "sorry", "to", "hear", "that", "great", "news", "wow", "oh", "no", "what", "happened",
         "glad", "you", "are", "ok", "really", "terrible", "awesome", "hope", "it", "gets", "better")


def _jaccard(x: str, y: str) -> float:
    a, b = set(x.split()), set(y.split())
    return len(a & b) / len(a | b) if a | b else 1.0


class DiffScorer(Scorer):
    """Stands in for DIFF-EPITOME: 0 when the response is the reference, larger when further."""

    name = "_t_diff"
    outputs = (Output("diff_er", False, EXAMPLE), Output("diff_ip", False, EXAMPLE), Output("diff_ex", False, EXAMPLE),
               Output("diff_epitome", False, EXAMPLE))
    inputs = ("response", "reference")
    weights = "w1"

    def compute(self, items):
        er = [float(round(2 * (1 - _jaccard(it.response, it.reference))) ** 2) for it in items]
        ip = [float(round(1 - _jaccard(it.response, it.reference))) for it in items]
        ex = [float(len(it.response.split()) % 2) * ip[k] for k, it in enumerate(items)]
        total = [(a + b + c) / 3 for a, b, c in zip(er, ip, ex)]
        return Scores({"diff_er": er, "diff_ip": ip, "diff_ex": ex, "diff_epitome": total})

    def instrument(self):
        return {"backbone": "test", "weights_sha256": self.weights}


class LexScorer(Scorer):
    """Per-example length and an IVA-like signed / absolute distance, plus NIDF-like values."""

    name = "_t_lex"
    outputs = (Output("length_chars", None, EXAMPLE), Output("valence_signed", None, EXAMPLE),
               Output("valence_abs", False, EXAMPLE), Output("nidf", True, EXAMPLE))
    inputs = ("response", "prev")

    def compute(self, items):
        signed = [(len(it.prev) % 7 - len(it.response) % 7) / 7 for it in items]
        return Scores({
            "length_chars": [float(len(it.response)) for it in items],
            "valence_signed": signed,
            "valence_abs": [abs(v) for v in signed],
            "nidf": [len(set(it.response.split())) / (1 + len(it.response.split())) for it in items],
        })

    def instrument(self):
        return {"tokenizer": "split"}


class DistScorer(Scorer):
    """A corpus-level metric: distinct bigrams over all bigrams, x100 (Dist-2)."""

    name = "_t_dist"
    outputs = (Output("dist2", True, CORPUS),)
    calls = 0

    def compute(self, items):
        DistScorer.calls += 1
        grams = [tuple(t[i:i + 2]) for it in items for t in [it.response.split()] for i in range(len(t) - 1)]
        return Scores({}, {"dist2": 100 * len(set(grams)) / len(grams) if grams else 0.0})

    def instrument(self):
        return {"tokenizer": "split"}


class StartScorer(Scorer):
    """Two corpus-level metrics from one scorer, as the response tries give: distinct first
    words, and distinct responses per response (standing in for trie compression)."""

    name = "_t_start"
    outputs = (Output("trie_start_words", True, CORPUS), Output("trie_compression", True, CORPUS))
    calls = 0

    def compute(self, items):
        StartScorer.calls += 1
        words = [it.response.split() for it in items]
        return Scores({}, {"trie_start_words": len({w[0] for w in words if w}),
                           "trie_compression": len({it.response for it in items}) / max(len(items), 1)})

    def instrument(self):
        return {"tokenizer": "split"}


SCORERS = {"_t_diff": DiffScorer, "_t_lex": LexScorer, "_t_dist": DistScorer, "_t_start": StartScorer}


@pytest.fixture
def synthetic_scorers(monkeypatch):
    """Register the test scorers as the whole suite (and nothing else)."""
    from harness.leaderboard import catalog

    monkeypatch.setattr(base, "_REGISTRY", dict(SCORERS))
    monkeypatch.setattr(base, "_INSTANCES", {})
    monkeypatch.setattr("harness.metrics.SCORER_MODULES", ())
    catalog.refresh()
    yield
    catalog.refresh()


def make_items(n: int, quality: float, seed: int, *, start: int = 0) -> list[Item]:
    """ED-like items; with probability `quality` a response repeats the reference."""
    rng = random.Random(seed)
    items = []
    for i in range(start, start + n):
        ref_rng = random.Random(i)  # the reference and context depend on the example only
        reference = " ".join(ref_rng.choice(WORDS) for _ in range(ref_rng.randint(4, 12)))
        prev = " ".join(ref_rng.choice(WORDS) for _ in range(ref_rng.randint(3, 9)))
        if rng.random() < quality:
            response = reference
        else:
            response = " ".join(rng.choice(WORDS[:8]) for _ in range(rng.randint(3, 14)))
        items.append(Item(f"conv{i:05d}", (prev,), response, reference, EMOTIONS[i % len(EMOTIONS)]))
    return items


def write_scored(folder: Path, items: list[Item], *, instruments: dict | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = base.score(items, base.available())  # the registered suite (the synthetic one in tests)
    with open(folder / "generations.jsonl", "w") as fh:
        for it in items:
            fh.write(json.dumps({"id": it.id, "context": list(it.context), "response": it.response,
                                 "reference": it.reference, "emotion": it.emotion}) + "\n")
    with open(folder / "scores.jsonl", "w") as fh:
        for row in result.per_example:
            fh.write(json.dumps(row) + "\n")
    (folder / "summary.json").write_text(json.dumps(result.summary))
    provenance = {"instruments": {**result.instruments, **(instruments or {})}, "input_sha256": "x"}
    (folder / "provenance.json").write_text(json.dumps(provenance))


def write_accuracy(folder: Path, correct: dict[str, int], key: str = "acc") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "scores.jsonl", "w") as fh:
        for rid, value in correct.items():
            fh.write(json.dumps({"id": rid, key: value}) + "\n")
    (folder / "summary.json").write_text(json.dumps({key: sum(correct.values()) / len(correct), "n": len(correct)}))
    (folder / "provenance.json").write_text(json.dumps({"instruments": {}}))


def write_run(root: Path, folder: str, *, model: str, items: list[Item] | None, seed=None, reference: bool = False,
              mmlu: dict[str, int] | None = None, results: dict | None = None, instruments: dict | None = None,
              task: str = "ed_empathy") -> Path:
    run = root / folder
    (run / "tasks").mkdir(parents=True, exist_ok=True)
    # the keys `empathy-harness eval` writes (harness/runs/evaluate.py), those the tables read
    manifest = {"model": model, "seed": seed, "reference": reference, "backend": "human" if reference else "hf",
                "model_args": f"pretrained={model}", "tasks": [task],
                "task_configs": {task: {"sha256": "abc123def4567890", "version": 1}},
                "system_prompts": {task: "You are a friendly assistant."},
                "chat_template": {"applied": False, "sha256": None},
                "versions": {"lm_eval": "0.4.13"}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    if items is not None:
        write_scored(run / "tasks" / task, items, instruments=instruments)
    if mmlu is not None:
        write_accuracy(run / "tasks" / "mmlu", mmlu)
    if results is not None:
        (run / "results.json").write_text(json.dumps(results))
    return run


def mmlu_answers(n: int, accuracy: float, seed: int, base_answers: dict[str, int] | None = None,
                 flip: float = 0.0) -> dict[str, int]:
    rng = random.Random(seed)
    if base_answers is not None:
        return {k: (1 - v if rng.random() < flip else v) for k, v in base_answers.items()}
    return {f"mmlu_{'abcd'[i % 4]}/{i}": int(rng.random() < accuracy) for i in range(n)}
