"""Levels from a trained instrument: load once, predict in batches, evaluate on held-out data."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harness.epitome import features, store, trunk
from harness.epitome.data import MECHANISMS, check_mechanism, load_pairs, split_pairs
from harness.epitome.training import SeekerStates, held_out_intervals, level_scores, predict_logits
from harness.errors import HarnessError


@dataclass
class Classifier:
    mechanism: str
    model: object
    tokenizer: object
    manifest: dict
    folder: Path

    @property
    def max_length(self) -> int:
        return int(self.manifest["recipe"]["max_length"])

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0


@dataclass
class Instrument:
    """The three classifiers of one trained instrument, loaded once."""

    directory: Path
    backbone: str
    classifiers: dict[str, Classifier]
    choice_reason: str = ""
    # which classifiers share work, found once by comparing their weights
    _seeker_groups: list[list[str]] = field(init=False)
    _response_groups: list[tuple[list[str], int]] = field(init=False)

    def __post_init__(self) -> None:
        self._seeker_groups = _seeker_groups(self.classifiers)
        self._response_groups = _response_groups(self.classifiers)

    @property
    def id(self) -> str:
        """One hash for the instrument: of its classifiers' weight hashes, in mechanism order."""
        joined = ",".join(f"{m}:{c.manifest['weights_sha256']}" for m, c in sorted(self.classifiers.items()))
        return hashlib.sha256(joined.encode()).hexdigest()

    def describe(self) -> dict:
        """What produced the numbers, for provenance files and scorer instruments."""
        first = next(iter(self.classifiers.values())).manifest
        return {
            "kind": "epitome",
            "backbone": self.backbone,
            "backbone_choice": self.choice_reason,
            "directory": str(self.directory),
            "instrument_id": self.id,
            "weights_sha256": {m: c.manifest["weights_sha256"] for m, c in self.classifiers.items()},
            "data_sha256": {m: c.manifest["data"]["sha256"] for m, c in self.classifiers.items()},
            "split_seed": first["split"]["seed"],
            "split_proportions": first["split"]["proportions"],
            "max_length": first["recipe"]["max_length"],
            "level_offsets": {m: c.manifest.get("level_offsets", [0.0, 0.0, 0.0]) for m, c in self.classifiers.items()},
            "held_out": {m: {k: c.manifest["test"][k] for k in ("accuracy", "macro_f1")}
                         for m, c in self.classifiers.items()},
            "versions": first["versions"],
        }

    def levels(self, seekers: Sequence[str], responses: Sequence[str], mechanisms: Sequence[str] = MECHANISMS,
               batch_size: int = 64) -> dict[str, list[int]]:
        """Level 0/1/2 per (seeker, response) pair and mechanism (the argmax of `logits`)."""
        logits = self.logits(seekers, responses, mechanisms, batch_size)
        return {m: row.argmax(dim=-1).tolist() for m, row in logits.items()}

    def logits(self, seekers: Sequence[str], responses: Sequence[str], mechanisms: Sequence[str] = MECHANISMS,
               batch_size: int = 64) -> dict[str, "torch.Tensor"]:
        """Level logits (level offsets included: their argmax is the level) per mechanism, one
        (n, 3) row per (seeker, response) pair; texts are lowercased.

        Shared work runs once: classifiers whose seeker encoders are identical (the
        reference recipe freezes it) share one pass over the distinct seeker texts, and
        classifiers whose response encoders agree in their embeddings and lower layers
        share those layers (see trunk.py). Each row is the one its classifier's own full
        pass gives."""
        import torch

        if len(seekers) != len(responses):
            raise ValueError(f"{len(seekers)} seeker posts for {len(responses)} responses")
        if not responses:
            return {m: torch.zeros(0, 3) for m in mechanisms}
        distinct_seekers = list(dict.fromkeys(seekers))
        seeker_states: dict[str, SeekerStates] = {}
        for group in self._groups(mechanisms):
            first = self.classifiers[group[0]]
            states = SeekerStates(group[0])
            states.fill(first.model, features.encode_texts(first.tokenizer, distinct_seekers, first.max_length),
                        first.pad_id, batch_size=batch_size)
            seeker_states.update(dict.fromkeys(group, states))
        out: dict[str, torch.Tensor] = {}
        for group, depth in self._trunks(mechanisms):
            first = self.classifiers[group[0]]
            data = features.Encoded(features.encode_texts(first.tokenizer, seekers, first.max_length),
                                    features.encode_texts(first.tokenizer, responses, first.max_length))
            if depth == 0:
                (m,) = group
                out[m] = predict_logits(first.model, data, first.pad_id, seeker_states[m], batch_size=batch_size)
                continue
            logits = trunk.shared_logits([self.classifiers[m].model for m in group], data, first.pad_id,
                                         [seeker_states[m] for m in group], depth, batch_size=batch_size)
            out.update(dict(zip(group, logits)))
        return {m: out[m] for m in mechanisms}

    def _trunks(self, mechanisms: Sequence[str]) -> list[tuple[list[str], int]]:
        """The response groups (see _response_groups) among `mechanisms`; depth 0 for a
        classifier alone."""
        wanted = set(mechanisms)
        chosen = [([m for m in group if m in wanted], depth) for group, depth in self._response_groups]
        return [(group, depth if len(group) > 1 else 0) for group, depth in chosen if group]

    def _groups(self, mechanisms: Sequence[str]) -> list[list[str]]:
        wanted = set(mechanisms)
        return [[m for m in g if m in wanted] for g in self._seeker_groups if wanted & set(g)]


