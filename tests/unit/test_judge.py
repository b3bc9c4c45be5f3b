"""The LLM judge: strict parsing, rubric files, caching (a second run generates nothing), A/B flips."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.metrics.base import Item
from harness.metrics.judge import (
    EMPTY, NOT_A_NUMBER, OUT_OF_RANGE, DEFAULT_RUBRIC, Judge, JudgeScorer, JudgeSettings, PairOutcome, PairwiseJudge,
    parse_choice, parse_rating, read_rubric,
)

ITEMS = [
    Item("a", ("I lost my dog yesterday.",), "Oh no, I am so sorry. How are you holding up?", "ref"),
    Item("b", ("I got the job!", "Which one?", "The one at the museum."), "Congratulations, well done!", "ref"),
]


@pytest.mark.parametrize("answer, value", [
    ("70", 70.0), (" 70 \n", 70.0), ("70.", 70.0), ("Rating: 85", 85.0), ("rating 0", 0.0), ("100/100", 100.0),
    ("0", 0.0), ("100", 100.0),
])
def test_well_formed_answers(answer, value):
    parsed = parse_rating(answer, 0, 100)
    assert (parsed.value, parsed.reason) == (value, None)


@pytest.mark.parametrize("answer, reason", [
    ("", EMPTY), ("   ", EMPTY), ("seventy", NOT_A_NUMBER), ("70 because it is kind", NOT_A_NUMBER),
    ("I would say 70", NOT_A_NUMBER), ("7/10", NOT_A_NUMBER), ("72.5", NOT_A_NUMBER), ("70-80", NOT_A_NUMBER),
    ("101", OUT_OF_RANGE), ("-5", OUT_OF_RANGE), ("250/100", OUT_OF_RANGE),
])
def test_malformed_and_out_of_range_answers_are_not_numbers(answer, reason):
    parsed = parse_rating(answer, 0, 100)
    assert parsed.value is None and parsed.reason == reason


def test_likert_scale_bounds():
    assert parse_rating("5", 1, 5).value == 5.0
    assert parse_rating("0", 1, 5).reason == OUT_OF_RANGE
    assert parse_rating("6", 1, 5).reason == OUT_OF_RANGE


@pytest.mark.parametrize("answer, letter", [("A", "A"), ("b", "B"), ("Response A", "A"), ("(B).", "B"),
                                            ("A or B", None), ("Both", None), ("", None)])
def test_choice_parsing(answer, letter):
    assert parse_choice(answer) == letter


def test_the_shipped_rubric_is_empos_four_statements_on_0_100():
    rubric = read_rubric(DEFAULT_RUBRIC)
    assert (rubric.low, rubric.high) == (0, 100)
    assert list(rubric.items) == ["emotion_understanding", "situational_appropriateness", "contextual_naturalness",
                                  "conversational_engagingness"]
    assert rubric.items["conversational_engagingness"] == "I would like to continue the conversation with this listener."


@pytest.mark.parametrize("text, message", [
    ("name: x\nitems:\n  empathy: 'Is it kind?'\n", "no scale"),
    ("scale: {min: 5, max: 1}\nitems:\n  empathy: 'Is it kind?'\n", "min < max"),
    ("scale: {min: 1, max: 5}\n", "`items` must map"),
    ("scale: [1, 5\n", "not valid YAML"),
])
def test_bad_rubrics_say_what_is_missing(tmp_path, text, message):
    path = tmp_path / "rubric.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=message) as info:
        read_rubric(path)
    assert "rubric.yaml" in str(info.value)


class FakeLM:
    """Answers from a function of the prompt; counts the requests it was sent."""

    tokenizer = None

    def __init__(self, answer):
        self.answer, self.requests = answer, 0

    def generate_until(self, requests):
        self.requests += len(requests)
        return [self.answer(r.args[0]) for r in requests]


def test_caching_second_scoring_generates_nothing_and_loads_no_model(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    lm = FakeLM(lambda prompt: "80" if "dog" in prompt else "banana")
    settings = JudgeSettings(model_args="pretrained=some/judge")
    first = JudgeScorer(settings, Judge(settings, load_lm=lambda: lm))
    scores = first.compute(ITEMS)
    assert lm.requests == 2 * 4
    assert scores.per_example["judge_emotion_understanding"] == [80.0, None]
    assert scores.corpus["judge_unparseable_emotion_understanding"] == 1.0
    assert first.unparseable_report()["emotion_understanding"]["by_reason"] == {NOT_A_NUMBER: 1}

    def no_model():
        raise AssertionError("the model was loaded although every answer is cached")

    second = JudgeScorer(settings, Judge(settings, load_lm=no_model))
    again = second.compute(ITEMS)
    assert second.judge.generated == 0 and again.per_example == scores.per_example
    assert first.instrument()["rubric"]["sha256"] == second.instrument()["rubric"]["sha256"]

    # another prompt file is another cache: it generates again
    prompt = tmp_path / "p.txt"
    prompt.write_text("{dialogue}\n{response}\n{statement}\nScore from {min} to {max}:")
    other = JudgeSettings(model_args="pretrained=some/judge", prompt=prompt)
    lm2 = FakeLM(lambda p: "55")
    third = JudgeScorer(other, Judge(other, load_lm=lambda: lm2))
    assert third.compute(ITEMS).per_example["judge_contextual_naturalness"] == [55.0, 55.0]
    assert lm2.requests == 8 and third.instrument()["prompt"]["sha256"] != first.instrument()["prompt"]["sha256"]


def test_prompt_without_its_placeholders_is_refused(tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("Rate this: {response}")
    with pytest.raises(HarnessError, match=r"p.txt: no \{dialogue\}, \{statement\} placeholder"):
        JudgeScorer(JudgeSettings(model_args="pretrained=x", prompt=prompt))


def test_pairwise_asks_both_orders_and_reports_flips(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    # a judge that always says A: every verdict follows the position
    lm = FakeLM(lambda prompt: "A")
    settings = JudgeSettings(model_args="pretrained=some/judge")
    judge = PairwiseJudge(settings, Judge(settings, load_lm=lambda: lm))
    result = judge.compare([(item.context, item.response, "Ok.") for item in ITEMS])
    assert lm.requests == 2 * 2 * 4
    summary = result.summary()["emotion_understanding"]
    assert summary["flip_rate"] == 1.0 and summary["first_wins"] == summary["second_wins"] == 0
    assert PairOutcome("A", "B").winner == "first" and PairOutcome("B", "A").winner == "second"
    assert PairOutcome("A", None).flipped is None and PairOutcome("B", "B").flipped is True


@pytest.mark.slow
def test_tiny_llama_judge_runs_through_lm_eval_and_caches(tmp_path):
    settings = JudgeSettings(model_args="pretrained=tiny-llama", batch_size=4, device="cpu", answers_dir=tmp_path)
    first = JudgeScorer(settings)
    scores = first.compute(ITEMS)
    assert first.judge.generated == 8
    total = sum(first.unparseable_report()[k]["count"] for k in first.rubric.items)
    parsed = sum(v is not None for values in scores.per_example.values() for v in values)
    assert total + parsed == 8  # every answer is either a score or counted as unparseable
    second = JudgeScorer(settings)
    assert second.compute(ITEMS).per_example == scores.per_example
    assert second.judge.generated == 0 and second.judge._lm is None


def test_a_judge_that_cannot_load_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    missing = tmp_path / "no-such-model"
    missing.mkdir()
    settings = JudgeSettings(model_args=f"pretrained={missing}", device="cpu")
    scorer = JudgeScorer(settings)
    with pytest.raises(HarnessError, match="could not be loaded") as info:
        scorer.compute(ITEMS)
    assert "\n" not in str(info.value) and "no-such-model" in str(info.value)


def test_a_likert_rubric_file_gives_its_own_keys_and_scale(tmp_path):
    from harness.metrics.judge import PROMPTS_DIR

    lm = FakeLM(lambda prompt: "4" if "from 1 (not at all) to 5 (completely)" in prompt else "9")
    settings = JudgeSettings(model_args="pretrained=some/judge", rubric=PROMPTS_DIR / "likert_empathy.yaml",
                             answers_dir=tmp_path)
    scorer = JudgeScorer(settings, Judge(settings, load_lm=lambda: lm))
    assert [o.name for o in scorer.outputs] == ["judge_empathy", "judge_unparseable_empathy"]
    assert scorer.compute(ITEMS).per_example == {"judge_empathy": [4.0, 4.0]}
    assert scorer.instrument()["rubric"]["scale"] == [1, 5]
