"""Qian et al.'s strategies through `empathy-harness eval` and the stock `lm_eval` command:
two stages in one run, resuming an interrupted one, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.prompting import template
from harness.runs.evaluate import run
from tests.conftest import REPO
from tests.integration.test_eval_runs import _count_generate, read_jsonl, tiny_request
from tests.support.fixtures import toys  # noqa: F401  (fixture)

pytestmark = pytest.mark.mirror


def test_two_stage_end_to_end_and_resume(mirror, toys, tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    from harness.runs.hf_generation import PROMPTS_PER_SLOT

    limit = PROMPTS_PER_SLOT + 2  # one decoding slot: each stage in two lm-eval batches (4 + 2 prompts)
    request = tiny_request(tmp_path, tasks=["ed_qian_twostage"], limit=limit, batch_size=1)
    first = _count_generate(monkeypatch, fail_after=3)  # stage 1 (4 + 2), stage 2's first 4, then Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        run(request)
    assert first == [PROMPTS_PER_SLOT, 2, PROMPTS_PER_SLOT] and not request.output.exists()
    second = _count_generate(monkeypatch)
    out = run(request)
    assert second == [2]  # neither stage 1 nor the finished stage-2 responses are generated again
    folder = out / "tasks" / "ed_qian_twostage"
    stage1 = read_jsonl(folder / "stage1.jsonl")
    samples = read_jsonl(folder / "samples.jsonl")
    assert [r["id"] for r in stage1] == [s["doc"]["id"] for s in samples] and len(stage1) == limit
    for row, sample in zip(stage1, samples):
        assert sample["doc"]["stage1"] == row["texts"]
        # the second stage continues the first stage's chat with its answer
        assert f"<|im_start|>assistant\n{row['texts'][0].strip()}<|im_end|>" in sample["arguments"][0][0]
        assert sample["arguments"][0][0].endswith(f"{template.STAGE2_PROMPT}<|im_end|>\n<|im_start|>assistant\n")
    scores = read_jsonl(folder / "scores.jsonl")
    assert all(r["emotion_acc"] in (0, 1) and r["emotion_mapped"] in (0, 1) for r in scores)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["first_stages"]["ed_qian_twostage_stage1"]["tasks"] == ["ed_qian_twostage"]
    assert manifest["prompts"]["ed_qian_twostage"]["template_sha256"] == template.template_sha256()
    assert len(manifest["prompts"]["ed_qian_twostage"]["prompts_sha256"]) == 64
    # the recorded task config names the stage file inside the run, not the machine's staging path
    recorded = json.loads((out / "results.json").read_text())["configs"]["ed_qian_twostage"]["metadata"]["stages"]
    assert recorded == {"ed_qian_twostage_stage1": "tasks/ed_qian_twostage/stage1.jsonl"}
    third = _count_generate(monkeypatch)
    run(request)
    assert third == []


def test_gold_variants_and_five_shot_need_one_stage(mirror, toys, tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    out = run(tiny_request(tmp_path, tasks=["ed_qian_twostage_gold_emotion", "ed_qian_5shot"], limit=2, seed=5))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["first_stages"] == {} and manifest["prompts"]["ed_qian_5shot"]["num_fewshot"] == 5
    samples = read_jsonl(out / "tasks" / "ed_qian_5shot" / "samples.jsonl")
    assert all(s["arguments"][0][0].count("Instance ") == 5 for s in samples)


def test_model_generated_knowledge_end_to_end(mirror, toys, tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    out = run(tiny_request(tmp_path, tasks=["ed_qian_knowledge_selfgen"], limit=2))
    folder = out / "tasks" / "ed_qian_knowledge_selfgen"
    stage1 = read_jsonl(folder / "stage1.jsonl")
    assert [len(r["texts"]) for r in stage1] == [5, 5]  # one answer per relation
    samples = read_jsonl(folder / "samples.jsonl")
    for row, sample in zip(stage1, samples):
        prompt = sample["arguments"][0][0]
        assert "The following is the commonsense knowledge about Speaker in this dialogue:\nxIntent: " in prompt
        assert f"xReact: {row['texts'][4].strip().splitlines()[0].strip() if row['texts'][4].strip() else ''}" in prompt
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["prompts"]["ed_qian_knowledge_selfgen"]["knowledge_label"] == "model-generated commonsense"
    assert manifest["first_stages"]["ed_qian_knowledge_selfgen_stage1"]["n"] == 2


@pytest.mark.parametrize("args, message", [
    (["--tasks", "ed_qian_0shot", "--metadata", '{"strategy": "nope"}'], "unknown prompting strategy 'nope'"),
    (["--tasks", "ed_qian_5shot", "--num-fewshot", "100000"], "100000 exemplars asked for"),
    (["--tasks", "ed_qian_ssicl", "--metadata", '{"encoder": "sentence-transformers/all-mpnet-base-v2"}'],
     "is not available offline"),
    (["--tasks", "ed_qian_knowledge"], "comet-bart needs the COMET-BART checkpoint"),
    (["--tasks", "ed_qian_0shot", "--metadata", "{"], "--metadata is not JSON"),
])
def test_bad_input_is_one_line(mirror, capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    monkeypatch.setenv("EMPATHY_HARNESS_METRICS", "none")
    code = main(["eval", "--model", "hf", "--model-args", "pretrained=tiny-llama", "--limit", "1",
                 "--gen-kwargs", "max_gen_toks=2", "--output", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_stock_lm_eval_two_stage(mirror, tmp_path):
    """The stock command: 0-shot in one call; two-stage as two calls, the first's samples
    file passed to the second through --metadata (docs/PROMPTING.md)."""
    from harness.embedded import resolve_model

    tiny = resolve_model("tiny-llama")
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMPATHY_HARNESS_METRICS": "none"}
    base = [str(Path(sys.executable).parent / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={tiny}",
            "--device", "cpu", "--include_path", str(REPO / "tasks"), "--limit", "2", "--gen_kwargs",
            "max_gen_toks=4", "--log_samples", "--apply_chat_template"]

    def lm_eval(tasks: str, out: Path, *extra: str) -> dict:
        proc = subprocess.run(base + ["--tasks", tasks, "--output_path", str(out), *extra], env=env,
                              capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(next(out.rglob("results_*.json")).read_text())["results"]

    results = lm_eval("ed_qian_0shot,ed_qian_twostage_stage1", tmp_path / "one")
    assert "emotion_acc,none" in results["ed_qian_twostage_stage1"]
    stage1 = next((tmp_path / "one").rglob("samples_ed_qian_twostage_stage1_*.jsonl"))
    lm_eval("ed_qian_twostage", tmp_path / "two", "--metadata",
            json.dumps({"stages": {"ed_qian_twostage_stage1": str(stage1)}}))
    samples = read_jsonl(next((tmp_path / "two").rglob("samples_ed_qian_twostage_*.jsonl")))
    first = {s["doc"]["id"]: s["filtered_resps"][0] for s in read_jsonl(stage1)}
    assert [s["doc"]["stage1"] for s in samples] == [[first[s["doc"]["id"]]] for s in samples]
