"""`empathy-harness demo` end to end, on the tiny model and a few documents."""

from __future__ import annotations

import json

import pytest

from harness.cli import main
from tests.support.fixtures import toys  # noqa: F401  (fixture)


@pytest.mark.slow
@pytest.mark.mirror
def test_demo_runs_the_model_the_references_and_writes_a_table(mirror, toys, tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--limit", "3", "--mmlu-limit", "1", "--eq-bench-limit", "2", "--model-args", "pretrained=tiny-llama",
                 "--gen-kwargs", "max_gen_toks=2", "--batch-size", "3", "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Demo: (1) tiny-llama (HF backend) on the first 3 ED test dialogues" in printed
    assert "Metrics: toy_words, toy_distinct, toy_overlap" in printed and "Wall time:" in printed
    runs = {p.name: json.loads((p / "manifest.json").read_text()) for p in (out / "runs").iterdir()}
    assert set(runs) == {"tiny-llama", "human", "opposite-emotion"}
    assert sorted(p.name for p in (out / "runs" / "tiny-llama" / "tasks").iterdir()) == [
        "ed_empathy", "eq_bench_offline", "mmlu_offline"]
    assert json.loads((out / "runs" / "tiny-llama" / "tasks" / "eq_bench_offline" / "summary.json").read_text())["n"] == 2
    assert json.loads((out / "runs" / "tiny-llama" / "tasks" / "mmlu_offline" / "summary.json").read_text())["n"] == 57
    assert runs["tiny-llama"]["num_fewshot"]["mmlu_offline_anatomy"] == 5
    board = (out / "leaderboard.md").read_text()
    assert board in printed
    rows = [line for line in board.splitlines() if line.startswith("| ")]
    names = [line.split(" | ")[0].lstrip("| ").strip() for line in rows]
    assert {"human (reference)", "tiny-llama", "opposite-emotion"} <= set(names)
    assert "MMLU" in rows[0] or any("MMLU" in line for line in rows)
    assert any("| EQ-Bench ↑ | EQ-Bench % parseable ↑ |" in line for line in rows)
    assert (out / "leaderboard.csv").exists() and (out / "leaderboard.json").exists()


@pytest.mark.slow
@pytest.mark.mirror
def test_demo_without_eq_bench_keeps_mmlu_five_shot(mirror, toys, tmp_path):
    out = tmp_path / "demo"
    code = main(["demo", "--limit", "2", "--mmlu-limit", "1", "--eq-bench-limit", "0", "--model-args",
                 "pretrained=tiny-llama", "--gen-kwargs", "max_gen_toks=2", "--batch-size", "2", "--output", str(out)])
    assert code == 0
    run = out / "runs" / "tiny-llama"
    assert sorted(p.name for p in (run / "tasks").iterdir()) == ["ed_empathy", "mmlu_offline"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["num_fewshot"]["mmlu_offline_anatomy"] == 5
    samples = [json.loads(line) for line in (run / "tasks" / "ed_empathy" / "samples.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in
                 (out / "runs" / "human" / "tasks" / "ed_empathy" / "samples.jsonl").read_text().splitlines()]
    assert [s["doc"]["id"] for s in samples] == [s["doc"]["id"] for s in reference][:2]
