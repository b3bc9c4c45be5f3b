"""EQ-Bench v2 from its original questions file, in the rows lm-eval's `eq_bench` reads.

The file (resource "eq-bench", `eq_bench_v2_questions_171.json`) is a JSON object keyed
"1".."171"; each question has `prompt`, `reference_answer` and `reference_answer_fullscale`
(dicts of `emotion1..4` and `emotion1..4_score`). lm-eval's `eq_bench` reads the Hub copy
`pbevan11/EQ-Bench` (split `validation`): `doc_to_text: prompt`, `doc_to_target` and
`process_results` on `reference_answer_fullscale`, which it parses with `ast.literal_eval`,
so the Hub copy holds the dicts as Python-literal strings. Its prompts are EQ-Bench v2's
as the EQ-Bench pipeline sends them by default (no revision step: lm-eval's README, "It
does not incorporate the revision part of the prompt"), i.e. the file's prompt without the
critique-and-revise instructions, ending in "Your answer:". docs/EQ_BENCH.md says how this
was established and what could not be checked offline.

Scoring is lm-eval's own `calculate_score_fullscale`, imported, not copied.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lm_eval.tasks.eq_bench.utils import calculate_score_fullscale as process_results  # noqa: F401  (the task's)

from harness import resources
from harness.errors import DataError, ResourceError

RESOURCE = "eq-bench"
SPLIT = "validation"  # lm-eval's eq_bench: validation_split
FIELDS = ("prompt", "reference_answer", "reference_answer_fullscale")
REFERENCE_KEYS = tuple(f"emotion{i}" for i in range(1, 5)) + tuple(f"emotion{i}_score" for i in range(1, 5))

# The revision step of the v2 prompt, which the default (non-revising) v2 run leaves out.
REVISION_SENTENCE = " Then critique your answer by thinking it through step by step. Finally, give your revised scores."
FIRST_PASS_HEADING = "First pass scores:\n"
CRITIQUE = "Critique: <your critique here>"
END_OF_ANSWER = "[End of answer]"
ANSWER_CUE = "\nYour answer:\n"


def questions_file(source: str | os.PathLike | None = None) -> Path:
    return resources.resolve(RESOURCE, source)


def read_questions(path: Path) -> list[tuple[str, dict]]:
    """(question id, question) in file order, each with the fields lm-eval's task uses."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); {_replace_hint()}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; {_replace_hint()}") from None
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: expected a JSON object of questions keyed \"1\", \"2\", ...; {_replace_hint()}")
    out = []
    for qid, question in data.items():
        where = f"{path}: question {qid}"
        if not isinstance(question, dict):
            raise DataError(f"{where}: expected an object with {', '.join(FIELDS)}; {_replace_hint()}")
        missing = [f for f in FIELDS if f not in question]
        if missing:
            raise DataError(f"{where}: no field {', '.join(missing)}; {_replace_hint()}")
        if not isinstance(question["prompt"], str):
            raise DataError(f"{where}: prompt is {type(question['prompt']).__name__}, expected text; {_replace_hint()}")
        if not all(part in question["prompt"] for part in (REVISION_SENTENCE, FIRST_PASS_HEADING, CRITIQUE, END_OF_ANSWER)):
            raise DataError(f"{where}: the prompt lacks the v2 revision instructions (\"{CRITIQUE}\", "
                            f"\"{END_OF_ANSWER}\"...) that lm-eval's copy leaves out; {_replace_hint()}")
        for field in FIELDS[1:]:
            reference = question[field]
            lacking = [k for k in REFERENCE_KEYS if not isinstance(reference, dict) or k not in reference]
            if lacking:
                raise DataError(f"{where}: {field} lacks {', '.join(lacking)}; {_replace_hint()}")
        out.append((qid, question))
    return out


def check_sha256(path: Path) -> None:
    res = resources.get(RESOURCE)
    digest = resources.sha256_of(path)
    if digest != res.sha256:
        raise ResourceError(
            f"{path}: sha256 {digest}, expected {res.sha256} (EQ-Bench v2's published questions file): it was "
            f"changed or is another version; {_replace_hint()}")


def hub_prompt(prompt: str) -> str:
    """The question's prompt as lm-eval's copy has it: the v2 prompt without its revision
    step (the critique-and-revise instructions and the first-pass heading), ending in
    "Your answer:". `read_questions` has checked that the prompt has that step."""
    text = prompt.replace(REVISION_SENTENCE, "").replace(FIRST_PASS_HEADING, "")
    return text[:text.find(CRITIQUE)] + "\n" + text[text.find(END_OF_ANSWER):] + ANSWER_CUE


def rows(path: Path) -> list[dict]:
    """lm-eval's `eq_bench` documents from the questions file (checked field by field, then
    against the pinned sha256)."""
    questions = read_questions(path)
    check_sha256(path)
    return [{
        "prompt": hub_prompt(q["prompt"]),
        "reference_answer": str(q["reference_answer"]),
        "reference_answer_fullscale": str(q["reference_answer_fullscale"]),
    } for _, q in questions]


def dataset(source: str | os.PathLike | None = None, **_ignored):
    """The questions as a `datasets.DatasetDict` with lm-eval's split (`validation`).

    lm-eval calls this as `custom_dataset(**metadata, **dataset_kwargs)`; `source` is a
    path to the questions file (default: the resource: mirror, cache or download)."""
    import datasets

    features = datasets.Features({f: datasets.Value("string") for f in FIELDS})
    return datasets.DatasetDict({SPLIT: datasets.Dataset.from_list(rows(questions_file(source)), features=features)})


def _replace_hint() -> str:
    res = resources.get(RESOURCE)
    return (f"use the published file {res.url} (sha256 {res.sha256[:12]}...), at <mirror>/{res.relpath} "
            f"with EMPATHY_HARNESS_MIRROR=<mirror>")
