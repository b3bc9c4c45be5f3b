"""In-context exemplars: complete ED *training* dialogues, drawn per test dialogue.

A random draw is seeded by (seed, test dialogue id) alone, so a dialogue gets the same
exemplars whatever else is evaluated with it, in any order, on any number of ranks.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from functools import lru_cache

from harness import resources
from harness.data import ed
from harness.errors import HarnessError

POOL_SPLIT = "train"  # never the test split: exemplars are always training dialogues


@dataclass(frozen=True)
class Pool:
    """The training dialogues exemplars come from, in file order."""

    ids: tuple[str, ...]
    dialogues: tuple[tuple[str, ...], ...]  # every turn of each dialogue, speaker first
    contexts: tuple[tuple[str, ...], ...]  # the turns before its last listener turn (eq. 1's context)

    def __len__(self) -> int:
        return len(self.ids)


def training_pool(source: str | os.PathLike | None = None) -> Pool:
    return _pool(str(resources.resolve("ed", source)))


@lru_cache(maxsize=2)
def _pool(path: str) -> Pool:
    dialogues, _ = ed.load_split(POOL_SPLIT, path)
    examples = [ed.example_from(d) for d in dialogues]
    return Pool(tuple(d.conv_id for d in dialogues), tuple(tuple(t.text for t in d.turns) for d in dialogues),
                tuple(e.context for e in examples))


def check_k(k: int, pool_size: int, task: str) -> None:
    if k < 0:
        raise HarnessError(f"{task}: the number of exemplars must be at least 0, not {k}")
    if k > pool_size:
        raise HarnessError(f"{task}: {k} exemplars asked for (num_fewshot) but the ED training split has "
                           f"{pool_size} dialogues; use a smaller --num_fewshot")


def random_draw(pool_size: int, k: int, seed: int | None, doc_id: str) -> list[int]:
    """k distinct pool positions for the test dialogue `doc_id`, reproducible per seed."""
    return random.Random(f"{seed}/{doc_id}").sample(range(pool_size), k)
