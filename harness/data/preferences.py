"""EmPO's preference pairs for DPO (METRICS.md section 2).

Chosen is the ground-truth target of a training dialogue; rejected is the target of a
random training dialogue labelled with the opposite emotion of EmPO Table 6. Every epoch
draws afresh; a draw depends only on (seed, epoch), so any epoch can be rebuilt alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from harness.data.ed import Example
from harness.errors import HarnessError

# EmPO Table 6 (appendix A), as written: it is not symmetric (e.g. grateful -> disgusted,
# disgusted -> trusting), so it must not be "completed" into a symmetric map.
OPPOSITE_EMOTION: dict[str, str] = {
    "afraid": "angry",
    "angry": "afraid",
    "sad": "joyful",
    "grateful": "disgusted",
    "surprised": "anticipating",
    "trusting": "disgusted",
    "disgusted": "trusting",
    "anticipating": "surprised",
    "content": "anxious",
    "apprehensive": "annoyed",
    "joyful": "sad",
    "proud": "ashamed",
    "prepared": "anxious",
    "ashamed": "proud",
    "guilty": "proud",
    "nostalgic": "hopeful",
    "anxious": "content",
    "hopeful": "nostalgic",
    "sentimental": "apprehensive",
    "jealous": "faithful",
    "embarrassed": "confident",
    "excited": "devastated",
    "annoyed": "apprehensive",
    "lonely": "caring",
    "faithful": "jealous",
    "terrified": "furious",
    "confident": "embarrassed",
    "furious": "terrified",
    "disappointed": "impressed",
    "caring": "lonely",
    "impressed": "disappointed",
    "devastated": "excited",
}


class PreferenceError(HarnessError):
    pass


@dataclass(frozen=True)
class PreferencePair:
    id: str
    context: tuple[str, ...]
    chosen: str
    rejected: str
    emotion: str
    rejected_emotion: str
    rejected_id: str

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "context": list(self.context),
            "chosen": self.chosen,
            "rejected": self.rejected,
            "emotion": self.emotion,
            "rejected_emotion": self.rejected_emotion,
            "rejected_id": self.rejected_id,
        }


class PreferenceBuilder:
    """Draws EmPO preference pairs for `examples`, the rejected ones from `pool` (by default
    the same examples, as EmPO does with the training split)."""

    def __init__(
        self,
        examples: Sequence[Example],
        seed: int = 0,
        pool: Sequence[Example] | None = None,
        opposites: dict[str, str] = OPPOSITE_EMOTION,
    ) -> None:
        self.examples = list(examples)
        self.seed = seed
        self.opposites = opposites
        pool = list(examples if pool is None else pool)
        self._by_emotion: dict[str, list[Example]] = {}
        for ex in pool:
            self._by_emotion.setdefault(ex.emotion, []).append(ex)
        self._check()

    def _check(self) -> None:
        problems = []
        for emotion in sorted({ex.emotion for ex in self.examples}):
            opposite = self.opposites.get(emotion)
            if opposite is None:
                problems.append(f"'{emotion}' has no opposite in EmPO Table 6")
            elif not self._by_emotion.get(opposite):
                n = sum(ex.emotion == emotion for ex in self.examples)
                problems.append(f"no dialogue is labelled '{opposite}', the opposite of '{emotion}' ({n} need one)")
        if problems:
            raise PreferenceError("cannot build preference pairs: " + "; ".join(problems))

    def epoch(self, epoch: int) -> list[PreferencePair]:
        """The pairs of one epoch: one fresh rejected draw per example."""
        rng = np.random.default_rng([self.seed, epoch])
        pairs = []
        for ex in self.examples:
            opposite = self.opposites[ex.emotion]
            candidates = self._by_emotion[opposite]
            pick = candidates[int(rng.integers(len(candidates)))]
            if pick.id == ex.id:  # only possible with a table mapping an emotion to itself
                others = [c for c in candidates if c.id != ex.id]
                if not others:
                    raise PreferenceError(f"{ex.id}: the only '{opposite}' dialogue is itself")
                pick = others[int(rng.integers(len(others)))]
            pairs.append(PreferencePair(ex.id, ex.context, ex.reference, pick.reference, ex.emotion, opposite, pick.id))
        return pairs
