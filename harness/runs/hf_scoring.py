"""Log-likelihood scoring for lm-eval's HF backend without the logits nobody reads.

HFLM's `_loglikelihood_tokens` runs the model on right-padded batches of context +
continuation, takes `log_softmax` of the full-vocabulary logits at every position, and
then reads only the continuation's positions. For five-shot MMLU with SmolLM2-135M the
vocabulary projection (49,152 x 576) is a fifth of the model's multiply-adds per token,
and the log-softmax writes batch x tokens x vocabulary floats twice.

`use_continuation_logits(lm)` makes HFLM's `_model_call` return the logits of the last
`keep` positions only (transformers' `logits_to_keep`), where `keep` covers every row's
continuation: the batch's largest right padding plus the longest continuation of the
call. lm-eval finds the continuation in a shorter logits tensor by itself: it locates a
row's last input position as `inplen + (logits length - padded length)` (the same
arithmetic that lets prefix-tuned models return longer logits). The padding is read from
the input ids: lm-eval pads with token id 0, and a real trailing 0 only counts as padding,
which keeps more positions, never fewer. Every kept logit is the same computation on the
same hidden state, so log-likelihoods agree with plain HFLM to float rounding
(tests/unit/test_hf_scoring.py; tests/benchmarks/bench_eval.py times both).
"""

from __future__ import annotations

import inspect

import torch


def supports_continuation_logits(lm) -> bool:
    """Whether `lm` is a causal HFLM whose model takes `logits_to_keep`."""
    if getattr(lm, "backend", None) != "causal":
        return False
    forward = getattr(getattr(lm, "model", None), "forward", None)
    return forward is not None and "logits_to_keep" in inspect.signature(forward).parameters


def use_continuation_logits(lm) -> bool:
    """Make the HFLM instance `lm` compute logits only where its scoring reads them.

    Returns False (and changes nothing) for models without `logits_to_keep`."""
    if not supports_continuation_logits(lm):
        return False
    score_tokens, model_call = lm._loglikelihood_tokens, lm._model_call
    longest_continuation: list[int | None] = [None]

    def loglikelihood_tokens(requests, disable_tqdm: bool = False, override_bs=None):
        longest_continuation[0] = max((len(continuation) for _, _, continuation in requests), default=None)
        try:
            return score_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        finally:
            longest_continuation[0] = None

    def continuation_call(inps: torch.Tensor, attn_mask=None, labels=None) -> torch.Tensor:
        if longest_continuation[0] is None or attn_mask is not None or labels is not None:
            return model_call(inps, attn_mask, labels)  # batch-size probing, seq2seq: unchanged
        keep = positions_to_keep(inps, longest_continuation[0])
        mixed = getattr(lm, "mixed_precision_dtype", None)  # as HFLM's own _model_call
        with torch.no_grad(), torch.autocast(device_type=lm.device.type, dtype=mixed, enabled=mixed is not None):
            return lm.model(inps, logits_to_keep=keep).logits

    lm._loglikelihood_tokens = loglikelihood_tokens
    lm._model_call = continuation_call
    return True


def positions_to_keep(inps: torch.Tensor, longest_continuation: int) -> int:
    """The trailing positions of the right-padded batch `inps` that hold every row's
    continuation: its largest padding (trailing 0 ids) plus the longest continuation."""
    width = inps.shape[1]
    positions = torch.arange(1, width + 1, device=inps.device)
    lengths = ((inps != 0) * positions).amax(dim=1)  # up to the last non-zero id
    return min(width, width - int(lengths.min()) + longest_continuation)
