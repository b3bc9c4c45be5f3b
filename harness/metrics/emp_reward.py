"""EmpRL's reward as a metric: R_emp of each response on the evaluation set.

    r_emp = exp(-sum_m CE(logits_m(c, response), level_m(c, reference))),  m in ER, IP, EX

the number `train rl` maximises (harness/train/reward.py: the same formula, instrument and
cached reference levels), read on test dialogues instead of training prompts: whether RL
raised the reward where it was not trained. The seeker side is EmpRL's (`full`, the whole
history), as in the RL recipes. Not in the default suite: it runs when named
(`--metrics default,emp_reward`, EMPATHY_HARNESS_METRICS=...,emp_reward).
"""

from __future__ import annotations

from typing import Sequence

from harness.metrics.base import EXAMPLE, Item, Output, Scorer, Scores, register
from harness.metrics.diff_epitome import MECHS, SETTINGS, _shared_instrument, reference_levels, seeker_post


@register("emp_reward")
class EmpRewardScorer(Scorer):
    name = "emp_reward"
    in_default_suite = False
    outputs = (Output("r_emp", True, EXAMPLE, "EmpRL's reward: the product over ER, IP, EX of the instrument's "
                      "probability of the reference's level (seeker: whole history)", (0.0, 1.0)),)
    inputs = ("context", "response", "reference")
    model_based = True

    def _load(self):
        return _shared_instrument(SETTINGS.backbone, SETTINGS.directory, SETTINGS.train_if_missing, SETTINGS.progress)

    def instrument(self) -> dict:
        return {**self._load().describe(), "seeker": "full: the dialogue history's turns joined by a space"}

    def compute(self, items: Sequence[Item]) -> Scores:
        from harness.train.reward import empathy_reward

        if not items:
            return Scores({"r_emp": []}, {})
        inst = self._load()
        seekers = [seeker_post(it.context, "full") for it in items]
        reference = reference_levels(inst, seekers, [it.reference for it in items], SETTINGS.batch_size)
        logits = inst.logits(seekers, [it.response for it in items], MECHS, batch_size=SETTINGS.batch_size)
        return Scores({"r_emp": empathy_reward(logits, reference).tolist()}, {})
