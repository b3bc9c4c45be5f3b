"""How tables write things: GFM table rows (escaped cells), numbers rounded to what their
interval supports, p-values and marks, and paths without this machine's absolute paths.

Shared by `compare` and the leaderboard so that every table they make parses as a GitHub
Flavored Markdown table (tests/support/gfm.py checks them with a real parser).
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import Sequence

MARKS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))


# --- markdown -----------------------------------------------------------------------------------

def escape(text: object) -> str:
    """One table cell: `|` escaped (GFM would split the cell there), no line breaks."""
    return str(text).replace("\\|", "|").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def table(header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A GFM table; `align` per column: "l", "r", "c" (or "" for none)."""
    if len(align) != len(header) or any(len(r) != len(header) for r in rows):
        raise ValueError("every row of a table needs one cell per header")
    delim = {"l": ":--", "r": "--:", "c": ":-:", "": "---"}
    lines = ["| " + " | ".join(escape(h) for h in header) + " |",
             "|" + "|".join(delim[a] for a in align) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return lines


# --- numbers ------------------------------------------------------------------------------------

def fmt(x, digits: int = 4) -> str:
    """A number with `digits` significant figures (no interval to round to); whole
    numbers (counts) as integers."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e9:
        return str(int(x))
    if abs(x) < 1e-3:
        return f"{x:.{max(digits - 1, 1)}g}"
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def decimals_for(ci: tuple[float, float] | None) -> int | None:
    """Decimal places an interval supports: its half-width to two significant figures
    (half-width 0.112 -> 2 decimals; 3.5 -> 1; 40 -> 0). None: no usable interval."""
    if ci is None or any(not math.isfinite(c) for c in ci):
        return None
    half = (ci[1] - ci[0]) / 2
    if half <= 0:
        return None
    return max(0, 1 - math.floor(math.log10(half)))


def fixed(x: float, decimals: int) -> str:
    if x is None or not math.isfinite(x):
        return fmt(x)
    text = f"{x:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text


def value_with_interval(value: float, ci: tuple[float, float] | None) -> tuple[str, str]:
    """(value, "[low, high]") rounded to the decimals the interval supports, at most 4
    significant figures of the value; without a usable interval (none, or zero width) 4
    significant figures."""
    d = decimals_for(ci)
    if d is not None and value is not None and math.isfinite(value) and value != 0:
        exponent = int(f"{abs(value):.3e}".split("e")[1])  # of the value rounded to 4 figures
        d = min(d, max(0, 3 - exponent))  # never more than 4 significant figures
    if d is None:
        text = fmt(value)
        interval = f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci is not None and all(math.isfinite(c) for c in ci) else ""
        return text, interval
    return fixed(value, d), f"[{fixed(ci[0], d)}, {fixed(ci[1], d)}]"


def fmt_p(p) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def mark(p_adj) -> str:
    if p_adj is None or (isinstance(p_adj, float) and math.isnan(p_adj)):
        return ""
    return next((m for threshold, m in MARKS if p_adj < threshold), "")


# --- paths --------------------------------------------------------------------------------------

def display_path(path: str | os.PathLike, base: str | os.PathLike | None = None) -> str:
    """A path as a committed table may show it: `<cache>/...`, `<mirror>/...`,
    `<python>/...` (the interpreter's environment), else relative to `base` (default: the
    working directory)."""
    from harness.config import cache_dir, mirror_dir

    p = Path(path).expanduser()
    if not p.is_absolute():
        return p.as_posix()
    p = Path(os.path.abspath(p))
    roots = [("<cache>", cache_dir()), ("<mirror>", mirror_dir()), ("<python>", Path(sys.prefix))]
    for name, root in roots:
        if root is None:
            continue
        root = Path(os.path.abspath(root.expanduser()))
        if p == root or root in p.parents:
            rel = p.relative_to(root).as_posix()
            return name if rel == "." else f"{name}/{rel}"
    return Path(os.path.relpath(p, os.path.abspath(base or os.getcwd()))).as_posix()


_ABSOLUTE = re.compile(r"(?<![\w.~<>/-])/[^\s,;'\"`()\[\]{}]+")


def display_text(text: str, base: str | os.PathLike | None = None) -> str:
    """`text` with every absolute path in it (`pretrained=/x/y,peft=/z`) rewritten by
    `display_path`."""
    return _ABSOLUTE.sub(lambda m: display_path(m.group(0), base), str(text))
