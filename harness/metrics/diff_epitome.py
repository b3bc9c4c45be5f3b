"""DIFF-EPITOME, mean EPITOME levels and Emp-F1 (METRICS.md s.3), from our trained instrument.

Per example and mechanism m in (ER, IP, EX), with prev = the last speaker turn:
    diff_m = (level_m(prev, response) - level_m(prev, reference)) ** 2
diff_epitome = the mean of the three (lower is better). level_m / ref_level_m are the
levels of the response / of the reference. Emp-F1 (EmpRL) = 100 x the mean over the
mechanisms of sklearn's weighted F1 of the response levels against the reference levels
(corpus level); emp_f1_er/ip/ex are its parts (x100).

`epitome_full` (EmpRL's reading) gives the same numbers with the whole dialogue history as the
seeker post (the turns joined by a space; the instrument reads its first max_length tokens)
instead of prev, under keys of their own (`emp_f1_full`, `level_full_er`, `diff_epitome_full`, ...),
so the two never share a column.

The instrument is chosen once per process (see `configure` and harness.epitome.store):
it is printed, recorded by `instrument()`, and never replaced by another silently. The
reference levels are cached on disk by instrument and content hash, so rescoring many
systems on one test set classifies the references once.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from harness.config import cache_dir
from harness.metrics.base import CORPUS, EXAMPLE, CorpusSource, Item, Output, Scorer, Scores, register

MECHS = ("ER", "IP", "EX")
SEEKER_SIDES = ("prev", "full")


def seeker_post(context: Sequence[str], side: str) -> str:
    """The instrument's seeker post for a dialogue history (speaker first): `prev`, the last
    speaker turn (EmPO's DIFF-EPITOME), or `full`, the turns joined by a space (EmpRL)."""
    if side == "prev":
        return context[-1] if context else ""
    if side == "full":
        return " ".join(context)
    from harness.errors import HarnessError

    raise HarnessError(f"seeker side {side!r}: use one of {', '.join(SEEKER_SIDES)}")


def full_key(name: str) -> str:
    """The `epitome_full` scorer's key for an `epitome` key: emp_f1 -> emp_f1_full,
    emp_f1_er -> emp_f1_full_er, level_er -> level_full_er, diff_epitome -> diff_epitome_full."""
    for stem in ("ref_level", "level", "emp_f1", "diff"):
        if name == stem:
            return f"{stem}_full"
        if name.startswith(stem + "_") and name[len(stem) + 1:] in ("er", "ip", "ex"):
            return f"{stem}_full_{name[len(stem) + 1:]}"
    return f"{name}_full"


@dataclass
class EpitomeSettings:
    backbone: str | None = None  # None: harness.epitome.store.choose_backbone decides
    directory: str | None = None  # an instrument folder instead of the backbone's default one
    train_if_missing: bool = False
    progress: bool = True
    batch_size: int = 64


SETTINGS = EpitomeSettings()


def configure(**changes) -> EpitomeSettings:
    """Set which instrument the `epitome` scorer loads (before its first use in a process),
    e.g. `configure(train_if_missing=True)` for a command's --train-epitome flag."""
    for key, value in changes.items():
        if not hasattr(SETTINGS, key):
            raise TypeError(f"unknown EPITOME setting {key!r}")
        setattr(SETTINGS, key, value)
    return SETTINGS


def emp_f1_part(reference_levels: Sequence[int], generated_levels: Sequence[int]) -> float:
    """sklearn's weighted F1 of generated levels against reference levels, x100."""
    from sklearn.metrics import f1_score

    if not reference_levels:
        return math.nan
    return 100.0 * float(f1_score(list(reference_levels), list(generated_levels), labels=[0, 1, 2],
                                  average="weighted", zero_division=0))


def scores_from_levels(generated: dict[str, Sequence[int]], reference: dict[str, Sequence[int]]) -> Scores:
    """All outputs of the scorer from the two level vectors per mechanism."""
    n = len(generated[MECHS[0]])
    per_example: dict[str, list[float | None]] = {}
    for m in MECHS:
        key = m.lower()
        per_example[f"diff_{key}"] = [float((g - r) ** 2) for g, r in zip(generated[m], reference[m])]
    per_example["diff_epitome"] = [
        sum(per_example[f"diff_{m.lower()}"][i] for m in MECHS) / len(MECHS) for i in range(n)
    ]
    for m in MECHS:
        per_example[f"level_{m.lower()}"] = [float(x) for x in generated[m]]
    for m in MECHS:
        per_example[f"ref_level_{m.lower()}"] = [float(x) for x in reference[m]]
    parts = {m: emp_f1_part(reference[m], generated[m]) for m in MECHS}
    corpus = {"emp_f1": math.fsum(parts.values()) / len(MECHS)}
    corpus.update({f"emp_f1_{m.lower()}": value for m, value in parts.items()})
    return Scores(per_example, corpus)


def weighted_f1_from_confusion(sums):
    """Emp-F1 and its parts (x100) from confusion counts, vectorized: `sums` is R x 27,
    per mechanism 3 x 3 counts [reference level, response level]. Per level l,
    F1 = 2 tp / (true + predicted) (0 when both are 0), weighted by its support among the
    reference levels, as sklearn's f1_score(average="weighted", labels=[0, 1, 2],
    zero_division=0)."""
    import numpy as np

    tables = np.asarray(sums, dtype=np.float64).reshape(-1, 3, 3, 3)
    tp = np.diagonal(tables, axis1=2, axis2=3)
    true, predicted = tables.sum(axis=3), tables.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(true + predicted > 0, 2 * tp / (true + predicted), 0.0)
        parts = 100.0 * (f1 * true).sum(axis=2) / true.sum(axis=2)
    out = {"emp_f1": parts.sum(axis=1) / len(MECHS)}
    out.update({f"emp_f1_{m.lower()}": parts[:, j] for j, m in enumerate(MECHS)})
    return out


def _outputs() -> tuple[Output, ...]:
    outs = [Output(f"diff_{m.lower()}", False, EXAMPLE, f"squared level difference to the reference, {m}", (0.0, 4.0))
            for m in MECHS]
    outs.append(Output("diff_epitome", False, EXAMPLE, "mean of diff_er, diff_ip, diff_ex", (0.0, 4.0)))
    # the levels themselves are descriptive: a higher level is not a better response (the
    # reference's level is the target, which is what DIFF-EPITOME and Emp-F1 measure)
    outs += [Output(f"level_{m.lower()}", None, EXAMPLE, f"EPITOME {m} level (0-2) of the response", (0.0, 2.0))
             for m in MECHS]
    outs += [Output(f"ref_level_{m.lower()}", None, EXAMPLE, f"EPITOME {m} level (0-2) of the reference", (0.0, 2.0))
             for m in MECHS]
    outs.append(Output("emp_f1", True, CORPUS, "Emp-F1: 100 x mean weighted F1 of response vs reference levels",
                       (0.0, 100.0)))
    outs += [Output(f"emp_f1_{m.lower()}", True, CORPUS, f"Emp-F1 part for {m} (x100)", (0.0, 100.0)) for m in MECHS]
    return tuple(outs)


@register("epitome")
class EpitomeScorer(Scorer):
    name = "epitome"
    outputs = _outputs()
    inputs = ("prev", "response", "reference")
    model_based = True

    def __init__(self) -> None:
        self._instrument = None
        self._reference_memory: dict[str, dict[str, list[int]]] = {}

    def _load(self):
        if self._instrument is None:
            self._instrument = _shared_instrument(SETTINGS.backbone, SETTINGS.directory, SETTINGS.train_if_missing,
                                                  SETTINGS.progress)
        return self._instrument

    def _seeker(self, item: Item) -> str:
        return item.prev

    def instrument(self) -> dict:
        return self._load().describe()

    def corpus_from_rows(self, rows: Sequence[dict]) -> dict[str, float]:
        """Emp-F1 and its parts from per-example levels (scores.jsonl rows), without the model:
        what a significance test recomputes on rearranged outputs."""
        generated = {m: [int(r[f"level_{m.lower()}"]) for r in rows] for m in MECHS}
        reference = {m: [int(r[f"ref_level_{m.lower()}"]) for r in rows] for m in MECHS}
        return scores_from_levels(generated, reference).corpus

    def corpus_decomposition(self, systems: Sequence[CorpusSource]):
        """Emp-F1 from confusion tables: per example a one-hot row of its (reference level,
        response level) pair for each mechanism; the sums are the three confusion tables."""
        import numpy as np

        from harness.stats.corpus import Decomposition

        keys = [(f"ref_level_{m.lower()}", f"level_{m.lower()}") for m in MECHS]
        features = []
        for source in systems:
            x = np.zeros((len(source.rows), 27))
            for i, row in enumerate(source.rows):
                for j, (ref, gen) in enumerate(keys):
                    r, g = row.get(ref), row.get(gen)
                    if r is None or g is None or r != r or g != g:
                        return None  # an undefined level: not from this scorer's rows
                    x[i, 9 * j + 3 * int(r) + int(g)] = 1.0
            features.append(x)
        return Decomposition(features, weighted_f1_from_confusion)

    def compute(self, items: Sequence[Item]) -> Scores:
        if not items:
            return scores_from_levels({m: [] for m in MECHS}, {m: [] for m in MECHS})
        inst = self._load()
        prevs = [self._seeker(it) for it in items]
        responses = [it.response for it in items]
        references = [it.reference for it in items]
        key = _content_key(prevs, references)
        reference = self._reference_memory.get(key) or _read_cached(inst.id, key, len(items))
        if reference is None:
            both = inst.levels(prevs + prevs, responses + references, batch_size=SETTINGS.batch_size)
            generated = {m: both[m][: len(items)] for m in MECHS}
            reference = {m: both[m][len(items):] for m in MECHS}
            _write_cached(inst.id, key, reference)
        else:
            generated = inst.levels(prevs, responses, batch_size=SETTINGS.batch_size)
        self._reference_memory[key] = reference
        return scores_from_levels(generated, reference)


@register("epitome_full")
class EpitomeFullScorer(EpitomeScorer):
    """The `epitome` numbers with the whole history as the seeker post (EmpRL's Emp-F1)."""

    name = "epitome_full"
    # EmpRL's reading, not EmPO's: it doubles the instrument's cost, so it runs when named
    # (`--metrics default,epitome_full`, EMPATHY_HARNESS_METRICS=default,epitome_full)
    in_default_suite = False
    outputs = tuple(Output(full_key(o.name), o.higher_is_better, o.level, o.description + " (seeker: whole history)")
                    for o in _outputs())
    inputs = ("context", "response", "reference")

    def _seeker(self, item: Item) -> str:
        return seeker_post(item.context, "full")

    def instrument(self) -> dict:
        return {**self._load().describe(), "seeker": "full: the dialogue history's turns joined by a space"}

    def corpus_from_rows(self, rows: Sequence[dict]) -> dict[str, float]:
        renamed = [{k: r[full_key(k)] for k in [f"{s}_{m.lower()}" for s in ("level", "ref_level") for m in MECHS]}
                   for r in rows]
        return {full_key(k): v for k, v in super().corpus_from_rows(renamed).items()}

    def corpus_decomposition(self, systems: Sequence[CorpusSource]):
        """The `epitome` decomposition over this scorer's own levels, under its own keys."""
        names = [f"{s}_{m.lower()}" for s in ("level", "ref_level") for m in MECHS]
        renamed = [CorpusSource([{k: r.get(full_key(k)) for k in names} for r in source.rows], source.items)
                   for source in systems]
        decomposition = super().corpus_decomposition(renamed)
        if decomposition is None:
            return None
        finish = decomposition.finish
        return replace(decomposition, finish=lambda sums: {full_key(k): v for k, v in finish(sums).items()})

    def compute(self, items: Sequence[Item]) -> Scores:
        scores = super().compute(items)
        return Scores({full_key(k): v for k, v in scores.per_example.items()},
                      {full_key(k): v for k, v in scores.corpus.items()})


_INSTRUMENTS: dict = {}


def _shared_instrument(backbone, directory, train_if_missing, progress):
    """One instrument per process for both EPITOME scorers."""
    key = (backbone, directory)
    if key not in _INSTRUMENTS:
        from harness.epitome.prediction import load_instrument

        _INSTRUMENTS[key] = load_instrument(backbone, directory, train_if_missing=train_if_missing, progress=progress)
    return _INSTRUMENTS[key]


def reference_levels(inst, seekers: Sequence[str], references: Sequence[str], batch_size: int = 64
                     ) -> dict[str, list[int]]:
    """The instrument's levels of the references: from the on-disk cache (instrument id +
    content), or computed once in batches and kept there."""
    key = _content_key(seekers, references)
    cached = _read_cached(inst.id, key, len(references))
    if cached is not None:
        return cached
    levels = inst.levels(list(seekers), list(references), MECHS, batch_size=batch_size)
    _write_cached(inst.id, key, levels)
    return levels


def _content_key(prevs: Sequence[str], references: Sequence[str]) -> str:
    blob = json.dumps([list(prevs), list(references)], ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()


def _cache_file(instrument_id: str, key: str) -> Path:
    return cache_dir() / "derived" / "epitome-reference-levels" / instrument_id[:16] / f"{key}.json"


def _read_cached(instrument_id: str, key: str, n: int) -> dict[str, list[int]] | None:
    path = _cache_file(instrument_id, key)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if data.get("instrument_id") != instrument_id or any(len(data["levels"].get(m, [])) != n for m in MECHS):
        return None
    return {m: [int(x) for x in data["levels"][m]] for m in MECHS}


def _write_cached(instrument_id: str, key: str, levels: dict[str, list[int]]) -> None:
    path = _cache_file(instrument_id, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".levels-")
    with os.fdopen(fd, "w") as fh:
        json.dump({"instrument_id": instrument_id, "levels": levels}, fh)
    os.replace(tmp, path)
