"""Response tries (METRICS.md s.7): spanify worked by hand, edge cases, and a brute-force check.

Notation: S1, S2... are the span tokens in creation order.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from harness.metrics import tokenize
from harness.metrics.base import Item
from harness.metrics.tries import (
    ResponseTries,
    _Spanifier,
    reachable_spans,
    span_name,
    spanify,
    trie_nodes,
    trie_statistics,
)

S1, S2, S3 = span_name(1), span_name(2), span_name(3)


def split(texts):
    return [t.split() for t in texts]


def run(texts, retokenize=str.split):
    raw = split(texts)
    spanified = spanify(raw, retokenize)
    return spanified, trie_statistics(raw, spanified)


def test_span_inside_span_is_counted():
    # "a b c" x2, "a b d" x2. Counts: (a,b) 4 -> weight 8; (a,b,c) 2 -> 6; (a,b,d) 2 -> 6;
    # (b,c), (b,d) 2 -> 4. S1 = (a,b) -> [S1 c] x2, [S1 d] x2. Then (S1,c) and (S1,d) both
    # weigh 2x2 = 4: same length, (S1,c) occurs first (response 0) -> S2 = (S1,c), then S3 = (S1,d).
    spanified, stats = run(["a b c", "a b c", "a b d", "a b d"])
    assert spanified.spans == {S1: ("a", "b"), S2: (S1, "c"), S3: (S1, "d")}
    assert spanified.templates == [(S2,), (S2,), (S3,), (S3,)]
    # S1 appears in no template, only inside S2 and S3: still a span node -> 3
    assert stats.span_nodes == 3
    assert stats.templates == 2
    # template trie: root, S2, S3 = 3 nodes; raw trie: root, a, b, c, d = 5 nodes
    assert (stats.total_nodes, stats.root_children, stats.start_words) == (3, 2, 1)
    assert stats.compression == pytest.approx(3 / 5)


def test_ties_go_to_the_first_position_in_the_first_response():
    # "x y p q", "p q x y": (x,y) and (p,q) both occur twice (weight 4), both first in
    # response 0, (x,y) at position 0 before (p,q) at 2 -> S1 = (x,y), then S2 = (p,q).
    spanified, _ = run(["x y p q", "p q x y"])
    assert spanified.spans == {S1: ("x", "y"), S2: ("p", "q")}
    assert spanified.templates == [(S1, S2), (S2, S1)]


def test_ties_go_to_the_first_response():
    # "p q", "x y", "x y p q": (p,q) and (x,y) weigh 4; (p,q) first occurs in response 0.
    spanified, _ = run(["p q", "x y", "x y p q"])
    assert list(spanified.spans.values()) == [("p", "q"), ("x", "y")]


def test_ties_go_to_the_shorter_ngram():
    # "a b c" x2, "a b e": (a,b) 3 -> weight 6 ties (a,b,c) 2 -> 6: the bigram wins.
    spanified, _ = run(["a b c", "a b c", "a b e"])
    assert spanified.spans[S1] == ("a", "b")
    # then (S1,c) twice -> S2; templates [S2], [S2], [S1 e]
    assert spanified.templates == [(S2,), (S2,), (S1, "e")]


def test_heavier_longer_ngram_wins():
    # "a b c d" x2: (a,b,c,d) 2 -> weight 8 beats every shorter n-gram (at most 3 x 2 = 6).
    spanified, stats = run(["a b c d", "a b c d"])
    assert spanified.spans == {S1: ("a", "b", "c", "d")}
    assert stats.templates == 1 and stats.span_nodes == 1
    assert stats.total_nodes == 2  # root, S1
    assert stats.compression == pytest.approx(2 / 5)  # raw: root, a, b, c, d


def test_replacement_is_on_the_space_joined_string():
    # (I, am) occurs twice (responses 0 and 1) -> S1. Lee's code replaces the string "I am"
    # in "I am here and I amazed", which also hits "I amazed" -> "<S1>azed" (one token).
    spanified, stats = run(["I am here and I amazed", "I am"])
    assert spanified.templates == [(S1, "here", "and", S1 + "azed"), (S1,)]
    # template trie: root, S1, here, and, S1azed = 5; raw: root, I, am, here, and, I, amazed = 7
    assert stats.total_nodes == 5
    assert stats.compression == pytest.approx(5 / 7)
    # a glued token is not a span node
    assert stats.span_nodes == 1


def test_only_responses_containing_the_ngram_are_rewritten():
    # "I amazed" never contains the tokens (I, am), so it keeps its text
    spanified, _ = run(["I am", "I am", "I amazed"])
    assert spanified.templates == [(S1,), (S1,), ("I", "amazed")]


def test_replaced_text_is_tokenized_again():
    # Lee re-tokenizes the replaced text with word_tokenize: a closing quote token '' is
    # read back as an opening `` (NLTK treats '' after a space as a starting quote).
    texts = ['He said "yes" .', 'He said "no" .']
    raw = [tokenize.word_tokenize(t) for t in texts]
    assert raw[0] == ("He", "said", "``", "yes", "''", ".")
    spanified = spanify(raw, tokenize.uncached)
    # S1 = (He, said, ``): weight 3 x 2 = 6 beats (He, said) 4 and ('', .) 4. Re-tokenizing
    # "S1 yes '' ." reads the '' after a space as an opening quote: the second span is
    # (``, .), where a token-level replacement would have made ('', .).
    assert spanified.spans == {S1: ("He", "said", "``"), S2: ("``", ".")}
    assert spanified.templates == [(S1, "yes", S2), (S1, "no", S2)]


def test_identical_responses_become_one_template():
    _, stats = run(["I am so sorry", "I am so sorry", "I am so sorry"])
    assert stats.templates == 1 and stats.root_children == 1 and stats.span_nodes == 1


def test_one_word_and_empty_responses():
    # no bigram anywhere: nothing to fold, templates are the responses
    spanified, stats = run(["Wow", "Okay", "Wow", ""])
    assert spanified.spans == {}
    assert stats.templates == 3  # ("Wow",), ("Okay",), ()
    assert (stats.total_nodes, stats.root_children, stats.start_words) == (3, 2, 2)
    assert stats.compression == 1.0


def test_trie_nodes_and_reachable_spans():
    assert trie_nodes([]) == 1
    assert trie_nodes([("a", "b"), ("a", "c"), ("b",)]) == 5
    assert reachable_spans([("x", "T2")], {"T1": ("a", "b"), "T2": ("T1", "c"), "T3": ("d", "e")}) == {"T1", "T2"}


def brute_force_spanify(responses, retokenize):
    """METRICS.md s.7 literally, as Lee's code does it: recount every n-gram each time."""
    data = [list(r) for r in responses]
    spans = {}
    k = 0
    while True:
        counts, first, where = Counter(), {}, {}
        for r, toks in enumerate(data):
            for n in range(2, len(toks) + 1):
                for i in range(len(toks) - n + 1):
                    gram = tuple(toks[i : i + n])
                    counts[gram] += 1
                    first.setdefault(gram, (r, i))
                    where.setdefault(gram, set()).add(r)
        if not counts or max(counts.values()) < 2:
            return [tuple(t) for t in data], spans
        weight = {g: c if c == 1 else len(g) * c for g, c in counts.items()}
        best = max(weight.values())
        gram = min((g for g in counts if weight[g] == best), key=lambda g: (len(g), first[g]))
        k += 1
        spans[span_name(k)] = gram
        for r in where[gram]:
            data[r] = list(retokenize(" ".join(data[r]).replace(" ".join(gram), span_name(k))))


