"""Multiple-comparison corrections across metrics and pairs (statsmodels multipletests)."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

METHODS = {"holm": "holm", "bh": "fdr_bh"}
NAMES = {"holm": "Holm (family-wise error)", "bh": "Benjamini-Hochberg (false discovery rate)"}


def adjust(pvalues, method: str = "holm") -> np.ndarray:
    """Adjusted p-values: "holm" (Holm 1979, controls the family-wise error rate under any
    dependence) or "bh" (Benjamini & Hochberg 1995, controls the false discovery rate for
    independent or positively dependent tests). NaN p-values (untested metrics) stay NaN
    and do not count as tests."""
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; use one of {', '.join(METHODS)}")
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        out[tested] = multipletests(p[tested], method=METHODS[method])[1]
    return out


def holm(pvalues) -> np.ndarray:
    return adjust(pvalues, "holm")


def benjamini_hochberg(pvalues) -> np.ndarray:
    return adjust(pvalues, "bh")
