"""Lower-is-better metrics are negated before correlating: agreeing with people reads positive."""

from __future__ import annotations

import pytest
from scipy import stats

from harness.metaeval.run import DIMENSIONS, Scored, example_level, system_level
from harness.metrics.base import EXAMPLE, Output


def scored_and_means():
    responses = [(s, sys) for s in range(6) for sys in ("a", "b")]
    human = [10, 80, 30, 60, 20, 90, 40, 50, 15, 70, 35, 65]
    scored = Scored()
    scored.outputs = {"distance": Output("distance", False, EXAMPLE), "closeness": Output("closeness", True, EXAMPLE),
                      "length_words": Output("length_words", None, EXAMPLE)}
    for (key, h) in zip(responses, human):
        # distance falls as the rating rises (a good lower-is-better metric); closeness is its mirror
        scored.values[key] = {"distance": 100.0 - h + (key[0] % 3), "closeness": h + (key[0] % 3),
                              "length_words": float(key[0] * 2 + (key[1] == "b"))}
    for system in ("a", "b"):
        scored.system_summary[system] = {k: sum(scored.values[r][k] for r in responses if r[1] == system) / 6
                                         for k in scored.outputs}
    means = {key: {d: float(h) for d in DIMENSIONS} for key, h in zip(responses, human)}
    return scored, means, responses, human


def test_lower_is_better_agreement_is_positive_and_equals_the_mirror_metric():
    scored, means, responses, human = scored_and_means()
    out = example_level(["distance", "closeness", "length_words"], scored, means, responses, resamples=100, seed=0)
    dist, close = out["distance"]["mean_of_four"], out["closeness"]["mean_of_four"]
    raw = stats.spearmanr([scored.values[r]["distance"] for r in responses], human).statistic
    assert raw < 0 and dist["spearman"]["value"] == pytest.approx(-raw, abs=1e-4)
    assert dist["spearman"]["value"] == pytest.approx(close["spearman"]["value"], abs=1e-4)
    assert dist["kendall"]["value"] == pytest.approx(close["kendall"]["value"], abs=1e-4)


def test_system_level_is_oriented_too():
    scored, means, _, _ = scored_and_means()
    out = system_level(["distance", "closeness"], scored, means, ["a", "b"])
    assert out["correlations"]["distance"]["mean_of_four"]["n"] == 2  # too few points: no coefficient
    assert out["correlations"]["distance"]["mean_of_four"]["spearman"] is None
