"""Fixtures shared by the lm-eval tests: the toy scorers in a temporary registry."""

from __future__ import annotations

import importlib

import pytest

from harness.lmeval import suite
from harness.metrics import base


@pytest.fixture
def toys(monkeypatch):
    """The toy scorers, alone in the registry (the real ones out of the way), counted from zero."""
    base._load_scorer_modules()  # the real scorers register in the real registry first, not in the toys'
    monkeypatch.setattr(base, "_REGISTRY", {})  # a first import registers here, not in the real registry
    toy_scorers = importlib.import_module("tests.support.toy_scorers")
    monkeypatch.setattr(base, "_REGISTRY", dict(toy_scorers.SCORERS))
    monkeypatch.setattr(base, "_INSTANCES", {})
    monkeypatch.setattr(suite, "_MEMO", type(suite._MEMO)())
    monkeypatch.delenv("EMPATHY_HARNESS_METRICS", raising=False)
    monkeypatch.delenv("EMPATHY_HARNESS_SCORER_MODULES", raising=False)
    suite._plan.cache_clear()
    toy_scorers.CALLS.clear()
    yield toy_scorers
    suite._plan.cache_clear()
