"""The pieces every table rests on: one direction per key, tests resolving their corrected
threshold, corpus metrics recomputed from per-example counts (same numbers as recomputing
them), intervals inside a metric's range, GFM-safe cells, paths without this machine's."""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from harness import stats
from harness.leaderboard import catalog, display
from harness.leaderboard.comparison import resamples_for, smallest_adjusted_p
from harness.metrics.base import CorpusSource, Item
from harness.metrics.diff_epitome import EpitomeScorer, emp_f1_part, scores_from_levels, weighted_f1_from_confusion
from harness.metrics.distinct import Distinct, distinct_n
from tests.support.gfm import assert_tables, tables


# --- directions ----------------------------------------------------------------------------------

def test_epitome_levels_are_descriptive_everywhere():
    """`level_*` / `ref_level_*` were declared higher-is-better: compare, the leaderboard and
    lm-eval's table gave them arrows and stars. One declaration decides for all."""
    catalog.refresh()
    for key in ("level_er", "level_ip", "level_ex", "ref_level_er", "ref_level_ip", "ref_level_ex", "length_chars"):
        info = catalog.info(key)
        assert info.descriptive and info.higher_is_better is None and info.arrow == ""
    for key, better in (("diff_epitome", False), ("emp_f1", True), ("dist2", True), ("acc", True)):
        assert catalog.info(key).higher_is_better is better and not catalog.info(key).descriptive
    unknown = catalog.info("some_new_number")
    assert unknown.higher_is_better is None and not unknown.descriptive  # unknown: tested two-sided, no arrow


def test_lm_eval_metric_list_takes_the_same_direction():
    from harness.lmeval import suite

    metrics = {m["metric"]: m for m in suite._plan(("epitome",)).metric_list()}
    assert metrics["level_er"]["higher_is_better"] is None and metrics["ref_level_ip"]["higher_is_better"] is None
    assert metrics["diff_epitome"]["higher_is_better"] is False and metrics["emp_f1"]["higher_is_better"] is True


# --- resamples -------------------------------------------------------------------------------------

@pytest.mark.parametrize("tests", [1, 12, 40, 130])
def test_resamples_resolve_the_corrected_threshold(tests):
    r = resamples_for(tests, 0.05, 10_000)
    assert r >= 10_000 and r >= 20 * tests / 0.05
    # the smallest p a resampling test reaches, after Holm over `tests`, is 20-fold below alpha
    assert smallest_adjusted_p(tests, r) <= 0.05 / 20 + 1e-12
    # the old defaults (100 / 200 resamples) could not reject after Holm over 40 tests
    assert smallest_adjusted_p(40, 200) > 0.05


# --- decomposed corpus statistics ---------------------------------------------------------------------

WORDS = "i am so sorry to hear that great news wow oh no what happened glad you are ok".split()


