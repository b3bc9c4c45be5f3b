"""Training one EPITOME classifier: fixed split, epochs, model selection on validation.

The epoch kept is the one with the best validation macro-F1; the held-out test part is
scored once, with that epoch's weights, and never used to choose anything.
"""

from __future__ import annotations

import copy
import os
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from harness.epitome import features
from harness.epitome.data import LEVELS, Pair
from harness.epitome.model import NUM_LEVELS, EpitomeBiEncoder
from harness.epitome.recipes import LEVEL_OFFSET_MODES, Recipe
from harness.errors import HarnessError


@dataclass
class TrainResult:
    model: EpitomeBiEncoder
    tokenizer: object
    best_epoch: int
    history: list[dict] = field(default_factory=list)  # per epoch: train loss, validation scores
    validation: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    unmatched_rationales: int = 0
    sizes: dict = field(default_factory=dict)
    validation_before_offsets: dict | None = None  # validation scores before the level offsets were fitted


def level_scores(gold: Sequence[int], predicted: Sequence[int]) -> dict:
    """Accuracy, macro-F1 over the three levels, per-level F1, confusion matrix (rows gold)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    labels = list(LEVELS)
    return {
        "n": len(gold),
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        "f1_per_level": [float(x) for x in f1_score(gold, predicted, labels=labels, average=None, zero_division=0)],
        "confusion_matrix": confusion_matrix(gold, predicted, labels=labels).tolist(),
    }


HELD_OUT_RESAMPLES = 1000


def accuracy_and_macro_f1(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """What `level_scores` gives for these two, without sklearn's per-call overhead (it is
    computed once per resample)."""
    import numpy as np

    g, p = np.asarray(gold), np.asarray(predicted)
    k = len(LEVELS)
    confusion = np.bincount(g * k + p, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    return {"accuracy": float(tp.sum() / len(g)), "macro_f1": float(f1.mean())}


def held_out_intervals(gold: Sequence[int], predicted: Sequence[int], *, resamples: int = HELD_OUT_RESAMPLES,
                       seed: int = 0, level: float = 0.95) -> dict:
    """Confidence intervals of accuracy and macro-F1 on a held-out part: the test part
    is a few hundred pairs and IP's and EX's level 1 holds about 4% of them, so a score
    alone says little about how close an instrument is to a bar."""
    from harness.stats.corpus import corpus_bootstrap_ci

    def statistic(rows: Sequence[tuple[int, int]]) -> dict[str, float]:
        return accuracy_and_macro_f1(*zip(*rows))

    intervals = corpus_bootstrap_ci([list(zip(gold, predicted))], statistic, resamples=resamples, seed=seed,
                                    level=level)
    return {"level": level, "method": intervals["accuracy"].method,
            **{k: [iv.low, iv.high] for k, iv in intervals.items()}}


class SeekerStates:
    """A frozen seeker encoder's token states, computed once per distinct text (in eval
    mode, so without dropout) and shared by every epoch, and by every mechanism trained
    from the same backbone in one run."""

    def __init__(self, encoder_key: str):
        self.encoder_key = encoder_key
        self.states: dict[tuple[int, ...], torch.Tensor] = {}

    @torch.no_grad()
    def fill(self, model: EpitomeBiEncoder, seeker_ids: Sequence[Sequence[int]], pad_id: int,
             batch_size: int = 64, progress: bool = False) -> None:
        from tqdm.auto import tqdm

        todo = list({tuple(ids) for ids in seeker_ids if tuple(ids) not in self.states})
        model.seeker_encoder.eval()
        batches = features.length_batches([len(t) for t in todo], batch_size)
        for batch in tqdm(batches, desc="seeker posts (frozen encoder, once)", unit="batch",
                          disable=not (progress and batches), leave=False):
            ids, mask = features.pad([todo[i] for i in batch], pad_id)
            hidden = model.encode_seeker(ids, mask)
            for row, i in enumerate(batch):
                self.states[todo[i]] = hidden[row, : len(todo[i])].clone()

    def batch(self, seeker_ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return features.pad_states([self.states[tuple(ids)] for ids in seeker_ids])


def train_classifier(
    backbone_path: str,
    recipe: Recipe,
    parts: dict[str, list[Pair]],
    *,
    progress: bool = True,
    description: str = "EPITOME",
    seeker_states: SeekerStates | None = None,
    on_epoch: Callable[[dict, EpitomeBiEncoder], None] | None = None,
) -> TrainResult:
    """Train on parts["train"], keep the best epoch on parts["validation"], score parts["test"].
    `on_epoch(record, model)` is called after each epoch's validation, the model in that
    epoch's state."""
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    if recipe.level_offsets not in LEVEL_OFFSET_MODES:  # checked before hours of training, not after
        raise HarnessError(f"level_offsets must be one of {', '.join(LEVEL_OFFSET_MODES)}, "
                           f"not {recipe.level_offsets!r}")
    start, cpu_start = time.perf_counter(), time.process_time()
    torch.manual_seed(recipe.seed)
    tokenizer = AutoTokenizer.from_pretrained(backbone_path)
    model = EpitomeBiEncoder.from_backbone(backbone_path, dropout=recipe.dropout)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    limit = min(tokenizer.model_max_length, getattr(model.response_encoder.config, "max_position_embeddings", 10**9))
    if not 1 <= recipe.max_length <= limit:
        raise HarnessError(f"max_length {recipe.max_length}: this backbone takes 1 to {limit} tokens")
    encoded = {name: features.encode_pairs(tokenizer, pairs, recipe.max_length) for name, pairs in parts.items()}
    train = encoded["train"]

    if recipe.freeze_seeker:
        model.seeker_encoder.requires_grad_(False)
        if seeker_states is None:
            seeker_states = SeekerStates(backbone_path)
        seeker_states.fill(model, [ids for part in encoded.values() for ids in part.seeker_ids], pad_id,
                           progress=progress)
    else:
        seeker_states = None

    if recipe.freeze_embeddings:
        model.response_encoder.get_input_embeddings().requires_grad_(False)
    if recipe.train_top_layers is not None:
        freeze_lower_layers(model.response_encoder, recipe.train_top_layers)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=recipe.lr, eps=1e-8, weight_decay=recipe.weight_decay,
                                  fused=True)
    steps_per_epoch = -(-len(train) // recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup_ratio * total), total)
    class_weights = _class_weights(train.levels, recipe.class_weighting)
    generator = torch.Generator().manual_seed(recipe.seed)

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=description, unit="step", disable=not progress, leave=True)
    history: list[dict] = []
    best_state, best_epoch, best_score = None, 0, -1.0
    for epoch in range(1, recipe.epochs + 1):
        model.train()
        if recipe.freeze_seeker:
            model.seeker_encoder.eval()
        losses = []
        for idx in features.bucketed_batches([len(r) for r in train.response_ids], recipe.batch_size, generator):
            out = _forward(model, train, idx, pad_id, seeker_states, recipe, class_weights)
            optimizer.zero_grad()
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, recipe.grad_clip)
            optimizer.step()
            scheduler.step()
            losses.append(out.loss.item())
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{sum(losses) / len(losses):.3f}")
        val = level_scores(encoded["validation"].levels, predict_encoded(model, encoded["validation"], pad_id, seeker_states))
        record = {"epoch": epoch, "train_loss": sum(losses) / len(losses), "seconds": round(time.perf_counter() - start),
                  "cpu_seconds": round(time.process_time() - cpu_start),
                  "validation_accuracy": val["accuracy"], "validation_macro_f1": val["macro_f1"]}
        history.append(record)
        if on_epoch:
            on_epoch(record, model)
        if val[recipe.select_by] > best_score:
            best_score, best_epoch = val[recipe.select_by], epoch
            best_state = copy.deepcopy(model.state_dict())
    bar.close()

    model.load_state_dict(best_state)
    model.eval()
    before_offsets = None
    logits = predict_logits(model, encoded["validation"], pad_id, seeker_states)  # offsets still zero
    if recipe.level_offsets != "none":
        before_offsets = level_scores(encoded["validation"].levels, logits.argmax(dim=-1).tolist())
        offsets = (fit_level_offsets(logits, encoded["validation"].levels) if recipe.level_offsets == "macro_f1"
                   else fit_prior_offsets(logits, encoded["train"].levels))
        model.level_offsets.copy_(torch.tensor(offsets))
    validation = level_scores(encoded["validation"].levels, (logits + model.level_offsets).argmax(dim=-1).tolist())
    test_predicted = predict_encoded(model, encoded["test"], pad_id, seeker_states)
    test = {**level_scores(encoded["test"].levels, test_predicted),
            "interval": held_out_intervals(encoded["test"].levels, test_predicted)}
    return TrainResult(
        model=model, tokenizer=tokenizer, best_epoch=best_epoch, history=history, validation=validation,
        test=test, seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start,
        unmatched_rationales=sum(e.unmatched_rationales for e in encoded.values()),
        sizes={name: len(e) for name, e in encoded.items()}, validation_before_offsets=before_offsets,
    )


