"""`empathy-harness data stats` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.cli import main
from tests.conftest import ed_row


def test_stats_on_a_release(make_release, tmp_path, capsys):
    rows = [ed_row("c1", 1, "a"), ed_row("c1", 2, "b"), "broken,row"]
    src = make_release({"train": rows, "valid": rows, "test": rows})
    out_json = tmp_path / "stats.json"
    assert main(["data", "stats", "--source", str(src), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "test" in text and "wrong field count (expected 8): 1" in text
    stats = json.loads(out_json.read_text())
    assert [s["split"] for s in stats] == ["train", "valid", "test"]
    assert stats[2]["examples"] == 1 and stats[2]["labels"] == 1


def test_strict_error_is_a_message_not_a_traceback(make_release):
    src = make_release({"test": [ed_row("c1", 1, "a"), "broken,row"]})
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "data", "stats", "--splits", "test", "--strict", "--source", str(src)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "line 3: wrong field count" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_dataset_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    assert main(["data", "stats"]) == 2
    assert "empatheticdialogues.tar.gz" in capsys.readouterr().err


@pytest.mark.mirror
def test_stats_on_the_mirror(mirror, capsys):
    assert main(["data", "stats", "--splits", "test"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("test "))
    _, rows, conversations, examples, labels = line.split()
    assert 2540 <= int(examples) <= 2547 and int(labels) == 32
