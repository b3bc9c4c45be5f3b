"""From texts to padded tensors: tokenization (lowercased, truncated) and batching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from harness.epitome.data import Pair, rationale_token_labels
from harness.epitome.model import IGNORE
from harness.errors import HarnessError


@dataclass
class Encoded:
    seeker_ids: list[list[int]]
    response_ids: list[list[int]]
    levels: list[int] | None = None
    rationales: list[list[int]] | None = None
    unmatched_rationales: int = 0

    def __len__(self) -> int:
        return len(self.response_ids)


def check_fast(tokenizer) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise HarnessError(
            f"the EPITOME instrument needs a fast (Rust) tokenizer for rationale offsets; "
            f"{type(tokenizer).__name__} is not one: pick a backbone with a tokenizer.json"
        )


def encode_texts(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return tokenizer([t.lower() for t in texts], truncation=True, max_length=max_length)["input_ids"]


def encode_pairs(tokenizer, pairs: Sequence[Pair], max_length: int) -> Encoded:
    """Training features: ids, levels and rationale token labels (texts are lowercased already)."""
    check_fast(tokenizer)
    responses = tokenizer([p.response for p in pairs], truncation=True, max_length=max_length,
                          return_offsets_mapping=True)
    rationales, unmatched = [], 0
    for pair, offsets in zip(pairs, responses["offset_mapping"]):
        labels, missed = rationale_token_labels(pair.response, pair.rationales, offsets)
        rationales.append(labels)
        unmatched += missed
    return Encoded(
        seeker_ids=encode_texts(tokenizer, [p.seeker for p in pairs], max_length),
        response_ids=responses["input_ids"],
        levels=[p.level for p in pairs],
        rationales=rationales,
        unmatched_rationales=unmatched,
    )


def pad(rows: Sequence[Sequence[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) right-padded to the longest row."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def pad_states(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (length, hidden) tensors into (batch, longest, hidden) and a mask."""
    width = max(s.shape[0] for s in states)
    out = states[0].new_zeros((len(states), width, states[0].shape[1]))
    mask = torch.zeros((len(states), width), dtype=torch.long)
    for i, s in enumerate(states):
        out[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return out, mask


def rationale_tensor(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    labels, _ = pad(rows, IGNORE)
    return labels


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (for inference: less padding).
    The model's output for a pair does not depend on its batch (padding is masked)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def bucketed_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator,
                     pool_batches: int = 16) -> list[list[int]]:
    """Training batches in random order, each of similar lengths: a random permutation is
    cut into pools of `pool_batches` batches, each pool sorted by length and cut into
    batches, and the batches shuffled. Less padding, so less compute per epoch."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * pool_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]
