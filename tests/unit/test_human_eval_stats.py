"""The analysis on small cases worked by hand (and checked against scipy/statsmodels), and
the report's markdown carrying the JSON's numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats

from harness.human_eval.analysis import analyze, analyze_ab, analyze_ratings, mean_interval, rating_agreement
from harness.human_eval.designs import design
from harness.human_eval.empo import Rating
from harness.human_eval.ratings import RatingSet
from harness.human_eval.report import n, rounded, write_report


def rating_set(rows, design_name="likert-emprl", systems=("L", "R")) -> RatingSet:
    return RatingSet([Rating(*row) for row in rows], design(design_name), list(systems), Path("hand.csv"), "study")


def test_mean_interval_by_hand():
    mean, low, high, sd = mean_interval([1, 2, 3, 4])
    half = 3.182446305 * math.sqrt(5 / 3) / 2  # t(0.975, 3) * sd / sqrt(n), sd^2 = 5/3
    assert (mean, sd) == pytest.approx((2.5, math.sqrt(5 / 3)))
    assert (low, high) == pytest.approx((2.5 - half, 2.5 + half), abs=1e-8)


def test_per_sample_annotator_means_then_one_sided_paired_t_and_cohens_d_by_hand():
    # sample means: left (2, 4, 6) from two annotators each, right (1, 2, 3)
    rows = []
    for sample, (l1, l2), r in [(0, (1, 3), 1), (1, (4, 4), 2), (2, (5, 7), 3)]:
        rows += [("a", sample, "L", "empathy", l1), ("b", sample, "L", "empathy", l2), ("c", sample, "R", "empathy", r)]
    result = analyze_ratings(rating_set(rows))
    (row,) = [r for r in result["pairwise"] if r["dimension"] == "empathy"]
    assert (row["mean_left"], row["mean_right"]) == (4.0, 2.0)
    # differences (1, 2, 3): mean 2, sd 1, t = 2 / (1 / sqrt 3), df 2
    assert row["t"] == pytest.approx(2 * math.sqrt(3)) and row["df"] == 2
    assert row["p"] == pytest.approx(stats.t.sf(2 * math.sqrt(3), 2))
    assert row["p"] == pytest.approx(stats.ttest_rel([2, 4, 6], [1, 2, 3], alternative="greater").pvalue)
    assert row["d"] == pytest.approx(2 / math.sqrt((4 + 1) / 2))  # pooled SD of the sample means
    assert row["d_z"] == pytest.approx(2.0)
    means = {(m["system"], m["dimension"]): m for m in result["means"]}
    assert means[("L", "empathy")]["ratings"] == 6 and means[("L", "empathy")]["samples"] == 3


def test_independent_t_on_request_and_the_direction_is_the_order_given():
    rows = [("a", s, "L", "empathy", v) for s, v in enumerate([2, 4, 6])] + \
           [("b", s, "R", "empathy", v) for s, v in enumerate([1, 2, 3])]
    (row,) = [r for r in analyze_ratings(rating_set(rows, systems=("R", "L")), t_test="independent")["pairwise"]
              if r["dimension"] == "empathy"]
    assert (row["left"], row["right"]) == ("R", "L")
    assert row["p"] == pytest.approx(stats.ttest_ind([1, 2, 3], [2, 4, 6], alternative="greater").pvalue)
    assert row["p"] > 0.5 and row["d"] < 0


def test_bonferroni_and_holm_by_hand():
    # three questions, p-values fixed by the data; check the corrections against the hand rule
    rows = []
    for dim, right in [("empathy", [1, 2, 3]), ("relevance", [2, 3, 3]), ("fluency", [1, 1, 4])]:
        rows += [("a", s, "L", dim, v) for s, v in enumerate([2, 4, 5])] + [("b", s, "R", dim, v) for s, v in enumerate(right)]
    result = analyze_ratings(rating_set(rows))["pairwise"]
    ps = [r["p"] for r in result]
    order = sorted(range(3), key=lambda i: ps[i])
    holm, running = [0.0] * 3, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * ps[i]))
        holm[i] = running
    assert [r["p_bonferroni"] for r in result] == pytest.approx([min(1, 3 * p) for p in ps])
    assert [r["p_holm"] for r in result] == pytest.approx(holm)


def test_krippendorff_alpha_interval_by_hand():
    # two annotators, three units: (1, 1), (2, 2), (3, 4). D_o = 2/6; D_e = 82/30 -> alpha = 1 - (1/3)/(82/30)
    rows = [("a", s, "L", "empathy", v) for s, v in enumerate([1, 2, 3])] + \
           [("b", s, "L", "empathy", v) for s, v in enumerate([1, 2, 4])]
    data = rating_set([(a, s, sy, "emotion_understanding", v) for a, s, sy, _, v in rows], "empo", systems=("L",))
    (row,) = [r for r in rating_agreement(data) if r["dimension"] == "emotion_understanding"]
    assert row["level"] == "interval" and row["alpha"] == pytest.approx(1 - (1 / 3) / (82 / 30))


def test_ab_counts_majority_sign_test_and_fleiss_kappa_by_hand():
    rows = []
    # 10 samples: 8 where X wins the majority, 2 where Y does; then 3 samples for kappa checks
    for s in range(10):
        picks = ["A", "A", "tie"] if s < 8 else ["B", "B", "A"]  # X is always shown as A here
        rows += [(f"r{k}", s, "X|Y", "overall", v) for k, v in enumerate(picks)]
    rows += [(f"r{k}", 10, "Y|X", "overall", v) for k, v in enumerate(["A", "B", "tie"])]  # win, loss, tie: no majority
    result = analyze_ab(rating_set(rows, "ab-emprl", systems=("X", "Y")))
    (row,) = result["ab"]
    assert (row["first"], row["second"]) == ("X", "Y")
    assert (row["win"], row["tie"], row["loss"]) == (8 * 2 + 2 * 1 + 1, 8 + 1, 2 * 2 + 1)
    assert (row["majority_win"], row["majority_loss"], row["no_majority"]) == (8, 2, 1)
    assert row["sign_test_p"] == pytest.approx(2 * (45 + 10 + 1) / 1024)  # P(X >= 8 | n=10, 1/2), two-sided
    # Fleiss by hand over the 11 samples: categories win/loss/tie
    table = [[2, 0, 1]] * 8 + [[1, 2, 0]] * 2 + [[1, 1, 1]]
    N, k = len(table), 3
    P_i = [(sum(c * c for c in t) - k) / (k * (k - 1)) for t in table]
    p_j = [sum(t[j] for t in table) / (N * k) for j in range(3)]
    expected = (sum(P_i) / N - sum(p * p for p in p_j)) / (1 - sum(p * p for p in p_j))
    assert row["fleiss_kappa"] == pytest.approx(expected)
    assert result["position"] == {"A": 8 * 2 + 2 * 1 + 1, "B": 2 * 2 + 1}


def test_report_markdown_prints_the_json_numbers(tmp_path):
    rows = []
    for s in range(6):
        for k in range(3):
            rows += [(f"a{k}", s, "L", "empathy", 1 + (s + k) % 5), (f"b{k}", s, "R", "empathy", 1 + (s * k) % 5)]
    data = rating_set(rows)
    paths = write_report(analyze(data), data, tmp_path)
    report = json.loads(paths["json"].read_text())
    md = paths["md"].read_text()
    for r in report["pairwise"]:
        assert f"| {n(r['t'])} | {n(r['p'])} | {n(r['p_bonferroni'])} | {n(r['p_holm'])} | {n(r['d'])} | {n(r['d_z'])} |" in md
    for r in report["means"]:
        assert f"| {n(r['mean'])} | {n(r['ci_low'])} | {n(r['ci_high'])} | {n(r['sd'])} |" in md
    assert paths["png"].stat().st_size > 1000
    assert rounded({"p": 0.000123456, "d": 0.123456, "x": float("nan")}) == {"p": 0.000123, "d": 0.1235, "x": None}