_LAYER = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


def freeze_lower_layers(encoder: torch.nn.Module, top: int) -> None:
    """Only the top `top` transformer layers (parameters named `...layer.<i>....`) keep
    learning; the embeddings and every layer below stay as they are, and the backward
    pass stops there."""
    indices = {name: int(m.group(1)) for name, _ in encoder.named_parameters() if (m := _LAYER.search(name))}
    if not indices:
        raise HarnessError(f"train_top_layers: no numbered layers found in {type(encoder).__name__}; "
                           f"train all layers with this backbone")
    first_trained = max(indices.values()) + 1 - top
    for name, param in encoder.named_parameters():
        if name.startswith("embeddings.") or indices.get(name, first_trained) < first_trained:
            param.requires_grad_(False)


def _forward(model, data: features.Encoded, idx, pad_id, seeker_states, recipe, class_weights):
    response_ids, response_mask = features.pad([data.response_ids[i] for i in idx], pad_id)
    rationales = features.rationale_tensor([data.rationales[i] for i in idx])
    levels = torch.tensor([data.levels[i] for i in idx], dtype=torch.long)
    seeker_rows = [data.seeker_ids[i] for i in idx]
    if seeker_states is not None:
        states, seeker_mask = seeker_states.batch(seeker_rows)
        seeker_ids = None
    else:
        states = None
        seeker_ids, seeker_mask = features.pad(seeker_rows, pad_id)
    return model(seeker_ids, seeker_mask, response_ids, response_mask, seeker_states=states, levels=levels,
                 rationales=rationales, level_weight=recipe.level_weight, rationale_weight=recipe.rationale_weight,
                 class_weights=class_weights)


