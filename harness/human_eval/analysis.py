"""The statistics of a human evaluation, as EmPO (section 4.2, Table 7) and EmpRL (V.C) did them.

Rating designs (0-100 or 1-5):
- per system and question: the mean of the per-sample means of the annotators, with a 95%
  t interval over samples (the samples are the independent units; the annotators of one
  sample are averaged first, as EmPO: "sample averaged annotator ratings ... form the final score");
- every pair (left, right), left earlier in the system order: a one-sided t-test that left
  is rated higher (EmPO's hypothesis direction, fixed before the data by the order), on the
  per-sample means; paired over the samples both systems have (the same dialogues; the
  default) or independent (`t_test="independent"`); Cohen's d with the pooled SD of the
  per-sample means (EmPO's d: it reproduces Table 7) and the paired d_z beside it;
  Bonferroni and Holm adjusted p-values over all pairs and questions (statsmodels);
- agreement: Krippendorff's alpha per question (`krippendorff` package), units are
  (sample, system) responses, interval level for 0-100, ordinal for 1-5, nominal for the checkbox.
A/B designs:
- per pair and question: the annotators' wins, ties and losses of the first system; the
  majority vote of each sample (a label more than half of its annotators chose, else "no
  majority"); a two-sided sign test (scipy binomtest) on the samples whose majority is a
  win or a loss (ties and no majority left out), as EmpRL's Table V;
- agreement: Fleiss' kappa (statsmodels) over the samples with the usual number of
  annotators, categories first-wins / second-wins / tie.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from harness.human_eval.designs import CHECKBOX
from harness.human_eval.ratings import RatingSet
from harness.stats import cohens_d, cohens_dz

T_TESTS = ("paired", "independent")


def sample_means(rating_set: RatingSet) -> dict[tuple[str, str], dict[object, float]]:
    """{(system, question): {sample: mean of its annotators' ratings}}."""
    collected: dict[tuple[str, str], dict[object, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rating_set.ratings:
        collected[(r.system, r.dimension)][r.sample].append(float(r.value))
    return {k: {s: float(np.mean(v)) for s, v in per.items()} for k, per in collected.items()}


def mean_interval(values, level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, low, high, sd) with a t interval; NaN bounds for fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if len(x) else math.nan
    if len(x) < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(x.std(ddof=1))
    half = float(scipy_stats.t.ppf(0.5 + level / 2, len(x) - 1)) * sd / math.sqrt(len(x))
    return mean, mean - half, mean + half, sd


def one_sided_t(left, right, paired: bool) -> tuple[float, float, float]:
    """(t, df, p) of H1: left > right."""
    if paired:
        res = scipy_stats.ttest_rel(left, right, alternative="greater")
        return float(res.statistic), float(len(left) - 1), float(res.pvalue)
    res = scipy_stats.ttest_ind(left, right, alternative="greater")
    return float(res.statistic), float(len(left) + len(right) - 2), float(res.pvalue)


def analyze_ratings(rating_set: RatingSet, *, t_test: str = "paired", level: float = 0.95) -> dict:
    if t_test not in T_TESTS:
        raise ValueError(f"t_test must be one of {T_TESTS}")
    design = rating_set.design
    means = sample_means(rating_set)
    out_means = []
    for system in rating_set.systems:
        for c in design.criteria:
            per = means.get((system, c.name), {})
            if not per:
                continue
            mean, low, high, sd = mean_interval(list(per.values()), level)
            n_ratings = sum(1 for r in rating_set.ratings if r.system == system and r.dimension == c.name)
            out_means.append({"system": system, "dimension": c.name, "samples": len(per), "ratings": n_ratings,
                              "mean": mean, "ci_low": low, "ci_high": high, "sd": sd})
    tested = [c for c in design.criteria if c.scale != CHECKBOX]
    pairwise = []
    for left, right in itertools.combinations(rating_set.systems, 2):
        for c in tested:
            a, b = means.get((left, c.name), {}), means.get((right, c.name), {})
            if t_test == "paired":
                common = sorted(set(a) & set(b), key=str)
                x, y = [a[s] for s in common], [b[s] for s in common]
            else:
                x, y = list(a.values()), list(b.values())
            if len(x) < 2 or len(y) < 2:
                continue
            t, df, p = one_sided_t(x, y, t_test == "paired")
            row = {"left": left, "right": right, "dimension": c.name, "n_left": len(x), "n_right": len(y),
                   "mean_left": float(np.mean(x)), "mean_right": float(np.mean(y)), "t": t, "df": df, "p": p,
                   "d": cohens_d(y, x), "d_z": cohens_dz(y, x) if t_test == "paired" else math.nan}
            pairwise.append(row)
    if pairwise:
        ps = [r["p"] for r in pairwise]
        for r, bonf, holm in zip(pairwise, multipletests(ps, method="bonferroni")[1], multipletests(ps, method="holm")[1]):
            r["p_bonferroni"], r["p_holm"] = float(bonf), float(holm)
    return {"means": out_means, "pairwise": pairwise, "agreement": rating_agreement(rating_set),
            "settings": {"t_test": t_test, "alternative": "left > right", "level": level,
                         "family": f"{len(pairwise)} tests (every pair x every rated question)"}}


def rating_agreement(rating_set: RatingSet) -> list[dict]:
    """Krippendorff's alpha per question: annotators x (sample, system) units."""
    import krippendorff

    rows = []
    annotators = sorted({r.annotator for r in rating_set.ratings})
    where = {a: i for i, a in enumerate(annotators)}
    for c in rating_set.design.criteria:
        mine = [r for r in rating_set.ratings if r.dimension == c.name]
        units = sorted({(str(r.sample), r.system) for r in mine})
        col = {u: j for j, u in enumerate(units)}
        data = np.full((len(annotators), len(units)), np.nan)
        for r in mine:
            data[where[r.annotator], col[(str(r.sample), r.system)]] = float(r.value)
        pairable = int(((~np.isnan(data)).sum(axis=0) >= 2).sum())
        alpha = math.nan
        if pairable and len(np.unique(data[~np.isnan(data)])) > 1:
            alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement=c.agreement_level))
        rows.append({"dimension": c.name, "level": c.agreement_level, "alpha": alpha, "units": len(units),
                     "pairable_units": pairable, "annotators": len(annotators)})
    return rows


def analyze_ab(rating_set: RatingSet) -> dict:
    """Win/tie/loss per pair and question, majority votes, sign tests and Fleiss' kappa."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    order = {s: i for i, s in enumerate(rating_set.systems)}
    votes: dict[tuple[str, str, str], dict[object, list[str]]] = defaultdict(lambda: defaultdict(list))
    position = Counter()
    for r in rating_set.ratings:
        a, b = r.system.split("|")
        first, second = sorted((a, b), key=lambda s: order[s])
        if r.value == "tie":
            outcome = "tie"
        else:
            position[r.value] += 1
            chosen = a if r.value == "A" else b
            outcome = "win" if chosen == first else "loss"
        votes[(first, second, r.dimension)][r.sample].append(outcome)
    rows = []
    for (first, second, dim), per in sorted(votes.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]], kv[0][2])):
        counts = Counter(o for outcomes in per.values() for o in outcomes)
        majority = Counter(_majority(outcomes) for outcomes in per.values())
        wins, losses = majority["win"], majority["loss"]
        p = float(scipy_stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else math.nan
        sizes = Counter(len(o) for o in per.values())
        raters = sizes.most_common(1)[0][0]
        table = np.array([[o.count(k) for k in ("win", "loss", "tie")] for o in per.values() if len(o) == raters])
        kappa = float(fleiss_kappa(table)) if raters >= 2 and len(table) and table.sum(axis=0).astype(bool).sum() > 1 else math.nan
        total = sum(counts.values())
        rows.append({"first": first, "second": second, "dimension": dim, "samples": len(per), "ratings": total,
                     "win": counts["win"], "tie": counts["tie"], "loss": counts["loss"],
                     "win_share": counts["win"] / total, "tie_share": counts["tie"] / total,
                     "loss_share": counts["loss"] / total,
                     "majority_win": wins, "majority_tie": majority["tie"], "majority_loss": losses,
                     "no_majority": majority["none"], "sign_test_p": p,
                     "fleiss_kappa": kappa, "kappa_samples": int(len(table)), "kappa_raters": raters})
    return {"ab": rows, "position": {"A": position["A"], "B": position["B"]},
            "settings": {"sign_test": "two-sided binomial test of per-sample majority wins against losses"}}


def _majority(outcomes: list[str]) -> str:
    label, count = Counter(outcomes).most_common(1)[0]
    return label if count * 2 > len(outcomes) else "none"


def analyze(rating_set: RatingSet, *, t_test: str = "paired", level: float = 0.95) -> dict:
    """Everything `analyze` reports, as plain JSON-ready values (not yet rounded)."""
    systems = rating_set.systems
    head = {"source": rating_set.source.name, "kind": rating_set.kind, "design": rating_set.design.name,
            "systems": systems, "ratings": len(rating_set.ratings),
            "annotators": len({r.annotator for r in rating_set.ratings}),
            "samples": len({r.sample for r in rating_set.ratings}), "notes": list(rating_set.notes)}
    if rating_set.sha256:
        head["sha256"] = rating_set.sha256
    body = analyze_ab(rating_set) if rating_set.design.kind == "ab" else analyze_ratings(rating_set, t_test=t_test, level=level)
    return head | body

