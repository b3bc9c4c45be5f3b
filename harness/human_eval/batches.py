"""Batches: which annotator sees which response, block-randomised as EmPO appendix D.

EmPO: the samples are shown "in the same order", in batches of 15; for three systems
"block the outputs, so that 5 examples in a row are from the same model resulting in
3! = 6 orderings. Adding 3 batches that evaluate samples of one model, making each sample
annotated three times." In general, for a block group of k systems and one run of
`batch_size` consecutive samples: the run is cut into k blocks; each of the k! orderings of
the systems over the blocks is one batch, so every (sample, system) is seen (k-1)! times;
then `ratings - (k-1)!` single-system batches per system bring each to `ratings`. A group
of one system is `ratings` single-system batches (EmPO's length-controlled baseline).
Every batch shows each of its samples once, so no annotator sees two systems' responses
to one dialogue in one batch.

A/B designs: for each pair of systems and each run of samples, `ratings` batches showing
both responses to every sample, A and B in a seeded random order per item (recorded).

The batch list is shuffled (seeded) so that batches handed out first do not favour a system.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from harness.errors import HarnessError


@dataclass(frozen=True)
class Shown:
    """One item of a batch: `sample` with the responses of `systems` (one, or A then B)."""

    item: str
    sample: str
    systems: tuple[str, ...]


@dataclass(frozen=True)
class Batch:
    id: str
    run: int  # which run of consecutive samples
    plan: str  # how it was made, e.g. "ordering S2,S1,S3" or "single S1" or "pair S1-S2"
    items: tuple[Shown, ...]


def default_block_groups(systems: list[str]) -> list[list[str]]:
    """Systems in the order given, in groups of three (the last may be smaller)."""
    return [systems[i:i + 3] for i in range(0, len(systems), 3)]


def rating_batches(samples: list[str], groups: list[list[str]], *, batch_size: int = 15, ratings: int = 3,
                   seed: int = 0) -> list[Batch]:
    """Block-randomised rating batches over `samples` (in the order shown) for `groups` of systems."""
    if batch_size < 1 or ratings < 1:
        raise HarnessError("--batch-size and --ratings must be at least 1")
    for group in groups:
        if math.factorial(len(group) - 1) > ratings:
            raise HarnessError(f"block group {','.join(group)}: {len(group)}! orderings rate each sample "
                               f"{math.factorial(len(group) - 1)} times, more than --ratings {ratings}; use smaller groups")
        if len(group) > batch_size:
            raise HarnessError(f"block group {','.join(group)} has more systems than --batch-size {batch_size} has samples")
    rng = random.Random(seed)
    made: list[tuple[int, str, list[tuple[str, str]]]] = []
    for run, start in enumerate(range(0, len(samples), batch_size)):
        chunk = samples[start:start + batch_size]
        for group in groups:
            k = len(group)
            cuts = [round(i * len(chunk) / k) for i in range(k + 1)]
            blocks = [chunk[cuts[i]:cuts[i + 1]] for i in range(k)]
            if k > 1:
                for order in itertools.permutations(group):
                    made.append((run, "ordering " + ",".join(order),
                                 [(s, system) for block, system in zip(blocks, order) for s in block]))
            singles = ratings - math.factorial(k - 1) if k > 1 else ratings
            for system in group:
                for _ in range(singles):
                    made.append((run, f"single {system}", [(s, system) for s in chunk]))
    return _number(made, rng, lambda pairs: [(s, (system,)) for s, system in pairs])


def ab_batches(samples: list[str], pairs: list[tuple[str, str]], *, batch_size: int = 15, ratings: int = 3,
               seed: int = 0) -> list[Batch]:
    """A/B batches: every sample of every pair seen by `ratings` annotators, A/B order random per item."""
    if batch_size < 1 or ratings < 1:
        raise HarnessError("--batch-size and --ratings must be at least 1")
    rng = random.Random(seed)
    made = []
    for first, second in pairs:
        for run, start in enumerate(range(0, len(samples), batch_size)):
            chunk = samples[start:start + batch_size]
            for _ in range(ratings):
                made.append((run, f"pair {first}-{second}", [(s, (first, second)) for s in chunk]))

    def shown(pairs_of_run):
        return [(s, tuple(rng.sample(list(two), 2))) for s, two in pairs_of_run]

    return _number(made, rng, shown)


def _number(made, rng: random.Random, systems_of) -> list[Batch]:
    rng.shuffle(made)
    used: set[str] = set()
    batches = []
    width = max(3, len(str(len(made))))
    for number, (run, plan, content) in enumerate(made, start=1):
        items = []
        for sample, systems in systems_of(content):
            code = _code(rng, used)
            items.append(Shown(code, sample, systems))
        batches.append(Batch(f"b{number:0{width}d}", run, plan, tuple(items)))
    return batches


def _code(rng: random.Random, used: set[str]) -> str:
    while True:
        code = f"{rng.getrandbits(40):010x}"
        if code not in used:
            used.add(code)
            return code
