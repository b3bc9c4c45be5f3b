"""The bi-encoder's wiring: shapes, the 1.0 / 0.5 loss, padding that changes nothing."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from harness.embedded import resolve_model
from harness.epitome.model import IGNORE, EpitomeBiEncoder


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = EpitomeBiEncoder.from_backbone(resolve_model("tiny-bert"))
    m.eval()
    return m


def batch():
    torch.manual_seed(1)
    vocab = 100  # tiny-bert's vocabulary is larger
    seeker = torch.randint(5, vocab, (2, 7))
    response = torch.randint(5, vocab, (2, 5))
    seeker_mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    response_mask = torch.tensor([[1] * 5, [1] * 3 + [0] * 2])
    return seeker, seeker_mask, response, response_mask


def test_both_encoders_start_from_the_backbone(model):
    s, r = model.seeker_encoder.state_dict(), model.response_encoder.state_dict()
    assert all(torch.equal(s[k], r[k]) for k in s)


def test_shapes_and_loss_weights(model):
    seeker, smask, response, rmask = batch()
    levels = torch.tensor([2, 0])
    rationales = torch.tensor([[0, 1, 1, 0, 0], [1, 0, 0, 1, 1]])
    out = model(seeker, smask, response, rmask, levels=levels, rationales=rationales)
    assert out.level_logits.shape == (2, 3) and out.rationale_logits.shape == (2, 5, 2)
    level_ce = F.cross_entropy(out.level_logits, levels)
    # padding positions of the second response are not part of the rationale loss
    kept = rationales.masked_fill(rmask == 0, IGNORE)
    rationale_ce = F.cross_entropy(out.rationale_logits.reshape(-1, 2), kept.reshape(-1), ignore_index=IGNORE)
    assert out.loss.item() == pytest.approx(1.0 * level_ce.item() + 0.5 * rationale_ce.item(), rel=1e-6)
    assert out.level_loss.item() == pytest.approx(level_ce.item(), rel=1e-6)


def test_padding_does_not_change_a_pair(model):
    seeker, smask, response, rmask = batch()
    with torch.no_grad():
        alone = model(seeker[1:, :4], smask[1:, :4], response[1:, :3], rmask[1:, :3]).level_logits
        padded = model(seeker, smask, response, rmask).level_logits[1:]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_the_seeker_matters(model):
    seeker, smask, response, rmask = batch()
    with torch.no_grad():
        a = model(seeker, smask, response, rmask).level_logits[0]
        b = model(torch.flip(seeker, [1]), smask, response, rmask).level_logits[0]
    assert not torch.allclose(a, b)


def test_only_the_top_layers_learn_when_asked():
    from harness.epitome.training import freeze_lower_layers

    m = EpitomeBiEncoder.from_backbone(resolve_model("tiny-bert"))
    freeze_lower_layers(m.response_encoder, 1)
    learning = {n.split(".")[0] + "." + n.split(".")[2] if n.startswith("encoder.") else n.split(".")[0]
                for n, p in m.response_encoder.named_parameters() if p.requires_grad}
    assert learning == {"encoder.1", "pooler"}  # tiny-bert has layers 0 and 1
    seeker, smask, response, rmask = batch()
    out = m(seeker, smask, response, rmask, levels=torch.tensor([0, 1]), rationales=torch.zeros(2, 5, dtype=torch.long))
    out.loss.backward()
    assert m.response_encoder.encoder.layer[0].output.dense.weight.grad is None
    assert m.response_encoder.encoder.layer[1].output.dense.weight.grad is not None
