"""Response encoders that share their lower layers compute them once.

Where classifiers' response encoders hold identical weights in their embeddings and first
k transformer layers (the MiniLM recipe trains only the top 3 of 6 layers, so the three
mechanisms' encoders agree up to layer 3), the embeddings and those k layers run once per
batch of responses, and each classifier runs only its own layers above k, then its
attention and heads. k is found by comparing the weights, never assumed from a recipe.

Only encoders whose forward pass is exactly "embeddings, then encoder.layer[i] in turn
under one attention mask" are split (BERT and RoBERTa); any other runs its full pass.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from harness.epitome import features
from harness.epitome.model import NUM_LEVELS

SPLITTABLE = ("bert", "roberta")  # model types whose forward is embeddings -> encoder.layer[0..n-1]


def splittable(encoder: nn.Module) -> bool:
    config = getattr(encoder, "config", None)
    return (getattr(config, "model_type", None) in SPLITTABLE and not config.is_decoder
            and not getattr(config, "add_cross_attention", False)
            and hasattr(encoder, "embeddings") and isinstance(getattr(encoder.encoder, "layer", None), nn.ModuleList))


def num_layers(encoder: nn.Module) -> int:
    """Its transformer layers where it can be split, else 0."""
    return len(encoder.encoder.layer) if splittable(encoder) else 0


def shared_depth(a: nn.Module, b: nn.Module) -> int:
    """The largest k such that the two encoders' embeddings and layers 0..k-1 hold identical
    tensors (and their configurations agree); 0 where the embeddings differ or an encoder
    cannot be split."""
    if not (splittable(a) and splittable(b)) or _settings(a) != _settings(b):
        return 0
    if not same_weights(a.embeddings, b.embeddings):
        return 0
    depth = 0
    for layer_a, layer_b in zip(a.encoder.layer, b.encoder.layer):
        if not same_weights(layer_a, layer_b):
            break
        depth += 1
    return depth


def worth_joining(members: int, depth: int, shared: int, layers: int) -> bool:
    """Whether an encoder sharing `shared` layers with a group of `members` encoders that
    share `depth` should join it (the group then shares min(depth, shared)): whether fewer
    layers run per batch, counting depth + members x (layers - depth) for a group."""
    def passes(n: int, d: int) -> int:
        return d + n * (layers - d)

    return passes(members + 1, min(depth, shared)) < passes(members, depth) + layers


def lower(encoder: nn.Module, ids: torch.Tensor, mask: torch.Tensor, depth: int) -> tuple[torch.Tensor, object]:
    """(token states after the embeddings and the first `depth` layers, the layers' mask).
    The mask comes from transformers' own helper, as the model's forward builds it (its
    form depends on the attention implementation: none, additive or boolean)."""
    from transformers.masking_utils import create_bidirectional_mask

    hidden = encoder.embeddings(input_ids=ids)
    layer_mask = create_bidirectional_mask(config=encoder.config, inputs_embeds=hidden, attention_mask=mask)
    return upper(encoder, hidden, layer_mask, 0, depth), layer_mask


def upper(encoder: nn.Module, hidden: torch.Tensor, layer_mask, start: int, stop: int | None = None) -> torch.Tensor:
    """Token states after the encoder's layers start..stop-1 (to the last when stop is None)."""
    for layer in encoder.encoder.layer[start:stop]:
        hidden = layer(hidden, layer_mask)
    return hidden


@torch.no_grad()
def shared_logits(models: Sequence[nn.Module], data: features.Encoded, pad_id: int, seeker_states: Sequence,
                  depth: int, batch_size: int = 64) -> list[torch.Tensor]:
    """Level logits (offsets included) of each EpitomeBiEncoder in `models`, one row per pair
    in the data's order: the embeddings and first `depth` response layers run once per batch
    (on the first model's weights, identical in all), the rest per model with its own
    seeker states (a training.SeekerStates each). Batches are cut as in
    training.predict_logits, so each model's logits are those of its own full pass."""
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    logits = [torch.zeros(len(data), NUM_LEVELS) for _ in models]
    for idx in features.length_batches([len(r) for r in data.response_ids], batch_size):
        ids, mask = features.pad([data.response_ids[i] for i in idx], pad_id)
        hidden, layer_mask = lower(models[0].response_encoder, ids, mask, depth)
        rows, where = [data.seeker_ids[i] for i in idx], torch.tensor(idx)
        for model, states, out in zip(models, seeker_states, logits):
            seeker, seeker_mask = states.batch(rows)
            response = upper(model.response_encoder, hidden, layer_mask, depth)
            out[where] = model.heads(response, seeker, seeker_mask)[0].float()
    for m, training in zip(models, was_training):
        m.train(training)
    return logits


def _settings(encoder: nn.Module) -> dict:
    config = encoder.config.to_dict()
    # where each classifier was loaded from is no setting of its layers
    config = {k: v for k, v in config.items() if k not in ("_name_or_path", "_commit_hash", "transformers_version")}
    return {**config, "class": type(encoder).__name__, "attention": encoder.config._attn_implementation}


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """Whether the two modules hold the same parameter and buffer tensors."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
