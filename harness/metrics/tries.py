"""Response tries (Lee 2024; EmPO Table 4): how template-like one system's responses are.

METRICS.md s.7. The responses (tokenized with `word_tokenize`, case kept) are
*spanified*: while some n-gram (n >= 2) occurs twice or more,
1. every n-gram of every response is counted, every occurrence;
2. weight = count if count == 1 else n x count;
3. the heaviest n-gram wins; ties go to the shorter one, then to the first occurrence
   (response index, then position);
4. it becomes a new span token, and in every response that contains it (as tokens) the
   space-joined text has the n-gram's space-joined text replaced by the span token and
   is tokenized again. This is Lee's code: the replacement is on strings, so it also
   hits unaligned text ("to the" inside "to them" becomes "<span>m"), and the
   re-tokenization is the same `word_tokenize`.
The final token sequences are the templates; the statistics compare the trie of the
templates with the trie of the raw tokenized responses.

Counting every n-gram again after each replacement (Lee's code) takes many minutes on
a few thousand long responses, so counts are kept incrementally: only n-grams that
occur at least twice are stored (plus every bigram), a replacement touches only the
windows of the affected responses that overlap the changed text, and longer n-grams
are only considered when both their (n-1)-grams repeat (an n-gram cannot occur more
often than its parts). A heap keyed by (-weight, n, first response) yields the winner.

Span tokens are named `span_<k>⟧` (Lee: `span_` + 16 hash digits); the closing bracket
keeps a digit token like "5" from matching the end of a span name in the string
replacement, which in Lee's code depends on Python's hash seed.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from harness.metrics import tokenize
from harness.metrics.base import CORPUS, Item, Output, Scorer, Scores, register

Gram = tuple[int, ...]


def span_name(k: int) -> str:
    return f"span_{k}\u27e7"


@dataclass
class Spanified:
    """Templates (one token tuple per response) and the spans, in creation order:
    span token -> the tokens it replaced (which may themselves be span tokens)."""

    templates: list[tuple[str, ...]]
    spans: dict[str, tuple[str, ...]]


def spanify(responses: Sequence[Sequence[str]], retokenize: Callable[[str], Sequence[str]]) -> Spanified:
    """Lee's spanify of tokenized `responses`; `retokenize` splits a replaced text again.

    Identical responses stay identical through every replacement, so each distinct one is
    processed once with its multiplicity; it stands at its first index, which is all the
    tie-break on first occurrence needs."""
    distinct: dict[tuple[str, ...], int] = {}
    groups = [distinct.setdefault(tuple(response), len(distinct)) for response in responses]
    multiplicity = [0] * len(distinct)
    for group in groups:
        multiplicity[group] += 1
    spanified = _Spanifier(list(distinct), multiplicity, retokenize).run()
    spanified.templates = [spanified.templates[group] for group in groups]
    return spanified


@dataclass
class TrieStatistics:
    templates: int  # distinct templates
    span_nodes: int  # distinct span tokens reachable from the templates, spans inside spans included
    total_nodes: int  # nodes of the templates' trie, root included
    root_children: int  # children of the templates' trie root
    compression: float  # total_nodes / nodes of the raw responses' trie
    start_words: int  # children of the raw responses' trie root
    responses: int


def trie_statistics(raw: Sequence[Sequence[str]], spanified: Spanified) -> TrieStatistics:
    templates = spanified.templates
    raw_nodes = trie_nodes(raw)
    total = trie_nodes(templates)
    return TrieStatistics(
        templates=len(set(templates)),
        span_nodes=len(reachable_spans(templates, spanified.spans)),
        total_nodes=total,
        root_children=len({t[0] for t in templates if t}),
        compression=total / raw_nodes,
        start_words=len({t[0] for t in raw if t}),
        responses=len(raw),
    )


def trie_nodes(sequences: Iterable[Sequence[str]]) -> int:
    """Nodes of the token trie of `sequences`, the root included."""
    children: dict[tuple[int, str], int] = {}
    for sequence in sequences:
        node = 0
        for token in sequence:
            key = (node, token)
            child = children.get(key)
            if child is None:
                child = children[key] = len(children) + 1
            node = child
    return len(children) + 1


def reachable_spans(templates: Iterable[Sequence[str]], spans: dict[str, tuple[str, ...]]) -> set[str]:
    """Span tokens used by the templates, directly or inside other spans (Lee's span_frequency)."""
    seen: set[str] = set()
    stack = [token for template in templates for token in template if token in spans]
    while stack:
        token = stack.pop()
        if token in seen:
            continue
        seen.add(token)
        stack.extend(inner for inner in spans[token] if inner in spans and inner not in seen)
    return seen


class _Gram:
    """Occurrence counts of one n-gram: total, per response, and the first response."""

    __slots__ = ("count", "occ", "min_r", "dirty", "version")

    def __init__(self) -> None:
        self.count = 0
        self.occ: dict[int, int] = {}
        self.min_r = -1
        self.dirty = True
        self.version = -1

    def add(self, r: int, k: int = 1) -> None:
        self.count += k
        self.occ[r] = self.occ.get(r, 0) + k
        if not self.dirty and r < self.min_r:
            self.min_r = r

    def remove(self, r: int, k: int = 1) -> None:
        self.count -= k
        left = self.occ[r] - k
        if left:
            self.occ[r] = left
        else:
            del self.occ[r]
            if r == self.min_r:
                self.dirty = True


class _Spanifier:
    """Incremental spanify; `stats` holds every bigram and every longer n-gram seen twice."""

    def __init__(
        self, responses: Sequence[Sequence[str]], multiplicity: list[int], retokenize: Callable[[str], Sequence[str]]
    ) -> None:
        self.retokenize = retokenize
        self.mult = multiplicity  # identical responses counted once, weighted
        self.ids: dict[str, int] = {}
        self.words: list[str] = []
        self.toks: list[list[int]] = [[self._id(w) for w in response] for response in responses]
        self.stats: dict[Gram, _Gram] = {}
        self.heap: list[tuple[int, int, int, int, Gram]] = []
        self.versions = itertools.count()
        self.spans: dict[str, tuple[str, ...]] = {}

    def _id(self, word: str) -> int:
        ident = self.ids.get(word)
        if ident is None:
            ident = self.ids[word] = len(self.words)
            self.words.append(word)
        return ident

    def run(self) -> Spanified:
        touched: set[Gram] = set()
        self._add({r: (0, len(t)) for r, t in enumerate(self.toks)}, fresh_from=0, ledger={}, touched=touched)
        self._push(touched)
        # each replacement removes at least one space-separated piece from some response
        limit = sum(len(t) for t in self.toks) + 1
        for k in itertools.count(1):
            gram = self._select()
            if gram is None:
                break
            if k > limit:  # pragma: no cover - a guard against a tokenizer that undoes replacements
                raise RuntimeError("spanify did not converge: a replacement did not shrink any response")
            self._replace(gram, span_name(k))
        templates = [tuple(self.words[i] for i in t) for t in self.toks]
        return Spanified(templates, self.spans)

    # -- selection -----------------------------------------------------------------

    def _push(self, grams: Iterable[Gram]) -> None:
        for gram in grams:
            entry = self.stats.get(gram)
            if entry is None:
                continue
            entry.version = next(self.versions)  # older heap items of this n-gram are stale now
            if entry.count < 2:
                continue
            if entry.dirty:
                entry.min_r = min(entry.occ)
                entry.dirty = False
            heapq.heappush(self.heap, (-len(gram) * entry.count, len(gram), entry.min_r, entry.version, gram))

    def _valid(self, item: tuple[int, int, int, int, Gram]) -> bool:
        entry = self.stats.get(item[4])
        return entry is not None and entry.version == item[3]

    def _select(self) -> Gram | None:
        """The heaviest repeated n-gram; ties: shorter, then first (response, position)."""
        heap = self.heap
        while heap and not self._valid(heap[0]):
            heapq.heappop(heap)
        if not heap:
            return None
        best = heapq.heappop(heap)
        tied = []
        while heap and heap[0][:3] == best[:3]:
            item = heapq.heappop(heap)
            if self._valid(item):
                tied.append(item)
        if not tied:
            return best[4]
        tokens = self.toks[best[2]]
        candidates = [best, *tied]
        winner = min(candidates, key=lambda item: _first_position(tokens, item[4]))
        for item in candidates:
            if item is not winner:
                heapq.heappush(heap, item)
        return winner[4]

    # -- one replacement -----------------------------------------------------------

    def _replace(self, gram: Gram, name: str) -> None:
        words = self.words
        span_text = " ".join(words[i] for i in gram)
        self.spans[name] = tuple(words[i] for i in gram)
        fresh_from = len(words)
        affected = sorted(self.stats[gram].occ)
        new_tokens: dict[int, list[int]] = {}
        ids, intern = self.ids, self._id
        for r in affected:
            text = " ".join([words[i] for i in self.toks[r]]).replace(span_text, name)
            new_tokens[r] = [ids[w] if w in ids else intern(w) for w in self.retokenize(text)]

        old_regions, new_regions = {}, {}
        for r in affected:
            old, new = self.toks[r], new_tokens[r]
            shortest = min(len(old), len(new))
            p = 0
            while p < shortest and old[p] == new[p]:
                p += 1
            s = 0
            while s < shortest - p and old[-1 - s] == new[-1 - s]:
                s += 1
            old_regions[r] = (p, len(old) - s)
            new_regions[r] = (p, len(new) - s)

        removals = [(g, r) for r in affected for g in self._overlapping_stored(self.toks[r], *old_regions[r])]
        touched: set[Gram] = set()
        ledger: dict[Gram, _Gram] = {}
        stats = self.stats
        for g, r in removals:
            entry = stats.get(g) or ledger[g]
            entry.remove(r, self.mult[r])
            touched.add(g)
            if entry.count < (1 if len(g) == 2 else 2) and g in stats:
                # a longer n-gram below 2 is no longer stored; the ledger keeps what is left
                del stats[g]
                if len(g) > 2:
                    ledger[g] = entry
        for r in affected:
            self.toks[r] = new_tokens[r]
        self._add(new_regions, fresh_from, ledger, touched)
        self._push(touched)

    def _overlapping_stored(self, tokens: list[int], lo: int, hi: int) -> Iterable[Gram]:
        """Stored n-grams of the windows overlapping [lo, hi) (spanning position lo if empty)."""
        stats = self.stats
        length = len(tokens)
        for i in range(max(0, lo - 1), min(hi, length - 1)):
            yield (tokens[i], tokens[i + 1])
        for i in range(0, min(hi, length - 2)):
            for j in range(i + 3, length + 1):
                gram = tuple(tokens[i:j])
                if gram not in stats:
                    break  # an n-gram seen once has no repeated extension
                if j > lo:
                    yield gram

    def _add(
        self, regions: dict[int, tuple[int, int]], fresh_from: int, ledger: dict[Gram, _Gram], touched: set[Gram]
    ) -> None:
        """Count the windows of `regions` (new text) into `stats`, level by level."""
        stats, toks, mult = self.stats, self.toks, self.mult
        for r, (lo, hi) in regions.items():
            tokens = toks[r]
            for i in range(max(0, lo - 1), min(hi, len(tokens) - 1)):
                gram = (tokens[i], tokens[i + 1])
                entry = stats.get(gram)
                if entry is None:
                    entry = stats[gram] = _Gram()
                entry.add(r, mult[r])
                touched.add(gram)

        def repeated(gram: Gram) -> bool:
            entry = stats.get(gram)
            return entry is not None and entry.count >= 2

        active = dict(regions)
        n = 3
        while active:
            candidates: dict[Gram, list[int]] = defaultdict(list)
            per_response: dict[int, list[Gram]] = {}
            for r, (lo, hi) in active.items():
                tokens = toks[r]
                found = []
                for i in range(max(0, lo - n + 1), min(hi, len(tokens) - n + 1)):
                    if repeated(tuple(tokens[i : i + n - 1])) and repeated(tuple(tokens[i + 1 : i + n])):
                        gram = tuple(tokens[i : i + n])
                        candidates[gram].append(r)
                        found.append(gram)
                if found:
                    per_response[r] = found
            for gram, rs in candidates.items():
                entry = stats.get(gram)
                if entry is None:
                    entry = ledger.pop(gram, None)
                    if entry is None:
                        if max(gram) < fresh_from:
                            # made only of old tokens and not stored: it may occur once elsewhere
                            entry = self._scan(gram)
                            if entry.count >= 2:
                                stats[gram] = entry
                                touched.add(gram)
                            continue
                        entry = _Gram()
                    for r in rs:
                        entry.add(r, mult[r])
                    if entry.count >= 2:
                        stats[gram] = entry
                        touched.add(gram)
                    continue
                for r in rs:
                    entry.add(r, mult[r])
                touched.add(gram)
            active = {r: active[r] for r, grams in per_response.items() if any(g in stats for g in grams)}
            n += 1

    def _scan(self, gram: Gram) -> _Gram:
        """Count `gram` in every response (rare: re-tokenization made an unseen old-token n-gram)."""
        bigrams = [self.stats[(a, b)] for a, b in zip(gram, gram[1:])]
        rarest = min(bigrams, key=lambda e: len(e.occ))
        entry = _Gram()
        for r in sorted(rarest.occ):
            k = _count(self.toks[r], gram)
            if k:
                entry.add(r, k * self.mult[r])
        return entry


def _first_position(tokens: list[int], gram: Gram) -> int:
    n = len(gram)
    for i in range(len(tokens) - n + 1):
        if tuple(tokens[i : i + n]) == gram:
            return i
    raise AssertionError("a tied n-gram does not occur in its first response")  # pragma: no cover


def _count(tokens: list[int], gram: Gram) -> int:
    n = len(gram)
    return sum(1 for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n]) == gram)