@pytest.mark.parametrize("seed", range(3))
def test_incremental_equals_brute_force(seed):
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "ab", "ba", "I", "am", "amazed", "to", "the", "them", "m", ".", "Mr.", "'", '"', "!"]
    for _ in range(60):
        texts = [
            " ".join(rng.choice(vocab[: rng.randint(2, len(vocab))]) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(1, 9))
        ]
        texts += rng.sample(texts, rng.randint(0, len(texts)))  # duplicates are processed once, weighted
        rng.shuffle(texts)
        assert_same_as_brute_force(texts)


def assert_same_as_brute_force(texts: list[str]) -> None:
    for retokenize in (str.split, tokenize.uncached):
        raw = [list(retokenize(t)) for t in texts]
        expected_templates, expected_spans = brute_force_spanify(raw, retokenize)
        got = spanify(raw, retokenize)
        assert got.spans == expected_spans, texts
        assert got.templates == expected_templates, texts


def test_scorer_outputs_and_empty_input():
    scorer = ResponseTries()
    items = [Item(str(i), ("hi",), text, "ref") for i, text in enumerate(["I am sad .", "I am sad .", "Oh no"])]
    corpus = scorer.compute(items).corpus
    # one span S1 = (I, am, sad, .) (weight 8); templates [S1] x2 and [Oh, no]
    assert corpus == {
        "trie_templates": 2, "trie_span_nodes": 1, "trie_total_nodes": 4, "trie_root_children": 2,
        "trie_compression": pytest.approx(4 / 7), "trie_start_words": 2,
    }
    assert all(v != v for v in scorer.compute([]).corpus.values())  # NaN: nothing to score


