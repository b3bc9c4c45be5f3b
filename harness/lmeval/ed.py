"""EmpatheticDialogues generation inside lm-eval: docs, prompts and responses.

A doc is `Example.to_json()` of one test example: id, emotion, situation, context (the
turns before the target, speaker first) and reference (the target listener turn).

The prompt is the system prompt followed by the chat history, rendered one of two ways:

- with a chat template (`--apply_chat_template`): the history becomes real chat messages,
  system prompt first, speaker turns as "user", listener turns as "assistant", and the
  model's template renders them with its generation prompt, as EmPO generated;
- without: a plain text transcript in the tags the system prompt announces,
  "<|user|>" and "<|assistant|>", each on its own line before the turn, ending with an
  open "<|assistant|>" turn for the model to complete.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

from harness.data import ed
from harness.data.prompts import SYSTEM_PROMPTS, chat_messages
from harness.errors import HarnessError
from harness.metrics.base import Item

USER_TAG, ASSISTANT_TAG = "<|user|>", "<|assistant|>"

# Generation stops at the model's end-of-sequence token (lm-eval adds it) or at any of
# these: the plain transcript's tags, and the end-of-turn markers of common templates.
END_OF_TURN = [USER_TAG, ASSISTANT_TAG, "<|system|>", "<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"]


def dataset(split: str = "test", source: str | os.PathLike | None = None, **_ignored):
    """The ED examples of one split as a `datasets.DatasetDict` with that one split.

    lm-eval calls this as `custom_dataset(**metadata, **dataset_kwargs)`; metadata keys
    that are not ours (model arguments, versions) are ignored.
    """
    import datasets

    rows = [example.to_json() for example in ed.load_examples(split, source)]
    if not rows:
        raise HarnessError(f"the ED {split} split has no examples")
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows)})


def system_prompt(name: str) -> str:
    try:
        return SYSTEM_PROMPTS[name]
    except KeyError:
        raise HarnessError(f"unknown ED system prompt {name!r}; known: {', '.join(SYSTEM_PROMPTS)}") from None


def join_system(system_instruction: str | None, prompt: str | None, delimiter: str = "\n\n") -> str | None:
    """lm-eval's rule for `--system_instruction` beside a task's description: both, in that order."""
    parts = [p for p in (system_instruction, prompt) if p]
    return delimiter.join(parts) if parts else None


def plain_prompt(context: Sequence[str], system: str | None) -> str:
    """The chat history as plain text, for models run without a chat template."""
    lines = [system, ""] if system else []
    for i, turn in enumerate(context):
        lines += [USER_TAG if i % 2 == 0 else ASSISTANT_TAG, turn]
    lines.append(ASSISTANT_TAG)
    return "\n".join(lines) + "\n"


def chat_prompt(context: Sequence[str], system: str | None, chat_template: Callable[..., str]) -> str:
    """The chat history as messages, rendered by the model's chat template (lm-eval's
    `lm.apply_chat_template`), with the generation prompt of an assistant turn."""
    return chat_template(chat_messages(list(context), system), add_generation_prompt=True)


def response_text(raw: str) -> str:
    """The scored response: the generation without surrounding whitespace."""
    return raw.strip()


def item(doc: dict, response: str) -> Item:
    return Item(doc["id"], tuple(doc["context"]), response_text(response), doc["reference"], doc.get("emotion"))


def likelihood_metrics(doc: dict, loglikelihood: float) -> dict:
    """The reference turn's log-likelihood weighted by its words and bytes, as lm-eval's
    `weighted_perplexity` aggregation takes it (exp(-sum ll / sum weight))."""
    reference = doc["reference"]
    return {"word_perplexity": (loglikelihood, count_words(reference)),
            "byte_perplexity": (loglikelihood, len(reference.encode("utf-8")))}


def count_words(text: str) -> int:
    """Whitespace-separated words (lm-eval's rolling perplexity tasks split on \\s+ likewise)."""
    return len(text.split())
