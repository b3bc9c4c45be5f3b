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
    code = main(["demo", "--limit", "3", "--mmlu-limit", "1", "--model-args", "pretrained=tiny-llama",
                 "--gen-kwargs", "max_gen_toks=2", "--batch-size", "3", "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Demo: (1) tiny-llama (HF backend) on the first 3 ED test dialogues" in printed
    assert "Metrics: toy_words, toy_distinct, toy_overlap" in printed and "Wall time:" in printed
    runs = {p.name: json.loads((p / "manifest.json").read_text()) for p in (out / "runs").iterdir()}
    assert set(runs) == {"tiny-llama", "human", "opposite-emotion"}
    assert sorted(p.name for p in (out / "runs" / "tiny-llama" / "tasks").iterdir()) == ["ed_empathy", "mmlu_offline"]
    assert json.loads((out / "runs" / "tiny-llama" / "tasks" / "mmlu_offline" / "summary.json").read_text())["n"] == 57
    assert runs["tiny-llama"]["num_fewshot"]["mmlu_offline_anatomy"] == 5
    report = (out / "report.md").read_text()
    assert report in printed
    lines = [line for line in report.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| model | ED n | toy_words ↓ | toy_unique ↑ | toy_distinct ↑ | toy_overlap ↑ | MMLU acc ↑")
    assert [line.split(" | ")[0] for line in lines[1:]] == ["| tiny-llama", "| human (reference)",
                                                             "| opposite-emotion (reference)"]
    human = json.loads((out / "runs" / "human" / "tasks" / "ed_empathy" / "summary.json").read_text())
    assert f"| human (reference) | 3 | {human['toy_words']:.4g} |" in report
