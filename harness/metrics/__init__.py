"""The metric suite. `score(items, metrics)` runs registered scorers; see `base`.

Scorer modules register on import; they are listed here so that asking for the suite
loads them all, and each keeps its heavy imports (torch, models) inside its functions.
"""

from harness.metrics.base import EXAMPLE, CORPUS, Item, Output, Scorer, Scores, ScoreResult, register, score

SCORER_MODULES: tuple[str, ...] = (
    "harness.metrics.nidf",
    "harness.metrics.iva",
    "harness.metrics.tries",
    "harness.metrics.distinct",
    "harness.metrics.overlap",
    "harness.metrics.length",
    "harness.metrics.diff_epitome",
    "harness.metrics.emp_reward",
    "harness.metrics.bertscore",
)

__all__ = ["EXAMPLE", "CORPUS", "Item", "Output", "Scorer", "Scores", "ScoreResult", "register", "score"]
