"""Judge columns are labelled with their meta-eval agreement, or "not validated"."""

from __future__ import annotations

import json

from harness.leaderboard import judge

INSTRUMENT = {"identity_sha256": "ab" * 32, "rubric": {"sha256": "r1"}, "prompt": {"sha256": "p1"}}


def report(created: str, rho: float, identity: str = "ab" * 32) -> dict:
    return {
        "created": created, "ratings": {"sha256": "he"},
        "instruments": {"judge": {"identity_sha256": identity, "rubric": {"sha256": "r1"}, "prompt": {"sha256": "p1"}}},
        "example_level": {"all": {"judge_emotion_understanding": {
            "emotion_understanding": {"spearman": {"value": rho, "ci": [rho - 0.1, rho + 0.1]}},
            "mean_of_four": {"spearman": {"value": 0.0, "ci": [0, 0]}}}}},
    }


def test_label_takes_the_latest_meta_eval_of_the_same_judge(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    reports = tmp_path / "reports"
    for name, created, rho in (("old", "2026-01-01T00:00:00Z", 0.05), ("new", "2026-02-01T00:00:00Z", 0.21)):
        (reports / name).mkdir(parents=True)
        (reports / name / "meta_eval.json").write_text(json.dumps(report(created, rho)))
    (reports / "other").mkdir()
    (reports / "other" / "meta_eval.json").write_text(json.dumps(report("2026-03-01T00:00:00Z", 0.9, "cd" * 32)))
    label = judge.column_label("judge_emotion_understanding", [INSTRUMENT], [reports])
    assert label == "Judge emotion understanding (ρ +0.21 vs people, 2026-02-01)"


def test_not_validated_without_a_meta_eval_or_with_another_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    assert judge.column_label("judge_emotion_understanding", [INSTRUMENT], [tmp_path]).endswith("(not validated)")
    judge.remember(report("2026-02-01T00:00:00Z", 0.3))  # recorded in the cache by identity
    assert "ρ +0.30" in judge.column_label("judge_emotion_understanding", [INSTRUMENT], [])
    other_prompt = {**INSTRUMENT, "prompt": {"sha256": "p2"}}
    assert judge.column_label("judge_emotion_understanding", [other_prompt], []).endswith("(not validated)")
    two = [INSTRUMENT, other_prompt]
    assert "judges differ" in judge.column_label("judge_emotion_understanding", two, [])
    assert judge.columns({"judge_emotion_understanding", "judge_unparseable_emotion_understanding", "nidf"},
                         [INSTRUMENT], [])[0][0] == "judge_emotion_understanding"
