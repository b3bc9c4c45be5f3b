"""Survey designs: what annotators are asked, on which scale.

- `empo`: EmPO's four statements rated 0-100 on a continuous scale plus the
  understandable-and-consistent checkbox (Sotolar et al. 2024, appendix D; the statements
  verbatim from Table 8).
- `likert-qian`: 1-5 on empathy, coherence, informativity, fluency (Qian et al. 2023, 5.1;
  "1: not at all, 3: OK, 5: very good").
- `likert-emprl`: 1-5 on empathy, relevance, fluency (Ma et al. 2024, EmpRL, V.C;
  "1: poor, 2: marginal, 3: moderate, 4: good, 5: excellent").
- `ab-emprl`: one overall preference between two responses, ties allowed (EmpRL's A/B test).
- `ab-qian`: a preference per aspect (empathy, coherence, informativity), ties allowed
  (Qian et al.'s A/B test; fluency left out as they did).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.human_eval.empo import EMPO_CHECKBOX, EMPO_DIMENSIONS

CONTINUOUS, LIKERT, CHECKBOX, CHOICE = "continuous", "likert", "checkbox", "choice"
AB_CHOICES = ("A", "B", "tie")


@dataclass(frozen=True)
class Criterion:
    """One question. `scale`: CONTINUOUS (0-100), LIKERT (1-5), CHECKBOX (0/1) or CHOICE (A/B/tie)."""

    name: str
    statement: str
    scale: str
    labels: tuple[str, ...] = ()  # Likert anchors 1..5, or the two ends of a slider
    required: bool = True

    def check(self, value) -> float | str:
        """The value as stored, or ValueError saying what this criterion accepts."""
        if self.scale == CHOICE:
            if value not in AB_CHOICES:
                raise ValueError(f"{self.name} takes one of {', '.join(AB_CHOICES)}, not {value!r}")
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} takes a number, not {value!r}") from None
        low, high = self.bounds
        if not low <= number <= high or (self.scale != CONTINUOUS and not number.is_integer()):
            kind = "a number" if self.scale == CONTINUOUS else "a whole number"
            raise ValueError(f"{self.name} takes {kind} from {low:g} to {high:g}, not {value!r}")
        return number

    @property
    def bounds(self) -> tuple[float, float]:
        return {CONTINUOUS: (0.0, 100.0), LIKERT: (1.0, 5.0), CHECKBOX: (0.0, 1.0)}.get(self.scale, (0.0, 0.0))

    @property
    def agreement_level(self) -> str:
        """Krippendorff's level of measurement for this scale."""
        return {CONTINUOUS: "interval", LIKERT: "ordinal", CHECKBOX: "nominal", CHOICE: "nominal"}[self.scale]


@dataclass(frozen=True)
class Design:
    name: str
    kind: str  # "rating": one response per item; "ab": two responses per item
    criteria: tuple[Criterion, ...]
    instructions: tuple[str, ...]
    source: str

    def criterion(self, name: str) -> Criterion:
        for c in self.criteria:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source, "instructions": list(self.instructions),
                "criteria": [{"name": c.name, "statement": c.statement, "scale": c.scale, "labels": list(c.labels),
                              "required": c.required} for c in self.criteria]}

    @classmethod
    def from_json(cls, data: dict) -> "Design":
        criteria = tuple(Criterion(c["name"], c["statement"], c["scale"], tuple(c.get("labels", ())), c.get("required", True))
                         for c in data["criteria"])
        return cls(data["name"], data["kind"], criteria, tuple(data.get("instructions", ())), data.get("source", ""))


_AGREE = ("Strongly disagree", "Strongly agree")
# Table 8, verbatim (the paper italicises listener and speaker; the page shows them in bold as in Figure 11).
EMPO_STATEMENTS = {
    "emotion_understanding": "The listener's response addresses the speaker's emotional state, specifically",
    "situational_appropriateness": "The listener's response is appropriate to the speaker's situation.",
    "contextual_naturalness": "The listener's response is completely natural in the context of this conversation.",
    "conversational_engagingness": "I would like to continue the conversation with this listener.",
    EMPO_CHECKBOX: "The listener's responses were both understandable and consistent with the rest of the dialogue",
}
_QIAN_LABELS = ("1: not at all", "2", "3: OK", "4", "5: very good")
_EMPRL_LABELS = ("1: poor", "2: marginal", "3: moderate", "4: good", "5: excellent")
_QIAN = {
    "empathy": "Empathy: whether the response shows an understanding of the user's feelings and experiences, and expresses appropriately.",
    "coherence": "Coherence: whether the response is coherent and relevant to the context.",
    "informativity": "Informativity: whether the response contains more valuable information.",
    "fluency": "Fluency: whether the response is readable.",
}
_EMPRL = {
    "empathy": "Empathy: whether the response expresses an understanding of the user's situation and feelings and conveys appropriate emotions.",
    "relevance": "Relevance: whether the response is relevant to the context.",
    "fluency": "Fluency: whether the response is natural and fluent.",
}
_RATE = ("Your task is to rate the last listener's response.",
         "After reading the conversation, please indicate how much you agree with each statement.",
         "Please provide the ratings in the order they are provided; changing a previous rating is discouraged.")
_PICK = ("Your task is to compare two possible last responses of the listener, A and B.",
         "After reading the conversation and both responses, choose the better response, or Tie if they are really equally good.")

DESIGNS = {
    "empo": Design(
        "empo", "rating",
        tuple(Criterion(name, EMPO_STATEMENTS[name], CONTINUOUS, _AGREE) for name in EMPO_DIMENSIONS)
        + (Criterion(EMPO_CHECKBOX, EMPO_STATEMENTS[EMPO_CHECKBOX], CHECKBOX, required=False),),
        _RATE, "Sotolar et al. 2024 (EmPO), appendix D, Table 8, Figure 11"),
    "likert-qian": Design(
        "likert-qian", "rating", tuple(Criterion(k, v, LIKERT, _QIAN_LABELS) for k, v in _QIAN.items()),
        _RATE[:1] + ("Rate each aspect from 1 to 5 (1: not at all, 3: OK, 5: very good).",),
        "Qian et al. 2023, section 5.1"),
    "likert-emprl": Design(
        "likert-emprl", "rating", tuple(Criterion(k, v, LIKERT, _EMPRL_LABELS) for k, v in _EMPRL.items()),
        _RATE[:1] + ("Rate each criterion from 1 to 5 (1: poor, 2: marginal, 3: moderate, 4: good, 5: excellent).",),
        "Ma et al. 2024 (EmpRL), section V.C"),
    "ab-emprl": Design(
        "ab-emprl", "ab",
        (Criterion("overall", "Which response is better overall, taking into account empathetic expression, "
                   "contextual relevance and linguistic fluency?", CHOICE),),
        _PICK, "Ma et al. 2024 (EmpRL), section V.C, human A/B test"),
    "ab-qian": Design(
        "ab-qian", "ab",
        tuple(Criterion(k, v.split(":")[0] + ": which response is better?", CHOICE) for k, v in _QIAN.items() if k != "fluency"),
        _PICK, "Qian et al. 2023, section 5.1, human A/B test (fluency not compared, as there)"),
}


def design(name: str) -> Design:
    if name not in DESIGNS:
        raise HarnessError(f"unknown design {name!r}; choose one of {', '.join(DESIGNS)}")
    return DESIGNS[name]
