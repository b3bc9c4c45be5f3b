"""Run-folder pieces without a model: model identity, task folders, limits, JSON hygiene."""

from __future__ import annotations

import json
import os

import pytest

from harness.cli.eval import parse_limits
from harness.errors import HarnessError
from harness.runs import folder, identity


def test_identity_ignores_where_and_how_fast_but_not_what(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights" * 10)
    base = identity.model_identity("hf", {"pretrained": str(model), "dtype": "float32"})
    same = identity.model_identity("hf", {"pretrained": str(model), "dtype": "float32", "batch_size": 64,
                                          "device": "cuda:1", "max_batch_size": 8})
    assert identity.identity_hash(base) == identity.identity_hash(same)
    other_dtype = identity.model_identity("hf", {"pretrained": str(model), "dtype": "bfloat16"})
    assert identity.identity_hash(other_dtype) != identity.identity_hash(base)
    other_backend = identity.model_identity("vllm", {"pretrained": str(model), "dtype": "float32"})
    assert identity.identity_hash(other_backend) != identity.identity_hash(base)
    (model / "model.safetensors").write_bytes(b"other weights")  # same path, new content
    assert identity.identity_hash(identity.model_identity("hf", {"pretrained": str(model), "dtype": "float32"})) \
        != identity.identity_hash(base)


def test_identity_hashes_adapter_folders_and_skips_checkpoints(tmp_path):
    adapter = tmp_path / "adapter"
    (adapter / "checkpoint-10").mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"lora")
    ident = identity.model_identity("hf", {"pretrained": "org/model", "peft": str(adapter)})
    assert "peft_sha256" in ident and "pretrained_sha256" not in ident  # a Hub id is not a folder here
    (adapter / "checkpoint-10" / "optimizer.pt").write_bytes(b"state")
    assert identity.model_identity("hf", {"pretrained": "org/model", "peft": str(adapter)}) == ident


def test_large_files_are_hashed_once(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(1 << 20) + b"x")
    first = identity._file_sha256(big)
    memo = list((tmp_path / "cache" / "derived" / "file-sha256").iterdir())
    assert len(memo) == 1 and memo[0].read_text() == first
    calls = []
    monkeypatch.setattr(identity, "sha256_of", lambda p: calls.append(p) or "never")
    assert identity._file_sha256(big) == first and calls == []


def test_cache_folder_is_keyed_by_identity_only(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    a = identity.cache_path({"backend": "hf", "pretrained": "/m/smol"})
    b = identity.cache_path({"backend": "hf", "pretrained": "/m/smol", "dtype": "bfloat16"})
    assert a != b and a.name.startswith("smol-") and json.loads((a / "identity.json").read_text())["pretrained"] == "/m/smol"
    assert identity.cache_path({"backend": "hf", "pretrained": "/m/smol"}) == a


RESULTS = {
    "group_subtasks": {
        "empo_offline": ["ed_empathy", "mmlu_offline"],
        "mmlu_offline": ["mmlu_offline_stem", "mmlu_offline_other"],
        "mmlu_offline_stem": ["mmlu_offline_anatomy"],
        "mmlu_offline_other": ["mmlu_offline_virology"],
        "leaderboard": ["leaderboard_ifeval", "leaderboard_bbh"],
        "leaderboard_bbh": ["leaderboard_bbh_a", "leaderboard_bbh_b"],
    },
    "configs": {
        "ed_empathy": {"metadata": {"kind": "ed_generation"}},
        "ed_empathy_short": {"metadata": {"kind": "ed_generation"}},
        **{t: {"metadata": {}} for t in ("mmlu_offline_anatomy", "mmlu_offline_virology", "leaderboard_ifeval",
                                         "leaderboard_bbh_a", "leaderboard_bbh_b")},
    },
    "higher_is_better": {
        "mmlu_offline_anatomy": {"acc": True}, "mmlu_offline_virology": {"acc": True},
        "leaderboard_ifeval": {"prompt_level_strict_acc": True}, "leaderboard_bbh_a": {"acc_norm": True},
        "leaderboard_bbh_b": {"acc_norm": True}, "ed_empathy": {}, "ed_empathy_short": {},
    },
}


def test_task_folders_group_what_shares_metrics():
    assert folder.units(RESULTS) == {
        "ed_empathy": ["ed_empathy"],
        "mmlu_offline": ["mmlu_offline_anatomy", "mmlu_offline_virology"],
        "leaderboard_ifeval": ["leaderboard_ifeval"],
        "leaderboard_bbh": ["leaderboard_bbh_a", "leaderboard_bbh_b"],
        "ed_empathy_short": ["ed_empathy_short"],  # a task outside any group
    }


def test_accuracy_rows(tmp_path):
    samples = {"mmlu_offline_anatomy": [{"doc_id": 0, "acc": 1.0}, {"doc_id": 1, "acc": 0.0}],
               "mmlu_offline_virology": [{"doc_id": 0, "acc": 1.0}]}
    info = folder.write_accuracy_scores(tmp_path, ["mmlu_offline_anatomy", "mmlu_offline_virology"], samples, RESULTS)
    rows = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert rows == [{"id": "mmlu_offline_anatomy/0", "acc": 1}, {"id": "mmlu_offline_anatomy/1", "acc": 0},
                    {"id": "mmlu_offline_virology/0", "acc": 1}]
    assert json.loads((tmp_path / "summary.json").read_text()) == {"acc": pytest.approx(2 / 3), "n": 3}
    assert info["n"] == 3


def test_sample_values_become_json_numbers():
    assert folder._number(True) == 1 and folder._number(0.0) == 0 and folder._number(0.25) == 0.25
    assert folder._number([True, False]) == [1, 0] and folder._number("x") is None
    assert folder._number(float("nan")) is None
    assert folder._finite({"a": float("nan"), "b": [float("inf"), 1.0]}) == {"a": None, "b": [None, 1.0]}


def test_output_that_is_not_a_run_folder_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(HarnessError, match="is not a run folder"):
        folder.prepare_output(tmp_path / "mine")
    staging = folder.prepare_output(tmp_path / "run")
    (staging / folder.MANIFEST).write_text("{}")
    folder.publish(staging, tmp_path / "run")
    again = folder.prepare_output(tmp_path / "run")  # an older run folder is replaced at publish
    (again / folder.MANIFEST).write_text('{"new": 1}')
    folder.publish(again, tmp_path / "run")
    assert json.loads((tmp_path / "run" / folder.MANIFEST).read_text()) == {"new": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "run"]


def test_limits():
    assert parse_limits([]) == (None, {})
    assert parse_limits(["200", "mmlu_offline=2"]) == (200, {"mmlu_offline": 2})
    with pytest.raises(HarnessError, match="at least 1"):
        parse_limits(["0"])
    with pytest.raises(HarnessError, match="TASK=N"):
        parse_limits(["many"])
