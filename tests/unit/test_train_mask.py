"""The SFT loss covers the listener turns only: exactly each assistant turn's tokens and
its end-of-turn token, with ChatML (SmolLM2, tiny-llama) and Zephyr's template."""

from __future__ import annotations

import pytest

from harness.data.prompts import BASELINE_PROMPT, chat_messages
from harness.embedded import resolve_model
from harness.train.data import TrainingDataError, tokenize_conversation

# alignment-handbook's Zephyr template, as zephyr-7b-sft-full ships it
ZEPHYR_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
TURNS = [
    "I felt so sad when my dog died last week.",
    "That is terrible, I am so sorry to hear that. How old was he?",
    "He was twelve.",
    "Twelve years is a long life. You must miss him.",
]


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model("tiny-llama"))


def masked_runs(ids: list[int], mask: list[int]) -> list[list[int]]:
    runs, current = [], []
    for token, bit in zip(ids, mask):
        if bit:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [])


def check(tokenizer, messages, end_of_turn: str) -> None:
    out = tokenize_conversation(tokenizer, messages)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask)
    # the ids are what the template renders, tokenized as apply_chat_template tokenizes
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert ids == tokenizer(rendered, add_special_tokens=False)["input_ids"]
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    runs = masked_runs(ids, mask)
    assert [tokenizer.decode(run) for run in runs] == [a + end_of_turn for a in answers]
    unmasked = tokenizer.decode([t for t, bit in zip(ids, mask) if not bit])
    for m in messages:
        if m["role"] != "assistant":
            assert m["content"] in unmasked
    for answer in answers:
        assert answer not in unmasked


def test_chatml_listener_turns_only(tiny_tokenizer):
    check(tiny_tokenizer, chat_messages(TURNS, BASELINE_PROMPT), "<|im_end|>")
    check(tiny_tokenizer, chat_messages(TURNS[:2], None), "<|im_end|>")


def test_smollm2_template_listener_turns_only():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
    check(tokenizer, chat_messages(TURNS, BASELINE_PROMPT), "<|im_end|>")
    # without a system message SmolLM2's template inserts its own; still masked out
    check(tokenizer, chat_messages(TURNS, None), "<|im_end|>")


def test_zephyr_template_listener_turns_only(tiny_tokenizer):
    tokenizer = tiny_tokenizer.__class__.from_pretrained(resolve_model("tiny-llama"))
    tokenizer.chat_template = ZEPHYR_TEMPLATE
    check(tokenizer, chat_messages(TURNS, BASELINE_PROMPT), tokenizer.eos_token)


def test_a_template_that_is_not_prefix_preserving_is_refused(tiny_tokenizer):
    tokenizer = tiny_tokenizer.__class__.from_pretrained(resolve_model("tiny-llama"))
    # numbers every turn from the end: a conversation's beginning renders differently alone
    tokenizer.chat_template = (
        "{% for m in messages %}{{ (messages|length - loop.index)|string + m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}>{% endif %}"
    )
    with pytest.raises(TrainingDataError, match="prefix-preserving"):
        tokenize_conversation(tokenizer, chat_messages(TURNS, None))
