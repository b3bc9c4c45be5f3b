"""EmPO's Table 7 from its released ratings (he_data.csv in the mirror), through `analyze`."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.human_eval.analysis import analyze
from harness.human_eval.empo import EMPO_CHECKBOX, EMPO_DIMENSIONS
from harness.human_eval.empo_table7 import NOT_REPRODUCED, PAPER_TABLE7, compare_table7, mark
from harness.human_eval.ratings import read_rating_set
from harness.stats import cohens_d

pytestmark = [pytest.mark.mirror, pytest.mark.slow]


@pytest.fixture(scope="module")
def empo():
    root = os.environ.get("EMPATHY_HARNESS_MIRROR")
    path = Path(root or "") / "empo-human-eval" / "he_data.csv"
    if not root or not path.is_file():
        pytest.skip("needs the offline data mirror with empo-human-eval/he_data.csv (EMPATHY_HARNESS_MIRROR)")
    rating_set = read_rating_set(path)
    return path, rating_set, analyze(rating_set)


def test_table7_cohens_d_to_two_decimals(empo):
    _, _, result = empo
    rows = compare_table7(result["pairwise"])
    assert len(rows) == 40
    for r in rows:
        cell = (r["left"], r["right"], r["dimension"])
        if cell in NOT_REPRODUCED:
            assert not r["reproduced"], f"{cell} now reproduces: take it off NOT_REPRODUCED and the findings"
        else:
            assert round(r["d"], 2) == pytest.approx(r["paper_d"], abs=1e-9), cell
    assert sum(r["reproduced"] for r in rows) == 25
    flipped = [r for r in rows if r["left"] == "SFT + DPO" and r["right"] == "baseline-len-control"]
    assert all(np.sign(r["d"]) == -np.sign(r["paper_d"]) for r in flipped)
    assert [abs(round(r["d"], 2) + r["paper_d"]) <= 0.0100001 for r in flipped] == [True] * 4


def test_the_findings_counts_hold(empo):
    """The notes' numbers: marks agreeing with the paired t-test, and d on raw ratings / ticked rows."""
    _, rating_set, result = empo
    rows = compare_table7(result["pairwise"])
    assert sum(r["mark"] == r["paper_mark"] for r in rows) == 32
    independent = compare_table7(analyze(rating_set, t_test="independent")["pairwise"])
    assert sum(r["mark"] == r["paper_mark"] for r in independent) == 31
    raw = defaultdict(list)
    for r in rating_set.ratings:
        raw[(r.system, r.dimension)].append(r.value)
    hits = sum(round(cohens_d(raw[(b, d)], raw[(a, d)]), 2) == pytest.approx(v, abs=1e-9)
               for (a, b), (values, _) in PAPER_TABLE7.items() for d, v in zip(EMPO_DIMENSIONS, values))
    assert hits == 2
    ticked = {(r.annotator, r.sample, r.system) for r in rating_set.ratings if r.dimension == EMPO_CHECKBOX and r.value == 1}
    per = defaultdict(lambda: defaultdict(list))
    for r in rating_set.ratings:
        if (r.annotator, r.sample, r.system) in ticked:
            per[(r.system, r.dimension)][r.sample].append(r.value)
    means = {k: [float(np.mean(v)) for v in s.values()] for k, s in per.items()}
    hits = sum(round(cohens_d(means[(b, d)], means[(a, d)]), 2) == pytest.approx(v, abs=1e-9)
               for (a, b), (values, _) in PAPER_TABLE7.items() for d, v in zip(EMPO_DIMENSIONS, values))
    assert hits == 1
    assert mark(0.000009) == "*" and mark(0.0009) == "†" and mark(0.04) == "‡" and mark(0.05) == ""


def test_analyze_reads_he_data_as_released_and_writes_the_report(empo, tmp_path, capsys):
    path, _, _ = empo
    assert main(["human-eval", "analyze", str(path), "--output", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ratings"] == 2025 * 5 and report["annotators"] == 135 and report["samples"] == 135
    assert len(report["table7"]) == 40 and (tmp_path / "ratings.png").stat().st_size > 10_000
    md = (tmp_path / "report.md").read_text()
    assert "| baseline | human | situational appropriateness | 0.88 | 0.88 | 0.88 | yes | * | * |" in md
