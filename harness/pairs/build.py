"""Preference pairs from scored candidates: per dialogue, the best response is chosen, the worst rejected.

Candidates are generations files or run folders over the same dialogues (several models,
seeds, or sampled responses of one model). Each response is scored by a preference scorer
(harness.pairs.scorers). Per dialogue, identical responses count once; then

- no pair when fewer than two different responses have a score (`fewer_than_two`),
- no pair when all scores are equal (`all_tied`),
- no pair when best - worst < `min_margin`, in the scorer's units (`below_margin`),
- a tie for the best or for the worst place between different responses: `ties="drop"`
  (the default) gives no pair (`tied_best_or_worst`), since which of them is chosen would be
  arbitrary; `ties="first"` takes the first in the order the candidates were given.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harness.errors import DataError, HarnessError
from harness.metrics.base import Item
from harness.pairs.scorers import PreferenceScorer

TIES = ("drop", "first")
DROP_REASONS = ("fewer_than_two", "all_tied", "below_margin", "tied_best_or_worst")


@dataclass
class Candidates:
    path: Path  # the generations file read
    source: str  # what the user named (file or run folder)
    items: list[Item]
    sha256: str


@dataclass
class BuildResult:
    pairs: list[dict]
    counts: dict[str, int]
    scores: list[list[float | None]] = field(default_factory=list)  # [candidate][dialogue]


def load_candidates(source: str | Path, task: str | None = None) -> Candidates:
    """A generations file, or the generations of a run folder's ED task (`task` when it has several)."""
    from harness.generations import read_generations
    from harness.resources import sha256_of

    path = Path(source)
    if path.is_dir():
        path = _generations_in(path, task)
    elif not path.is_file():
        raise DataError(f"{source}: no such candidates file or run folder")
    items = read_generations(path).items
    if not items:
        raise DataError(f"{path}: no responses")
    return Candidates(path, str(source), items, sha256_of(path))


def _generations_in(folder: Path, task: str | None) -> Path:
    if (folder / "generations.jsonl").is_file():
        return folder / "generations.jsonl"
    found = sorted((folder / "tasks").glob("*/generations.jsonl"))
    if task:
        chosen = [p for p in found if p.parent.name == task]
        if not chosen:
            raise DataError(f"{folder}: no generations of task {task!r} (has: "
                            f"{', '.join(p.parent.name for p in found) or 'none'})")
        return chosen[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(f"{folder}: neither a run folder with an ED task's generations.jsonl nor a generations file")
    raise DataError(f"{folder}: generations of several tasks ({', '.join(p.parent.name for p in found)}); "
                    "choose one with --task")


def check_same_dialogues(candidates: Sequence[Candidates]) -> None:
    """Every candidate file covers the same dialogues with the same context and reference."""
    if len(candidates) < 2:
        raise HarnessError("preferences build needs at least two candidate files or run folders (best and worst "
                           "of one dialogue come from different candidates)")
    first = candidates[0]
    by_id = {it.id: it for it in first.items}
    for other in candidates[1:]:
        ids = {it.id for it in other.items}
        missing, extra = sorted(set(by_id) - ids), sorted(ids - set(by_id))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} of {first.path}'s ids ({_few(missing)})")
            if extra:
                parts.append(f"{len(extra)} ids {first.path} lacks ({_few(extra)})")
            raise DataError(f"{other.path}: not over the same dialogues as {first.path}: {'; '.join(parts)}; "
                            "generate every candidate on the same dialogues (same task and --limit)")
        for it in other.items:
            ref = by_id[it.id]
            if it.context != ref.context or it.reference != ref.reference:
                raise DataError(f"{other.path}: dialogue {it.id!r} has another context or reference than in "
                                f"{first.path}; candidates must answer the same dialogues")