# -- repetitive responses (a small model's loops) and the incremental bookkeeping -----------

PHRASES = ["I am so sorry .", "that is great !", "I am sure you will do it", "so sorry to hear that .", "you will",
           "do it again", "I am", "a", "b a", "it", 'He said " yes " .', "to the", "them", "'' .", "I amazed"]


def repetitive_corpus(rng):
    """2-7 responses, each looping over a few stock phrases with some stray tokens: long
    repeated n-grams inside one response, as the embedded model produces."""
    texts = []
    for _ in range(rng.randint(2, 7)):
        pool = rng.sample(PHRASES, rng.randint(1, 4))
        words = []
        target = rng.randint(3, 36)
        while len(words) < target:
            words += rng.choice(pool).split() if rng.random() < 0.8 else [rng.choice("xyzI.!")]
        texts.append(" ".join(words))
    return texts


@pytest.mark.parametrize("seed", range(2))
def test_incremental_equals_brute_force_on_repetitive_responses(seed):
    rng = random.Random(100 + seed)
    for _ in range(8):
        texts = repetitive_corpus(rng)
        assert_same_as_brute_force(texts)


class CheckedSpanifier(_Spanifier):
    """Checks the bookkeeping against a recount after every replacement."""

    def _replace(self, gram, name):
        # the winner's heap item was popped: it is queued again if it comes back
        before = {g: (e.count, min(e.occ), e.version) for g, e in self.stats.items() if e.occ and g != gram}
        super()._replace(gram, name)
        self.check(before)

    def check(self, before=()):
        counts, where = Counter(), {}
        for r, toks in enumerate(self.toks):
            for n in range(2, len(toks) + 1):
                for i in range(len(toks) - n + 1):
                    gram = tuple(toks[i : i + n])
                    counts[gram] += self.mult[r]
                    where.setdefault(gram, set()).add(r)
        expected = {g: c for g, c in counts.items() if len(g) == 2 or c >= 2}
        stored = {self.tokens(g): e for g, e in self.stats.items()}
        assert {g: e.count for g, e in stored.items()} == expected  # every bigram, every longer n-gram seen twice
        assert all(set(e.occ) == where[g] for g, e in stored.items())
        live = {item[4] for item in self.heap if self._valid(item)}
        for g, entry in self.stats.items():
            tokens = self.tokens(g)
            # the id tables agree with the n-gram's tokens
            assert self._length[g] == len(tokens) and self._max_token[g] == max(tokens)
            assert self._right[(self._parent[g], self._last[g])] == g
            if len(tokens) > 2:
                assert self._left[(tokens[0], self._right_id(tokens[1:]))] == g
            # a repeated n-gram has exactly one valid heap item, with its current weight
            items = [item for item in self.heap if item[4] == g and self._valid(item)]
            if entry.count >= 2:
                assert [item[:3] for item in items] == [(-len(tokens) * entry.count, len(tokens), min(entry.occ))]
                assert entry.queued == (entry.count, min(entry.occ))
            else:
                assert g not in live
            if entry.count >= 2 and g in before and before[g][:2] == (entry.count, min(entry.occ)):
                assert entry.version == before[g][2]  # removed and added back: its heap item is kept

    def _right_id(self, tokens):
        gram = self._right[(-1 - tokens[0], tokens[1])]
        for token in tokens[2:]:
            gram = self._right[(gram, token)]
        return gram