@register("tries")
class ResponseTries(Scorer):
    """The five response-trie statistics of EmPO Table 4 over one system's responses."""

    name = "tries"
    inputs = ("response",)
    outputs = (
        Output("trie_templates", True, CORPUS, "distinct templates after spanify"),
        Output("trie_span_nodes", False, CORPUS, "distinct span tokens reachable from the templates"),
        Output("trie_total_nodes", None, CORPUS, "nodes of the templates' trie, root included"),
        Output("trie_root_children", True, CORPUS, "children of the templates' trie root"),
        Output("trie_compression", True, CORPUS, "templates' trie nodes / raw responses' trie nodes"),
        Output("trie_start_words", True, CORPUS, "distinct first tokens of the raw responses"),
    )

    def compute(self, items: Sequence[Item]) -> Scores:
        variant = tokenize.variant()
        raw = [tokenize.word_tokenize(it.response, variant) for it in items]
        if not raw:
            nan = float("nan")
            return Scores(corpus={out.name: nan for out in self.outputs})
        retokenize = lambda text: tokenize.uncached(text, variant)  # noqa: E731
        stats = trie_statistics(raw, spanify(raw, retokenize))
        return Scores(
            corpus={
                "trie_templates": stats.templates,
                "trie_span_nodes": stats.span_nodes,
                "trie_total_nodes": stats.total_nodes,
                "trie_root_children": stats.root_children,
                "trie_compression": stats.compression,
                "trie_start_words": stats.start_words,
            }
        )

    def instrument(self) -> dict:
        return {
            "tokenizer": tokenize.describe(),
            "spanify": "Lee 2024: weight n x count, ties shorter then first occurrence, string replacement",
        }
