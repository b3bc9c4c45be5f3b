"""Fixtures of the integration tests: synthetic scorers and run folders (compare / leaderboard),
a hand-made ED release and the tiny training recipe reading it (training tests)."""

from pathlib import Path

import pytest

from harness.train.recipe import load_recipe
from tests.train_data import write_release

from tests.synthetic_runs import synthetic_scorers  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_release(tmp_path_factory.mktemp("ed") / "ed.tar.gz")


@pytest.fixture(scope="module")
def recipe(release):
    recipe = load_recipe("tiny")
    recipe.source = str(release)
    return recipe
