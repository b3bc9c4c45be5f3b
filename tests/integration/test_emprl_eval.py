"""Evaluating the EmpRL way on the tiny local model: sampled decoding over seeds (one run
folder and one response cache per seed, folded by the leaderboard), and the perplexity of
the reference by our command and by the stock `lm_eval` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import REPO
from tests.support.fixtures import toys  # noqa: F401  (fixture)

pytestmark = [pytest.mark.mirror, pytest.mark.slow]
TASKS = REPO / "tasks"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_sampled_task_over_seeds_one_folder_each_and_folded(mirror, toys, tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "runs"
    common = ["eval", "--model-args", "pretrained=tiny-llama", "--name", "tiny", "--tasks", "ed_empathy_sampled",
              "--limit", "4", "--batch-size", "2", "--device", "cpu"]
    assert main(common + ["--seeds", "1,2", "--output", str(out)]) == 0
    responses = {}
    for seed in (1, 2):
        manifest = json.loads((out / f"seed-{seed}" / "manifest.json").read_text())
        assert manifest["seed"] == seed and manifest["model"] == "tiny"
        kwargs = manifest["generation_kwargs"]["ed_empathy_sampled"]
        assert kwargs["do_sample"] is True and (kwargs["top_k"], kwargs["top_p"], kwargs["temperature"]) == (20, 1.0, 0.9)
        assert kwargs["max_gen_toks"] == 30
        assert manifest["response_cache"].endswith(f"responses-seed-{seed}_rank0.db")
        rows = read_jsonl(out / f"seed-{seed}" / "tasks" / "ed_empathy_sampled" / "generations.jsonl")
        responses[seed] = [r["response"] for r in rows]
    assert responses[1] != responses[2]  # sampled: the seed matters, and no cache served seed 1's text for seed 2
    # the same seed again, without the cache, samples the same text
    assert main(common + ["--seed", "1", "--output", str(tmp_path / "again"), "--no-cache"]) == 0
    again = read_jsonl(tmp_path / "again" / "tasks" / "ed_empathy_sampled" / "generations.jsonl")
    assert [r["response"] for r in again] == responses[1]
    # the leaderboard folds the seeds of one name into one row, mean +- SD
    board = tmp_path / "board.md"
    assert main(["leaderboard", str(out / "seed-1"), str(out / "seed-2"), "--task", "ed_empathy_sampled",
                 "--output", str(board), "--no-figures", "--resamples", "200", "--corpus-resamples", "0"]) == 0
    table = json.loads(board.with_suffix(".json").read_text())
    rows = [r for t in table["tables"] for r in t["rows"]] if "tables" in table else table["rows"]
    assert len(rows) == 1 and sorted(rows[0]["seeds"]) == [1, 2]


def test_seed_options_bad_input(tmp_path, capsys):
    base = ["eval", "--model-args", "pretrained=tiny-llama", "--tasks", "ed_empathy_sampled", "--output",
            str(tmp_path / "x")]
    assert main(base + ["--seeds", "1,1"]) == 2
    assert "distinct seeds" in capsys.readouterr().err
    assert main(base + ["--seeds", "1,two"]) == 2
    assert "whole numbers" in capsys.readouterr().err
    assert main(base + ["--seeds", "1,2", "--seed", "3"]) == 2
    assert "--seed and --seeds" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_reference_perplexity_by_our_command_and_stock_lm_eval(mirror, tmp_path, monkeypatch):
    from harness.embedded import resolve_model

    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["eval", "--model-args", "pretrained=tiny-llama", "--tasks", "ed_perplexity", "--limit", "5",
                 "--device", "cpu", "--output", str(out)]) == 0
    summary = json.loads((out / "tasks" / "ed_perplexity" / "summary.json").read_text())
    ours = json.loads((out / "results.json").read_text())["results"]["ed_perplexity"]
    assert summary["n"] == 5
    assert summary["word_perplexity"] == pytest.approx(ours["word_perplexity,none"], rel=1e-9)
    assert summary["word_perplexity_ci_low"] < summary["word_perplexity"] < summary["word_perplexity_ci_high"]
    rows = read_jsonl(out / "tasks" / "ed_perplexity" / "scores.jsonl")
    assert all(r["loglikelihood"] < 0 and r["words"] > 0 for r in rows)
    samples = read_jsonl(out / "tasks" / "ed_perplexity" / "samples.jsonl")
    prompt, target = samples[0]["arguments"][0]
    assert prompt.endswith("<|im_start|>assistant\n") and target == samples[0]["doc"]["reference"]

    tiny = resolve_model("tiny-llama")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [str(Path(sys.executable).parent / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={tiny}",
               "--device", "cpu", "--include_path", str(TASKS), "--tasks", "ed_perplexity", "--limit", "5",
               "--apply_chat_template", "--output_path", str(tmp_path / "stock")]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stock = json.loads(next((tmp_path / "stock").rglob("results_*.json")).read_text())["results"]["ed_perplexity"]
    assert stock["word_perplexity,none"] == pytest.approx(summary["word_perplexity"], rel=1e-4)
    assert stock["byte_perplexity,none"] == pytest.approx(summary["byte_perplexity"], rel=1e-4)
