"""The ED tasks' glue without a model: prompts, the metric plan, corpus scoring once."""

from __future__ import annotations

import math

import pytest

from harness.data.prompts import BASELINE_PROMPT
from harness.errors import HarnessError
from harness.lmeval import ed, suite
from harness.metrics import base
from harness.metrics.base import Item
from tests.support.fixtures import toys  # noqa: F401  (fixture)

DOC = {"id": "c1", "emotion": "sad", "situation": "s", "context": ["My dog died.", "Oh no!", "He was 12."],
       "reference": "That is so sad."}


def test_plain_prompt_is_a_tagged_transcript():
    text = ed.plain_prompt(DOC["context"], "SYSTEM")
    assert text == "SYSTEM\n\n<|user|>\nMy dog died.\n<|assistant|>\nOh no!\n<|user|>\nHe was 12.\n<|assistant|>\n"
    assert ed.plain_prompt(["Hi"], None) == "<|user|>\nHi\n<|assistant|>\n"


def test_chat_prompt_gives_one_message_per_turn():
    seen = {}

    def template(messages, add_generation_prompt):
        seen["messages"], seen["gen"] = messages, add_generation_prompt
        return "rendered"

    assert ed.chat_prompt(DOC["context"], BASELINE_PROMPT, template) == "rendered"
    assert seen["gen"] is True
    assert [m["role"] for m in seen["messages"]] == ["system", "user", "assistant", "user"]
    assert seen["messages"][0]["content"] == BASELINE_PROMPT
    assert [m["content"] for m in seen["messages"][1:]] == DOC["context"]


def test_system_instruction_goes_before_the_task_prompt():
    assert ed.join_system("Be brief.", "PROMPT") == "Be brief.\n\nPROMPT"
    assert ed.join_system(None, "PROMPT") == "PROMPT"
    assert ed.join_system(None, None) is None


def test_unknown_system_prompt_is_named():
    with pytest.raises(HarnessError, match="unknown ED system prompt 'terse'"):
        ed.system_prompt("terse")


def test_item_strips_the_response():
    it = ed.item(DOC, "  I am sorry.\n")
    assert it == Item("c1", tuple(DOC["context"]), "I am sorry.", "That is so sad.", "sad")
    assert it.prev == "He was 12."


def test_plan_splits_cheap_per_example_from_corpus_and_model_based(toys):
    plan = suite.plan(["toy_words", "toy_distinct", "toy_overlap"])
    assert plan.per_document == ("toy_words",)
    assert plan.per_corpus == ("toy_distinct", "toy_overlap")
    assert plan.corpus_keys == ("toy_unique", "toy_distinct", "toy_overlap")
    metrics = {m["metric"]: m for m in plan.metric_list()}
    assert list(metrics) == ["toy_words", "toy_unique", "toy_distinct", "toy_overlap"]
    assert metrics["toy_words"]["aggregation"] == "mean" and metrics["toy_words"]["higher_is_better"] is False
    assert callable(metrics["toy_distinct"]["aggregation"])


def test_selection_from_the_environment(toys, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_METRICS", "toy_distinct")
    assert suite.plan().scorers == ("toy_distinct",)
    monkeypatch.setenv("EMPATHY_HARNESS_METRICS", "none")
    assert suite.plan().scorers == () and suite.plan().metric_list() == []
    monkeypatch.setenv("EMPATHY_HARNESS_METRICS", "toy_nope")
    with pytest.raises(HarnessError, match="unknown metric 'toy_nope'"):
        suite.plan()


def test_document_metrics_score_cheap_ones_now_and_carry_the_item(toys):
    plan = suite.plan(["toy_words", "toy_distinct"])
    values = suite.document_metrics(DOC, " I am so sorry. ", plan)
    assert values["toy_words"] == 4.0
    carrier = values["toy_distinct"]
    assert isinstance(carrier, suite.CorpusItem) and carrier == "c1" and carrier.item.response == "I am so sorry."
    assert values["toy_unique"] is carrier


def test_undefined_per_document_values_are_left_out(toys):
    values = suite.document_metrics(DOC, "   ", suite.plan(["toy_words"]))
    assert "toy_words" not in values  # the mean is then over defined values, as the suite's summary is


def test_each_corpus_key_reuses_one_scoring(toys):
    plan = suite.plan(["toy_distinct", "toy_overlap"])
    docs = [dict(DOC, id=f"c{i}", reference="so sad") for i in range(4)]
    responses = ["so sad", "so sad", "oh", "sad indeed"]
    values = [suite.document_metrics(d, r, plan) for d, r in zip(docs, responses)]
    aggregations = {m["metric"]: m["aggregation"] for m in plan.metric_list()}
    results = {key: aggregations[key]([v[key] for v in values]) for key in plan.corpus_keys}
    assert results == {"toy_unique": 0.5, "toy_distinct": 0.75, "toy_overlap": (2 + 2 + 0 + 1) / 4}
    assert toys.CALLS == {"toy_distinct": 1, "toy_overlap": 1}
    # the same corpus in another order (another rank layout) is the same corpus
    again = suite.score_corpus([v["toy_distinct"].item for v in reversed(values)], plan.scorers)
    assert toys.CALLS == {"toy_distinct": 1, "toy_overlap": 1}
    assert [row["id"] for row in again.per_example] == ["c0", "c1", "c2", "c3"]
    # another corpus is scored anew
    suite.score_corpus([v["toy_distinct"].item for v in values[:3]], plan.scorers)
    assert toys.CALLS == {"toy_distinct": 2, "toy_overlap": 2}


def test_corpus_item_survives_pickling():
    import pickle

    carrier = suite.CorpusItem(Item("c9", ("hi",), "yo", "hey", "sad"))
    copy = pickle.loads(pickle.dumps(carrier))
    assert copy == "c9" and copy.item == carrier.item


def test_duplicate_ids_in_a_corpus_are_an_error(toys):
    it = Item("c1", ("a",), "r", "ref")
    with pytest.raises(HarnessError, match="'c1' more than once"):
        suite.score_corpus([it, it], ["toy_distinct"])


def test_empty_selection_scores_only_n():
    result = suite.score_corpus([Item("a", ("x",), "y", "z")], [])
    assert result.summary == {"n": 1} and result.per_example == [{"id": "a"}]
    assert not math.isnan(result.summary["n"])
