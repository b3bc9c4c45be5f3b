"""Rated responses to ED examples, through the dialogue text.

EmPO's `ED_index` numbers rows of EmPO's own processed test file, not ED `conv_id`s, so the
dialogue is matched by its turns: a rated response maps to the ED test example whose
`context` equals the rated dialogue's turns, compared with whitespace runs collapsed and
case folded (the mirror's ED differs from the official text in whitespace for about 8% of
utterances). A dialogue matching no example, or more than one, is unmatched and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from harness.data.ed import Example


def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def dialogue_key(turns: Sequence[str]) -> tuple[str, ...]:
    return tuple(normalise(turn) for turn in turns)


@dataclass
class DialogueMapping:
    """`matched[sample]`: the ED example of a rated dialogue; `unmatched`: the samples that
    map to none (or to several), with why; `reference_differs`: matched samples whose rated
    reference is not the example's (after normalising)."""

    matched: dict[int, Example] = field(default_factory=dict)
    unmatched: dict[int, str] = field(default_factory=dict)
    reference_differs: list[int] = field(default_factory=list)
    emotion_differs: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "dialogues": len(self.matched) + len(self.unmatched),
            "matched": len(self.matched),
            "unmatched": {str(k): v for k, v in sorted(self.unmatched.items())},
            "reference_differs": sorted(self.reference_differs),
            "emotion_differs": sorted(self.emotion_differs),
            "rule": "context turns equal after collapsing whitespace and case folding",
        }


@dataclass(frozen=True)
class RatedDialogue:
    """What mapping needs of a rated dialogue (one per sample, shared by its systems' responses)."""

    sample: int
    context: tuple[str, ...]
    reference: str
    emotion: str
    ed_index: int | None = None


def map_dialogues(dialogues: Iterable[RatedDialogue], examples: Iterable[Example]) -> DialogueMapping:
    index: dict[tuple[str, ...], list[Example]] = {}
    for example in examples:
        index.setdefault(dialogue_key(example.context), []).append(example)
    mapping = DialogueMapping()
    for dialogue in dialogues:
        found = index.get(dialogue_key(dialogue.context), [])
        where = f"ED_index {dialogue.ed_index}, " if dialogue.ed_index is not None else ""
        first = dialogue.context[0][:60] if dialogue.context else ""
        if not found:
            mapping.unmatched[dialogue.sample] = f"{where}no ED test example has this dialogue (first turn {first!r})"
            continue
        if len(found) > 1:
            ids = ", ".join(e.id for e in found)
            mapping.unmatched[dialogue.sample] = f"{where}{len(found)} ED test examples have this dialogue ({ids})"
            continue
        example = found[0]
        mapping.matched[dialogue.sample] = example
        if normalise(example.reference) != normalise(dialogue.reference):
            mapping.reference_differs.append(dialogue.sample)
        if dialogue.emotion and normalise(example.emotion) != normalise(dialogue.emotion):
            mapping.emotion_differs.append(dialogue.sample)
    return mapping
