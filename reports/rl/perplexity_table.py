"""Markdown table of the reference perplexity (ed_perplexity) of run folders, for reports/rl.

    python reports/rl/perplexity_table.py RUN [RUN ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(paths: list[str]) -> None:
    lines = ["", "## Perplexity of the reference response (ed_perplexity, teacher-forced)", "",
             "Per word and per byte: exp(-sum of reference log-likelihoods / sum of words or bytes) after the "
             "same prompt as generation; 95% percentile bootstrap intervals over the examples (10,000 resamples, "
             "seed 0). Teacher-forced, so one run per system (no sampling, no seeds). Lower is better.", "",
             "| model | n | word PPL | 95% CI | byte PPL | 95% CI | run |", "|---|--:|--:|:-:|--:|:-:|---|"]
    for path in paths:
        run = Path(path)
        summary = json.loads((run / "tasks" / "ed_perplexity" / "summary.json").read_text())
        model = json.loads((run / "manifest.json").read_text())["model"]
        w, b = "word_perplexity", "byte_perplexity"
        lines.append(f"| {model} | {summary['n']} | {summary[w]:.2f} | [{summary[w + '_ci_low']:.2f}, "
                     f"{summary[w + '_ci_high']:.2f}] | {summary[b]:.4f} | [{summary[b + '_ci_low']:.4f}, "
                     f"{summary[b + '_ci_high']:.4f}] | `{run.name}` |")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
