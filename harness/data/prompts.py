"""EmPO's system prompts and the chat messages a model is asked to continue."""

from __future__ import annotations

from typing import Sequence

BASELINE_PROMPT = (
    "You are a friendly assistant, who provides empathetic responses to the user. "
    "The input contains previous turn of the dialog, where each utterance is prefaced with tags "
    "<|user|>, or <|assistant|>. Be empathetic and precise. Make sure to give responses that make "
    "dialogue flow. Avoid repeating the prompt."
)

# METRICS.md elides the middle of this prompt ("..."); it is filled with the baseline's
# middle sentences, which is what EmPO's repository uses around the same ending.
SHORT_PROMPT = (
    "You are a friendly assistant, who provides short empathetic responses to the user. "
    "The input contains previous turn of the dialog, where each utterance is prefaced with tags "
    "<|user|>, or <|assistant|>. Be empathetic and precise. Make sure to give responses that make "
    "dialogue flow. Avoid repeating the prompt and giving unsolicited advice. Make the responses short."
)

SYSTEM_PROMPTS = {"baseline": BASELINE_PROMPT, "short": SHORT_PROMPT}


def chat_messages(context: Sequence[str], system_prompt: str | None = BASELINE_PROMPT) -> list[dict[str, str]]:
    """The chat history of an example: the system prompt, then speaker turns as "user" and
    listener turns as "assistant", alternating from the speaker's first turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i, text in enumerate(context)]
    return messages
