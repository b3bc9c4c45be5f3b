"""The first stage's emotion onto ED's 32 labels, and Dist-n against CEM's counting."""

from __future__ import annotations

import math

import pytest

from harness.prompting.emotions import LABELS, emotion_correct, map_emotion


@pytest.mark.parametrize("text, label", [
    ("The user's emotion may be sad.", "sad"),  # exact label
    ("He feels SCARED about the train; the situation is...", "afraid"),  # synonym, case
    ("Emotion: frustration. Situation: his car broke.", "annoyed"),
    ("He is happy but also a bit nervous", "joyful"),  # the first emotion word wins
    ("The speaker seems nostalgic, maybe sentimental.", "nostalgic"),
    ("He's 'terrified' of it", "terrified"),  # quotes around the word
    ("worried", "anxious"),
    ("He told me about his day.", None),  # no emotion word: unmapped
    ("", None),
])
def test_mapping(text, label):
    assert map_emotion(text) == label


def test_every_label_maps_to_itself():
    assert len(LABELS) == 32 and all(map_emotion(f"I think {label}.") == label for label in LABELS)


def test_correct_and_mapped():
    assert emotion_correct("He is scared", "afraid") == (1, 1)
    assert emotion_correct("He is scared", "terrified") == (0, 1)
    assert emotion_correct("No idea", "afraid") == (0, 0)  # unmapped counts as wrong


def test_dist_n_is_cem_counting():
    """CEM's calc_distinct_n (nltk word_tokenize per response, n-grams within a response,
    distinct / total over the corpus, x100) written out here, against our scorer."""
    from harness.metrics import tokenize
    from harness.metrics.distinct import distinct_n

    responses = ["I am so sorry. That is sad!", "I am so happy for you.", "Oh no.", "Don't worry, it's fine."]

    def cem(n):
        seen, total = {}, 0
        for sentence in [tokenize.word_tokenize(r) for r in responses]:
            for i in range(len(sentence) - n + 1):
                seen[tuple(sentence[i:i + n])] = 1
                total += 1
        return len(seen) / (total + 1e-16) * 100

    tokens = [tokenize.word_tokenize(r) for r in responses]
    for n in (1, 2):
        assert distinct_n(tokens, n) == pytest.approx(cem(n), rel=1e-12)
    # by hand: 9 + 7 + 3 + 8 = 27 tokens ("Don't" -> Do, n't; "it's" -> it, 's); repeated: I, am, so
    # and "." three times over: 21 distinct
    assert sum(map(len, tokens)) == 27 and distinct_n(tokens, 1) == pytest.approx(100 * 21 / 27)
    assert math.isnan(distinct_n([[]], 1))  # CEM gives 0 here (1e-16 denominator); ours: undefined
