"""EmpRL's empathy reward (Ma et al. 2024, eq. 2-5) from the harness's EPITOME instrument.

    R_emp(gen, ref, c) = exp(-sum_m CE(logits_m(c, gen), l_m)),   m in ER, IP, EX

where l_m = the instrument's level of (c, ref) and logits_m its level logits on (c, gen):
the product over the mechanisms of P_m(level = l_m | c, gen), in (0, 1]. The logits are
the ones the instrument's levels are the argmax of (validation-fitted level offsets
included), so the reference level and the generated response's probabilities come from
one and the same classifier.

The context c is the instrument's seeker side, a setting: `prev` (the last speaker turn,
EmPO's DIFF-EPITOME and our Emp-F1) or `full` (the whole dialogue history, as EmpRL's
identifier reads it: the turns joined by a space; the instrument reads its first
`max_length` tokens). Reference levels are computed once per training example (and kept
on disk by instrument and content, as the DIFF-EPITOME scorer keeps them); the generated
responses are scored in batches; the instrument is loaded once per process.

`ConstantReward` is the "w/o empathy reward" ablation of EmpRL's Table VI: the reward is
a constant (0), so only the KL penalty of the RL objective remains.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from harness.errors import HarnessError

MECHS = ("ER", "IP", "EX")
SEEKER_SIDES = ("prev", "full")  # as harness.metrics.diff_epitome.SEEKER_SIDES
REWARD_KINDS = ("empathy", "constant")
LEVEL_COLUMNS = {m: f"ref_level_{m.lower()}" for m in MECHS}


def seeker_text(context: Sequence[str], side: str) -> str:
    """The instrument's seeker post for a dialogue history (speaker first)."""
    from harness.metrics.diff_epitome import seeker_post

    return seeker_post(context, side)


def empathy_reward(logits: dict[str, Any], levels: dict[str, Sequence[int]]):
    """exp(-sum_m cross_entropy(logits[m], levels[m])) per row: a tensor of n rewards.

    `logits[m]` is an (n, 3) tensor of level logits, `levels[m]` the n reference levels."""
    import torch
    import torch.nn.functional as F

    total = None
    for m in MECHS:
        target = torch.as_tensor(list(levels[m]), dtype=torch.long)
        loss = F.cross_entropy(logits[m].float(), target, reduction="none")
        total = loss if total is None else total + loss
    return torch.exp(-total)


def completion_text(completion: Any) -> str:
    """A trl completion (a string, or conversational: a list of messages) as the scored text."""
    from harness.lmeval.ed import response_text

    if isinstance(completion, str):
        return response_text(completion)
    return response_text("".join(m.get("content", "") for m in completion if m.get("role") == "assistant"))


@lru_cache(maxsize=4)
def instrument(backbone: str | None = None, directory: str | None = None):
    """The EPITOME instrument, loaded once per process; a missing one is an error that says
    how to train it (nothing is trained or substituted here)."""
    from harness.epitome.prediction import load_instrument

    return load_instrument(backbone, directory, train_if_missing=False)


class EmpathyReward:
    """trl reward function: one R_emp per completion, from the dataset columns `seeker` and
    the three reference levels (`ref_level_er`, ...)."""

    __name__ = "empathy"

    def __init__(self, inst, seeker_side: str, batch_size: int = 64):
        if seeker_side not in SEEKER_SIDES:
            raise HarnessError(f"seeker side {seeker_side!r}: use one of {', '.join(SEEKER_SIDES)}")
        self.instrument = inst
        self.seeker_side = seeker_side
        self.batch_size = batch_size

    def reference_levels(self, seekers: Sequence[str], references: Sequence[str]) -> dict[str, list[int]]:
        """The instrument's levels of the reference responses, computed once per content and
        kept on disk (as the DIFF-EPITOME scorer keeps them)."""
        from harness.metrics.diff_epitome import reference_levels

        return reference_levels(self.instrument, seekers, references, self.batch_size)

    def __call__(self, prompts, completions, seeker, **columns) -> list[float]:
        responses = [completion_text(c) for c in completions]
        logits = self.instrument.logits(list(seeker), responses, MECHS, batch_size=self.batch_size)
        levels = {m: columns[LEVEL_COLUMNS[m]] for m in MECHS}
        return empathy_reward(logits, levels).tolist()

    def describe(self) -> dict:
        return {
            "kind": "empathy",
            "formula": "exp(-sum_m CE(logits_m(seeker, generated), level_m(seeker, reference))), m = ER, IP, EX",
            "seeker_side": self.seeker_side,
            "instrument": self.instrument.describe(),
        }


class ConstantReward:
    """The same reward for every completion: with RLOO's leave-one-out baseline only the
    KL penalty moves the policy (EmpRL's "w/o empathy reward")."""

    __name__ = "constant"

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, prompts, completions, **columns) -> list[float]:
        return [self.value] * len(completions)

    def describe(self) -> dict:
        return {"kind": "constant", "value": self.value,
                "note": "EmpRL's w/o-empathy-reward ablation: only the KL penalty remains"}
