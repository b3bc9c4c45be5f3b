"""Batched generation for lm-eval's HF backend that wastes less of a small machine.

`transformers.generate` on a padded batch (what lm-eval's HFLM calls) does three kinds of
work that change nothing in the output:

- it encodes the prompt part every row shares (ed_empathy's system prompt, about a third
  of each prompt) once per row,
- it keeps decoding rows that have already stopped until the batch's longest response
  stops (base models write a few long answers among many short ones), and
- as rows stop, what is left of each batch decodes a few rows at a time, at nearly the
  cost of a full batch per step.

`use_shared_prefix_generation(lm)` replaces HFLM's `_model_generate` with one that
encodes the common token prefix of the batch once and continues `generate` in chunks of
`CHUNK` new tokens from the KV cache, decoding at most `slots` rows at once (the batch
size the HFLM was made with). After each chunk the rows that stopped are dropped, and
once enough slots are free the next waiting prompts are prefilled (on a copy of the
prefix's cache, up to their last token) and merged into the running batch: the shorter of
the two gets padding right after the shared prefix, in its token ids, attention mask and
KV cache alike, so both are the same width and stack on the batch dimension. Positions
follow the attention mask, so that padding shifts nothing; columns that are padding in
every remaining row are removed again. lm-eval hands the function `PROMPTS_PER_SLOT`
times the slots per batch, so that the batch shrinks only at the end of a batch; lm-eval
caches responses per batch, so an interrupted run loses at most that many.

Every token still comes from `model.generate` with lm-eval's arguments and stop
criteria; what is returned has the layout lm-eval expects (its context columns, then the
new tokens, padded; rows in lm-eval's order). Greedy tokens can differ from the plain call
only where float rounding differs between batch shapes, as they already do between batch
sizes (tests/unit/test_hf_generation.py compares both; tests/benchmarks/bench_eval.py
times them). Caches other than plain per-layer key/value tensors (sliding windows,
quantized, recurrent) cannot take inserted padding: those batches decode every row at
once, dropping stopped rows, as before.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import torch

from harness.runs.hf_scoring import supports_continuation_logits

CHUNK = 16  # new tokens per generate call: small enough to drop stopped rows early
MIN_PREFIX = 8  # shorter common prefixes are not worth a separate forward pass
REFILL_FRACTION = 8  # waiting prompts join once 1/8 of the slots are free: prefilled together
PROMPTS_PER_SLOT = 4  # lm-eval batch = 4 x slots: the tail of small batches comes once per lm-eval batch,
# and an interruption loses at most one lm-eval batch (lm-eval caches responses per batch)


def use_shared_prefix_generation(lm, slots: int | None = None) -> None:
    """Make the HFLM instance `lm` generate through `generate_compacting`, decoding at most
    `slots` rows at once (default: its batch size) while lm-eval hands it `PROMPTS_PER_SLOT`
    times as many prompts per batch."""
    slots = slots or (lm.batch_size if isinstance(lm.batch_size, int) else None)

    def model_generate(context, max_length: int, stop: list[str], **generation_kwargs):
        return generate_compacting(lm, context, max_length, stop, slots=slots, **generation_kwargs)

    lm._model_generate = model_generate
    if slots is None:  # "auto": lm-eval sizes the batches and every row is decoded at once
        return
    original = lm.generate_until

    def generate_until(requests, disable_tqdm: bool = False):
        size = lm.batch_size_per_gpu
        lm.batch_size_per_gpu = slots * PROMPTS_PER_SLOT
        try:
            return original(requests, disable_tqdm=disable_tqdm)
        finally:
            lm.batch_size_per_gpu = size

    lm.generate_until = generate_until


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
                        attention_mask: torch.Tensor | None = None, slots: int | None = None,
                        **generation_kwargs) -> torch.Tensor:
    """lm-eval's `_model_generate` for one lm-eval batch, decoding at most `slots` rows at once."""
    if attention_mask is None:
        attention_mask = torch.ones_like(context)
    if max_length <= context.shape[1]:
        return context
    rows = [context[i][attention_mask[i].bool()].tolist() for i in range(context.shape[0])]
    decoder = _Decoder(lm, rows, max_length - context.shape[1], stop, generation_kwargs, context.device)
    slots = min(slots or len(rows), len(rows)) if decoder.refillable else len(rows)
    waiting = list(range(len(rows)))[::-1]  # popped from the end: lm-eval's order (longest first)
    running: _Batch | None = None
    while running is not None or waiting:
        free = slots - (len(running.rows) if running is not None else 0)
        if waiting and free >= min(max(1, slots // REFILL_FRACTION), len(waiting)):
            group = [waiting.pop() for _ in range(min(free, len(waiting)))]
            running = _merge(running, decoder.prefill(group), decoder.prefix, decoder.pad_id)
        running = decoder.decode(running)

    width = context.shape[1]
    longest = max((len(t) for t in decoder.new_tokens), default=0)
    result = torch.full((len(rows), width + longest), decoder.pad_id, dtype=context.dtype, device=context.device)
    result[:, :width] = context
    for i, tokens in enumerate(decoder.new_tokens):
        if tokens:
            result[i, width:width + len(tokens)] = torch.tensor(tokens, dtype=context.dtype)
    return result


def cache_argument(model) -> str:
    """The name `model` takes its KV cache by: `cache` where its `forward` declares it
    (recent transformers, which deprecate `past_key_values` and drop it from `forward` in
    5.40), else `past_key_values`. The outputs of `forward` and `generate` use the same
    name. A peft wrapper passes both through to the model it wraps."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


@dataclass
class _Batch:
    """Rows decoded together: `ids` and `mask` in the [shared prefix | padding | the row's
    own tokens] layout; `cache` holds every column but the last, which the next `generate`
    call feeds."""

    rows: list[int]
    ids: torch.Tensor
    mask: torch.Tensor
    cache: object  # transformers.DynamicCache


class _Decoder:
    """The state of one `generate_compacting` call: the prefix's KV cache, lm-eval's
    generation arguments, and the new tokens of every row so far."""

    def __init__(self, lm, rows: list[list[int]], max_new: int, stop: list[str], generation_kwargs: dict, device):
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        self.model, self.tokenizer, self.rows, self.max_new, self.stop = lm.model, lm.tokenizer, rows, max_new, stop
        self.device = device
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.eos = set(_eos_ids(self.model, self.tokenizer))
        self.kwargs = _greedy_defaults(generation_kwargs)
        self.kwargs.pop("max_new_tokens", None)  # each chunk sets its own
        self.new_tokens: list[list[int]] = [[] for _ in rows]
        prefix = common_prefix_length(rows) if len(rows) > 1 else 0
        self.prefix = prefix if prefix >= MIN_PREFIX else 0
        # only caches are wanted from the prompts: logits at every prompt position would be
        # a (rows x tokens x vocabulary) tensor, about 2 GB for 64 ED prompts
        self.cache_only = {"logits_to_keep": 1} if supports_continuation_logits(lm) else {}
        self.prefix_cache = DynamicCache(config=self.model.config)
        self.cache_arg = cache_argument(self.model)
        if self.prefix:
            ids = torch.tensor([rows[0][:self.prefix]], device=device)
            with torch.no_grad():
                self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True,
                           **{self.cache_arg: self.prefix_cache}, **self.cache_only)
        # padding inserted into and removed from the cache is only sound for plain KV tensors
        # (not sliding windows, quantized or recurrent states)
        self.refillable = all(type(layer) is DynamicLayer for layer in self.prefix_cache.layers)

    def prefill(self, group: list[int]) -> _Batch:
        """The cache of `group`'s prompts up to their last token, on a copy of the prefix's."""
        ids, mask = _prefix_layout([self.rows[r] for r in group], self.prefix, self.pad_id, self.device)
        cache = copy.deepcopy(self.prefix_cache)
        cache.batch_repeat_interleave(len(group))
        if ids.shape[1] - 1 > self.prefix:
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.no_grad():
                self.model(input_ids=ids[:, self.prefix:-1], attention_mask=mask[:, :-1],
                           position_ids=positions[:, self.prefix:-1], use_cache=True,
                           **{self.cache_arg: cache}, **self.cache_only)
        return _Batch(group, ids, mask, cache)

    def decode(self, batch: _Batch) -> _Batch | None:
        """Up to `CHUNK` new tokens for every row; the rows still going, or None."""
        from lm_eval.models.utils_hf import stop_sequences_criteria

        step = min(CHUNK, min(self.max_new - len(self.new_tokens[r]) for r in batch.rows))
        criteria = stop_sequences_criteria(self.tokenizer, self.stop, batch.ids.shape[1], batch.ids.shape[0])
        out = self.model.generate(input_ids=batch.ids, attention_mask=batch.mask, **{self.cache_arg: batch.cache},
                                  max_new_tokens=step, stopping_criteria=criteria, pad_token_id=self.pad_id,
                                  use_cache=True, return_dict_in_generate=True, **self.kwargs)
        fresh = out.sequences[:, batch.ids.shape[1]:]
        keep = []
        for position, row in enumerate(batch.rows):
            tokens = fresh[position].tolist()
            done = _stopped(tokens, self.eos, self.stop, self.tokenizer, self.new_tokens[row])
            self.new_tokens[row].extend(tokens)
            if not done and len(self.new_tokens[row]) < self.max_new:
                keep.append(position)
        mask = torch.cat([batch.mask, torch.ones_like(fresh)], dim=1)
        batch = _Batch(batch.rows, out.sequences, mask, getattr(out, self.cache_arg))
        return self._select(batch, keep) if keep else None

    def _select(self, batch: _Batch, keep: list[int]) -> _Batch:
        """The rows at positions `keep`, without the columns that are padding in all of them."""
        if len(keep) == len(batch.rows):
            return batch
        index = torch.tensor(keep, dtype=torch.long, device=batch.ids.device)
        batch.cache.batch_select_indices(index)
        ids, mask = batch.ids.index_select(0, index), batch.mask.index_select(0, index)
        used = mask.any(dim=0)
        if self.refillable and not bool(used.all()):
            columns = used.nonzero().squeeze(1)
            cached = columns[:-1]  # the last column is never padding and not yet cached
            ids, mask = ids.index_select(1, columns), mask.index_select(1, columns)
            for layer in batch.cache.layers:
                if layer.is_initialized:
                    layer.keys, layer.values = layer.keys.index_select(2, cached), layer.values.index_select(2, cached)
        return _Batch([batch.rows[p] for p in keep], ids, mask, batch.cache)


def _merge(a: _Batch | None, b: _Batch | None, prefix: int, pad_id: int) -> _Batch | None:
    """One batch of both: the shorter one padded right after the shared prefix (positions
    follow the mask, so this padding shifts nothing), then stacked."""
    if a is None or b is None:
        return a or b
    width = max(a.ids.shape[1], b.ids.shape[1])
    a, b = _widen(a, width, prefix, pad_id), _widen(b, width, prefix, pad_id)
    for first, second in zip(a.cache.layers, b.cache.layers, strict=True):
        if not first.is_initialized:  # a layer without a cache of its own
            continue
        if not second.is_initialized:  # b caches no column: one-token prompts, no shared prefix
            second.keys = first.keys.new_zeros((len(b.rows), *first.keys.shape[1:]))
            second.values = first.values.new_zeros((len(b.rows), *first.values.shape[1:]))
        first.keys = torch.cat([first.keys, second.keys])
        first.values = torch.cat([first.values, second.values])
    return _Batch(a.rows + b.rows, torch.cat([a.ids, b.ids]), torch.cat([a.mask, b.mask]), a.cache)


def _widen(batch: _Batch, width: int, prefix: int, pad_id: int) -> _Batch:
    extra = width - batch.ids.shape[1]
    if extra == 0:
        return batch

    def insert(t: torch.Tensor, dim: int, fill) -> torch.Tensor:
        shape = list(t.shape)
        shape[dim] = extra
        return torch.cat([t.narrow(dim, 0, prefix), torch.full(shape, fill, dtype=t.dtype, device=t.device),
                          t.narrow(dim, prefix, t.shape[dim] - prefix)], dim=dim)

    for layer in batch.cache.layers:
        if layer.is_initialized:
            layer.keys, layer.values = insert(layer.keys, 2, 0), insert(layer.values, 2, 0)
    return _Batch(batch.rows, insert(batch.ids, 1, pad_id), insert(batch.mask, 1, 0), batch.cache)


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
