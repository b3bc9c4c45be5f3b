"""BERTScore through bert-score 0.3.13 on transformers 5: the packaged MiniLM (the offline
encoder), checked against greedy cosine matching computed here by hand."""

from __future__ import annotations

import pytest
import torch

from harness.embedded import resolve_model
from harness.metrics import base, bertscore
from harness.metrics.base import Item


@pytest.fixture
def scorer(monkeypatch):
    monkeypatch.setattr(base, "_INSTANCES", {})
    monkeypatch.delenv("EMPATHY_HARNESS_BERTSCORE_MODEL", raising=False)
    monkeypatch.setattr(bertscore, "SETTINGS", bertscore.BertScoreSettings())
    return base.get_scorer("bertscore")


def by_hand(candidate: str, reference: str) -> tuple[float, float, float]:
    """BERTScore's definition (bert_score.utils.greedy_cos_idf): token embeddings of the
    last used layer, cosine similarity, greedy max matching; with idf off every token
    weighs 1 except [CLS] and [SEP], which weigh 0 but can still be matched."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model("all-minilm-l6-v2")
    tok, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()

    def embed(text):
        with torch.no_grad():
            hidden = model(**tok(text, return_tensors="pt")).last_hidden_state[0]
        return torch.nn.functional.normalize(hidden, dim=-1)

    sim = embed(candidate) @ embed(reference).T  # rows: candidate tokens, columns: reference tokens
    p = sim.max(dim=1).values[1:-1].mean().item()
    rec = sim.max(dim=0).values[1:-1].mean().item()
    return p, rec, 2 * p * rec / (p + rec)


PAIRS = [("i am so sorry to hear that.", "that is terrible, i am sorry."),
         ("congratulations on the new job!", "wow, what will you be doing there?"),
         ("ok", "ok")]


def test_offline_encoder_is_minilm_with_all_its_layers(scorer):
    described = scorer.instrument()
    assert described["model"] == "all-minilm-l6-v2" and described["num_layers"] == 6
    assert described["idf"] is False and described["rescale_with_baseline"] is False
    assert described["comparable_with_empo"] is False and "offline" in described["choice"]
    assert len(described["model_sha256"]) == 64 and described["versions"]["bert-score"] == "0.3.13"


def test_scores_match_greedy_cosine_matching_by_hand(scorer):
    items = [Item(str(i), ("prev",), c, r) for i, (c, r) in enumerate(PAIRS)]
    result = scorer.compute(items)
    for i, (c, r) in enumerate(PAIRS):
        p, rec, f = by_hand(c, r)
        assert result.per_example["bertscore_p"][i] == pytest.approx(p, abs=1e-5)
        assert result.per_example["bertscore_r"][i] == pytest.approx(rec, abs=1e-5)
        assert result.per_example["bertscore_f1"][i] == pytest.approx(f, abs=1e-5)
    # identical texts match themselves
    assert result.per_example["bertscore_f1"][2] == pytest.approx(1.0, abs=1e-5)


def test_same_as_bert_score_called_directly(scorer):
    from bert_score import score

    cands, refs = [c for c, _ in PAIRS], [r for _, r in PAIRS]
    p, r, f = score(cands, refs, model_type=resolve_model("all-minilm-l6-v2"), num_layers=6, idf=False)
    result = scorer.compute([Item(str(i), ("x",), c, ref) for i, (c, ref) in enumerate(PAIRS)])
    assert result.per_example["bertscore_f1"] == pytest.approx(f.tolist(), abs=1e-6)
    assert result.per_example["bertscore_p"] == pytest.approx(p.tolist(), abs=1e-6)


def test_empty_response_scores_zero(scorer):
    result = scorer.compute([Item("a", ("x",), "", "i am sorry."), Item("b", ("x",), "sorry", "i am sorry.")])
    assert result.per_example["bertscore_p"][0] == 0.0 and result.per_example["bertscore_f1"][0] == 0.0
    assert result.per_example["bertscore_f1"][1] > 0.5


def test_summary_keys_through_the_suite(scorer):
    result = base.score([Item(str(i), ("x",), c, r) for i, (c, r) in enumerate(PAIRS)], ["bertscore"])
    assert {"bertscore_p", "bertscore_r", "bertscore_f1", "n"} <= set(result.summary)
    assert result.instruments["bertscore"]["num_layers"] == 6