def _seeker_groups(classifiers: dict[str, Classifier]) -> list[list[str]]:
    """Classifiers whose seeker encoders are identical."""
    groups: list[list[str]] = []
    for m in [m for m in MECHANISMS if m in classifiers]:
        for group in groups:
            if _same_seeker(classifiers[group[0]], classifiers[m]):
                group.append(m)
                break
        else:
            groups.append([m])
    return groups


def _response_groups(classifiers: dict[str, Classifier]) -> list[tuple[list[str], int]]:
    """Classifiers whose response encoders share their embeddings and first `depth` layers
    (a classifier alone: all its layers). A classifier joins a group only where that runs
    fewer layers than keeping it apart."""
    groups: list[tuple[list[str], int]] = []
    for m in [m for m in MECHANISMS if m in classifiers]:
        clf = classifiers[m]
        layers = trunk.num_layers(clf.model.response_encoder)
        for i, (group, depth) in enumerate(groups):
            lead = classifiers[group[0]]
            shared = 0
            if _same_tokens(lead, clf):
                shared = trunk.shared_depth(lead.model.response_encoder, clf.model.response_encoder)
            if trunk.worth_joining(len(group), depth, shared, layers):
                groups[i] = (group + [m], min(depth, shared))
                break
        else:
            groups.append(([m], layers))
    return groups


def _same_tokens(a: Classifier, b: Classifier) -> bool:
    """Whether the two classifiers turn every text into the same token ids."""
    return a.tokenizer.get_vocab() == b.tokenizer.get_vocab() and a.max_length == b.max_length and a.pad_id == b.pad_id


def _same_seeker(a: Classifier, b: Classifier) -> bool:
    return _same_tokens(a, b) and trunk.same_weights(a.model.seeker_encoder, b.model.seeker_encoder)


