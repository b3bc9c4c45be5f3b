"""Training data selections: seeded subsets, held-out dialogues kept out of training,
EmPO pairs rendered as the same chat history the SFT conversations use."""

from __future__ import annotations

import dataclasses

import pytest

from harness.data.preferences import OPPOSITE_EMOTION
from harness.data.prompts import BASELINE_PROMPT
from harness.train import data
from harness.train.recipe import Selection, load_recipe
from tests.train_data import write_release


@pytest.fixture
def recipe(tmp_path):
    recipe = load_recipe("tiny")
    recipe.source = str(write_release(tmp_path / "ed.tar.gz", {"train": 10, "valid": 4, "test": 1}))
    return recipe


def test_selection_is_a_seeded_subset_in_file_order(recipe):
    dialogues = data.load(recipe, "train")
    a = data.select(dialogues, Selection("train", 12, seed=3))
    assert a == data.select(dialogues, Selection("train", 12, seed=3))
    assert a != data.select(dialogues, Selection("train", 12, seed=4))
    order = [d.conv_id for d in dialogues]
    assert [d.conv_id for d in a] == sorted((d.conv_id for d in a), key=order.index)
    assert data.select(dialogues, Selection("train", None, 0)) == dialogues


def test_sft_conversations_end_on_a_listener_turn(recipe):
    for conv in data.sft_conversations(recipe):
        roles = [m["role"] for m in conv["messages"]]
        assert roles[0] == "system" and conv["messages"][0]["content"] == BASELINE_PROMPT
        assert roles[1:] == ["user", "assistant"] * ((len(roles) - 1) // 2) and roles[-1] == "assistant"


def test_heldout_from_the_training_split_is_kept_out_of_training(recipe):
    recipe.heldout = Selection("train", 8, seed=0)
    recipe.sft_data = dataclasses.replace(recipe.sft_data, limit=None)
    recipe.dpo_data = dataclasses.replace(recipe.dpo_data, limit=24)
    held = data.heldout_ids(recipe)
    assert len(held) == 8
    assert not held & {c["id"] for c in data.sft_conversations(recipe)}
    builder, heldout = data.preference_builders(recipe, seed=0)
    trained = {ex.id for ex in builder.examples}
    assert not held & trained and len(trained) == 24
    for epoch in range(3):
        assert not held & {p.rejected_id for p in builder.epoch(epoch)}
    assert {p.id for p in heldout} == held
    assert not trained & {p.rejected_id for p in heldout}


def test_pairs_are_conversational_with_the_sft_history(recipe):
    builder, heldout = data.preference_builders(recipe, seed=5)
    assert [p.rejected_id for p in builder.epoch(0)] != [p.rejected_id for p in builder.epoch(1)]
    records = data.pair_records(builder.epoch(0), recipe.system_prompt)
    by_id = {ex.id: ex for ex in builder.examples}
    for record in records:
        ex = by_id[record["id"]]
        assert record["prompt"][0] == {"role": "system", "content": BASELINE_PROMPT}
        assert [m["content"] for m in record["prompt"][1:]] == list(ex.context)
        assert record["chosen"] == [{"role": "assistant", "content": ex.reference}]
        rejected_emotion = record["rejected_id"].split("_")[1]
        assert rejected_emotion == OPPOSITE_EMOTION[ex.emotion]
    # the held-out draw is fixed by its own seed, not the run's
    assert data.preference_builders(recipe, seed=6)[1] == heldout
