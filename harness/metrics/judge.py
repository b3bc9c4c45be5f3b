"""An LLM as judge: a local model rates each (dialogue, response) on a rubric's statements.

- The rubric (`harness/judge_prompts/empo_statements.yaml`: EmPO's four statements, Table 8
  wording, 0-100; or any YAML file with `scale: {min, max, low, high}` and `items: {key:
  statement}`) and the prompt template (`rate.txt`, `pairwise.txt`) are files; their sha256
  are in the scorer's instrument record.
- The model is any lm-eval model: `hf` (CPU or GPU, through the harness's batched HF
  generation), `vllm` (GPU), with lm-eval model arguments. Decoding is greedy
  (`do_sample=False`), a few tokens, stopped at a blank line; batched by lm-eval.
- Answers are parsed strictly: the whole answer must be one whole number on the rubric's
  scale (optionally "Rating:" before it, "/MAX" or a full stop after it). Anything else is
  counted as unparseable, by reason, and its score is missing (None), never a number.
- Answers are cached under `<cache>/judge/<judge identity>/<prompt+rubric sha256>.jsonl`,
  keyed by the sha256 of the rendered request (dialogue, response, statement): re-scoring
  generates nothing and loads no model.
- Pairwise mode asks each (A, B) question in both orders; `position_bias` reports how often
  the verdict follows the position instead of the response.

The scorer is not in the default suite (it runs a generative model on every response);
`meta-eval --judge` runs it, and `EMPATHY_HARNESS_SCORER_MODULES=harness.metrics.judge`
adds it (with the default judge below) to `score --metrics judge`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from harness.errors import HarnessError
from harness.metrics.base import EXAMPLE, CORPUS, Item, Output, Scorer, Scores, register

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "judge_prompts"
DEFAULT_RUBRIC = PROMPTS_DIR / "empo_statements.yaml"
DEFAULT_PROMPT = PROMPTS_DIR / "rate.txt"
DEFAULT_PAIRWISE_PROMPT = PROMPTS_DIR / "pairwise.txt"
DEFAULT_MODEL = "hf"
DEFAULT_MODEL_ARGS = "pretrained=smollm2-135m-instruct"
MAX_NEW_TOKENS = 8  # "100" or "Rating: 100/100" fit; a longer answer is not a bare number anyway
STOP = ["\n\n"]
CHUNK = 256  # requests per generate call: the cache is appended after each
# reasons an answer is not a score
EMPTY, NOT_A_NUMBER, OUT_OF_RANGE = "empty", "not_a_number", "out_of_range"
_NUMBER = re.compile(r"^(?:rating\s*[:=]?\s*)?([+-]?\d+(?:\.\d+)?)\s*(?:/\s*(\d+))?\s*\.?$", re.IGNORECASE)
_LETTER = re.compile(r"^(?:response\s*)?\(?([AB])\)?\s*\.?$", re.IGNORECASE)


@dataclass(frozen=True)
class Rubric:
    name: str
    low: int
    high: int
    low_label: str
    high_label: str
    items: dict[str, str]
    path: Path
    sha256: str

    def to_json(self) -> dict:
        return {"name": self.name, "file": _shown(self.path), "sha256": self.sha256,
                "scale": [self.low, self.high], "items": list(self.items)}


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _shown(path: Path) -> str:
    """A file's name as recorded: relative to the package for the shipped files, else its name."""
    try:
        return str(Path("harness") / path.resolve().relative_to(PROMPTS_DIR.parent))
    except ValueError:
        return path.name


def read_rubric(path: str | os.PathLike | None = None) -> Rubric:
    """A rubric file: `scale` (integer `min` < `max`, optional `low`/`high` labels) and `items`."""
    import yaml

    path = Path(path) if path is not None else DEFAULT_RUBRIC
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise HarnessError(f"rubric {path}: cannot read it ({exc.strerror}); give a YAML rubric file") from None
    except yaml.YAMLError as exc:
        raise HarnessError(f"rubric {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise HarnessError(f"rubric {path}: expected a mapping with `scale` and `items`")
    scale = data.get("scale")
    if not isinstance(scale, dict) or "min" not in scale or "max" not in scale:
        raise HarnessError(f"rubric {path}: no scale; add `scale: {{min: 1, max: 5, low: ..., high: ...}}` "
                           "(integer min and max)")
    low, high = scale["min"], scale["max"]
    if not (isinstance(low, int) and isinstance(high, int)) or isinstance(low, bool) or low >= high:
        raise HarnessError(f"rubric {path}: scale min and max must be integers with min < max (got {low!r}, {high!r})")
    items = data.get("items")
    if not isinstance(items, dict) or not items or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in items.items()):
        raise HarnessError(f"rubric {path}: `items` must map keys to statements (key: \"statement\"), at least one")
    bad = [k for k in items if not re.fullmatch(r"[a-z][a-z0-9_]*", k)]
    if bad:
        raise HarnessError(f"rubric {path}: item keys must be lowercase identifiers, not {', '.join(map(repr, bad))}")
    return Rubric(str(data.get("name") or path.stem), low, high, str(scale.get("low", "")), str(scale.get("high", "")),
                  dict(items), path, _sha256_text(text))


