"""The EPITOME bi-encoder of Sharma et al. (2020), on any transformers encoder.

Two encoders of the same backbone, one for the seeker post and one for the response.
The response's token states attend to the seeker's (single-head attention), and the
result is added back residually through dropout. A level head reads the first token
(dropout, dense, ReLU, dropout, 3 classes); a rationale head labels every response token
(dropout, 2 classes). Loss = 1.0 x level CE + 0.5 x rationale CE over the response's
real tokens. `level_offsets` (a saved buffer, zero while training) is added to the level
logits: a recipe may fit it on the validation part after training (see training.py). Details follow the reference code (behavioral-data/Empathy-Mental-Health,
src/models/models.py), with one change: the attention ignores the seeker's padding, so a
pair's level does not depend on how long the other pairs in its batch are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

NUM_LEVELS = 3
NUM_RATIONALE_LABELS = 2
IGNORE = -100


class SeekerAttention(nn.Module):
    """Single-head scaled dot-product attention from response tokens to seeker tokens."""

    def __init__(self, hidden: int, dropout: float = 0.1):
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.scale = 1.0 / math.sqrt(hidden)

    def forward(self, response: torch.Tensor, seeker: torch.Tensor, seeker_mask: torch.Tensor) -> torch.Tensor:
        scores = self.query(response) @ self.key(seeker).transpose(1, 2) * self.scale
        scores = scores.masked_fill(seeker_mask[:, None, :] == 0, torch.finfo(scores.dtype).min)
        weights = self.dropout(F.softmax(scores, dim=-1))
        return self.out(weights @ self.value(seeker))


class LevelHead(nn.Module):
    def __init__(self, hidden: int, dropout: float = 0.1):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, NUM_LEVELS)
        self.dropout = nn.Dropout(dropout)

    def forward(self, first_token: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(torch.relu(self.dense(self.dropout(first_token)))))


@dataclass
class EpitomeOutput:
    level_logits: torch.Tensor  # (batch, 3)
    rationale_logits: torch.Tensor  # (batch, response tokens, 2)
    loss: torch.Tensor | None = None
    level_loss: torch.Tensor | None = None
    rationale_loss: torch.Tensor | None = None


class EpitomeBiEncoder(nn.Module):
    def __init__(self, config, dropout: float = 0.1):
        from transformers import AutoModel

        super().__init__()
        self.config = config
        self.seeker_encoder = AutoModel.from_config(config)
        self.response_encoder = AutoModel.from_config(config)
        hidden = config.hidden_size
        self.attention = SeekerAttention(hidden, dropout=0.1)
        self.dropout = nn.Dropout(dropout)
        self.level_head = LevelHead(hidden, dropout=0.1)
        self.rationale_head = nn.Linear(hidden, NUM_RATIONALE_LABELS)
        for module in (self.attention, self.level_head, self.rationale_head):
            module.apply(_init_linear)
        self.register_buffer("level_offsets", torch.zeros(NUM_LEVELS))

    @classmethod
    def from_backbone(cls, path: str, dropout: float = 0.1) -> "EpitomeBiEncoder":
        """Both encoders start from the backbone's pretrained weights; the heads are new."""
        from transformers import AutoModel

        pretrained = AutoModel.from_pretrained(path)
        model = cls(pretrained.config, dropout=dropout)
        state = pretrained.state_dict()
        model.seeker_encoder.load_state_dict(state)
        model.response_encoder.load_state_dict(state)
        return model

    def encode_seeker(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.seeker_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def heads(self, response: torch.Tensor, seeker_states: torch.Tensor,
              seeker_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(level logits, rationale logits) from the response encoder's token states: the
        response-to-seeker attention with residual, then the two heads."""
        response = response + self.dropout(self.attention(response, seeker_states, seeker_mask))
        level_logits = self.level_head(response[:, 0, :]) + self.level_offsets
        return level_logits, self.rationale_head(self.dropout(response))

    def forward(
        self,
        seeker_ids: torch.Tensor | None,
        seeker_mask: torch.Tensor,
        response_ids: torch.Tensor,
        response_mask: torch.Tensor,
        *,
        seeker_states: torch.Tensor | None = None,
        levels: torch.Tensor | None = None,
        rationales: torch.Tensor | None = None,
        level_weight: float = 1.0,
        rationale_weight: float = 0.5,
        class_weights: torch.Tensor | None = None,
    ) -> EpitomeOutput:
        """`seeker_states` may be given instead of `seeker_ids` (a frozen seeker encoder's
        output computed once); `rationales` uses IGNORE (-100) for padding."""
        if seeker_states is None:
            seeker_states = self.encode_seeker(seeker_ids, seeker_mask)
        response = self.response_encoder(input_ids=response_ids, attention_mask=response_mask).last_hidden_state
        level_logits, rationale_logits = self.heads(response, seeker_states, seeker_mask)
        out = EpitomeOutput(level_logits, rationale_logits)
        if levels is not None and rationales is not None:
            out.level_loss = F.cross_entropy(level_logits, levels, weight=class_weights)
            labels = rationales.masked_fill(response_mask == 0, IGNORE)
            out.rationale_loss = F.cross_entropy(
                rationale_logits.reshape(-1, NUM_RATIONALE_LABELS), labels.reshape(-1), ignore_index=IGNORE
            )
            out.loss = level_weight * out.level_loss + rationale_weight * out.rationale_loss
        return out


def _init_linear(module: nn.Module) -> None:
    # as the reference: normal(0, 0.02) weights, zero biases
    if isinstance(module, nn.Linear):
        module.weight.data.normal_(mean=0.0, std=0.02)
        if module.bias is not None:
            module.bias.data.zero_()
