"""Shared-prefix, row-dropping generation returns what lm-eval's plain HF generation returns."""

from __future__ import annotations

import warnings

import pytest
import torch

from harness.runs.hf_generation import cache_argument, common_prefix_length


@pytest.mark.parametrize("rows, expected", [
    ([[1, 2, 3], [1, 2, 4]], 2),
    ([[1, 2, 3, 4], [1, 2, 3]], 2),  # every row keeps one token of its own
    ([[1, 2, 3], [1, 2, 3]], 2),
    ([[5, 2], [1, 2]], 0),
    ([[7, 8, 9]], 2),
    ([], 0),
])
def test_common_prefix_length(rows, expected):
    assert common_prefix_length(rows) == expected


SHARED = "You are a kind listener. Answer the speaker briefly and warmly, as a friend would do. "
TAILS = ["I lost my job today.", "My dog is sick and I am scared", "We won!", "it rained on my wedding day and "
         "everyone left early, I cried a lot", "hello", "I passed the exam after three tries"]


def _lm(batch_size: int):
    from lm_eval.api.registry import get_model

    from harness.embedded import resolve_model

    # the embedded model: a random tiny one repeats one token whatever its context, so it
    # could not show a wrong position or a lost prefix
    return get_model("hf").create_from_arg_obj({"pretrained": str(resolve_model("smollm2-135m-instruct"))},
                                               {"batch_size": batch_size, "device": "cpu"})


def _requests(until: list[str], max_gen_toks: int = 28, shared: str = SHARED):
    from lm_eval.api.instance import Instance

    return [Instance("generate_until", {}, (shared + tail, {"until": until, "max_gen_toks": max_gen_toks,
                                                            "do_sample": False}), idx)
            for idx, tail in enumerate(TAILS)]


def _batch_sizes_seen(lm) -> list[int]:
    seen = []
    model = lm.model
    original = model.generate

    def generate(*args, **kwargs):
        seen.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    model.generate = generate
    return seen


def test_same_text_as_plain_generation_with_stops_and_dropped_rows(one_torch_thread):
    from harness.runs.hf_generation import use_shared_prefix_generation

    plain = _lm(batch_size=len(TAILS))
    stops = ["\n\n"]  # some rows write it at once, some later, some never
    expected = plain.generate_until(_requests(until=stops), disable_tqdm=True)

    shared = _lm(batch_size=len(TAILS))
    use_shared_prefix_generation(shared)
    seen = _batch_sizes_seen(shared)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = shared.generate_until(_requests(until=stops), disable_tqdm=True)
    assert got == expected
    assert len(seen) > 1 and seen[-1] < seen[0], f"no row was dropped: batch sizes {seen}"
    assert not [w for w in caught if "past_key_values" in str(w.message)], "a deprecated cache argument was passed"


def test_the_cache_goes_by_the_name_the_model_declares():
    class Old(torch.nn.Module):
        def forward(self, input_ids=None, past_key_values=None, use_cache=None):
            pass

    class New(torch.nn.Module):
        def forward(self, input_ids=None, cache=None, use_cache=None):
            pass

    class PeftLike:  # peft's wrapper takes **kwargs and passes them to the model it wraps
        def __init__(self, base):
            self.base = base

        def get_base_model(self):
            return self.base

        def forward(self, *args, **kwargs):
            pass

    assert cache_argument(Old()) == "past_key_values"
    assert cache_argument(New()) == "cache"
    assert cache_argument(PeftLike(New())) == "cache"
    assert cache_argument(PeftLike(Old())) == "past_key_values"


def test_same_text_without_stops_and_in_small_batches(one_torch_thread):
    from harness.runs.hf_generation import use_shared_prefix_generation

    expected = _lm(batch_size=4).generate_until(_requests(until=[], max_gen_toks=21), disable_tqdm=True)
    shared = _lm(batch_size=4)
    use_shared_prefix_generation(shared)
    assert shared.generate_until(_requests(until=[], max_gen_toks=21), disable_tqdm=True) == expected


def _refills_seen(monkeypatch) -> tuple[list[int], list[int]]:
    """The size of every group of prompts prefilled, and the padding columns inserted
    into a batch to merge it with another."""
    from harness.runs import hf_generation

    groups: list[int] = []
    inserted: list[int] = []
    prefill, widen = hf_generation._Decoder.prefill, hf_generation._widen

    def counted_prefill(self, group):
        groups.append(len(group))
        return prefill(self, group)

    def counted_widen(batch, width, prefix, pad_id):
        inserted.append(width - batch.ids.shape[1])
        return widen(batch, width, prefix, pad_id)

    monkeypatch.setattr(hf_generation._Decoder, "prefill", counted_prefill)
    monkeypatch.setattr(hf_generation, "_widen", counted_widen)
    return groups, inserted


@pytest.mark.parametrize("shared", [SHARED, ""], ids=["shared prefix", "no shared prefix"])
def test_same_text_when_waiting_prompts_refill_stopped_rows(one_torch_thread, monkeypatch, shared):
    """More prompts than slots: rows stop at different points and waiting prompts take their
    places beside rows that have decoded for a while, so padding goes in after the prefix of
    the shorter batch (wrong positions or attended padding would change the text), and
    prompts of different lengths are prefilled side by side."""
    from harness.runs import hf_generation

    stops = [".", "!", "\n\n"]  # rows stop after 0 to 28 tokens
    expected = _lm(batch_size=len(TAILS)).generate_until(_requests(until=stops, shared=shared), disable_tqdm=True)

    slots = 2
    assert slots * hf_generation.PROMPTS_PER_SLOT >= len(TAILS)  # one lm-eval batch: every refill in one call
    monkeypatch.setattr(hf_generation, "CHUNK", 4)  # more chunk ends: rows of a batch stop in different chunks
    lm = _lm(batch_size=slots)
    hf_generation.use_shared_prefix_generation(lm)
    groups, inserted = _refills_seen(monkeypatch)
    seen = _batch_sizes_seen(lm)
    got = lm.generate_until(_requests(until=stops, shared=shared), disable_tqdm=True)
    assert got == expected
    assert sum(groups) == len(TAILS) and len(groups) >= 3, f"prefilled groups {groups}"
    assert max(seen) <= slots
    assert any(n > 0 for n in inserted), f"no padding was inserted to merge: {inserted}"