@torch.no_grad()
def predict_logits(model: EpitomeBiEncoder, data: features.Encoded, pad_id: int,
                   seeker_states: SeekerStates | None = None, batch_size: int = 64) -> torch.Tensor:
    """Level logits (offsets included), one row per pair, in the data's order."""
    was_training = model.training
    model.eval()
    logits = torch.zeros(len(data), NUM_LEVELS)
    for idx in features.length_batches([len(r) for r in data.response_ids], batch_size):
        response_ids, response_mask = features.pad([data.response_ids[i] for i in idx], pad_id)
        seeker_rows = [data.seeker_ids[i] for i in idx]
        if seeker_states is not None:
            states, seeker_mask = seeker_states.batch(seeker_rows)
            out = model(None, seeker_mask, response_ids, response_mask, seeker_states=states)
        else:
            seeker_ids, seeker_mask = features.pad(seeker_rows, pad_id)
            out = model(seeker_ids, seeker_mask, response_ids, response_mask)
        logits[torch.tensor(idx)] = out.level_logits.float()
    model.train(was_training)
    return logits


def predict_encoded(model: EpitomeBiEncoder, data: features.Encoded, pad_id: int,
                    seeker_states: SeekerStates | None = None, batch_size: int = 64) -> list[int]:
    return predict_logits(model, data, pad_id, seeker_states, batch_size).argmax(dim=-1).tolist()


