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
templates with the trie of the raw tokenized responses. The scorer takes the responses
in id order (Lee takes the dataset's order), so the numbers do not depend on the order
of a file or of a resample.

Counting every n-gram again after each replacement (Lee's code) takes many minutes on
a few thousand long responses, so counts are kept incrementally: only n-grams that
occur at least twice are stored (plus every bigram), a replacement touches only the
windows of the affected responses that overlap the changed text, and longer n-grams
are only considered when both their (n-1)-grams repeat (an n-gram cannot occur more
often than its parts). N-grams are integer ids (one dict lookup extends an n-gram by a
token), so a window costs the same at any length: the embedded 135M model's looping
answers repeat n-grams of a hundred tokens and more. A heap keyed by (-weight, n, first
response) yields the winner; an n-gram a replacement takes out and puts back unchanged
keeps its heap item.

Span tokens are named `span_<k>⟧` (Lee: `span_` + 16 hash digits); the closing bracket
keeps a digit token like "5" from matching the end of a span name in the string
replacement, which in Lee's code depends on Python's hash seed.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
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
    """Occurrence counts of one n-gram: total, per response, and the first response;
    `queued` is the (count, first response) of its valid heap item, if it has one."""

    __slots__ = ("count", "occ", "min_r", "dirty", "version", "queued")

    def __init__(self) -> None:
        self.count = 0
        self.occ: dict[int, int] = {}
        self.min_r = -1
        self.dirty = True
        self.version = -1
        self.queued: tuple[int, int] | None = None

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
    """Incremental spanify; `stats` holds every bigram and every longer n-gram seen twice.

    N-grams are interned as integer ids: the id of an n-gram is found from the id of its
    (n-1)-gram prefix and its last token (`_right`), or from its first token and the id of
    its (n-1)-gram suffix (`_left`), in one dict lookup, so a window of any length costs
    the same. (Slicing a tuple per window made repetitive responses, whose repeated
    n-grams run to hundreds of tokens, cost O(length^3).)"""

    def __init__(
        self, responses: Sequence[Sequence[str]], multiplicity: list[int], retokenize: Callable[[str], Sequence[str]]
    ) -> None:
        self.retokenize = retokenize
        self.mult = multiplicity  # identical responses counted once, weighted
        self.ids: dict[str, int] = {}
        self.words: list[str] = []
        self.toks: list[list[int]] = [[self._id(w) for w in response] for response in responses]
        # n-gram ids: a bigram (a, b) is keyed (-1 - a, b) in `_right`
        self._right: dict[tuple[int, int], int] = {}  # (prefix id, last token) -> id
        self._left: dict[tuple[int, int], int] = {}  # (first token, suffix id) -> id, n >= 3
        self._parent: list[int] = []  # prefix id, or -1 - first token for a bigram
        self._last: list[int] = []
        self._length: list[int] = []
        self._max_token: list[int] = []
        self.stats: dict[int, _Gram] = {}
        self.heap: list[tuple[int, int, int, int, int]] = []
        self.versions = itertools.count()
        self.spans: dict[str, tuple[str, ...]] = {}

    def _id(self, word: str) -> int:
        ident = self.ids.get(word)
        if ident is None:
            ident = self.ids[word] = len(self.words)
            self.words.append(word)
        return ident

    def run(self) -> Spanified:
        touched: set[int] = set()
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

    # -- n-gram ids ----------------------------------------------------------------

    def _bigram(self, a: int, b: int) -> int:
        key = (-1 - a, b)
        gram = self._right.get(key)
        if gram is None:
            gram = self._right[key] = self._new(-1 - a, b, 2, max(a, b))
        return gram

    def _extend(self, prefix: int, suffix: int, first: int, last: int) -> int:
        """The id of the n-gram (n >= 3) with this prefix id and suffix id."""
        key = (prefix, last)
        gram = self._right.get(key)
        if gram is None:
            length, max_token = self._length[prefix] + 1, max(self._max_token[prefix], last)
            gram = self._right[key] = self._new(prefix, last, length, max_token)
            self._left[(first, suffix)] = gram
        return gram

    def _new(self, parent: int, last: int, length: int, max_token: int) -> int:
        self._parent.append(parent)
        self._last.append(last)
        self._length.append(length)
        self._max_token.append(max_token)
        return len(self._parent) - 1

    def tokens(self, gram: int) -> tuple[int, ...]:
        """The token ids of n-gram id `gram`."""
        out = []
        while gram >= 0:
            out.append(self._last[gram])
            gram = self._parent[gram]
        out.append(-1 - gram)
        return tuple(reversed(out))

    # -- selection -----------------------------------------------------------------

    def _push(self, grams: Iterable[int]) -> None:
        """Queue the touched `grams` again; one whose count and first response did not
        change (removed and added back) keeps its heap item."""
        length = self._length
        for gram in grams:
            entry = self.stats.get(gram)
            if entry is None:
                continue
            if entry.count < 2:
                entry.version = next(self.versions)  # its heap items are stale now
                entry.queued = None
                continue
            if entry.dirty:
                entry.min_r = min(entry.occ)
                entry.dirty = False
            key = (entry.count, entry.min_r)
            if entry.queued == key:
                continue
            entry.version = next(self.versions)  # older heap items of this n-gram are stale now
            entry.queued = key
            n = length[gram]
            heapq.heappush(self.heap, (-n * entry.count, n, entry.min_r, entry.version, gram))

    def _valid(self, item: tuple[int, int, int, int, int]) -> bool:
        entry = self.stats.get(item[4])
        return entry is not None and entry.version == item[3]

    def _select(self) -> int | None:
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
        winner = best
        if tied:
            tokens = self.toks[best[2]]
            candidates = [best, *tied]
            winner = min(candidates, key=lambda item: _first_position(tokens, self.tokens(item[4])))
            for item in candidates:
                if item is not winner:
                    heapq.heappush(heap, item)
        self.stats[winner[4]].queued = None  # its heap item is gone
        return winner[4]

    # -- one replacement -----------------------------------------------------------

    def _replace(self, gram: int, name: str) -> None:
        words = self.words
        gram_words = tuple(words[i] for i in self.tokens(gram))
        span_text = " ".join(gram_words)
        self.spans[name] = gram_words
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

        removals = {r: Counter(self._overlapping_stored(self.toks[r], *old_regions[r])) for r in affected}
        touched: set[int] = set()
        ledger: dict[int, _Gram] = {}
        stats, length = self.stats, self._length
        for r, grams in removals.items():
            for g, k in grams.items():
                entry = stats.get(g) or ledger[g]
                entry.remove(r, k * self.mult[r])
                touched.add(g)
                if entry.count < (1 if length[g] == 2 else 2) and g in stats:
                    # a bigram gone or a longer n-gram below 2 is no longer stored; the ledger
                    # keeps what is left (and its heap item, should the text bring it back)
                    del stats[g]
                    ledger[g] = entry
        for r in affected:
            self.toks[r] = new_tokens[r]
        self._add(new_regions, fresh_from, ledger, touched)
        self._push(touched)

    def _overlapping_stored(self, tokens: list[int], lo: int, hi: int) -> list[int]:
        """Stored n-grams of the windows overlapping [lo, hi) (spanning position lo if empty)."""
        stats, right = self.stats, self._right
        length = len(tokens)
        found = [right[(-1 - tokens[i], tokens[i + 1])] for i in range(max(0, lo - 1), min(hi, length - 1))]
        for i in range(0, min(hi, length - 2)):
            gram = right[(-1 - tokens[i], tokens[i + 1])]
            for j in range(i + 2, length):
                gram = right.get((gram, tokens[j]))
                if gram is None or gram not in stats:
                    break  # an n-gram seen once has no repeated extension
                if j >= lo:
                    found.append(gram)
        return found

    def _add(
        self, regions: dict[int, tuple[int, int]], fresh_from: int, ledger: dict[int, _Gram], touched: set[int]
    ) -> None:
        """Count the windows of `regions` (new text) into `stats`, level by level.

        Level n looks at the windows of length n that overlap a region. One is a candidate
        when both its (n-1)-grams repeat; those come from level n-1's windows, plus at
        most one window on each side lying wholly outside the region (`left`, `right`:
        the n-1 tokens before `lo` and from `hi`), extended one token per level."""
        stats, toks, mult = self.stats, self.toks, self.mult
        bigram, extend, right_get = self._bigram, self._extend, self._right.get
        windows: dict[int, list[int | None]] = {}  # r -> ids of its windows at the last level
        for r, (lo, hi) in regions.items():
            tokens = toks[r]
            pairs = zip(tokens[max(0, lo - 1) :], tokens[max(1, lo) : hi + 1])  # the bigrams overlapping [lo, hi)
            ids: list[int | None] = [bigram(a, b) for a, b in pairs]
            for gram, k in Counter(ids).items():
                entry = stats.get(gram)
                if entry is None:
                    entry = stats[gram] = ledger.pop(gram, None) or _Gram()
                entry.add(r, k * mult[r])
                touched.add(gram)
            windows[r] = ids
        left: dict[int, int | None] = {}
        right: dict[int, int | None] = {}
        for r, (lo, hi) in regions.items():
            tokens = toks[r]
            left[r] = bigram(tokens[lo - 2], tokens[lo - 1]) if lo >= 2 else None
            right[r] = bigram(tokens[hi], tokens[hi + 1]) if hi + 2 <= len(tokens) else None

        def repeated(gram: int | None) -> int | None:
            if gram is None:
                return None
            entry = stats.get(gram)
            return gram if entry is not None and entry.count >= 2 else None

        active = list(regions)
        n = 3
        while active:
            candidates: dict[int, list[tuple[int, int]]] = defaultdict(list)  # n-gram -> (response, occurrences)
            still_active = []
            for r in active:
                lo, hi = regions[r]
                tokens = toks[r]
                start = max(0, lo - n + 1)
                count = min(hi, len(tokens) - n + 1) - start  # >= 0: at most one less than at level n - 1
                # the (n-1)-grams at start, start + 1, ...: repeated ids, None where not
                if n == 3:
                    below = [repeated(g) for g in windows[r]]
                else:  # a stored n-gram, n >= 3, occurs twice or more
                    below = [g if g in stats else None for g in windows[r]]
                if lo - n + 1 >= 0:
                    below.insert(0, repeated(left[r]))
                if hi + n - 1 <= len(tokens):
                    below.append(repeated(right[r]))
                ids = []
                append = ids.append
                ends = tokens[start + n - 1 :]
                for prefix, suffix, first, last in zip(below, below[1 : count + 1], tokens[start:], ends):
                    if prefix is None or suffix is None:
                        append(None)
                    else:
                        gram = right_get((prefix, last))
                        append(gram if gram is not None else extend(prefix, suffix, first, last))
                found = Counter(ids)
                found.pop(None, None)
                if found:
                    for gram, k in found.items():
                        candidates[gram].append((r, k))
                    windows[r] = ids
                    still_active.append(r)
            for gram, rs in candidates.items():
                entry = stats.get(gram)
                if entry is None:
                    entry = ledger.pop(gram, None)
                    if entry is None:
                        if self._max_token[gram] < fresh_from:
                            # made only of old tokens and not stored: it may occur once elsewhere
                            entry = self._scan(gram)
                            if entry.count >= 2:
                                stats[gram] = entry
                                touched.add(gram)
                            continue
                        entry = _Gram()
                    for r, k in rs:
                        entry.add(r, k * mult[r])
                    if entry.count >= 2:
                        stats[gram] = entry
                        touched.add(gram)
                    continue
                for r, k in rs:
                    entry.add(r, k * mult[r])
                touched.add(gram)
            active = [r for r in still_active if any(g in stats for g in windows[r] if g is not None)]
            for r in active:
                lo, hi = regions[r]
                tokens = toks[r]
                # grow the outside windows to n tokens (None once they no longer repeat)
                edge = repeated(left[r])
                left[r] = self._left.get((tokens[lo - n], edge)) if edge is not None and lo - n >= 0 else None
                edge = repeated(right[r])
                grows = edge is not None and hi + n <= len(tokens)
                right[r] = self._right.get((edge, tokens[hi + n - 1])) if grows else None
            n += 1

    def _scan(self, gram: int) -> _Gram:
        """Count `gram` in every response (rare: re-tokenization made an unseen old-token n-gram)."""
        tokens = self.tokens(gram)
        bigrams = [self.stats[self._right[(-1 - a, b)]] for a, b in zip(tokens, tokens[1:])]
        rarest = min(bigrams, key=lambda e: len(e.occ))
        entry = _Gram()
        for r in sorted(rarest.occ):
            k = _count(self.toks[r], tokens)
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
        Output("trie_compression", True, CORPUS, "templates' trie nodes / raw responses' trie nodes", (0.0, 1.0)),
        Output("trie_start_words", True, CORPUS, "distinct first tokens of the raw responses"),
    )

    def compute(self, items: Sequence[Item]) -> Scores:
        variant = tokenize.variant()
        # Spanify breaks ties by first occurrence, so the statistics depend on the order of
        # the responses: they are always taken in id order (as lm-eval's aggregation sees
        # them), so scoring a file, an eval run and a significance test's recomputation on
        # rows in another order give the same bits.
        items = sorted(items, key=lambda it: it.id)
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
