"""The suite's contract: per-example values line up with items; summaries are flat."""

from __future__ import annotations

import math

import pytest

from harness.errors import HarnessError
from harness.metrics import base
from harness.metrics.base import CORPUS, EXAMPLE, Item, Output, Scorer, Scores


class _Chars(Scorer):
    name = "_test_chars"
    outputs = (Output("_chars", True, EXAMPLE), Output("_total", True, CORPUS))

    def compute(self, items):
        values = [float(len(it.response)) for it in items]
        return Scores({"_chars": values}, {"_total": sum(values)})


@pytest.fixture
def chars(monkeypatch):
    monkeypatch.setitem(base._REGISTRY, "_test_chars", _Chars)
    monkeypatch.setattr(base, "_INSTANCES", {})


def items():
    return [Item("a", ("hi",), "abc", "x"), Item("b", ("yo",), "", "y")]


def test_score_rows_and_summary(chars):
    result = base.score(items(), ["_test_chars"])
    assert result.per_example == [{"id": "a", "_chars": 3.0}, {"id": "b", "_chars": 0.0}]
    assert result.summary == {"_chars": 1.5, "_total": 3.0, "n": 2}
    assert result.outputs["_total"].level == CORPUS


def test_scorer_instance_is_reused(chars):
    assert base.get_scorer("_test_chars") is base.get_scorer("_test_chars")


def test_unknown_metric_named():
    with pytest.raises(HarnessError, match="unknown metric 'nope'"):
        base.get_scorer("nope")


def test_mean_ignores_undefined():
    assert base.mean([1.0, None, 3.0]) == 2.0
    assert math.isnan(base.mean([None]))


def test_prev_is_last_context_turn():
    assert Item("a", ("s1", "l1", "s2"), "r", "ref").prev == "s2"
