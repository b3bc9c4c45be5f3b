"""EmPO's Table 7 (Sotolar et al. 2024, appendix D) and the comparison of our numbers with it.

Cohen's d of the one-sided hypothesis "left is rated higher than right", per question;
marks: * p < 0.00001, † p < 0.001, ‡ p < 0.05 (uncorrected). Transcribed from the paper.
"""

from __future__ import annotations

from harness.human_eval.empo import EMPO_DIMENSIONS

# (left, right): ((d per question in EMPO_DIMENSIONS order), (marks))
PAPER_TABLE7: dict[tuple[str, str], tuple[tuple[float, ...], tuple[str, ...]]] = {
    ("baseline", "human"): ((0.58, 0.88, 0.48, 0.47), ("*", "*", "*", "*")),
    ("baseline", "baseline-len-control"): ((0.39, 0.42, 0.3, 0.45), ("*", "†", "‡", "*")),
    ("baseline", "SFT"): ((0.5, 0.72, 0.42, 0.53), ("*", "*", "†", "*")),
    ("baseline", "SFT + DPO"): ((0.38, 0.7, 0.17, 0.3), ("†", "*", "", "†")),
    ("SFT + DPO", "human"): ((0.18, 0.14, 0.32, 0.18), ("", "", "‡", "‡")),
    ("SFT + DPO", "baseline-len-control"): ((-0.04, 0.25, -0.16, -0.17), ("", "*", "", "")),
    ("SFT + DPO", "SFT"): ((0.2, 0.0, 0.25, 0.22), ("", "", "‡", "‡")),
    ("baseline-len-control", "human"): ((0.14, 0.41, 0.15, 0.0), ("", "†", "", "")),
    ("baseline-len-control", "SFT"): ((0.06, 0.26, 0.08, 0.04), ("", "‡", "", "")),
    ("SFT", "human"): ((0.19, 0.01, 0.01, -0.01), ("", "", "", "")),
}


def mark(p: float) -> str:
    """The paper's significance mark of an uncorrected p-value."""
    return "*" if p < 0.00001 else "†" if p < 0.001 else "‡" if p < 0.05 else ""


def compare_table7(pairwise: list[dict]) -> list[dict]:
    """One row per Table 7 cell: the paper's d and mark beside ours (from `pairwise` rows of
    the EmPO analysis, oriented as the paper's pairs); `reproduced` when our d rounds to the
    paper's at two decimals."""
    ours = {(r["left"], r["right"], r["dimension"]): r for r in pairwise}
    rows = []
    for (left, right), (values, marks) in PAPER_TABLE7.items():
        for dimension, paper_d, paper_mark in zip(EMPO_DIMENSIONS, values, marks):
            r = ours.get((left, right, dimension))
            if r is None:
                continue
            d = r["d"]
            rows.append({"left": left, "right": right, "dimension": dimension, "paper_d": paper_d, "d": d,
                         "d_2dp": round(d, 2) + 0.0, "reproduced": abs(round(d, 2) - paper_d) < 1e-9,
                         "sign_flipped": abs(round(-d, 2) - paper_d) < 0.015 and abs(round(d, 2) - paper_d) >= 0.015,
                         "paper_mark": paper_mark, "mark": mark(r["p"]), "p": r["p"]})
    return rows
