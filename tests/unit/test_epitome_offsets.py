"""Level-logit offsets fitted on validation for macro-F1: worked out by hand."""

from __future__ import annotations

import torch

from harness.epitome.training import fit_level_offsets


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