OFFSET_GRID = [round(-3.0 + 0.1 * i, 1) for i in range(61)]


def _grid_predictions(logits: torch.Tensor, grid: Sequence[float]):
    """Every offset vector (0, b1, b2) with b1, b2 on `grid`, as a (k, 3) array, and the
    levels `logits` predict under each, as a (k, n) array."""
    import numpy as np

    values = np.asarray(grid, dtype=np.float64)
    b1, b2 = (a.ravel() for a in np.meshgrid(values, values, indexing="ij"))
    offsets = np.stack([np.zeros_like(b1), b1, b2], axis=1)
    return offsets, (logits.double().numpy()[None, :, :] + offsets[:, None, :]).argmax(axis=2)


def _smallest_best(offsets, quality) -> list[float]:
    """The offsets of highest `quality`; among equally good ones the smallest (L2), so
    offsets that change nothing stay zero."""
    import numpy as np

    quality = np.round(quality, 12)
    best = np.flatnonzero(quality == quality.max())
    chosen = best[np.argmin((offsets[best] ** 2).sum(axis=1))]
    return [float(x) for x in offsets[chosen]]


def fit_level_offsets(logits: torch.Tensor, gold: Sequence[int], grid: Sequence[float] = OFFSET_GRID) -> list[float]:
    """Offsets (0, b1, b2) added to the level logits that maximise macro-F1 on (logits,
    gold), b1 and b2 searched on `grid`; among equally good offsets the smallest (L2) wins."""
    import numpy as np

    offsets, predicted = _grid_predictions(logits, grid)
    gold_arr = np.asarray(gold)[None, :]
    f1 = np.zeros(len(offsets))
    for level in LEVELS:
        tp = ((predicted == level) & (gold_arr == level)).sum(axis=1)
        fp = ((predicted == level) & (gold_arr != level)).sum(axis=1)
        fn = ((predicted != level) & (gold_arr == level)).sum(axis=1)
        denominator = 2 * tp + fp + fn
        f1 += np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    return _smallest_best(offsets, f1 / len(LEVELS))


def fit_prior_offsets(logits: torch.Tensor, train_levels: Sequence[int],
                      grid: Sequence[float] = OFFSET_GRID) -> list[float]:
    """Offsets (0, b1, b2), b1 and b2 on `grid`, under which the levels predicted from
    `logits` (the validation part's) come in the proportions of `train_levels` (the
    training part's labels): the smallest sum over levels of |predicted share - training
    share|; among equally good offsets the smallest (L2) wins. The validation labels are
    not used: with ~11 level-1 pairs in a validation part, thresholds set by their F1 are
    noisy, while the training part's level shares are known from ~2,160 pairs."""
    import numpy as np

    offsets, predicted = _grid_predictions(logits, grid)
    prior = np.bincount(np.asarray(train_levels), minlength=len(LEVELS)) / len(train_levels)
    shares = np.stack([(predicted == level).mean(axis=1) for level in LEVELS], axis=1)  # (k, levels)
    return _smallest_best(offsets, -np.abs(shares - prior[None, :]).sum(axis=1))


def _class_weights(levels: Sequence[int], scheme: str) -> torch.Tensor | None:
    if scheme == "none":
        return None
    counts = torch.tensor([max(1, sum(1 for lv in levels if lv == k)) for k in LEVELS], dtype=torch.float)
    weights = counts.sum() / (len(LEVELS) * counts)
    if scheme == "sqrt":
        weights = weights.sqrt()
    elif scheme != "balanced":
        raise HarnessError(f"class_weighting must be none, balanced or sqrt, not {scheme!r}")
    return weights / weights.mean()


