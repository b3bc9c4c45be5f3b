"""Level-logit offsets fitted on validation, for macro-F1 or for the training part's level
proportions: worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.epitome.training import fit_level_offsets, fit_prior_offsets
from tests.benchmarks.epitome_seeds import (_override, candidate_recipe, choose_epoch, crossfit_epoch_rules,
                                            crossfit_offset_gain, offsets_by_procedure)


def test_offsets_recover_the_rare_level():
    # argmax without offsets: 0, 0, 1, 0 -> level 2 is never predicted, macro-F1 (0.8 + 1 + 0) / 3.
    # Row 4 becomes level 2 once b2 > 0.5; row 2 stays level 0 while b2 < 1 (and b1 < 1, row 1 too);
    # row 3 stays level 1 while 2 + b1 > 1 + b2. Smallest offsets on the 0.1 grid: (0, 0, 0.6).
    logits = torch.tensor([[2.0, 1.0, 0.0], [2.0, 0.0, 1.0], [0.0, 2.0, 1.0], [1.0, 0.0, 0.5]])
    assert fit_level_offsets(logits, [0, 0, 1, 2]) == [0.0, 0.0, 0.6]


def test_offsets_stay_zero_when_nothing_improves():
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    assert fit_level_offsets(logits, [0, 1, 2]) == [0.0, 0.0, 0.0]


def test_one_class_only_keeps_zero_offsets():
    logits = torch.tensor([[1.0, 0.5, 0.0], [2.0, 0.0, 1.0]])
    assert fit_level_offsets(logits, [0, 0]) == [0.0, 0.0, 0.0]


PRIOR_LOGITS = torch.tensor([[2.0, 1.0, 0.0], [2.0, 0.0, 1.0], [0.0, 2.05, 1.05], [1.0, 0.0, 0.5]])


def test_prior_offsets_match_the_training_proportions():
    # Training shares 0.5 / 0.25 / 0.25. Without offsets the rows predict 0, 0, 1, 0 (shares
    # 0.75 / 0.25 / 0: gap 0.5). Row 4 turns to level 2 once 0.5 + b2 > 1 (b2 > 0.5) with
    # b1 = 0, and rows 1-3 keep their levels while b2 < 1: shares then match exactly; the
    # smallest such offsets on the 0.1 grid are (0, 0, 0.6).
    assert fit_prior_offsets(PRIOR_LOGITS, [0, 0, 1, 2]) == [0.0, 0.0, 0.6]


def test_prior_offsets_do_not_look_at_validation_labels():
    # Training labels all level 0: every row must predict 0. Row 3 needs 2.05 + b1 < 0 and
    # 1.05 + b2 < 0: the smallest grid offsets are (0, -2.1, -1.1), whatever the rows' labels;
    # fitted for macro-F1 on labels 0, 0, 1, 2, the offsets would be (0, 0, 0.6).
    assert fit_prior_offsets(PRIOR_LOGITS, [0, 0, 0, 0]) == [0.0, -2.1, -1.1]


def test_prior_offsets_stay_zero_when_no_offset_matches_better():
    # One validation row against shares of 1/3 each: whatever it predicts, the gap is
    # 2/3 + 1/3 + 1/3 = 4/3, so every offset ties and the zero offsets win.
    assert fit_prior_offsets(torch.tensor([[1.0, 0.0, 0.0]]), [0, 1, 2]) == [0.0, 0.0, 0.0]


def test_crossfit_gain_of_offsets_that_generalise():
    # Every level-1 row sits 0.5 below level 0 on its own logit: with no offsets level 1 is
    # never predicted, macro-F1 (20/24 + 0 + 1) / 3 = 0.6111. Every stratified half holds two
    # level-1 rows, learns b1 = 0.6 (the smallest grid value in (0.5, 1]), and predicts the
    # other half perfectly: the out-of-sample gain is 1 - 0.6111 in every halving.
    logits = np.array([[1.0, 0.0, -5.0]] * 10 + [[1.0, 0.5, -5.0]] * 4 + [[0.0, 0.0, 5.0]] * 6)
    gold = [0] * 10 + [1] * 4 + [2] * 6
    assert crossfit_offset_gain(logits, gold) == pytest.approx(1 - (20 / 24 + 1) / 3)
    # prior, with training shares 10 / 4 / 6 of 20: exactly the four level-1 rows turn to
    # level 1 once 0.5 + b1 > 1, while b1 <= 1 keeps the level-0 rows: again (0, 0.6, 0)
    offsets, gain = offsets_by_procedure(logits, gold, train_levels=gold)
    assert offsets["crossfit"].tolist() == offsets["macro_f1"].tolist() == offsets["prior"].tolist() == [0.0, 0.6, 0.0]


def test_crossfit_gain_of_offsets_that_fit_one_pair():
    # Level-1 logit minus level-0 logit: level-0 rows -0.5 .. -1.0, the two level-1 rows -0.1
    # and -2.0. On all 12 rows b1 = 0.2 catches the -0.1 row (macro-F1 0.619 -> 0.863 in
    # sample). Cross-fitted, each half holds one level-1 row: the half with -0.1 learns 0.2,
    # which catches nothing in the other half; the half with -2.0 learns 0 (catching it would
    # take its three level-0 rows with it: 0.467 < 0.619). Pooled, the predictions are those
    # of no offsets in every halving: gain 0, and crossfit adds nothing.
    margins = [-0.5, -0.6, -0.7, -0.8, -0.9, -1.0, -0.1, -2.0]
    logits = np.array([[0.0, m, -5.0] for m in margins] + [[0.0, 0.0, 5.0]] * 4)
    gold = [0] * 6 + [1] * 2 + [2] * 4
    offsets, gain = offsets_by_procedure(logits, gold, train_levels=gold)
    assert offsets["macro_f1"].tolist() == [0.0, 0.2, 0.0]
    assert gain == pytest.approx(0.0, abs=1e-12)
    assert offsets["crossfit"].tolist() == [0.0, 0.0, 0.0]


def test_epoch_kept_with_its_own_offsets_can_be_another():
    # 10 level-0, 4 level-1, 6 level-2 rows; training shares the same. Epoch 1's level-1 rows
    # look exactly like level 0 (no offset separates them: b1 > 1 would turn all 14 rows to
    # level 1, a share gap of 1.0 against 0.4 with none), epoch 2's sit 0.5 below level 0.
    # Without offsets both predict level 0 for them: macro-F1 (20/24 + 0 + 1) / 3 on either,
    # and the earlier epoch is kept. With prior offsets epoch 2 gets b1 = 0.6 (the smallest
    # grid value in (0.5, 1), where the shares match) and predicts every row: macro-F1 1.
    # Cross-fitted, every stratified half (5 / 2 / 3 rows) makes the same choices with the
    # same offsets, so the pooled macro-F1 is that of the whole part in every halving.
    first = [[1.0, 0.0, -5.0]] * 14 + [[0.0, 0.0, 5.0]] * 6
    second = [[1.0, 0.0, -5.0]] * 10 + [[1.0, 0.5, -5.0]] * 4 + [[0.0, 0.0, 5.0]] * 6
    epochs = np.array([first, second])
    gold = np.array([0] * 10 + [1] * 4 + [2] * 6)
    epoch, offsets = choose_epoch(epochs, gold, gold, with_offsets=False)
    assert (epoch, offsets.tolist()) == (0, [0.0, 0.0, 0.0])
    epoch, offsets = choose_epoch(epochs, gold, gold, with_offsets=True)
    assert (epoch, offsets.tolist()) == (1, [0.0, 0.6, 0.0])
    assert crossfit_epoch_rules(epochs, gold, gold) == pytest.approx({"without offsets": (20 / 24 + 1) / 3,
                                                                      "with offsets": 1.0})


def test_seed_study_reads_recipe_changes_as_their_types():
    assert _override("max_length=128") == ("max_length", 128)
    assert _override("lr=3e-4") == ("lr", 3e-4)
    assert _override("freeze_seeker=false") == ("freeze_seeker", False)
    recipe = candidate_recipe(dict([_override("max_length=128")]))
    assert (recipe.max_length, recipe.level_offsets) == (128, "none")


@pytest.mark.parametrize("text, named", [("max_length=long", "takes a int"), ("freeze_seeker=no", "takes a bool"),
                                         ("depth=3", "KEY one of"),
                                         ("seed=3", "KEY one of"), ("max_length", "KEY one of")])
def test_seed_study_names_a_bad_recipe_change(text, named):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match=named):
        _override(text)