@dataclass(frozen=True)
class PromptTemplate:
    text: str
    path: Path
    sha256: str

    def to_json(self) -> dict:
        return {"file": _shown(self.path), "sha256": self.sha256}


def read_prompt(path: str | os.PathLike | None, needs: Sequence[str]) -> PromptTemplate:
    path = Path(path) if path is not None else DEFAULT_PROMPT
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"judge prompt {path}: cannot read it ({exc.strerror})") from None
    missing = [name for name in needs if "{" + name + "}" not in text]
    if missing:
        raise HarnessError(f"judge prompt {path}: no {', '.join('{' + m + '}' for m in missing)} placeholder; "
                           "the template must contain it")
    return PromptTemplate(text, path, _sha256_text(text))


def render_dialogue(context: Sequence[str]) -> str:
    """Speaker first, alternating, as on EmPO's survey page."""
    return "\n".join(f"{'Speaker' if i % 2 == 0 else 'Listener'}: {turn}" for i, turn in enumerate(context))


def _fill(template: str, values: dict[str, str]) -> str:
    # str.replace, not str.format: dialogue text may hold braces
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


@dataclass(frozen=True)
class Parsed:
    value: float | None
    reason: str | None  # None when parsed


def parse_rating(answer: str, low: int, high: int) -> Parsed:
    """A score on [low, high] from the whole answer, or why there is none."""
    text = answer.strip()
    if not text:
        return Parsed(None, EMPTY)
    match = _NUMBER.match(text)
    if not match:
        return Parsed(None, NOT_A_NUMBER)
    value, denominator = float(match.group(1)), match.group(2)
    if denominator is not None and int(denominator) != high:
        return Parsed(None, NOT_A_NUMBER)  # "3/10" on a 0-100 scale is not an answer on this scale
    if not value.is_integer():
        return Parsed(None, NOT_A_NUMBER)  # the rubric asks for whole numbers
    if not low <= value <= high:
        return Parsed(None, OUT_OF_RANGE)
    return Parsed(value, None)


def parse_choice(answer: str) -> str | None:
    """"A" or "B" when the whole answer is that letter (optionally "Response A", "(B)."), else None."""
    match = _LETTER.match(answer.strip())
    return match.group(1).upper() if match else None


@dataclass
class JudgeSettings:
    model: str = DEFAULT_MODEL
    model_args: str = DEFAULT_MODEL_ARGS
    rubric: str | os.PathLike | None = None
    prompt: str | os.PathLike | None = None
    pairwise_prompt: str | os.PathLike | None = None
    batch_size: int | None = None
    device: str | None = None
    chat_template: bool = True  # applied when the tokenizer has one
    answers_dir: str | os.PathLike | None = None  # where answers are cached (default <cache>/judge)


def parse_model_args(text: str) -> dict:
    args: dict = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" not in part:
            raise HarnessError(f"--judge-model-args: {part!r} is not KEY=VALUE")
        key, value = part.split("=", 1)
        args[key.strip()] = value.strip()
    return args