def train_instrument(
    choice,
    directory=None,
    mechanisms: Sequence[str] = ("ER", "IP", "EX"),
    *,
    recipe: Recipe | None = None,
    progress: bool = True,
    data_paths: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Train and save the classifiers of `mechanisms` from one backbone (a name or a
    store.BackboneChoice); returns each mechanism's manifest."""
    from pathlib import Path

    from harness import resources
    from harness.embedded import resolve_model
    from harness.epitome import store
    from harness.epitome.data import (RESOURCE, SPLIT_PROPORTIONS, SPLIT_SEED, check_mechanism, data_path,
                                      load_pairs, split_pairs)
    from harness.epitome.recipes import recipe_for

    if isinstance(choice, str):
        choice = store.BackboneChoice(choice, "requested")
    recipe = recipe or recipe_for(choice.name)
    directory = Path(directory) if directory is not None else store.default_dir(choice.name)
    path = resolve_model(choice.name)
    backbone = {"name": choice.name, "path": path, "choice": choice.reason}
    if Path(path).exists():
        backbone["sha256"] = resources.sha256_of(path)
    shared = SeekerStates(path) if recipe.freeze_seeker else None
    manifests = {}
    for mechanism in [check_mechanism(m) for m in mechanisms]:
        source = data_path(mechanism, (data_paths or {}).get(mechanism))
        pairs = load_pairs(mechanism, source)
        parts = split_pairs(pairs)
        empty = [name for name, part in parts.items() if not part]
        if empty:  # found before training, not after the first epoch
            from harness.errors import DataError

            shares = "/".join(f"{share:.0%}" for share in SPLIT_PROPORTIONS.values())
            raise DataError(f"{source}: its {len(pairs)} rows leave the {' and '.join(empty)} part of the "
                            f"{'/'.join(SPLIT_PROPORTIONS)} split ({shares} of each level) empty; "
                            f"give it more rows")
        result = train_classifier(path, recipe, parts, progress=progress, seeker_states=shared,
                                  description=f"EPITOME {mechanism} ({choice.name})")
        commit = getattr(result.model.config, "_commit_hash", None)
        manifest = {
            "format": store.FORMAT,
            "mechanism": mechanism,
            "backbone": {**backbone, **({"commit": commit} if commit else {})},
            "data": {"resource": RESOURCE[mechanism], "path": str(source), "sha256": resources.sha256_of(source),
                     "rows": len(pairs), "lowercased": True},
            "split": {"seed": SPLIT_SEED, "proportions": SPLIT_PROPORTIONS, "stratified_by": "level",
                      "sizes": result.sizes},
            "recipe": recipe.to_json(),
            "training": {"best_epoch": result.best_epoch, "history": result.history,
                         "seconds": round(result.seconds, 1), "cpu_seconds": round(result.cpu_seconds, 1),
                         "torch_threads": torch.get_num_threads(), "load_1min": round(os.getloadavg()[0], 2),
                         "rationales_not_found": result.unmatched_rationales},
            "level_offsets": result.model.level_offsets.tolist(),
            "validation": result.validation,
            **({"validation_before_offsets": result.validation_before_offsets}
               if result.validation_before_offsets else {}),
            "test": result.test,
            "versions": store.package_versions(),
            "created": store.now(),
        }
        store.save_classifier(result.model, result.tokenizer, manifest, directory / mechanism)
        manifests[mechanism] = manifest
        log(f"EPITOME {mechanism}: held-out accuracy {result.test['accuracy']:.3f}, macro-F1 "
            f"{result.test['macro_f1']:.3f} (epoch {result.best_epoch} of {recipe.epochs}, "
            f"{result.seconds:.0f} s) -> {directory / mechanism}")
    return manifests