def resolve_dir(backbone: str | None = None, directory: str | Path | None = None) -> tuple[Path, store.BackboneChoice]:
    """The instrument folder to use: a folder given explicitly (its manifests name the
    backbone), else the default folder of the chosen backbone."""
    if directory is not None:
        directory = Path(directory).expanduser()
        for m in MECHANISMS:
            if (directory / m / store.MANIFEST).exists():
                name = store.read_manifest(directory / m)["backbone"]["name"]
                if backbone and backbone != name:
                    raise HarnessError(f"{directory} holds an instrument trained from {name}, not {backbone}")
                return directory, store.BackboneChoice(name, f"the instrument in {directory}")
        choice = store.choose_backbone(backbone)
        return directory, choice
    choice = store.choose_backbone(backbone)
    return store.default_dir(choice.name), choice


def load_instrument(backbone: str | None = None, directory: str | Path | None = None, *,
                    mechanisms: Sequence[str] = MECHANISMS, train_if_missing: bool = False,
                    progress: bool = True, announce: bool = True) -> Instrument:
    """Load a trained instrument. Where classifiers are missing: train them when
    `train_if_missing`, else raise InstrumentMissing saying how to train them."""
    mechanisms = [check_mechanism(m) for m in mechanisms]
    folder, choice = resolve_dir(backbone, directory)
    if announce:
        print(choice.describe(), file=sys.stderr, flush=True)
    missing = store.missing_mechanisms(folder, mechanisms)
    if missing:
        if not train_if_missing:
            raise store.InstrumentMissing(store.missing_message(choice.name, folder, missing))
        from harness.epitome.training import train_instrument

        train_instrument(choice, folder, missing, progress=progress)
    classifiers = {}
    for m in mechanisms:
        model, tokenizer, manifest = store.load_classifier(folder / m)
        if manifest["backbone"]["name"] != choice.name:
            raise HarnessError(f"{folder / m} was trained from {manifest['backbone']['name']}, not {choice.name}")
        classifiers[m] = Classifier(m, model, tokenizer, manifest, folder / m)
    if directory is None:  # the default folder may hold what an older version of the recipe trained
        drift = {k: v for clf in classifiers.values() for k, v in store.recipe_drift(clf.manifest).items()}
        if drift:
            print(store.drift_message(choice.name, folder, drift), file=sys.stderr, flush=True)
    return Instrument(folder, choice.name, classifiers, choice.reason)


def ensure_instrument(backbone: str | None = None, progress: bool = True, directory: str | Path | None = None) -> Path:
    """The instrument's folder, training whatever mechanism is missing first (with a
    progress bar); for the demo and first-time users."""
    folder, choice = resolve_dir(backbone, directory)
    missing = store.missing_mechanisms(folder)
    if missing:
        from harness.epitome.training import train_instrument

        print(choice.describe(), file=sys.stderr, flush=True)
        train_instrument(choice, folder, missing, progress=progress)
    return folder


def evaluate_instrument(instrument: Instrument, data_paths: dict[str, str] | None = None) -> dict[str, dict]:
    """Per mechanism: accuracy, macro-F1, per-level F1 and confusion matrix on the
    held-out test part, rebuilt from the manifest's split seed; the data must be the
    very file the instrument was trained on (same sha256)."""
    from harness.resources import sha256_of
    from harness.epitome.data import data_path

    results = {}
    for m, clf in instrument.classifiers.items():
        path = data_path(m, (data_paths or {}).get(m))
        digest = sha256_of(path)
        if digest != clf.manifest["data"]["sha256"]:
            raise HarnessError(f"{path} (sha256 {digest}) is not the file the {m} classifier was trained on "
                               f"(sha256 {clf.manifest['data']['sha256']}); its held-out part cannot be rebuilt")
        pairs = load_pairs(m, path)
        split = clf.manifest["split"]
        test = split_pairs(pairs, split["seed"], split["proportions"])["test"]
        predicted = instrument.levels([p.seeker for p in test], [p.response for p in test], [m])[m]
        gold = [p.level for p in test]
        results[m] = {**level_scores(gold, predicted), "interval": held_out_intervals(gold, predicted),
                      "recorded_at_training": {k: clf.manifest["test"][k] for k in ("accuracy", "macro_f1")}}
    return results