def build_pairs(
    candidates: Sequence[Candidates], scorer: PreferenceScorer, min_margin: float = 0.0, ties: str = "drop",
    scores: Sequence[Sequence[float | None]] | None = None, log=None,
) -> BuildResult:
    """Score every candidate (unless `scores[c][i]` are given, aligned with the first file's
    order) and pick per dialogue the best as chosen and the worst as rejected."""
    if ties not in TIES:
        raise HarnessError(f"--ties {ties!r}: use one of {', '.join(TIES)}")
    if min_margin < 0:
        raise HarnessError("--min-margin must be 0 or more (in the scorer's units)")
    check_same_dialogues(candidates)
    order = [it.id for it in candidates[0].items]
    aligned = [_aligned(c, order) for c in candidates]
    if scores is None:
        scores = []
        for c, items in zip(candidates, aligned):
            start = time.perf_counter()
            scores.append(scorer.score(items))
            if log:
                seconds = time.perf_counter() - start
                log(f"scored {c.path} with {scorer.name}: {len(items)} responses in {seconds:.1f} s")
    sign = 1.0 if scorer.higher_is_better else -1.0
    counts = {"dialogues": len(order), "pairs": 0, **{reason: 0 for reason in DROP_REASONS}}
    pairs = []
    for i, ident in enumerate(order):
        pair, reason = _pick(
            [(c, aligned[c][i].response, scores[c][i]) for c in range(len(candidates))], sign, min_margin, ties)
        if pair is None:
            counts[reason] += 1
            continue
        (best_c, chosen, best_v), (worst_c, rejected, worst_v) = pair
        item = aligned[0][i]
        record = {"id": ident, "context": list(item.context), "chosen": chosen, "rejected": rejected,
                  "chosen_score": best_v, "rejected_score": worst_v,
                  "chosen_candidate": best_c, "rejected_candidate": worst_c}
        if item.emotion is not None:
            record["emotion"] = item.emotion
        pairs.append(record)
    counts["pairs"] = len(pairs)
    return BuildResult(pairs, counts, [list(s) for s in scores])


def _pick(entries, sign: float, min_margin: float, ties: str):
    """((best), (worst)) of one dialogue's (candidate, response, score) entries, or (None, reason)."""
    distinct: dict[str, tuple[int, str, float]] = {}
    for c, response, value in entries:
        if value is None or response in distinct:
            continue
        distinct[response] = (c, response, float(value))
    if len(distinct) < 2:
        return None, "fewer_than_two"
    ranked = list(distinct.values())
    keys = [sign * v for _, _, v in ranked]
    best_key, worst_key = max(keys), min(keys)
    if best_key == worst_key:
        return None, "all_tied"
    if best_key - worst_key < min_margin:
        return None, "below_margin"
    best = [e for e, k in zip(ranked, keys) if k == best_key]
    worst = [e for e, k in zip(ranked, keys) if k == worst_key]
    if (len(best) > 1 or len(worst) > 1) and ties == "drop":
        return None, "tied_best_or_worst"
    return (best[0], worst[0]), None


def _aligned(candidates: Candidates, order: list[str]) -> list[Item]:
    by_id = {it.id: it for it in candidates.items}
    return [by_id[i] for i in order]


def _few(ids: list[str], k: int = 5) -> str:
    return ", ".join(ids[:k]) + (f" and {len(ids) - k} more" if len(ids) > k else "")


def write_pairs(output: str | Path, result: BuildResult, candidates: Sequence[Candidates], scorer: PreferenceScorer,
                min_margin: float, ties: str, command: list[str] | None = None) -> tuple[Path, Path]:
    """The pairs file (our format) and its provenance sidecar."""
    from harness import __version__
    from harness.generations import write_jsonl
    from harness.pairs.files import provenance_path
    from harness.resources import sha256_of
    from harness.train.run_folder import now, write_json

    output = Path(output)
    if not result.pairs:
        raise HarnessError(f"no pairs to write ({counts_text(result.counts)}); lower --min-margin, use --ties first, "
                           "or add candidates")
    write_jsonl(output, result.pairs)
    sidecar = provenance_path(output)
    write_json(sidecar, {
        "pairs_file": output.name,
        "pairs_sha256": sha256_of(output),
        "pairs": len(result.pairs),
        "candidates": [{"source": c.source, "path": str(c.path), "sha256": c.sha256, "responses": len(c.items)}
                       for c in candidates],
        "scorer": {**scorer.describe(), "instrument": scorer.instrument()},
        "min_margin": min_margin,
        "ties": ties,
        "counts": result.counts,
        "rule": "per dialogue: chosen = best-scored response, rejected = worst-scored (harness.pairs.build)",
        "harness": __version__,
        "command": command,
        "created": now(),
    })
    return output, sidecar


def counts_text(counts: dict[str, int]) -> str:
    """"40 pairs from 96 dialogues; dropped: 30 all tied, ..." """
    dropped = ", ".join(f"{counts[r]} {r.replace('_', ' ')}" for r in DROP_REASONS if counts.get(r))
    text = f"{counts['pairs']} pairs from {counts['dialogues']} dialogues"
    return text + (f"; dropped: {dropped}" if dropped else "")


def say(message: str) -> None:
    print(f"[preferences {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
