"""DIFF-EPITOME, mean levels and Emp-F1 from hand-made level vectors (no model)."""

from __future__ import annotations

import math

import pytest

from harness.metrics import base, diff_epitome
from harness.metrics.base import Item

# ER: ref 0 0 1 2, gen 0 1 1 2; IP: all 2 on both sides; EX: ref 0 0 0 0, gen 2 0 0 0
GEN = {"ER": [0, 1, 1, 2], "IP": [2, 2, 2, 2], "EX": [2, 0, 0, 0]}
REF = {"ER": [0, 0, 1, 2], "IP": [2, 2, 2, 2], "EX": [0, 0, 0, 0]}


def test_diffs_and_levels_by_hand():
    s = diff_epitome.scores_from_levels(GEN, REF)
    pe = s.per_example
    assert pe["diff_er"] == [0.0, 1.0, 0.0, 0.0]
    assert pe["diff_ip"] == [0.0, 0.0, 0.0, 0.0]
    assert pe["diff_ex"] == [4.0, 0.0, 0.0, 0.0]
    assert pe["diff_epitome"] == pytest.approx([4 / 3, 1 / 3, 0.0, 0.0])
    assert pe["level_er"] == [0.0, 1.0, 1.0, 2.0]
    assert pe["ref_level_ex"] == [0.0, 0.0, 0.0, 0.0]
    # the summary mean of diff_epitome is the mean of the three mechanism means
    assert base.mean(pe["diff_epitome"]) == pytest.approx((0.25 + 0.0 + 1.0) / 3)


def test_emp_f1_by_hand():
    # ER, classes weighted by reference support: level 0 (support 2): P 1, R 1/2 -> F1 2/3;
    # level 1 (support 1): P 1/2, R 1 -> 2/3; level 2 (support 1): 1. Weighted: (2*2/3 + 2/3 + 1)/4 = 3/4.
    # IP: every level right -> 1. EX: level 0 (support 4): P 1, R 3/4 -> 6/7; level 2 has no support.
    s = diff_epitome.scores_from_levels(GEN, REF)
    assert s.corpus["emp_f1_er"] == pytest.approx(75.0)
    assert s.corpus["emp_f1_ip"] == pytest.approx(100.0)
    assert s.corpus["emp_f1_ex"] == pytest.approx(600 / 7)
    assert s.corpus["emp_f1"] == pytest.approx(100 * (0.75 + 1 + 6 / 7) / 3)


def test_identical_levels_give_zero_diff_and_full_emp_f1():
    s = diff_epitome.scores_from_levels(REF, REF)
    assert all(v == 0.0 for v in s.per_example["diff_epitome"])
    assert s.corpus["emp_f1"] == pytest.approx(100.0)


def test_no_items():
    s = diff_epitome.scores_from_levels({m: [] for m in "ER IP EX".split()}, {m: [] for m in "ER IP EX".split()})
    assert s.per_example["diff_epitome"] == [] and math.isnan(s.corpus["emp_f1"])


class FakeInstrument:
    """Levels looked up by response text; counts what it is asked to classify."""

    id = "f" * 64

    def __init__(self, table):
        self.table = table
        self.calls = []

    def levels(self, seekers, responses, mechanisms=("ER", "IP", "EX"), batch_size=64):
        self.calls.append(list(responses))
        return {m: [self.table[r][i] for r in responses] for i, m in enumerate(("ER", "IP", "EX"))}

    def describe(self):
        return {"kind": "epitome", "backbone": "fake", "instrument_id": self.id}


TABLE = {
    "so sorry, how are you?": (1, 0, 2),
    "": (0, 0, 0),
    "ok": (0, 0, 0),
    "that must hurt.": (2, 2, 0),
    "i understand, hugs": (1, 2, 0),
}


@pytest.fixture
def scorer(monkeypatch, tmp_path):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(base, "_INSTANCES", {})
    fake = FakeInstrument(TABLE)
    monkeypatch.setattr(diff_epitome.EpitomeScorer, "_load", lambda self: fake)
    return fake


def items(responses):
    refs = ["that must hurt.", "i understand, hugs", "that must hurt."]
    return [Item(str(i), ("i lost my dog",), r, refs[i]) for i, r in enumerate(responses)]


