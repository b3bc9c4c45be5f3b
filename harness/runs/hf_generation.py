"""Batched generation for lm-eval's HF backend that wastes less of a small machine.

`transformers.generate` on a padded batch (what lm-eval's HFLM calls) does two kinds of
work that change nothing in the output:

- it encodes the prompt part every row shares (ed_empathy's system prompt, about a third
  of each prompt) once per row, and
- it keeps decoding rows that have already stopped until the batch's longest response
  stops (base models write a few long answers among many short ones).

`use_shared_prefix_generation(lm)` replaces HFLM's `_model_generate` with one that
encodes the common token prefix of the batch once and continues `generate` in chunks of
`CHUNK` new tokens from the KV cache, dropping the rows that stopped after each chunk.
Every token still comes from `model.generate` with lm-eval's arguments and stop
criteria; what is returned has the layout lm-eval expects (its context columns, then the
new tokens, padded). Greedy tokens can differ from the plain call only where float
rounding differs between batch shapes, as they already do between batch sizes
(tests/unit/test_hf_generation.py compares both; tests/benchmarks/bench_eval.py times them).
"""

from __future__ import annotations

import torch

CHUNK = 16  # new tokens per generate call: small enough to drop stopped rows early
MIN_PREFIX = 8  # shorter common prefixes are not worth a separate forward pass


def use_shared_prefix_generation(lm) -> None:
    """Make the HFLM instance `lm` generate through `generate_compacting`."""

    def model_generate(context, max_length: int, stop: list[str], **generation_kwargs):
        return generate_compacting(lm, context, max_length, stop, **generation_kwargs)

    lm._model_generate = model_generate


def common_prefix_length(rows: list[list[int]]) -> int:
    """Length of the token prefix all rows share, leaving every row at least one token."""
    if not rows:
        return 0
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


def generate_compacting(lm, context: torch.Tensor, max_length: int, stop: list[str],
                        attention_mask: torch.Tensor | None = None, **generation_kwargs) -> torch.Tensor:
    from lm_eval.models.utils_hf import stop_sequences_criteria
    from transformers import DynamicCache

    model, tokenizer = lm.model, lm.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if attention_mask is None:
        attention_mask = torch.ones_like(context)
    width = context.shape[1]
    max_new = max_length - width
    kwargs = _greedy_defaults(generation_kwargs)
    kwargs.pop("max_new_tokens", None)  # each chunk sets its own

    rows = [context[i][attention_mask[i].bool()].tolist() for i in range(context.shape[0])]
    prefix = common_prefix_length(rows) if len(rows) > 1 else 0
    cache = DynamicCache(config=model.config)
    if prefix >= MIN_PREFIX:
        ids, mask = _prefix_layout(rows, prefix, pad_id, context.device)
        with torch.no_grad():
            model(input_ids=ids[:1, :prefix], attention_mask=mask[:1, :prefix], past_key_values=cache, use_cache=True)
        cache.batch_repeat_interleave(len(rows))
    else:
        ids, mask = context, attention_mask

    eos = set(_eos_ids(model, tokenizer))
    new_tokens: list[list[int]] = [[] for _ in rows]
    active = list(range(len(rows)))
    produced = 0
    while active and produced < max_new:
        step = min(CHUNK, max_new - produced)
        criteria = stop_sequences_criteria(tokenizer, stop, ids.shape[1], ids.shape[0])
        out = model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache, max_new_tokens=step,
                             stopping_criteria=criteria, pad_token_id=pad_id, use_cache=True,
                             return_dict_in_generate=True, **kwargs)
        fresh = out.sequences[:, ids.shape[1]:]
        produced += fresh.shape[1]
        keep = []
        for position, row in enumerate(active):
            tokens = fresh[position].tolist()
            done = _stopped(tokens, eos, stop, tokenizer, new_tokens[row])
            new_tokens[row].extend(tokens)
            if not done:
                keep.append(position)
        cache, ids = out.past_key_values, out.sequences
        mask = torch.cat([mask, torch.ones_like(fresh)], dim=1)
        if len(keep) < len(active):
            index = torch.tensor(keep, dtype=torch.long, device=ids.device)
            cache.batch_select_indices(index)
            ids, mask = ids.index_select(0, index), mask.index_select(0, index)
            active = [active[p] for p in keep]

    longest = max((len(t) for t in new_tokens), default=0)
    result = torch.full((len(rows), width + longest), pad_id, dtype=context.dtype, device=context.device)
    result[:, :width] = context
    for i, tokens in enumerate(new_tokens):
        if tokens:
            result[i, width:width + len(tokens)] = torch.tensor(tokens, dtype=context.dtype)
    return result


def _prefix_layout(rows: list[list[int]], prefix: int, pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """[shared prefix | left-padded rest]: the prefix's cache is computed once and copied
    to every row; positions follow the attention mask, so the padding in the middle
    shifts nothing."""
    rest = max(len(r) for r in rows) - prefix
    ids = torch.full((len(rows), prefix + rest), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        tail = r[prefix:]
        ids[i, :prefix] = torch.tensor(r[:prefix])
        ids[i, prefix + rest - len(tail):] = torch.tensor(tail)
        mask[i, :prefix] = 1
        mask[i, prefix + rest - len(tail):] = 1
    return ids, mask


def _greedy_defaults(kwargs: dict) -> dict:
    """HFLM's handling of temperature 0 (greedy, no temperature passed to HF)."""
    kwargs = dict(kwargs)
    kwargs["temperature"] = kwargs.get("temperature", 0.0)
    if kwargs["temperature"] == 0.0 and kwargs.get("do_sample") is None:
        kwargs["do_sample"] = False
    if kwargs.get("do_sample") is False and kwargs["temperature"] == 0.0:
        kwargs.pop("temperature")
    return kwargs


def _eos_ids(model, tokenizer) -> list[int]:
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else ([ids] if isinstance(ids, int) else list(ids))
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return ids


def _stopped(tokens: list[int], eos: set[int], stop: list[str], tokenizer, before: list[int]) -> bool:
    """Whether a row is finished after this chunk: an end-of-sequence token (generate pads
    after it), or one of lm-eval's stop strings in its text so far."""
    if any(t in eos for t in tokens):
        return True
    text = tokenizer.decode(before[-8:] + tokens, skip_special_tokens=False)
    return any(s and s in text for s in stop)
