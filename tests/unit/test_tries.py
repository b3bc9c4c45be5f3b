"""Response tries (METRICS.md s.7): spanify worked by hand, edge cases, and a brute-force check.

Notation: S1, S2... are the span tokens in creation order.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from harness.metrics import tokenize
from harness.metrics.base import Item
from harness.metrics.tries import ResponseTries, reachable_spans, span_name, spanify, trie_nodes, trie_statistics

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
