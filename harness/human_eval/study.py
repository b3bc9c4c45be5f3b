"""`human-eval prepare`: a study folder from runs over the same dialogues.

    DIR/study.json     what the survey shows: the design and the batches (dialogues and
                       responses under opaque item codes and system codes S1, S2...; no
                       system names; the pages show neither code)
    DIR/key.json       the key: system codes -> systems and inputs, item -> system code(s)
                       (A then B for A/B items), each batch's plan. Keep it away from annotators;
                       `serve` never reads it, `analyze --key` does.
    DIR/answers.jsonl  written by `serve`: every answer as it is given (append-only)
    DIR/ratings.csv    written by `serve` after each submitted batch: the tidy ratings
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.generations import read_generations
from harness.human_eval import batches as batching
from harness.human_eval.designs import Design
from harness.human_eval.sampling import stratified_sample
from harness.metrics.base import Item

STUDY, KEY = "study.json", "key.json"
REFERENCE = "human"  # the system name of the ED reference responses (EmPO's "human targets")


@dataclass
class System:
    name: str
    source: str
    items: dict[str, Item]


def load_system(path: str | Path, task: str | None = None) -> System:
    """A generations file, or a run folder's ED task generations (`task` when it has several)."""
    p = Path(path)
    if p.is_file():
        return System(p.stem, str(path), {it.id: it for it in read_generations(p).items})
    if not p.is_dir():
        raise HarnessError(f"{path}: no such file or folder (expected a run folder or a generations file)")
    found = sorted(q.parent.name for q in (p / "tasks").glob("*/generations.jsonl"))
    if task is not None:
        found = [t for t in found if t == task]
    if len(found) != 1:
        what = "no ED task generations (tasks/<task>/generations.jsonl)" if not found else \
            f"several ED tasks ({', '.join(found)}); choose one with --task"
        raise HarnessError(f"{path}: {what}")
    name = p.name
    manifest = p / "manifest.json"
    if manifest.exists():
        model = json.loads(manifest.read_text()).get("model")
        name = model if isinstance(model, str) and model else name
    generations = p / "tasks" / found[0] / "generations.jsonl"
    return System(name, str(path), {it.id: it for it in read_generations(generations).items})


def check_same_dialogues(systems: list[System]) -> dict[str, Item]:
    """The dialogues every system answered; the inputs must cover the same ids with the same contexts."""
    first = systems[0]
    for other in systems[1:]:
        missing = sorted(set(first.items) - set(other.items))
        extra = sorted(set(other.items) - set(first.items))
        if missing or extra:
            ident, where = (missing[0], f"lacks id {missing[0]!r} of {first.source}") if missing else \
                (extra[0], f"has id {extra[0]!r} that {first.source} lacks")
            raise HarnessError(f"{other.source}: runs over different dialogues: it {where} "
                               f"({len(missing)} missing, {len(extra)} extra); prepare a study from runs of the same examples")
        for ident, item in first.items.items():
            if other.items[ident].context != item.context:
                raise HarnessError(f"{other.source}: id {ident!r}: context differs from {first.source}; "
                                   "the runs are over different dialogues")
    return first.items