def test_scorer_through_the_suite(scorer):
    result = base.score(items(["so sorry, how are you?", "", "that must hurt."]), ["epitome"])
    # gen ER 1 0 2 / ref 2 1 2 -> diffs 1 1 0; IP gen 0 0 2 / ref 2 2 2 -> 4 4 0; EX gen 2 0 0 / ref 0 0 0 -> 4 0 0
    assert [row["diff_er"] for row in result.per_example] == [1.0, 1.0, 0.0]
    assert [row["diff_ip"] for row in result.per_example] == [4.0, 4.0, 0.0]
    assert [row["diff_ex"] for row in result.per_example] == [4.0, 0.0, 0.0]
    assert result.summary["diff_epitome"] == pytest.approx((2 / 3 + 8 / 3 + 4 / 3) / 3)
    assert result.summary["level_er"] == pytest.approx(1.0)
    assert result.summary["ref_level_er"] == pytest.approx(5 / 3)
    assert result.instruments["epitome"]["backbone"] == "fake"
    assert result.outputs["diff_epitome"].higher_is_better is False
    assert result.outputs["emp_f1"].level == base.CORPUS


def test_reference_levels_are_classified_once_per_test_set(scorer, monkeypatch):
    base.score(items(["ok", "ok", "ok"]), ["epitome"])
    assert len(scorer.calls[-1]) == 6  # responses and references together
    # a new process (empty memory) still finds the references' levels on disk
    monkeypatch.setattr(base, "_INSTANCES", {})
    second = base.score(items(["so sorry, how are you?", "", "ok"]), ["epitome"])
    assert scorer.calls[-1] == ["so sorry, how are you?", "", "ok"]
    assert [row["ref_level_ip"] for row in second.per_example] == [2.0, 2.0, 2.0]


def test_emp_f1_recomputed_from_score_rows_without_the_model():
    from harness.metrics.diff_epitome import EpitomeScorer, scores_from_levels

    generated = {"ER": [0, 1, 2, 0], "IP": [2, 2, 0, 0], "EX": [0, 0, 0, 1]}
    reference = {"ER": [0, 1, 1, 0], "IP": [2, 0, 0, 0], "EX": [0, 0, 1, 1]}
    direct = scores_from_levels(generated, reference)
    rows = [{key: values[i] for key, values in direct.per_example.items()} for i in range(4)]
    assert EpitomeScorer.corpus_from_rows(None, rows) == direct.corpus


class SeekerAwareInstrument(FakeInstrument):
    """Levels by response, shifted by one on ER where the seeker post is a whole history
    (it contains two turns): the two scorers must read different seeker posts."""

    def __init__(self, table):
        super().__init__(table)
        self.seekers = []

    def levels(self, seekers, responses, mechanisms=("ER", "IP", "EX"), batch_size=64):
        self.seekers.append(list(seekers))
        out = super().levels(seekers, responses, mechanisms, batch_size)
        out["ER"] = [min(2, v + (" | " in s)) for v, s in zip(out["ER"], seekers)]
        return out


def test_full_context_scorer_reads_the_history_under_keys_of_its_own(monkeypatch, tmp_path):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(base, "_INSTANCES", {})
    fake = SeekerAwareInstrument(TABLE)
    monkeypatch.setattr(diff_epitome.EpitomeScorer, "_load", lambda self: fake)
    monkeypatch.setattr(diff_epitome, "seeker_post",
                        lambda context, side: " | ".join(context) if side == "full" else context[-1])
    history = ("my dog died", "oh no", "i lost my dog")
    its = [Item(str(i), history, r, ref) for i, (r, ref) in
           enumerate([("ok", "that must hurt."), ("so sorry, how are you?", "i understand, hugs")])]
    prev = base.score(its, ["epitome"])
    full = base.score(its, ["epitome_full"])
    assert fake.seekers[0] == ["i lost my dog"] * 4 and fake.seekers[1] == [" | ".join(history)] * 4
    assert set(full.summary) & set(prev.summary) == {"n"}  # never the same column
    assert {"emp_f1_full", "emp_f1_full_er", "level_full_er", "ref_level_full_ex", "diff_epitome_full"} <= set(full.summary)
    # ER levels shift by one with the history (response "ok": 0 -> 1; reference "that must hurt.": 2 -> 2)
    assert [r["level_full_er"] for r in full.per_example] == [1.0, 2.0]
    assert [r["level_er"] for r in prev.per_example] == [0.0, 1.0]
    rows = full.per_example
    assert diff_epitome.EpitomeFullScorer.corpus_from_rows(base.get_scorer("epitome_full"), rows) == pytest.approx(
        {k: v for k, v in full.summary.items() if k.startswith("emp_f1_full")})


