"""Commonsense knowledge for the knowledge-enhanced strategy (Qian et al. 2023, s.3.3.3).

Five ATOMIC relations about the speaker of a dialogue context (eq. 6-8): xIntent, xNeed,
xWant, xEffect, xReact. Providers are pluggable (`PROVIDERS`, `register`):

- `comet-bart` (the paper's): COMET-BART trained on ATOMIC-2020, run on the context's turns
  joined by a space with the query format of AI2's generation example ("{head} {relation}"),
  greedy, one inference per relation. It needs the checkpoint (`comet_model`: a hub id,
  default a re-upload of AI2's comet-atomic_2020_BART, or a local folder; safetensors only).
- `model-generated`: the evaluated model itself asked one question per relation (a first
  stage, ed_qian_knowledge_selfgen_stage1); recorded and labelled as "model-generated
  commonsense", never as COMET.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol, Sequence

from harness.config import offline
from harness.errors import HarnessError

RELATIONS = ("xIntent", "xNeed", "xWant", "xEffect", "xReact")
COMET_DEFAULT = "mismayil/comet-bart-ai2"
MODEL_GENERATED = "model-generated"
COMET_BART = "comet-bart"
LABELS = {COMET_BART: "COMET-BART (ATOMIC-2020)", MODEL_GENERATED: "model-generated commonsense"}

# The model-generated provider's questions: ATOMIC-2020's natural-language forms of the
# relations (Hwang et al. 2021), about Speaker.
SELFGEN_PROMPT = ("Read the dialogue, then complete the sentence about Speaker with a short phrase.\n\n"
                  "{dialogue}\n\nSentence: {stem} ___")
SELFGEN_STEMS = {
    "xIntent": "Because of this, Speaker wanted",
    "xNeed": "Before this, Speaker needed",
    "xWant": "As a result, Speaker wants",
    "xEffect": "As a result, Speaker",
    "xReact": "As a result, Speaker feels",
}


class Provider(Protocol):
    name: str

    def relations(self, contexts: Sequence[Sequence[str]]) -> list[dict[str, str]]:
        """For each context, {relation: inference} for every relation of RELATIONS."""


class CometBart:
    name = COMET_BART

    def __init__(self, model: str = COMET_DEFAULT, max_new_tokens: int = 24) -> None:
        self.model_id, self.max_new_tokens = model, max_new_tokens
        if offline() and not Path(model).exists():
            raise HarnessError(
                f"knowledge provider comet-bart needs the COMET-BART checkpoint {model!r}, which cannot be "
                "downloaded offline: set comet_model to a local folder, or run ed_qian_knowledge_selfgen "
                "(model-generated commonsense, not COMET)")
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model, use_safetensors=True).eval()
        except OSError as exc:
            raise HarnessError(f"knowledge provider comet-bart: {model!r} could not be loaded "
                               f"({str(exc).splitlines()[0][:200]})") from None

    def relations(self, contexts: Sequence[Sequence[str]]) -> list[dict[str, str]]:
        import torch

        out = []
        for context in contexts:
            head = " ".join(context)
            queries = [f"{head} {rel}" for rel in RELATIONS]
            batch = self.tokenizer(queries, return_tensors="pt", padding=True, truncation=True)
            with torch.no_grad():
                ids = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1)
            texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
            out.append({rel: t.strip() for rel, t in zip(RELATIONS, texts)})
        return out

    def describe(self) -> dict:
        return {"provider": self.name, "label": LABELS[self.name], "model": self.model_id}


PROVIDERS: dict[str, Callable[..., Provider]] = {COMET_BART: CometBart}


def register(name: str, factory: Callable[..., Provider]) -> None:
    PROVIDERS[name] = factory


def provider(name: str, **settings) -> Provider:
    if name == MODEL_GENERATED:
        raise HarnessError("the model-generated provider needs the evaluated model: run the task "
                           "ed_qian_knowledge_selfgen (its first stage asks the model)")
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise HarnessError(f"unknown knowledge provider {name!r}; known: "
                           f"{', '.join([*PROVIDERS, MODEL_GENERATED])}") from None
    return factory(**settings)


def selfgen_prompt(context: Sequence[str], relation: str) -> str:
    from harness.prompting.template import dialogue_lines

    return SELFGEN_PROMPT.format(dialogue=dialogue_lines(context), stem=SELFGEN_STEMS[relation])


def clean_inference(text: str) -> str:
    """A generated inference: its first line, without surrounding spaces."""
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""