def prepare(inputs: list[str], output: str | Path, design: Design, *, names: list[str] | None = None,
            reference: bool = False, task: str | None = None, samples: int = 135, per_emotion: int = 4,
            batch_size: int = 15, ratings: int = 3, blocks: list[list[str]] | None = None, seed: int = 0) -> dict:
    """Write the study folder; returns a summary (counts, notes)."""
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise HarnessError(f"{output} exists and is not empty; choose another --output (a study is never overwritten)")
    systems = [load_system(p, task) for p in inputs]
    if names:
        if len(names) != len(systems):
            raise HarnessError(f"--names gives {len(names)} names for {len(systems)} inputs")
        for system, name in zip(systems, names):
            system.name = name
    if reference:
        base = systems[0]
        systems.append(System(REFERENCE, f"{base.source} (references)", {
            i: Item(it.id, it.context, it.reference, it.reference, it.emotion) for i, it in base.items.items()}))
    labels = [s.name for s in systems]
    duplicated = sorted({n for n in labels if labels.count(n) > 1})
    if duplicated:
        raise HarnessError(f"two inputs are both named {duplicated[0]!r}; give distinct names with --names")
    if design.kind == "ab" and len(systems) < 2:
        raise HarnessError(f"design {design.name} compares two systems: give at least two inputs")
    items = check_same_dialogues(systems)
    no_emotion = [i for i, it in items.items() if not it.emotion]
    if no_emotion:
        raise HarnessError(f"{systems[0].source}: id {no_emotion[0]!r} has no emotion; sampling is stratified by "
                           "emotion, so the generations need an `emotion` field (ED task runs have it)")
    chosen = stratified_sample({i: it.emotion for i, it in items.items()}, samples, per_emotion, seed)
    rng = random.Random(seed)
    codes = [f"S{i}" for i in range(1, len(systems) + 1)]
    rng.shuffle(codes)  # codes do not reveal the order the systems were given in
    code_of = dict(zip(labels, codes))
    if design.kind == "ab":
        pairs = [(code_of[a.name], code_of[b.name]) for i, a in enumerate(systems) for b in systems[i + 1:]]
        made = batching.ab_batches(list(chosen.ids), pairs, batch_size=batch_size, ratings=ratings, seed=seed)
    else:
        groups = blocks if blocks is not None else batching.default_block_groups(labels)
        unknown = sorted({n for g in groups for n in g} - set(labels))
        if unknown:
            raise HarnessError(f"--blocks names {unknown[0]!r}, which is not one of the systems ({', '.join(labels)})")
        given = [n for g in groups for n in g]
        if sorted(given) != sorted(labels):
            raise HarnessError("--blocks must name every system exactly once (groups separated by ';', systems by ',')")
        made = batching.rating_batches(list(chosen.ids), [[code_of[n] for n in g] for g in groups],
                                       batch_size=batch_size, ratings=ratings, seed=seed)
    by_code = {code_of[s.name]: s for s in systems}
    study = {
        "design": design.to_json(),
        "settings": {"samples": samples, "per_emotion": per_emotion, "batch_size": batch_size, "ratings": ratings,
                     "seed": seed},
        "batches": [{"id": b.id, "items": [{"item": it.item, "sample": it.sample, "systems": list(it.systems),
                                             "context": list(items[it.sample].context),
                                             "responses": [by_code[c].items[it.sample].response for c in it.systems]}
                                            for it in b.items]} for b in made],
    }
    key = {
        "design": design.name,
        "systems": {code_of[s.name]: {"name": s.name, "source": s.source} for s in systems},
        "samples": {i: {"emotion": items[i].emotion} for i in chosen.ids},
        "batches": {b.id: {"run": b.run, "plan": b.plan, "items": {it.item: list(it.systems) for it in b.items}}
                    for b in made},
    }
    output.mkdir(parents=True, exist_ok=True)
    _write_json(output / STUDY, study)
    _write_json(output / KEY, key)
    return {"systems": labels, "samples": len(chosen.ids), "batches": len(made), "notes": list(chosen.notes),
            "output": str(output)}


def read_study(folder: str | Path) -> dict:
    path = Path(folder) / STUDY
    if not path.is_file():
        raise HarnessError(f"{folder}: no {STUDY}; make a study with `empathy-harness human-eval prepare`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def read_key(path: str | Path) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / KEY
    if not p.is_file():
        raise HarnessError(f"{path}: no such key file; pass the key.json that `human-eval prepare` wrote beside study.json")
    try:
        key = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    for field in ("design", "systems", "batches"):
        if field not in key:
            raise HarnessError(f"{p}: field {field!r} missing; not a key file written by `human-eval prepare`")
    return key


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
