"""Training data from EmpatheticDialogues.

SFT: every selected dialogue is one chat conversation: the recipe's system prompt, then
speaker turns as "user" and listener turns as "assistant" (a trailing speaker turn, which
no listener answers, is dropped). The loss covers the listener turns only: each assistant
turn's tokens and its end-of-turn token, located by rendering the conversation with the
model's own chat template. The data go to trl pre-tokenized (`input_ids` plus
`assistant_masks`), which trl folds into the labels; this works with any
prefix-preserving template (ChatML, Zephyr's) without editing it to add `{% generation %}`
markers.

DPO: EmPO's preference pairs (harness.data.preferences) as conversational
prompt/chosen/rejected records: the prompt is the same system prompt and chat history
the SFT conversations use, so trl renders both with the same template.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Sequence

import numpy as np

from harness.data import ed
from harness.data.preferences import PreferenceBuilder, PreferencePair
from harness.data.prompts import chat_messages
from harness.errors import HarnessError
from harness.resources import sha256_of
from harness.train.recipe import Recipe, Selection


class TrainingDataError(HarnessError):
    pass


def select(dialogues: Sequence[ed.Dialogue], selection: Selection, exclude: set[str] = frozenset()) -> list[ed.Dialogue]:
    """A seeded random subset of `selection.limit` dialogues (all when None), in file order."""
    pool = [d for d in dialogues if d.conv_id not in exclude]
    if selection.limit is None or selection.limit >= len(pool):
        return pool
    rng = np.random.default_rng(selection.seed)
    keep = np.sort(rng.choice(len(pool), size=selection.limit, replace=False))
    return [pool[i] for i in keep]


def load(recipe: Recipe, split: str) -> list[ed.Dialogue]:
    dialogues, _ = ed.load_split(split, recipe.source)
    if not dialogues:
        raise TrainingDataError(f"ED split {split!r} of {recipe.source or 'the ed resource'} has no dialogues")
    return dialogues


def source_info(recipe: Recipe) -> dict[str, str]:
    from harness import resources

    path = resources.resolve("ed", recipe.source)
    return {"path": str(path), "sha256": sha256_of(path) if path.is_file() else "folder"}


def heldout_ids(recipe: Recipe) -> set[str]:
    """Dialogues reserved for held-out DPO evaluation, kept out of training when the
    held-out selection shares a split with a training selection."""
    return {d.conv_id for d in select(load(recipe, recipe.heldout.split), recipe.heldout)}


def _excluded(recipe: Recipe, split: str) -> set[str]:
    return heldout_ids(recipe) if split == recipe.heldout.split else set()


# --- SFT -------------------------------------------------------------------------------


def conversation(dialogue: ed.Dialogue, system_prompt: str | None) -> list[dict[str, str]]:
    turns = [t.text for t in dialogue.turns]
    if len(turns) % 2:  # a last speaker turn has no listener answer to learn
        turns = turns[:-1]
    return chat_messages(turns, system_prompt)


def sft_conversations(recipe: Recipe) -> list[dict[str, Any]]:
    chosen = select(load(recipe, recipe.sft_data.split), recipe.sft_data, _excluded(recipe, recipe.sft_data.split))
    return [{"id": d.conv_id, "messages": conversation(d, recipe.system_prompt)} for d in chosen]


def assistant_spans(tokenizer, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans the model must generate: each
    assistant turn's content through its end-of-turn marker (the whitespace the template
    puts between turns is not part of the answer).

    Found by rendering prefixes: the text before the turn with the generation prompt, and
    the text through the turn. Both must be prefixes of the whole rendering."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        through = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not (text.startswith(through) and through.startswith(before)):
            raise TrainingDataError(
                f"the chat template of {tokenizer.name_or_path} renders a conversation's beginning differently "
                "from the whole conversation, so the listener turns cannot be located; use a model whose template "
                "is prefix-preserving (ChatML, Zephyr, Llama 3, ...)"
            )
        turn = through[len(before):]
        if message["content"] not in turn:
            raise TrainingDataError(
                f"the chat template of {tokenizer.name_or_path} does not render an assistant turn after its "
                "generation prompt"
            )
        spans.append((len(before), len(before) + len(turn.rstrip())))
    return text, spans


def tokenize_conversation(tokenizer, messages: list[dict[str, str]]) -> dict[str, list[int]]:
    """`input_ids` of the rendered conversation (as apply_chat_template tokenizes it: no
    extra special tokens) and `assistant_masks`: 1 on every token that starts inside an
    assistant span, else 0."""
    if not getattr(tokenizer, "is_fast", False):
        raise TrainingDataError(f"{tokenizer.name_or_path}: a fast tokenizer is needed (token offsets)")
    text, spans = assistant_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(any(s <= start < e for s, e in spans)) for start, _end in encoded["offset_mapping"]]
    return {"input_ids": list(encoded["input_ids"]), "assistant_masks": mask}


def sft_dataset(tokenizer, conversations: list[dict[str, Any]]):
    from datasets import Dataset

    rows = []
    for conv in conversations:
        rows.append({"id": conv["id"], **tokenize_conversation(tokenizer, conv["messages"])})
    return Dataset.from_list(rows)


# --- DPO -------------------------------------------------------------------------------


def preference_builders(recipe: Recipe, seed: int) -> tuple[PreferenceBuilder, list[PreferencePair]]:
    """The training builder (rejected drawn afresh per epoch from the whole split, seeded by
    the run's seed) and the fixed held-out pairs (rejected drawn once from the held-out
    split, seeded by the held-out selection's seed)."""
    held = select(load(recipe, recipe.heldout.split), recipe.heldout)
    held_ids = {d.conv_id for d in held}
    train_all = load(recipe, recipe.dpo_data.split)
    excluded = held_ids if recipe.dpo_data.split == recipe.heldout.split else set()
    train = select(train_all, recipe.dpo_data, excluded)
    builder = PreferenceBuilder(
        [ed.example_from(d) for d in train], seed=seed,
        pool=[ed.example_from(d) for d in train_all if d.conv_id not in excluded],
    )
    held_pool = [ed.example_from(d) for d in load(recipe, recipe.heldout.split)]
    if recipe.heldout.split == recipe.dpo_data.split:
        train_ids = {d.conv_id for d in train}
        held_pool = [ex for ex in held_pool if ex.id not in train_ids]
    heldout = PreferenceBuilder([ed.example_from(d) for d in held], seed=recipe.heldout.seed, pool=held_pool).epoch(0)
    return builder, heldout


def pair_records(pairs: Iterable[PreferencePair], system_prompt: str | None) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "rejected_id": p.rejected_id,
            "prompt": chat_messages(p.context, system_prompt),
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]


def pairs_dataset(pairs: Iterable[PreferencePair], system_prompt: str | None):
    from datasets import Dataset

    return Dataset.from_list(pair_records(pairs, system_prompt))


def records_sha256(records: Iterable[Any]) -> str:
    """sha256 of records as canonical JSON lines: the exact data a stage trained on."""
    digest = hashlib.sha256()
    for record in records:
        if hasattr(record, "to_json"):
            record = record.to_json()
        digest.update(json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


# --- RL --------------------------------------------------------------------------------


def rl_examples(recipe: Recipe) -> list[ed.Example]:
    """The RL prompts: each selected dialogue's last listener turn (the reference) after its
    history, as the evaluation examples are cut."""
    chosen = select(load(recipe, recipe.rl_data.split), recipe.rl_data, _excluded(recipe, recipe.rl_data.split))
    return [ed.example_from(d) for d in chosen]
