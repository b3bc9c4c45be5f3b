"""The emotion a first-stage answer names, as one of ED's 32 labels (docs/PROMPTING.md).

Rule: the answer is lowercased and split into words (runs of letters and apostrophes);
the first word, reading left to right, that is an ED label or a word of `SYNONYMS` gives
the label. No such word: unmapped (None), which counts as wrong. Negation and hedging are
not read ("not sad" maps to sad): the rule is deliberately simple and its misses are
counted (`emotion_mapped`).
"""

from __future__ import annotations

import re

LABELS = (
    "afraid", "angry", "annoyed", "anticipating", "anxious", "apprehensive", "ashamed", "caring", "confident",
    "content", "devastated", "disappointed", "disgusted", "embarrassed", "excited", "faithful", "furious",
    "grateful", "guilty", "hopeful", "impressed", "jealous", "joyful", "lonely", "nostalgic", "prepared", "proud",
    "sad", "sentimental", "surprised", "terrified", "trusting",
)

# Other forms and near synonyms -> label (our table). Words too common in other senses to
# read as an emotion ("down", "care", "ready", "upset" between sad and angry) are left out.
SYNONYMS = {
    # afraid / terrified / anxious / apprehensive
    "scared": "afraid", "fear": "afraid", "fearful": "afraid", "frightened": "afraid", "fright": "afraid",
    "terror": "terrified", "horrified": "terrified", "petrified": "terrified",
    "anxiety": "anxious", "nervous": "anxious", "worried": "anxious", "worry": "anxious", "stressed": "anxious",
    "apprehension": "apprehensive", "uneasy": "apprehensive", "wary": "apprehensive",
    # angry / furious / annoyed
    "anger": "angry", "mad": "angry", "outraged": "furious", "fury": "furious", "enraged": "furious",
    "annoyance": "annoyed", "irritated": "annoyed", "frustrated": "annoyed", "frustration": "annoyed",
    "bothered": "annoyed",
    # sad / devastated / lonely / disappointed
    "sadness": "sad", "unhappy": "sad", "sorrow": "sad", "depressed": "sad", "heartbroken": "devastated",
    "grief": "devastated", "crushed": "devastated", "devastation": "devastated", "loneliness": "lonely", "alone": "lonely",
    "isolated": "lonely", "disappointment": "disappointed", "letdown": "disappointed",
    # joyful / excited / content / grateful / proud / hopeful / confident
    "happy": "joyful", "happiness": "joyful", "joy": "joyful", "glad": "joyful", "delighted": "joyful",
    "excitement": "excited", "thrilled": "excited", "eager": "excited",
    "satisfied": "content", "contentment": "content", "pleased": "content",
    "thankful": "grateful", "gratitude": "grateful", "appreciative": "grateful",
    "pride": "proud", "hope": "hopeful", "optimistic": "hopeful", "confidence": "confident",
    # surprised / impressed / anticipating / prepared
    "surprise": "surprised", "shocked": "surprised", "astonished": "surprised", "amazed": "surprised",
    "admiration": "impressed", "anticipation": "anticipating", "expectant": "anticipating",
    # ashamed / embarrassed / guilty
    "shame": "ashamed", "embarrassment": "embarrassed", "humiliated": "embarrassed", "guilt": "guilty",
    "remorse": "guilty", "regret": "guilty",
    # disgusted / jealous
    "disgust": "disgusted", "revolted": "disgusted", "grossed": "disgusted", "jealousy": "jealous",
    "envious": "jealous", "envy": "jealous",
    # nostalgic / sentimental / caring / trusting / faithful
    "nostalgia": "nostalgic", "sentimentality": "sentimental", "compassionate": "caring",
    "trust": "trusting", "faith": "faithful", "loyal": "faithful",
}
_WORD = re.compile(r"[a-z']+")


def map_emotion(text: str) -> str | None:
    """The ED label the text names first, or None."""
    for word in _WORD.findall(text.lower()):
        word = word.strip("'")
        if word in _LABEL_SET:
            return word
        if word in SYNONYMS:
            return SYNONYMS[word]
    return None


def emotion_correct(text: str, gold: str) -> tuple[int, int]:
    """(correct, mapped): 1/0 each; an unmapped answer is wrong."""
    label = map_emotion(text)
    return int(label is not None and label == gold.strip().lower()), int(label is not None)


_LABEL_SET = frozenset(LABELS)
assert all(v in _LABEL_SET for v in SYNONYMS.values()) and not (set(SYNONYMS) & _LABEL_SET)
