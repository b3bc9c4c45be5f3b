"""Continuation-only logits give the log-likelihoods of lm-eval's plain HF scoring."""

from __future__ import annotations

import pytest
import torch

from harness.runs.hf_scoring import positions_to_keep, supports_continuation_logits, use_continuation_logits

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# contexts of very different lengths (batches get right padding) and continuations of
# one to several tokens, as multiple choice with answer letters or answer texts
CONTEXTS = ["The capital of France is", "Q: What do bees make?\nA:", "Once upon a time, in a small village by the "
            "sea, there lived an old fisherman who every morning", "2 + 2 =", "Hello"]
CONTINUATIONS = [" Paris", " honey and wax", " went out", " 4", " world, how are you today?"]


def _lm(batch_size: int):
    from lm_eval.api.registry import get_model

    from harness.embedded import resolve_model

    return get_model("hf").create_from_arg_obj({"pretrained": str(resolve_model("tiny-llama"))},
                                               {"batch_size": batch_size, "device": "cpu"})


def _requests():
    from lm_eval.api.instance import Instance

    pairs = [(c, k) for c in CONTEXTS for k in CONTINUATIONS[:3]] + list(zip(CONTEXTS, CONTINUATIONS))
    return [Instance("loglikelihood", {}, pair, idx) for idx, pair in enumerate(pairs)]


def _logit_widths(lm) -> list[tuple[int, int]]:
    """(input width, logits width) of every model call from now on."""
    seen = []
    model = lm.model
    original = model.forward

    def forward(input_ids=None, *args, **kwargs):
        out = original(input_ids, *args, **kwargs)
        seen.append((input_ids.shape[1], out.logits.shape[1]))
        return out

    model.forward = forward
    return seen


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for (ll, greedy), (ll_plain, greedy_plain) in zip(got, expected):
        assert ll == pytest.approx(ll_plain, rel=1e-5, abs=1e-5)
        assert greedy == greedy_plain


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_same_loglikelihoods_as_plain_hflm(batch_size):
    requests = _requests()
    expected = _lm(batch_size).loglikelihood(requests, disable_tqdm=True)
    lm = _lm(batch_size)
    assert use_continuation_logits(lm)
    widths = _logit_widths(lm)
    _assert_same(lm.loglikelihood(requests, disable_tqdm=True), expected)
    assert all(kept <= width for width, kept in widths)
    if batch_size < len(CONTEXTS):  # one batch of all: padded to the longest, every position is kept
        assert any(kept < width for width, kept in widths)


def test_answer_letters_need_the_last_positions_only():
    # MMLU's shape: long contexts, one-token answers " A" ... " D", scored in batches of 2
    from lm_eval.api.instance import Instance

    contexts = [f"{CONTEXTS[2]} caught {n} fish.\nHow many fish?\nAnswer:" for n in ("one", "two", "three", "no")]
    requests = [Instance("loglikelihood", {}, (context, letter), idx)
                for idx, (context, letter) in enumerate((c, k) for c in contexts for k in [" A", " B", " C", " D"])]
    expected = _lm(2).loglikelihood(requests, disable_tqdm=True)
    lm = _lm(2)
    use_continuation_logits(lm)
    widths = _logit_widths(lm)
    _assert_same(lm.loglikelihood(requests, disable_tqdm=True), expected)
    # one forward per context (lm-eval shares it among the four letters); each keeps its
    # batch's padding plus one position
    assert len(widths) == 2 and all(kept < width / 5 for width, kept in widths), widths


def test_token_id_zero_at_the_end_of_a_context():
    # lm-eval right-pads with id 0: a context ending in a real 0 reads as padded, which keeps
    # more positions than needed, never fewer
    requests = [(("", ""), [5, 9, 14, 0], [0, 33]), (("", ""), [7, 8, 9, 10, 11, 12, 13, 0, 0], [21]),
                (("", ""), [40, 41, 42, 43, 44, 45], [0]), (("", ""), [3, 4], [5, 6, 7])]
    expected = _lm(4)._loglikelihood_tokens(requests, disable_tqdm=True)
    lm = _lm(4)
    assert use_continuation_logits(lm)
    _assert_same(lm._loglikelihood_tokens(requests, disable_tqdm=True), expected)


def test_positions_to_keep():
    inps = torch.tensor([[5, 6, 7, 0, 0, 0], [5, 0, 7, 8, 9, 4]])
    # row 0 is padded by 3 (its last non-zero id at position 3): 3 + 2 continuation tokens
    assert positions_to_keep(inps, 2) == 5
    assert positions_to_keep(inps[1:], 2) == 2  # no padding: the continuation only
    assert positions_to_keep(inps, 4) == 6  # never more than the batch is wide
    assert positions_to_keep(torch.tensor([[0, 0, 0]]), 1) == 3


def test_model_call_outside_scoring_is_unchanged():
    # lm-eval's batch-size probing calls _model_call directly: full logits, as before
    lm = _lm(2)
    use_continuation_logits(lm)
    inps = torch.tensor([[5, 6, 7, 8]])
    assert lm._model_call(inps).shape[:2] == (1, 4)


def test_models_without_logits_to_keep_are_left_alone():
    class Forward(torch.nn.Module):
        def forward(self, input_ids):
            return input_ids

    class FakeLM:
        backend = "causal"
        model = Forward()

        def _model_call(self, inps, attn_mask=None, labels=None):
            return inps

    lm = FakeLM()
    call = lm._model_call
    assert not supports_continuation_logits(lm)
    assert not use_continuation_logits(lm)
    assert lm._model_call == call
    lm.backend = "seq2seq"
    assert not supports_continuation_logits(lm)
