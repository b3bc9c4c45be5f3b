"""A small synthetic ED release for the training tests: four emotions closed under EmPO's
opposite table (sad <-> joyful, afraid <-> angry), short sentences the tiny tokenizer knows."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ed_row, write_ed_release

SPEAKER = {
    "sad": "I felt so sad when my dog died last week.",
    "joyful": "I just got a new job and I am really excited about it!",
    "afraid": "I am nervous about my exam tomorrow.",
    "angry": "My brother broke my favourite mug and did not even say sorry.",
}
LISTENER = {
    "sad": "That is terrible. I am so sorry to hear that.",
    "joyful": "Congratulations! What will you be doing there?",
    "afraid": "You studied hard. I am sure you will do great.",
    "angry": "That sounds annoying. Did you talk to him about it?",
}


def write_release(path: Path, per_emotion: dict[str, int] | None = None) -> Path:
    per_emotion = per_emotion or {"train": 6, "valid": 3, "test": 1}
    splits: dict[str, list[str]] = {}
    for split, n in per_emotion.items():
        rows = []
        for emotion in SPEAKER:
            for i in range(n):
                conv = f"{split}_{emotion}_{i}"
                turns = [
                    f"{SPEAKER[emotion]} ({i})",
                    f"{LISTENER[emotion]} ({i})",
                    f"{SPEAKER[emotion]}",
                    f"{LISTENER[emotion]} {i}!",
                ][: 3 + i % 2]  # odd and even lengths: a trailing speaker turn is dropped in SFT
                rows += [ed_row(conv, k + 1, text, emotion, f"situation {i}") for k, text in enumerate(turns)]
        splits[split] = rows
    return write_ed_release(path, splits)