def test_seeker_post_sides():
    assert diff_epitome.seeker_post(("a b", "c", "d e"), "full") == "a b c d e"
    assert diff_epitome.seeker_post(("a b", "c", "d e"), "prev") == "d e"
    assert diff_epitome.full_key("emp_f1") == "emp_f1_full" and diff_epitome.full_key("emp_f1_ex") == "emp_f1_full_ex"
    assert diff_epitome.full_key("diff_epitome") == "diff_epitome_full"
    assert diff_epitome.full_key("ref_level_ip") == "ref_level_full_ip"


def test_full_context_emp_f1_decomposes_from_its_own_levels_under_its_own_keys():
    """epitome_full's resampling uses level_full_*/ref_level_full_* and reports emp_f1_full*,
    never the prev-context levels that share its rows."""
    import random

    import numpy as np

    from harness.metrics.base import CorpusSource, get_scorer

    rng = random.Random(3)
    rows = []
    for _ in range(40):
        row = {}
        for m in ("er", "ip", "ex"):
            row[f"level_{m}"], row[f"ref_level_{m}"] = 0.0, 2.0  # prev context: all wrong
            row[f"level_full_{m}"], row[f"ref_level_full_{m}"] = float(rng.randint(0, 2)), float(rng.randint(0, 2))
        rows.append(row)
    scorer = get_scorer("epitome_full")
    decomposition = scorer.corpus_decomposition([CorpusSource(rows)])
    got = decomposition.finish(np.asarray(decomposition.features[0]).sum(axis=0, keepdims=True))
    expected = scorer.corpus_from_rows(rows)
    assert set(got) == set(expected) == {"emp_f1_full", "emp_f1_full_er", "emp_f1_full_ip", "emp_f1_full_ex"}
    assert all(abs(float(got[k][0]) - expected[k]) < 1e-9 for k in expected)


def test_full_context_reading_runs_only_when_named(monkeypatch):
    """EmpRL's full-context reading doubles the instrument's cost: not in the default suite,
    added by name or with `default,epitome_full`, in every command and in the ED tasks."""
    from harness.lmeval import suite
    from harness.scoring import resolve_metrics

    default = base.default_suite()
    assert "epitome" in default and "epitome_full" not in default
    assert "epitome_full" in base.available()
    assert resolve_metrics(None) == default
    assert resolve_metrics(["default,epitome_full"]) == default + ["epitome_full"]
    assert resolve_metrics(["nidf", "all"])[0] == "nidf" and set(resolve_metrics(["all"])) == set(base.available())
    monkeypatch.setenv("EMPATHY_HARNESS_METRICS", "default,epitome_full")
    assert list(suite.plan().per_corpus) + list(suite.plan().per_document)  # resolves, no unknown metric
    assert "emp_f1_full" in {o.name for o, _ in suite.plan().outputs}
    monkeypatch.delenv("EMPATHY_HARNESS_METRICS")
    assert "emp_f1_full" not in {o.name for o, _ in suite.plan().outputs}


def test_a_misspelt_selection_names_its_source_and_the_suite(monkeypatch):
    from harness.errors import HarnessError
    from harness.lmeval import suite
    from harness.scoring import resolve_metrics

    with pytest.raises(HarnessError, match="did you mean default"):
        resolve_metrics(["defualt"])
    monkeypatch.setenv("EMPATHY_HARNESS_METRICS", "default,bogus")
    with pytest.raises(HarnessError, match="^EMPATHY_HARNESS_METRICS: unknown metric 'bogus'"):
        suite.plan()
