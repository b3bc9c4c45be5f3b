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


def test_metric_selections_in_committed_scripts_resolve():
    """Every EMPATHY_HARNESS_METRICS a committed script exports names registered scorers
    (reports/rl/run.sh once said `distinct`, and every eval it started exited at once)."""
    import re
    from pathlib import Path

    from harness.scoring import resolve_metrics

    root = Path(__file__).resolve().parents[2]
    scripts = [p for p in (*root.glob("reports/**/*.sh"), *root.glob("scripts/**/*.sh"), root / "Makefile") if p.is_file()]
    found = 0
    for script in scripts:
        for value in re.findall(r"EMPATHY_HARNESS_METRICS=([\w,]+)", script.read_text()):
            found += 1
            if value != "none":
                assert resolve_metrics([value]), f"{script.name}: {value}"
    assert found, "no script exports EMPATHY_HARNESS_METRICS: the test reads nothing"
