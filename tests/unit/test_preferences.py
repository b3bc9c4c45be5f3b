"""EmPO preference pairs: opposite emotions, per-epoch redraws, seeded reproducibility."""

from __future__ import annotations

import pytest

from harness.data.ed import Example
from harness.data.preferences import OPPOSITE_EMOTION, PreferenceBuilder, PreferenceError

ED_LABELS = {
    "afraid", "angry", "annoyed", "anticipating", "anxious", "apprehensive", "ashamed", "caring", "confident",
    "content", "devastated", "disappointed", "disgusted", "embarrassed", "excited", "faithful", "furious",
    "grateful", "guilty", "hopeful", "impressed", "jealous", "joyful", "lonely", "nostalgic", "prepared", "proud",
    "sad", "sentimental", "surprised", "terrified", "trusting",
}


def examples(per_label: int = 20, labels=ED_LABELS) -> list[Example]:
    return [
        Example(f"{label}-{i}", "train", label, "s", (f"ctx {label} {i}",), f"target {label} {i}")
        for label in sorted(labels)
        for i in range(per_label)
    ]


def test_table_is_empo_table_6_as_written():
    assert set(OPPOSITE_EMOTION) == ED_LABELS
    assert set(OPPOSITE_EMOTION.values()) <= ED_LABELS
    # not symmetric, and must not be made so
    assert OPPOSITE_EMOTION["grateful"] == "disgusted" and OPPOSITE_EMOTION["disgusted"] == "trusting"
    assert OPPOSITE_EMOTION["guilty"] == "proud" and OPPOSITE_EMOTION["proud"] == "ashamed"
    assert OPPOSITE_EMOTION["sentimental"] == "apprehensive" and OPPOSITE_EMOTION["apprehensive"] == "annoyed"


def test_rejected_has_the_opposite_label_and_chosen_is_ground_truth():
    data = examples()
    by_id = {e.id: e for e in data}
    for pair in PreferenceBuilder(data, seed=1).epoch(0):
        ex = by_id[pair.id]
        assert pair.chosen == ex.reference and pair.context == ex.context
        assert pair.rejected_emotion == OPPOSITE_EMOTION[ex.emotion]
        assert by_id[pair.rejected_id].emotion == pair.rejected_emotion
        assert pair.rejected == by_id[pair.rejected_id].reference


def test_fresh_draw_each_epoch():
    builder = PreferenceBuilder(examples(), seed=3)
    draws = [[p.rejected_id for p in builder.epoch(e)] for e in range(3)]
    assert draws[0] != draws[1] and draws[1] != draws[2]
    # a redraw really is a new draw: most pairs change (with 20 candidates, ~95% expected)
    changed = sum(a != b for a, b in zip(draws[0], draws[1])) / len(draws[0])
    assert changed > 0.8


def test_seeded_and_reproducible_per_epoch():
    a = PreferenceBuilder(examples(), seed=7)
    b = PreferenceBuilder(examples(), seed=7)
    b.epoch(0), b.epoch(1)  # drawing other epochs first changes nothing
    assert a.epoch(2) == b.epoch(2)
    assert PreferenceBuilder(examples(), seed=8).epoch(2) != a.epoch(2)


def test_never_paired_with_itself():
    table = {"sad": "sad"}
    data = examples(per_label=2, labels={"sad"})
    for epoch in range(20):
        for pair in PreferenceBuilder(data, seed=0, opposites=table).epoch(epoch):
            assert pair.rejected_id != pair.id


def test_only_itself_available_is_an_error():
    data = examples(per_label=1, labels={"sad"})
    with pytest.raises(PreferenceError, match="the only 'sad' dialogue is itself"):
        PreferenceBuilder(data, opposites={"sad": "sad"}).epoch(0)


def test_missing_opposite_examples_named():
    data = examples(per_label=3, labels={"sad", "lonely"})
    with pytest.raises(PreferenceError) as err:
        PreferenceBuilder(data)
    message = str(err.value)
    assert "no dialogue is labelled 'joyful', the opposite of 'sad' (3 need one)" in message
    assert "'caring', the opposite of 'lonely'" in message


def test_label_outside_the_table_named():
    data = examples(per_label=1, labels={"unknown"})
    with pytest.raises(PreferenceError, match="'unknown' has no opposite in EmPO Table 6"):
        PreferenceBuilder(data)


def test_separate_pool():
    pool = examples(per_label=2)
    data = [e for e in pool if e.emotion == "sad"][:1]
    [pair] = PreferenceBuilder(data, pool=pool).epoch(0)
    assert pair.rejected_emotion == "joyful"


@pytest.mark.mirror
def test_mirror_train_split_builds(mirror):
    from harness.data.ed import load_examples

    train = load_examples("train")
    pairs = PreferenceBuilder(train, seed=0).epoch(0)
    assert len(pairs) == len(train)
    by_id = {e.id: e for e in train}
    assert all(by_id[p.rejected_id].emotion == OPPOSITE_EMOTION[p.emotion] for p in pairs)
