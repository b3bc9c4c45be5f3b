"""`analyze`'s output: report.json, report.md (the same numbers: the page prints the JSON's
rounded values as JSON writes them) and ratings.png (the rating distributions per question,
as EmPO's Figure 6)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from harness.human_eval.designs import Design
from harness.human_eval.ratings import RatingSet

FIGURE = "ratings.png"


def rounded(value):
    """Floats to 4 decimals, p-values (keys starting with p) to 3 significant digits; NaN as null."""
    def walk(x, key=""):
        if isinstance(x, float):
            if not math.isfinite(x):
                return None
            if key == "p" or key.startswith("p_") or key.endswith("_p"):
                return float(f"{x:.3g}")
            return round(x, 4) + 0.0
        if isinstance(x, dict):
            return {k: walk(v, k) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, key) for v in x]
        return x
    return walk(value)


def n(x) -> str:
    """A JSON value as the page shows it: exactly as report.json writes it."""
    return "" if x is None else json.dumps(x, ensure_ascii=False)


def _label(text: str) -> str:
    return text.replace("_", " ")


def markdown(result: dict, figure: str | None) -> str:
    lines = [f"# Human evaluation: {result['source']}", ""]
    lines.append(f"Design `{result['design']}`; {result['ratings']} ratings by {result['annotators']} annotators of "
                 f"{result['samples']} samples; systems in hypothesis order: {', '.join(result['systems'])}.")
    if result.get("sha256"):
        lines.append(f"Input sha256 `{result['sha256']}`.")
    lines.append("")
    if "means" in result:
        settings = result["settings"]
        lines += ["## Means", "", f"Mean of the per-sample annotator means, {settings['level']:.0%} t interval over samples.", "",
                  "| system | question | samples | ratings | mean | CI low | CI high | SD |", "|---|---|--:|--:|--:|--:|--:|--:|"]
        for r in result["means"]:
            lines.append(f"| {r['system']} | {_label(r['dimension'])} | {r['samples']} | {r['ratings']} | {n(r['mean'])} | "
                         f"{n(r['ci_low'])} | {n(r['ci_high'])} | {n(r['sd'])} |")
        lines += ["", "## Pairwise tests", "",
                  f"One-sided {settings['t_test']} t-test of {settings['alternative']} on per-sample annotator means; "
                  f"Cohen's d with the pooled SD of those means (EmPO's), d_z of the paired differences; "
                  f"Bonferroni and Holm over the {settings['family']}.", "",
                  "| left | right | question | n | mean left | mean right | t | p | p Bonferroni | p Holm | d | d_z |",
                  "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for r in result["pairwise"]:
            lines.append(f"| {r['left']} | {r['right']} | {_label(r['dimension'])} | {r['n_left']} | {n(r['mean_left'])} | "
                         f"{n(r['mean_right'])} | {n(r['t'])} | {n(r['p'])} | {n(r['p_bonferroni'])} | {n(r['p_holm'])} | "
                         f"{n(r['d'])} | {n(r['d_z'])} |")
        lines += ["", "## Agreement", "", "Krippendorff's alpha; units are the (sample, system) responses.", "",
                  "| question | level | alpha | units | units with 2+ ratings | annotators |", "|---|---|--:|--:|--:|--:|"]
        for r in result["agreement"]:
            lines.append(f"| {_label(r['dimension'])} | {r['level']} | {n(r['alpha'])} | {r['units']} | "
                         f"{r['pairable_units']} | {r['annotators']} |")
    if "ab" in result:
        lines += ["## A/B tests", "", "Wins, ties and losses of the first system over all ratings; majority vote per "
                  "sample; two-sided sign test of majority wins against losses; Fleiss' kappa (first wins / second "
                  "wins / tie).", "",
                  "| first | second | question | samples | win | tie | loss | majority win | majority tie | majority loss | "
                  "no majority | sign test p | Fleiss' kappa |", "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for r in result["ab"]:
            lines.append(f"| {r['first']} | {r['second']} | {_label(r['dimension'])} | {r['samples']} | {r['win']} | "
                         f"{r['tie']} | {r['loss']} | {r['majority_win']} | {r['majority_tie']} | {r['majority_loss']} | "
                         f"{r['no_majority']} | {n(r['sign_test_p'])} | {n(r['fleiss_kappa'])} |")
        lines += ["", f"Position: response A chosen {result['position']['A']} times, B {result['position']['B']} times."]
    if "table7" in result:
        lines += table7_markdown(result["table7"])
    if figure:
        lines += ["", "## Rating distributions", "", f"![ratings]({figure})"]
    if result.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def table7_markdown(rows: list[dict]) -> list[str]:
    same = sum(r["reproduced"] for r in rows)
    flipped = sum(r["sign_flipped"] for r in rows)
    lines = ["", "## EmPO Table 7 reproduced", "",
             f"Cohen's d as the paper's Table 7 and ours from the released ratings: {same} of {len(rows)} cells equal at "
             f"two decimals; {flipped} more equal with the sign flipped. Marks: * p < 0.00001, † p < 0.001, ‡ p < 0.05 "
             "(uncorrected; ours from the t-test above).", "",
             "| left | right | question | paper d | our d | our d (2 dp) | same | paper mark | our mark | our p |",
             "|---|---|---|--:|--:|--:|:-:|:-:|:-:|--:|"]
    for r in rows:
        same = "yes" if r["reproduced"] else ("sign" if r["sign_flipped"] else "no")
        lines.append(f"| {r['left']} | {r['right']} | {_label(r['dimension'])} | {n(r['paper_d'])} | {n(r['d'])} | "
                     f"{n(r['d_2dp'])} | {same} | {r['paper_mark']} | {r['mark']} | {n(r['p'])} |")
    return lines


def figure(rating_set: RatingSet, path: Path) -> Path | None:
    """Violins of every rating per system, one panel per question (rated questions only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    design: Design = rating_set.design
    rated = {r.dimension for r in rating_set.ratings}
    shown = [c for c in design.criteria if c.scale in ("continuous", "likert") and c.name in rated]
    if not shown or design.kind == "ab":
        return None
    cols = min(2, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.6 * rows), squeeze=False)
    systems = rating_set.systems
    for ax, c in zip(axes.flat, shown):
        data = [[float(r.value) for r in rating_set.ratings if r.system == s and r.dimension == c.name] for s in systems]
        keep = [i for i, d in enumerate(data) if d]
        parts = ax.violinplot([data[i] for i in keep], positions=keep, showmeans=True, showextrema=False, widths=0.8)
        for body in parts["bodies"]:
            body.set_alpha(0.55)
        ax.set_xticks(range(len(systems)), systems, rotation=20, fontsize=8)
        ax.set_ylim(*(c.bounds[0] - (5 if c.scale == "continuous" else 0.3), c.bounds[1] + (5 if c.scale == "continuous" else 0.3)))
        ax.set_title(_label(c.name).capitalize(), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    fig.suptitle(f"Rating distributions ({rating_set.source.name}); lines: means", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(result: dict, rating_set: RatingSet, output: str | Path) -> dict[str, Path]:
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    data = rounded(result)
    png = figure(rating_set, output / FIGURE)
    (output / "report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (output / "report.md").write_text(markdown(data, FIGURE if png else None), encoding="utf-8")
    paths = {"json": output / "report.json", "md": output / "report.md"}
    if png:
        paths["png"] = png
    return paths
