"""Fixtures of the compare / leaderboard tests (synthetic scorers and run folders)."""

from tests.synthetic_runs import synthetic_scorers  # noqa: F401  (a fixture)
