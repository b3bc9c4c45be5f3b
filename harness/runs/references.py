"""Reference systems that need no model: the leaderboard's ceiling and floor.

- `human`: the ED reference turn itself (what the listener really said);
- `opposite-emotion`: the rejected response of EmPO's preference pairs. The pairs are
  built by `PreferenceBuilder` on the whole ED test split with seed 0, the rejected
  responses drawn from the test split itself (the pool), epoch 0: for each test example,
  the reference of a random test dialogue labelled with the opposite emotion (EmPO
  Table 6). A response does not depend on --limit.

Both are lm-eval LMs that answer generation requests from the document, so they go
through the same tasks, `process_results`, aggregations and run folder as a model.
"""

from __future__ import annotations

from functools import lru_cache

from lm_eval.api.model import LM

from harness.errors import HarnessError

REFERENCES = ("human", "opposite-emotion")
OPPOSITE_SEED, OPPOSITE_EPOCH = 0, 0


class ReferenceLM(LM):
    """Answers ED generation requests with a reference response for the request's doc."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in REFERENCES:
            raise HarnessError(f"unknown reference system {kind!r}; known: {', '.join(REFERENCES)}")
        self.kind = kind

    def generate_until(self, requests) -> list[str]:
        return [self.response(req.doc) for req in requests]

    def response(self, doc: dict) -> str:
        if not {"id", "reference", "context"} <= set(doc):
            raise HarnessError(f"the {self.kind!r} reference answers only the ED generation tasks (ed_empathy...)")
        if self.kind == "human":
            return doc["reference"]
        return opposite_emotion_responses()[doc["id"]]

    def loglikelihood(self, requests):
        raise HarnessError(f"the {self.kind!r} reference has no likelihoods: run it on ED generation tasks only")

    def loglikelihood_rolling(self, requests):
        raise HarnessError(f"the {self.kind!r} reference has no likelihoods: run it on ED generation tasks only")

    def describe(self) -> dict:
        if self.kind == "human":
            return {"reference": "human", "responses": "the ED reference turn of each example"}
        return {
            "reference": "opposite-emotion",
            "responses": "PreferenceBuilder(test examples, seed=0, pool=test examples).epoch(0) rejected responses",
            "seed": OPPOSITE_SEED,
            "epoch": OPPOSITE_EPOCH,
            "pool": "ED test split",
        }


@lru_cache(maxsize=1)
def opposite_emotion_responses() -> dict[str, str]:
    from harness.data import ed
    from harness.data.preferences import PreferenceBuilder

    examples = ed.load_examples("test")
    pairs = PreferenceBuilder(examples, seed=OPPOSITE_SEED).epoch(OPPOSITE_EPOCH)
    return {pair.id: pair.rejected for pair in pairs}
