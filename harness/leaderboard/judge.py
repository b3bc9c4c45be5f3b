"""Judge columns carry their validation: the agreement with people from the last meta-eval.

A run scored with the LLM judge (`judge_<statement>` keys, instrument `judge` in its
provenance) gets one column per statement, labelled with the judge's Spearman rho against
the mean human rating from the most recent `meta-eval` of the same judge identity
(harness/metrics/judge.py: model, arguments, weights' sha256, decoding) on the same rubric and
prompt, or "not validated". Meta-evaluations are found in `<cache>/judge/<identity>/` (every
meta-eval records itself there) and in `reports/meta-eval/*/meta_eval.json` under the
current folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.config import cache_dir

PREFIX = "judge_"
REPORTS = Path("reports") / "meta-eval"
RECORD = "meta_eval_agreement.json"


def agreement_record(report: dict) -> dict | None:
    """What a leaderboard needs of a meta-eval report with a judge (None without one)."""
    judge = report.get("instruments", {}).get("judge")
    if judge is None:
        return None
    rows = report["example_level"]["all"]
    agreement = {}
    for key in rows:
        if key.startswith(PREFIX):
            statement = key[len(PREFIX):]
            dim = statement if statement in rows[key] else "mean_of_four"
            agreement[key] = {"dimension": dim, **rows[key][dim]["spearman"]}
    return {"identity_sha256": judge["identity_sha256"], "rubric_sha256": judge["rubric"]["sha256"],
            "prompt_sha256": judge["prompt"]["sha256"], "created": report["created"],
            "ratings_sha256": report["ratings"]["sha256"], "agreement": agreement}


def remember(report: dict) -> Path | None:
    """Record a meta-eval's judge agreement in the cache, by judge identity."""
    record = agreement_record(report)
    if record is None:
        return None
    folder = cache_dir() / "judge" / record["identity_sha256"][:24]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RECORD
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    return path


def _records(identity: str, search: list[Path]) -> list[dict]:
    found = []
    cached = cache_dir() / "judge" / identity[:24] / RECORD
    candidates = [cached] + [p for folder in search if folder.is_dir() for p in folder.glob("*/meta_eval.json")]
    for path in candidates:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        record = data if "agreement" in data else agreement_record(data) if "example_level" in data else None
        if record and record["identity_sha256"] == identity:
            found.append(record)
    return found


def validation(instrument: dict, search: list[Path] | None = None) -> dict | None:
    """The latest meta-eval agreement of this judge instrument (same identity, rubric, prompt), or None."""
    identity = instrument.get("identity_sha256")
    if not identity:
        return None
    records = [r for r in _records(identity, search if search is not None else [REPORTS])
               if r["rubric_sha256"] == instrument.get("rubric", {}).get("sha256")
               and r["prompt_sha256"] == instrument.get("prompt", {}).get("sha256")]
    return max(records, key=lambda r: r["created"]) if records else None


def column_label(key: str, instruments: list[dict], search: list[Path] | None = None) -> str:
    """`Judge <statement> (ρ +0.12 vs people)`, or `(not validated)`."""
    name = "Judge " + key[len(PREFIX):].replace("_", " ")
    identities = {json.dumps(i, sort_keys=True) for i in instruments if i}
    if len(identities) != 1:
        return f"{name} (not validated: {'judges differ between rows' if identities else 'no judge instrument'})"
    found = validation(instruments[0], search)
    entry = found["agreement"].get(key) if found else None
    if entry is None or entry.get("value") is None:
        return f"{name} (not validated)"
    return f"{name} (ρ {entry['value']:+.2f} vs people, {found['created'][:10]})"


def columns(present: set[str], instruments: list[dict], search: list[Path] | None = None) -> list[tuple[str, str]]:
    """(key, label) of every judge score present in the runs."""
    keys = sorted(k for k in present if k.startswith(PREFIX) and not k.startswith(PREFIX + "unparseable"))
    return [(k, column_label(k, instruments, search)) for k in keys]
