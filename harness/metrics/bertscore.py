"""BERTScore (METRICS.md s.4) through the `bert-score` package.

EmPO's setting: roberta-large, layer 17, no idf, no baseline rescaling; P, R and F1 per
example (the summary is their mean). Offline, where roberta-large cannot be downloaded,
the packaged all-MiniLM-L6-v2 with all of its 6 layers is used instead: it is printed
and recorded, and its numbers cannot be put beside EmPO's (the encoder and the layer are
part of the result).

bert-score 0.3.13 works with transformers 5 for these encoders (tests/unit/test_bertscore.py
checks it against greedy cosine matching computed by hand); a local model path is given as
`model_type` together with `num_layers`. One workaround: see the empty texts in `compute`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harness.config import BERTSCORE_MODEL_ENV, offline, offline_because
from harness.metrics.base import EXAMPLE, Item, Output, Scorer, Scores, register

EMPO_MODEL, EMPO_LAYER = "roberta-large", 17
OFFLINE_MODEL = "all-minilm-l6-v2"


@dataclass
class BertScoreSettings:
    model: str | None = None  # None: EmPO's roberta-large where the hub answers, else the packaged MiniLM
    num_layers: int | None = None  # None: 17 for roberta-large, all layers for any other model
    batch_size: int = 64
    idf: bool = False
    rescale_with_baseline: bool = False


SETTINGS = BertScoreSettings()


def configure(**changes) -> BertScoreSettings:
    """Choose the encoder before the scorer's first use in a process."""
    for key, value in changes.items():
        if not hasattr(SETTINGS, key):
            raise TypeError(f"unknown BERTScore setting {key!r}")
        setattr(SETTINGS, key, value)
    return SETTINGS


def choose_model() -> tuple[str, str]:
    """(model name, why): configured > EMPATHY_HARNESS_BERTSCORE_MODEL > roberta-large
    where the model hub can be reached > the packaged MiniLM."""
    if SETTINGS.model:
        return SETTINGS.model, "requested"
    env = os.environ.get(BERTSCORE_MODEL_ENV)
    if env:
        return env, f"{BERTSCORE_MODEL_ENV} is set"
    if offline():
        return OFFLINE_MODEL, "offline: EMPATHY_HARNESS_OFFLINE or HF_HUB_OFFLINE is set"
    from harness.epitome.store import hub_problem

    problem = hub_problem(EMPO_MODEL)
    if problem is None:
        return EMPO_MODEL, "EmPO's setting"
    return OFFLINE_MODEL, offline_because(problem)


def _layers(model: str, path: str) -> int:
    if SETTINGS.num_layers is not None:
        return SETTINGS.num_layers
    if model == EMPO_MODEL:
        return EMPO_LAYER
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(path).num_hidden_layers)


@register("bertscore")
class BertScoreScorer(Scorer):
    name = "bertscore"
    model_based = True
    outputs = (
        Output("bertscore_p", True, EXAMPLE, "BERTScore precision against the reference", (-1.0, 1.0)),
        Output("bertscore_r", True, EXAMPLE, "BERTScore recall against the reference", (-1.0, 1.0)),
        Output("bertscore_f1", True, EXAMPLE, "BERTScore F1 against the reference", (-1.0, 1.0)),
    )
    inputs = ("response", "reference")

    def __init__(self) -> None:
        self._scorer = None
        self._described: dict = {}

    def _load(self):
        if self._scorer is None:
            from bert_score import BERTScorer

            from harness.embedded import resolve_model

            model, reason = choose_model()
            path = resolve_model(model)
            layers = _layers(model, path)
            print(f"BERTScore encoder: {model}, layer {layers} ({reason})", file=sys.stderr, flush=True)
            self._scorer = BERTScorer(model_type=path, num_layers=layers, batch_size=SETTINGS.batch_size,
                                      idf=False, rescale_with_baseline=False)
            self._described = _describe(model, path, layers, reason)
        return self._scorer

    def instrument(self) -> dict:
        self._load()
        return dict(self._described)

    def compute(self, items: Sequence[Item]) -> Scores:
        if SETTINGS.idf or SETTINGS.rescale_with_baseline:
            from harness.errors import HarnessError

            raise HarnessError("the harness reports BERTScore in EmPO's setting only: idf and baseline rescaling off")
        if not items:
            return Scores({"bertscore_p": [], "bertscore_r": [], "bertscore_f1": []})
        scorer = self._load()
        # bert-score encodes an empty text with tokenizer.build_inputs_with_special_tokens,
        # which transformers 5 tokenizers no longer have; such pairs get bert-score's own
        # value for them (P = R = F1 = 0) without calling it.
        both = [i for i, it in enumerate(items) if it.response.strip() and it.reference.strip()]
        values = {key: [0.0] * len(items) for key in ("bertscore_p", "bertscore_r", "bertscore_f1")}
        if both:
            p, r, f = scorer.score([items[i].response for i in both], [items[i].reference for i in both],
                                   batch_size=SETTINGS.batch_size)
            for key, column in zip(values, (p.tolist(), r.tolist(), f.tolist())):
                for i, value in zip(both, column):
                    values[key][i] = value
        return Scores(values)


def _describe(model: str, path: str, layers: int, reason: str) -> dict:
    from importlib.metadata import version

    described = {
        "kind": "bertscore",
        "model": model,
        "path": path,
        "num_layers": layers,
        "idf": False,
        "rescale_with_baseline": False,
        "choice": reason,
        "comparable_with_empo": model == EMPO_MODEL and layers == EMPO_LAYER,
        "versions": {name: version(name) for name in ("bert-score", "transformers", "torch")},
    }
    if Path(path).exists():
        from harness.resources import sha256_of

        described["model_sha256"] = sha256_of(path)
    return described