class AnswerCache:
    """JSON lines {key, answer}; appended after each generated chunk (a cut-off last line is ignored)."""

    def __init__(self, path: Path):
        self.path = path
        self.answers: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    self.answers[record["key"]] = record["answer"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def add(self, pairs: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            for key, answer in pairs.items():
                handle.write(json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n")
        self.answers.update(pairs)


class Judge:
    """Generation with caching: `answers(requests)` maps rendered requests to the model's answers,
    generating only those not cached for this judge identity and prompt."""

    def __init__(self, settings: JudgeSettings, load_lm: Callable[[], object] | None = None):
        from harness.embedded import resolve_model
        from harness.runs.identity import identity_hash, model_identity

        self.settings = settings
        args = parse_model_args(settings.model_args)
        if "pretrained" not in args:
            raise HarnessError("--judge-model-args needs pretrained=<local folder, embedded name or hub id>")
        self.display = args["pretrained"]
        args["pretrained"] = resolve_model(args["pretrained"])
        self.model_args = args
        identity = model_identity(settings.model, args)
        if args["pretrained"] != self.display:  # an embedded model: its name, not this machine's cache path
            identity["pretrained"] = self.display
        identity["judge_generation"] = {"do_sample": False, "max_gen_toks": MAX_NEW_TOKENS, "until": STOP,
                                        "chat_template": settings.chat_template}
        self.identity = identity
        self.identity_sha256 = identity_hash(identity)
        self._load_lm = load_lm or self._build_lm
        self._lm = None
        self.generated = 0  # requests sent to the model by this instance

    def _build_lm(self):
        from harness.runs.evaluate import EvalRequest, build_lm

        request = EvalRequest(backend=self.settings.model, batch_size=self.settings.batch_size,
                              device=self.settings.device)
        try:
            return build_lm(self.settings.model, dict(self.model_args), request)
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's model choice
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise HarnessError(
                f"judge model {self.display!r} ({self.settings.model}) could not be loaded: {type(exc).__name__}"
                f"{': ' + first if first else ''}; give --judge-model-args pretrained=<a local model folder or an "
                "embedded name such as smollm2-135m-instruct>") from None

    @property
    def lm(self):
        if self._lm is None:
            self._lm = self._load_lm()
        return self._lm

    def cache_for(self, prompt_sha256: str, rubric_sha256: str) -> AnswerCache:
        from harness.config import cache_dir

        name = f"{prompt_sha256[:16]}-{rubric_sha256[:16]}.jsonl"
        root = Path(self.settings.answers_dir) if self.settings.answers_dir else cache_dir() / "judge"
        return AnswerCache(root / self.identity_sha256[:24] / name)

    def _render(self, message: str) -> str:
        lm = self.lm
        tokenizer = getattr(lm, "tokenizer", None)
        if self.settings.chat_template and getattr(tokenizer, "chat_template", None) and hasattr(lm, "apply_chat_template"):
            return lm.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True)
        return message

    def answers(self, messages: Sequence[str], cache: AnswerCache) -> list[str]:
        keys = [_sha256_text(m) for m in messages]
        todo = list(dict.fromkeys(k for k in keys if k not in cache.answers))
        if todo:
            from lm_eval.api.instance import Instance

            by_key = dict(zip(keys, messages))
            gen = {"until": list(STOP), "do_sample": False, "max_gen_toks": MAX_NEW_TOKENS}
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start:start + CHUNK]
                requests = [Instance("generate_until", {}, (self._render(by_key[k]), dict(gen)), i)
                            for i, k in enumerate(chunk)]
                outputs = self.lm.generate_until(requests)
                self.generated += len(chunk)
                cache.add(dict(zip(chunk, outputs)))
        return [cache.answers[k] for k in keys]

    def record(self) -> dict:
        shown = {k: (Path(v).name if k in ("pretrained", "peft", "tokenizer") and isinstance(v, str)
                     and os.path.isabs(v) else v) for k, v in self.identity.items()}
        return {"model": self.settings.model, "pretrained": Path(self.display).name if os.path.isabs(self.display)
                else self.display, "identity": shown, "identity_sha256": self.identity_sha256}


class JudgeScorer(Scorer):
    """Pointwise ratings on every statement of a rubric: `judge_<key>` per example."""

    name = "judge"
    inputs = ("context", "response")
    model_based = True

    def __init__(self, settings: JudgeSettings | None = None, judge: Judge | None = None):
        self.settings = settings or JudgeSettings()
        self.rubric = read_rubric(self.settings.rubric)
        self.prompt = read_prompt(self.settings.prompt, ("dialogue", "response", "statement"))
        self.judge = judge or Judge(self.settings)
        keys = list(self.rubric.items)
        self.outputs = tuple(
            [Output(f"judge_{k}", True, EXAMPLE, f"judge's rating of: {s} ({self.rubric.low}-{self.rubric.high})")
             for k, s in self.rubric.items.items()]
            + [Output(f"judge_unparseable_{k}", None, CORPUS, "judge answers that were not a score on the scale")
               for k in keys])
        self.last_failures: dict[str, Counter] = {}
        self.last_examples: dict[str, list[str]] = {}

    def message(self, item: Item, statement: str) -> str:
        r = self.rubric
        return _fill(self.prompt.text, {
            "dialogue": render_dialogue(item.context), "response": item.response, "statement": statement,
            "min": str(r.low), "max": str(r.high), "low": r.low_label or str(r.low), "high": r.high_label or str(r.high),
        })

    def compute(self, items: Sequence[Item]) -> Scores:
        cache = self.judge.cache_for(self.prompt.sha256, self.rubric.sha256)
        scores = Scores()
        self.last_failures, self.last_examples = {}, {}
        messages = [self.message(item, statement) for statement in self.rubric.items.values() for item in items]
        every = self.judge.answers(messages, cache)  # one call: lm-eval batches across statements
        for k, key in enumerate(self.rubric.items):
            answers = every[k * len(items):(k + 1) * len(items)]
            parsed = [parse_rating(a, self.rubric.low, self.rubric.high) for a in answers]
            scores.per_example[f"judge_{key}"] = [p.value for p in parsed]
            failures = Counter(p.reason for p in parsed if p.reason)
            scores.corpus[f"judge_unparseable_{key}"] = float(sum(failures.values()))
            self.last_failures[key] = failures
            # a few of the unparseable answers, for the report
            self.last_examples[key] = list(dict.fromkeys(a for a, p in zip(answers, parsed) if p.reason))[:5]
        return scores

    def instrument(self) -> dict:
        return {**self.judge.record(), "mode": "pointwise", "rubric": self.rubric.to_json(),
                "prompt": self.prompt.to_json(),
                "generation": {"do_sample": False, "max_gen_toks": MAX_NEW_TOKENS, "until": STOP}}

    def unparseable_report(self) -> dict:
        return {key: {"count": sum(c.values()), "by_reason": dict(c), "examples": self.last_examples.get(key, [])}
                for key, c in self.last_failures.items()}


@dataclass
class PairOutcome:
    """One statement's verdicts on (first, second) asked as A=first and as A=second."""

    first_as_a: str | None  # "A", "B" or None (unparseable)
    second_as_a: str | None

    @property
    def winner(self) -> str | None:
        """"first" / "second" when both orders agree on the response, else None."""
        if self.first_as_a == "A" and self.second_as_a == "B":
            return "first"
        if self.first_as_a == "B" and self.second_as_a == "A":
            return "second"
        return None

    @property
    def flipped(self) -> bool | None:
        """True when the verdict followed the position (same letter both times); None if unparseable."""
        if self.first_as_a is None or self.second_as_a is None:
            return None
        return self.first_as_a == self.second_as_a


@dataclass
class PairwiseResult:
    outcomes: dict[str, list[PairOutcome]] = field(default_factory=dict)

    def summary(self) -> dict:
        out = {}
        for key, rows in self.outcomes.items():
            both = [r for r in rows if r.flipped is not None]
            flips = [r for r in both if r.flipped]
            out[key] = {
                "pairs": len(rows),
                "parsed_both_orders": len(both),
                "unparseable_answers": sum((r.first_as_a is None) + (r.second_as_a is None) for r in rows),
                "flip_rate": len(flips) / len(both) if both else None,
                "chose_position_a_when_flipped": (sum(r.first_as_a == "A" for r in flips) / len(flips)) if flips else None,
                "first_wins": sum(r.winner == "first" for r in rows),
                "second_wins": sum(r.winner == "second" for r in rows),
            }
        return out


class PairwiseJudge:
    """A/B comparisons on a rubric's statements, each pair asked in both orders."""

    def __init__(self, settings: JudgeSettings | None = None, judge: Judge | None = None):
        self.settings = settings or JudgeSettings()
        self.rubric = read_rubric(self.settings.rubric)
        self.prompt = read_prompt(self.settings.pairwise_prompt or DEFAULT_PAIRWISE_PROMPT,
                                  ("dialogue", "response_a", "response_b", "statement"))
        self.judge = judge or Judge(self.settings)

    def message(self, context: Sequence[str], a: str, b: str, statement: str) -> str:
        return _fill(self.prompt.text, {"dialogue": render_dialogue(context), "response_a": a, "response_b": b,
                                        "statement": statement})

    def compare(self, pairs: Sequence[tuple[Sequence[str], str, str]]) -> PairwiseResult:
        """`pairs`: (context, first response, second response)."""
        cache = self.judge.cache_for(self.prompt.sha256, self.rubric.sha256)
        result = PairwiseResult()
        n = len(pairs)
        messages = []
        for statement in self.rubric.items.values():
            messages += [self.message(c, a, b, statement) for c, a, b in pairs]
            messages += [self.message(c, b, a, statement) for c, a, b in pairs]
        every = self.judge.answers(messages, cache)
        for k, key in enumerate(self.rubric.items):
            answers = every[2 * n * k:2 * n * (k + 1)]
            result.outcomes[key] = [PairOutcome(parse_choice(answers[i]), parse_choice(answers[n + i])) for i in range(n)]
        return result

    def instrument(self) -> dict:
        return {**self.judge.record(), "mode": "pairwise", "rubric": self.rubric.to_json(),
                "prompt": self.prompt.to_json(),
                "generation": {"do_sample": False, "max_gen_toks": MAX_NEW_TOKENS, "until": STOP}}


@register("judge")
def _default_judge() -> JudgeScorer:
    return JudgeScorer(JudgeSettings())
