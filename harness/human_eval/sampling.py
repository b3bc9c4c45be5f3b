"""Which dialogues a study shows: stratified by emotion as EmPO appendix D.

EmPO "first grouped them [by emotion], then randomly sampled four from each" and rated
135 dialogues with "each of the 32 emotions in ED represented at least four times". The
paper does not say how the 135 - 32 x 4 = 7 others were chosen; here they are drawn
uniformly from the dialogues not yet taken (a setting: `per_emotion`, `n`, `seed`).
The chosen ids come back in one seeded random order: EmPO showed "the conversations ...
to annotators in the same order", and batches are consecutive runs of that order.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from harness.errors import HarnessError


@dataclass(frozen=True)
class Sample:
    ids: tuple[str, ...]
    notes: tuple[str, ...]


def stratified_sample(emotions: dict[str, str], n: int = 135, per_emotion: int = 4, seed: int = 0) -> Sample:
    """`n` ids of `emotions` ({id: emotion}): `per_emotion` from every emotion (all of an
    emotion that has fewer), the rest uniformly from what is left; in a seeded random order."""
    if n < 1 or per_emotion < 0:
        raise HarnessError("--samples must be at least 1 and --per-emotion at least 0")
    if n > len(emotions):
        raise HarnessError(f"--samples {n} is more than the {len(emotions)} dialogues every system answered; lower --samples")
    groups: dict[str, list[str]] = defaultdict(list)
    for ident in sorted(emotions):
        groups[emotions[ident]].append(ident)
    if per_emotion * len(groups) > n:
        raise HarnessError(f"--samples {n} cannot hold {per_emotion} dialogues of each of {len(groups)} emotions "
                           f"({per_emotion * len(groups)}); raise --samples or lower --per-emotion")
    rng = random.Random(seed)
    chosen: list[str] = []
    notes: list[str] = []
    for emotion in sorted(groups):
        members = groups[emotion]
        if len(members) < per_emotion:
            notes.append(f"emotion {emotion!r} has only {len(members)} dialogue(s); all are taken")
        chosen += rng.sample(members, min(per_emotion, len(members)))
    taken = set(chosen)
    rest = [i for i in sorted(emotions) if i not in taken]
    chosen += rng.sample(rest, n - len(chosen))
    rng.shuffle(chosen)
    return Sample(tuple(chosen), tuple(notes))