def checked_spanify(raw, retokenize):
    """`spanify` on the distinct responses with their multiplicities, checked at every step."""
    multiplicity = Counter(tuple(r) for r in raw)
    spanifier = CheckedSpanifier(list(multiplicity), list(multiplicity.values()), retokenize)
    return spanifier, spanifier.run()


@pytest.mark.parametrize("seed", range(2))
def test_bookkeeping_matches_a_recount_after_every_replacement(seed):
    rng = random.Random(200 + seed)
    for _ in range(6):
        texts = repetitive_corpus(rng)
        texts += rng.sample(texts, rng.randint(0, len(texts)))  # multiplicities
        for retokenize in (str.split, tokenize.uncached):
            raw = [list(retokenize(t)) for t in texts]
            spanifier, got = checked_spanify(raw, retokenize)
            spanifier.check()
            expected_templates, expected_spans = brute_force_spanify(raw, retokenize)
            assert got.spans == expected_spans, texts
            assert got.templates == list(dict(zip(map(tuple, raw), expected_templates)).values()), texts


def test_winner_made_again_by_retokenization_is_selected_again():
    # Re-tokenization can bring back the n-gram just replaced (NLTK turns a closing ''
    # into ``; this toy tokenizer does it on purpose): S1 = (a, b, c), then x -> "q a b c"
    # and y -> "w a b c" make (a, b, c) occur twice again, in the same responses as before.
    retokenize = lambda text: text.replace("x", "q a b c").replace("y", "w a b c").split()  # noqa: E731
    raw = split(["a b c x", "a b c y"])
    got = spanify(raw, retokenize)
    assert got.spans == {S1: ("a", "b", "c"), S2: ("a", "b", "c")}
    assert (got.templates, got.spans) == brute_force_spanify(raw, retokenize)


def test_bigram_back_to_an_earlier_count_is_queued_again():
    # (a, b) occurs twice, drops to once when S1 = (b, c, d) takes it from response 1, and
    # comes back to twice (same first response) when the text after S2 = (x, y) is
    # re-tokenized: it must be selected as S3.
    s2 = span_name(2)
    retokenize = lambda text: text.replace(f"{s2} w", f"{s2} a b").split()  # noqa: E731
    raw = split(["a b", "a b c d x y w", "b c d", "x y"])
    got = spanify(raw, retokenize)
    assert got.spans == {S1: ("b", "c", "d"), S2: ("x", "y"), S3: ("a", "b")}
    assert got.templates == [(S3,), ("a", S1, S2, S3), (S1,), (S2,)]
    assert (got.templates, got.spans) == brute_force_spanify(raw, retokenize)


def test_repeated_ngram_inside_a_rewritten_region_keeps_its_count():
    # S1 = (A, B, C, D, E) (3 x 5 = 15) rewrites all of response 0, whose two (p, q, r)
    # are taken out and counted back in: (p, q, r) stays at 4 (2 + 1 + 1), then wins (12).
    raw = split(["A B C D E p q r p q r A B C D E", "p q r", "p q r", "A B C D E"])
    _, got = checked_spanify(raw, str.split)  # the two identical responses are one, counted twice
    assert got.spans == {S1: ("A", "B", "C", "D", "E"), S2: ("p", "q", "r")}
    assert got.templates == [(S1, S2, S2, S1), (S2,), (S1,)]


def test_statistics_do_not_depend_on_the_order_of_the_responses():
    # Spanify breaks ties by first occurrence, so these five responses give 2 span nodes in
    # one order and 3 in the reverse: the scorer takes them in id order, so a run scored in
    # id order and a significance test recomputing on rows in file order agree (the
    # "recomputed difference -480 differs from the scored summaries' -481" false alarm).
    texts = ["d a c d d", "d c b b", "b a c b", "a a c d", "c d"]
    raw = split(texts)
    assert trie_statistics(raw, spanify(raw, str.split)) != trie_statistics(raw[::-1], spanify(raw[::-1], str.split))
    items = [Item(f"id{k}", ("hi",), text, "ref") for k, text in enumerate(texts)]
    scorer = ResponseTries()
    forward = scorer.compute(items).corpus
    assert scorer.compute(items[::-1]).corpus == forward
    assert scorer.compute([items[k] for k in (3, 0, 4, 1, 2)]).corpus == forward