def _items(n, seed, vocab=WORDS):
    rng = random.Random(seed)
    return [Item(f"c{i:03d}", ("hi",), " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 9))), "ref")
            for i in range(n)]


def test_distinct_decomposition_matches_recomputation_bit_for_bit():
    """Dist-n from per-example n-gram counts: the same swaps and half-samples (same seed) as
    recomputing the metric per resample, so the same p-value and interval, exactly."""
    a, b = _items(60, 1), _items(60, 2, WORDS[:6])
    scorer = Distinct()
    d = scorer.corpus_decomposition([CorpusSource([], a), CorpusSource([], b)])
    fast = stats.decomposed_randomization(d, resamples=300, seed=3)
    slow = stats.approximate_randomization(a, b, lambda items: scorer.compute(items).corpus, resamples=300, seed=3)
    for key in ("dist1", "dist2"):
        assert fast[key].estimate == slow[key].estimate
        assert fast[key].pvalue == slow[key].pvalue and fast[key].ci == slow[key].ci
    assert fast["dist2"].pvalue < 0.01  # 6 words against 17: clearly different
    intervals = stats.decomposed_half_sampling(Decomposition_of(scorer, [a]), resamples=200, seed=5)
    reference = stats.corpus_bootstrap_ci([a], lambda items: scorer.compute(items).corpus, resamples=200, seed=5)
    assert intervals["dist2"].low == reference["dist2"].low and intervals["dist2"].high == reference["dist2"].high


def Decomposition_of(scorer, systems):
    return scorer.corpus_decomposition([CorpusSource([], s) for s in systems])


def test_distinct_decomposition_of_the_whole_corpus_is_distinct_n():
    from harness.metrics import tokenize

    a = _items(40, 7)
    d = Decomposition_of(Distinct(), [a])
    sums = np.asarray(d.features[0].sum(axis=0))
    tokens = [tokenize.word_tokenize(it.response) for it in a]
    assert d.finish(sums)["dist1"][0] == distinct_n(tokens, 1)
    assert d.finish(sums)["dist2"][0] == distinct_n(tokens, 2)


def _levels(n, seed, agree):
    rng = np.random.default_rng(seed)
    ref = {m: rng.integers(0, 3, n).tolist() for m in ("ER", "IP", "EX")}
    gen = {m: [r if rng.random() < agree else int(rng.integers(0, 3)) for r in ref[m]] for m in ref}
    return gen, ref


def _rows(gen, ref):
    n = len(ref["ER"])
    return [{**{f"level_{m.lower()}": float(gen[m][i]) for m in gen},
             **{f"ref_level_{m.lower()}": float(ref[m][i]) for m in ref}} for i in range(n)]


def test_emp_f1_from_confusion_tables_is_sklearns_weighted_f1():
    for seed in range(5):
        gen, ref = _levels(50, seed, agree=0.3 * seed / 2)
        corpus = scores_from_levels(gen, ref).corpus
        d = EpitomeScorer().corpus_decomposition([CorpusSource(_rows(gen, ref))])
        values = weighted_f1_from_confusion(d.features[0].sum(axis=0, keepdims=True))
        for key in ("emp_f1", "emp_f1_er", "emp_f1_ip", "emp_f1_ex"):
            assert values[key][0] == pytest.approx(corpus[key], rel=1e-12, abs=1e-12)
    # a level never predicted nor present gets no weight (sklearn zero_division=0)
    assert weighted_f1_from_confusion(np.eye(3).reshape(1, 9).repeat(3, axis=0).reshape(1, 27))["emp_f1"][0] == 100.0
    # by hand: reference (0, 0, 1), response (0, 0, 2): level 0 F1 1 (support 2), level 1 F1 0
    # (support 1), level 2 no support: 100 x 2/3
    by_hand = weighted_f1_from_confusion(_table([(0, 0), (0, 0), (1, 2)]))["emp_f1_er"][0]
    assert by_hand == pytest.approx(200 / 3) and emp_f1_part([0, 0, 1], [0, 0, 2]) == pytest.approx(200 / 3)


def _table(pairs):
    x = np.zeros((1, 27))
    for j in range(3):
        for r, g in pairs:
            x[0, 9 * j + 3 * r + g] += 1
    return x


def test_emp_f1_test_resolves_a_large_difference():
    """Emp-F1 100 vs 58 got no mark: 100 resamples, Holm over ~40 tests. From confusion tables
    the test affords the resamples the correction needs, and rejects."""
    gen_a, ref = _levels(200, 1, agree=1.0)
    gen_b, _ = _levels(200, 1, agree=0.0)
    gen_b = {m: [(g + 1) % 3 for g in gen_b[m]] for m in gen_b}
    d = EpitomeScorer().corpus_decomposition([CorpusSource(_rows(gen_a, ref)), CorpusSource(_rows(gen_b, ref))])
    r = resamples_for(40, 0.05, 10_000)
    result = stats.decomposed_randomization(d, resamples=r, seed=0)["emp_f1"]
    assert result.estimate < -50 and result.resamples == r
    assert stats.adjust([result.pvalue] + [0.5] * 39)[0] < 0.05


# --- intervals in range, Welch without precision-loss warnings --------------------------------------

def test_intervals_of_bounded_metrics_stay_in_range():
    assert catalog.info("bleu2").bounds == (0.0, 100.0) and catalog.info("emp_f1").bounds == (0.0, 100.0)
    ci, clipped = catalog.clip_interval("bleu2", (87.6, 102.0))
    assert ci == (87.6, 100.0) and clipped
    ci, clipped = catalog.clip_interval("dist2", (-120.0, 30.0), difference=True)
    assert ci == (-100.0, 30.0) and clipped
    assert catalog.clip_interval("nidf", (0.2, 0.3)) == ((0.2, 0.3), False)
    assert catalog.clip_interval("nidf", (math.nan, math.nan))[1] is False


def test_welch_with_a_constant_sample_is_the_one_sample_test_and_warns_nothing():
    rng = np.random.default_rng(0)
    a, b = np.full(40, 0.3), rng.normal(0.5, 0.2, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's "Precision loss occurred in moment calculation"
        r = stats.welch_t_test(a, b)
        flipped = stats.welch_t_test(b, a)
        both = stats.welch_t_test(a, np.full(10, 0.3))
    ref = sps.ttest_1samp(b, 0.3)
    assert r.pvalue == pytest.approx(ref.pvalue) and r.statistic == pytest.approx(ref.statistic)
    ci = ref.confidence_interval()
    assert r.ci == pytest.approx((ci.low - 0.3, ci.high - 0.3))
    assert flipped.pvalue == pytest.approx(ref.pvalue) and flipped.ci == pytest.approx((0.3 - ci.high, 0.3 - ci.low))
    assert math.isnan(both.pvalue) and "both samples constant" in both.method


# --- display --------------------------------------------------------------------------------------------

def test_table_cells_with_pipes_render_as_one_cell():
    lines = display.table(["Model", "Intensity |d| ↓"], ["l", "r"], [["a|b", "0.3"], ["c", ""]])
    parsed = assert_tables("\n".join(lines), 1)[0]
    assert parsed[0] == ["Model", "Intensity |d| ↓"] and parsed[1] == ["a|b", "0.3"]
    # unescaped, the header splits into more cells than the delimiter row: no table at all
    assert tables("| Model | Intensity |d| ↓ |\n|---|---|\n| a | 1 |\n") == []


def test_values_are_rounded_to_what_their_interval_supports():
    assert display.value_with_interval(0.9817, (0.87, 1.095)) == ("0.98", "[0.87, 1.09]")
    assert display.value_with_interval(57.75, (54.78, 61.83)) == ("57.8", "[54.8, 61.8]")
    assert display.value_with_interval(421.3, (378.1, 464.0)) == ("421", "[378, 464]")
    assert display.value_with_interval(0.0, (0.0, 0.0)) == ("0", "[0, 0]")
    assert display.value_with_interval(0.26181, None) == ("0.2618", "")
    assert display.fmt(22331.0) == "22331"
    # p is cut, not rounded, to two figures: never shown at a threshold it is under
    assert display.fmt_p(10 / 10_001) == "0.00099" and display.mark(10 / 10_001) == "***"
    assert display.fmt_p(0.049999) == "0.049" and display.fmt_p(0.37) == "0.37" and display.fmt_p(1.0) == "1"
    # a near-zero-width interval does not make a value of 9 decimals
    assert display.value_with_interval(0.999999996, (0.99999997, 1.0)) == ("1.000", "[1.000, 1.000]")


def test_paths_are_shown_without_this_machines_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.chdir(tmp_path)
    assert display.display_path(tmp_path / "cache" / "epitome" / "x") == "<cache>/epitome/x"
    assert display.display_path(tmp_path / "mirror" / "nrc" / "a.txt") == "<mirror>/nrc/a.txt"
    assert display.display_path(tmp_path / "runs" / "human") == "runs/human"
    assert display.display_path("runs/human") == "runs/human"
    assert not display.display_path("/somewhere/else/run").startswith("/")
    assert display.display_text(f"pretrained={tmp_path}/cache/m,peft={tmp_path}/runs/sft x") == \
        "pretrained=<cache>/m,peft=runs/sft x"
    assert display.display_text("a ratio 1/2 and <cache>/x stay") == "a ratio 1/2 and <cache>/x stay"


def test_an_instrument_only_one_side_has_is_named_not_dumped():
    from harness.leaderboard.comparison import _differing_fields

    record = {"kind": "epitome", "directory": "/abs/path/of/this/machine"}
    assert _differing_fields({"epitome": record, "epitome_full": record}, {"epitome": record}) == "epitome_full only in the first"
    assert _differing_fields({"bleu": {"n": 4}}, {"bleu": {"n": 2}}) == "bleu.n 4 vs 2"
