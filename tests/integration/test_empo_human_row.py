"""The ED test references scored as responses against EmPO's "Human Response" row.

EmPO Table 4 (response tries): templates 2526 (99.4%), span / total nodes 2746 / 22279
(12.3%), children from root 881 (34.7%), compression 65.64%, unique start words 370.
EmPO Table 5: NIDF 0.30 +- 0.07; mean |d| intensity 0.28, valence 0.14, arousal 0.18.

The offline mirror's ED differs a little from the official release (2,546 test examples
instead of 2,540; about 8% of test utterances differ in whitespace), so the tolerances
allow for six extra responses and for the published rounding. Measured on the mirror
(docs/METRICS.md s.11): templates 2532, span/total 2755/22331, root children 872, compression
65.58%, start words 371; NIDF 0.286 +- 0.065 (METRICS.md counting) and 0.296 +- 0.067
(EmPO's code's counting); I 0.280, V 0.143, A 0.175. Dropping 6 random references moves
root children by at most 3, so its 1% gap to EmPO is the one cell beyond data noise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import scoring
from harness.data.ed import load_examples
from harness.metrics.base import Item

pytestmark = [pytest.mark.mirror, pytest.mark.slow]


@pytest.fixture(scope="module")
def items():
    value = os.environ.get("EMPATHY_HARNESS_MIRROR")
    if not value or not (Path(value) / "empatheticdialogues.tar.gz").exists():
        pytest.skip("needs the offline data mirror: set EMPATHY_HARNESS_MIRROR (e.g. ../shared/data)")
    examples = load_examples("test")
    return [Item(e.id, e.context, e.reference, e.reference, e.emotion) for e in examples]


@pytest.fixture(scope="module")
def summary(items):
    with scoring.lexical_options():
        return scoring.score_items(items, ["nidf", "iva", "tries"]).summary


def test_table4_response_tries(summary, items):
    n = len(items)
    assert n == 2546
    print({k: summary[k] for k in summary if k.startswith("trie_")})
    assert abs(summary["trie_templates"] - 2526) <= 10
    assert 100 * summary["trie_templates"] / n == pytest.approx(99.4, abs=0.3)
    assert summary["trie_span_nodes"] == pytest.approx(2746, rel=0.01)
    assert summary["trie_total_nodes"] == pytest.approx(22279, rel=0.01)
    assert 100 * summary["trie_span_nodes"] / summary["trie_total_nodes"] == pytest.approx(12.3, abs=0.1)
    # the largest gap: ours is ~1% below EmPO's 881 (see the module docstring)
    assert summary["trie_root_children"] == pytest.approx(881, rel=0.02)
    assert 100 * summary["trie_compression"] == pytest.approx(65.64, abs=0.5)
    assert abs(summary["trie_start_words"] - 370) <= 5


def test_table5_word_choice(summary):
    # published to 2 decimals: allow the rounding (0.005) and data noise (0.003)
    assert summary["intensity_abs"] == pytest.approx(0.28, abs=0.008)
    assert summary["valence_abs"] == pytest.approx(0.14, abs=0.008)
    assert summary["arousal_abs"] == pytest.approx(0.18, abs=0.008)


def test_table5_nidf_with_empos_counting(items):
    # EmPO's count_ed counts the 'sp1' column (utterances with a reply): 0.30 +- 0.07 after rounding
    with scoring.lexical_options(nidf_documents="empo-sp1"):
        summary = scoring.score_items(items, ["nidf"]).summary
    assert summary["nidf"] == pytest.approx(0.30, abs=0.007)
    assert summary["nidf_sd"] == pytest.approx(0.07, abs=0.007)


def test_table5_nidf_with_metrics_md_counting(summary):
    # every train+valid utterance (METRICS.md, Lee's count_ed): a known -0.014 gap to EmPO's 0.30
    assert summary["nidf"] == pytest.approx(0.30, abs=0.02)
    assert summary["nidf_sd"] == pytest.approx(0.07, abs=0.01)
