"""`empathy-harness eval` end to end on the tiny local model: run folders, references,
resume after an interruption, clear errors."""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.data import ed as ed_data
from harness.data.prompts import BASELINE_PROMPT, SHORT_PROMPT
from harness.resources import sha256_of
from harness.runs.evaluate import EvalRequest, run
from tests.conftest import REPO
from tests.support.fixtures import toys  # noqa: F401  (fixture)

pytestmark = pytest.mark.mirror
TINY_GEN = "max_gen_toks=4"


def tiny_request(tmp_path: Path, **overrides) -> EvalRequest:
    request = EvalRequest(backend="hf", model_args={"pretrained": "tiny-llama"}, tasks=["ed_empathy"], limit=3,
                          output=tmp_path / "run", batch_size=2, device="cpu", gen_kwargs=TINY_GEN)
    for key, value in overrides.items():
        setattr(request, key, value)
    return request


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_run_folder_contents(mirror, toys, tmp_path):
    out = run(tiny_request(tmp_path, tasks=["empathy"], limit=4, seed=7, use_cache=False))
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("model", "model_args", "backend", "seed", "tasks", "started", "finished", "versions",
                "model_identity", "task_configs", "system_prompts", "chat_template", "seeds", "instruments"):
        assert key in manifest, key
    assert manifest["model"] == "tiny-llama" and manifest["backend"] == "hf" and manifest["seed"] == 7
    assert manifest["seeds"] == {"random": 7, "numpy": 7, "torch": 7, "fewshot": 7}
    assert manifest["tasks"] == ["empathy"] and manifest["reference"] is False
    assert manifest["system_prompts"] == {"ed_empathy": BASELINE_PROMPT, "ed_empathy_short": SHORT_PROMPT}
    assert manifest["chat_template"]["applied"] is True and len(manifest["chat_template"]["sha256"]) == 64
    assert set(manifest["task_configs"]) == {"ed_empathy", "ed_empathy_short"}
    assert manifest["instruments"] == {"toy_overlap": {"model": "none (test scorer)"}, "toy_words": {},
                                       "toy_distinct": {}}
    assert manifest["versions"]["lm_eval"].startswith("0.4")
    results = json.loads((out / "results.json").read_text())
    assert "samples" not in results
    examples = {ex.id: ex for ex in ed_data.load_examples("test", limit=4)}
    corpora = set()
    for task in ("ed_empathy", "ed_empathy_short"):
        folder = out / "tasks" / task
        samples = read_jsonl(folder / "samples.jsonl")
        generations = read_jsonl(folder / "generations.jsonl")
        scores = read_jsonl(folder / "scores.jsonl")
        summary = json.loads((folder / "summary.json").read_text())
        provenance = json.loads((folder / "provenance.json").read_text())
        assert [s["doc_id"] for s in samples] == [0, 1, 2, 3]
        assert [g["id"] for g in generations] == [s["doc"]["id"] for s in samples] == [r["id"] for r in scores]
        for g, s in zip(generations, samples):
            ex = examples[g["id"]]
            assert g["context"] == list(ex.context) and g["reference"] == ex.reference and g["emotion"] == ex.emotion
            assert g["response"] == s["filtered_resps"][0].strip()
        assert summary["n"] == 4
        corpora.add((folder / "generations.jsonl").read_text())
        assert provenance["input"]["sha256"] == sha256_of(folder / "generations.jsonl")
        assert provenance["metrics"] == ["toy_words", "toy_distinct", "toy_overlap"]
        # the suite's summary is what lm-eval reported (lm-eval's mean of defined values for per-document keys)
        reported = results["results"][task]
        for key in ("toy_unique", "toy_distinct", "toy_overlap"):
            assert reported[f"{key},none"] == pytest.approx(summary[key])
        lengths = [float(len(g["response"].split())) for g in generations if g["response"]]
        if lengths:
            assert summary["toy_words"] == pytest.approx(sum(lengths) / len(lengths))
    # corpus-level and model-based scorers ran once per corpus, for lm-eval's aggregations
    # and the run folder's scores together (two tasks with identical generations are one corpus)
    assert toys.CALLS["toy_distinct"] == toys.CALLS["toy_overlap"] == len(corpora)


def test_reference_runs(mirror, toys, tmp_path):
    from harness.data.preferences import OPPOSITE_EMOTION, PreferenceBuilder

    examples = ed_data.load_examples("test")
    rejected = {p.id: p for p in PreferenceBuilder(examples, seed=0).epoch(0)}
    human = run(EvalRequest(backend="human", tasks=["ed_empathy"], limit=5, output=tmp_path / "human"))
    floor = run(EvalRequest(backend="opposite-emotion", tasks=["ed_empathy"], limit=5, output=tmp_path / "opp"))
    for g in read_jsonl(human / "tasks" / "ed_empathy" / "generations.jsonl"):
        assert g["response"] == g["reference"]
    by_id = {ex.id: ex for ex in examples}
    for g in read_jsonl(floor / "tasks" / "ed_empathy" / "generations.jsonl"):
        pair = rejected[g["id"]]
        assert g["response"] == pair.rejected.strip() and g["response"] != g["reference"]
        assert by_id[pair.rejected_id].emotion == OPPOSITE_EMOTION[g["emotion"]]
    manifest = json.loads((floor / "manifest.json").read_text())
    assert manifest["reference"] is True and manifest["model"] == "opposite-emotion"
    assert manifest["reference_responses"]["pool"] == "ED test split"
    assert json.loads((human / "tasks" / "ed_empathy" / "summary.json").read_text())["toy_overlap"] > 0


def test_reference_on_a_likelihood_task_is_refused(mirror, capsys, tmp_path):
    code = main(["eval", "--model", "human", "--tasks", "mmlu_offline_anatomy", "--limit", "1", "--output",
                 str(tmp_path / "never-written")])
    assert code == 2
    assert "the 'human' reference has no likelihoods" in capsys.readouterr().err
    assert not (tmp_path / "never-written").exists() and not list(tmp_path.iterdir())


def _count_generate(monkeypatch, fail_after: int | None = None) -> list[int]:
    """Count the documents each batch generation of the eval command handles; optionally
    fail on a later batch."""
    from harness.runs import hf_generation

    sizes: list[int] = []
    original = getattr(hf_generation.generate_compacting, "original", hf_generation.generate_compacting)

    def counted(lm, context, *args, **kwargs):
        if fail_after is not None and len(sizes) >= fail_after:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a run
        sizes.append(int(context.shape[0]))
        return original(lm, context, *args, **kwargs)

    counted.original = original
    monkeypatch.setattr(hf_generation, "generate_compacting", counted)
    return sizes


def test_resume_after_an_interruption(mirror, toys, tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    from harness.runs.hf_generation import PROMPTS_PER_SLOT

    # one decoding slot: lm-eval hands generation PROMPTS_PER_SLOT prompts per batch
    limit = PROMPTS_PER_SLOT + 2
    request = tiny_request(tmp_path, limit=limit, batch_size=1)
    first = _count_generate(monkeypatch, fail_after=1)
    with pytest.raises(KeyboardInterrupt):
        run(request)
    assert first == [PROMPTS_PER_SLOT] and not request.output.exists()
    second = _count_generate(monkeypatch)
    out = run(request)
    assert second == [2]  # only the 2 documents not generated before the interruption
    assert len(read_jsonl(out / "tasks" / "ed_empathy" / "generations.jsonl")) == limit
    # another model identity does not see these responses: same requests, another dtype
    other = _count_generate(monkeypatch)
    run(tiny_request(tmp_path, limit=limit, batch_size=1, model_args={"pretrained": "tiny-llama", "dtype": "bfloat16"},
                     output=tmp_path / "run-bf16"))
    assert sum(other) == limit


@pytest.mark.slow
def test_resume_after_the_process_is_killed(mirror, tmp_path):
    """A real interruption: the run's process is killed (SIGKILL) once some responses are
    cached; the next run generates only the rest, and the result equals a run that was
    never interrupted."""
    env = {**os.environ, "EMPATHY_HARNESS_CACHE": str(tmp_path / "cache"), "EMPATHY_HARNESS_METRICS": "none"}
    env.pop("EMPATHY_HARNESS_SCORER_MODULES", None)
    tiny_cache = Path(os.environ["EMPATHY_HARNESS_CACHE"]) / "models" / "tiny-llama"
    from harness.embedded import resolve_model

    resolve_model("tiny-llama")  # built once in the session cache; this run's cache gets a link
    (tmp_path / "cache" / "models").mkdir(parents=True)
    (tmp_path / "cache" / "models" / "tiny-llama").symlink_to(tiny_cache)
    n = 12
    command = [sys.executable, "-m", "harness", "eval", "--model-args", "pretrained=tiny-llama", "--tasks",
               "ed_empathy", "--limit", str(n), "--batch-size", "1", "--device", "cpu", "--gen-kwargs",
               "max_gen_toks=24", "--output"]
    proc = subprocess.Popen(command + [str(tmp_path / "killed")], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = None
    deadline = time.time() + 300
    cached = 0
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "cache" / "lm-cache").glob("*/responses_rank0.db"))
        if found:
            db = found[0]
            cached = _rows(db)
            if cached >= 3:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    cached = _rows(db)
    assert 3 <= cached < n
    assert not (tmp_path / "killed").exists()
    resumed = subprocess.run(command + [str(tmp_path / "resumed"), "-v"], env=env, cwd=REPO, capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Cached requests: {cached}, Requests remaining: {n - cached}" in resumed.stderr
    fresh = subprocess.run(command + [str(tmp_path / "fresh"), "--no-cache"], env=env, cwd=REPO,
                           capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert (tmp_path / "resumed" / "tasks" / "ed_empathy" / "generations.jsonl").read_text() == \
        (tmp_path / "fresh" / "tasks" / "ed_empathy" / "generations.jsonl").read_text()


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute('SELECT COUNT(*) FROM "unnamed"').fetchone()[0]
    except sqlite3.Error:
        return 0


def test_missing_vllm_is_one_clear_line():
    proc = subprocess.run([sys.executable, "-m", "harness", "eval", "--model", "vllm", "--model-args",
                           "pretrained=some/model", "--tasks", "ed_empathy"], capture_output=True, text=True, cwd=REPO)
    if proc.returncode == 0 or "vllm package, which is not installed" not in proc.stderr:
        pytest.skip("vllm is installed here")  # pragma: no cover - never on the CPU machines
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "pip install 'empathy-harness[vllm]'" in proc.stderr


@pytest.mark.slow
def test_unknown_task_is_named(mirror, capsys, tmp_path):
    """(slow: a name that is not ours makes lm-eval index its built-in tasks first)"""
    assert main(["eval", "--model-args", "pretrained=tiny-llama", "--tasks", "ed_nope", "--output",
                 str(tmp_path / "r")]) == 2
    assert "unknown task(s) ed_nope" in capsys.readouterr().err


def test_bad_arguments_are_named(capsys, tmp_path):
    assert main(["eval", "--model", "hf", "--tasks", "ed_empathy"]) == 2
    assert "needs --model-args pretrained=" in capsys.readouterr().err
    assert main(["eval", "--limit", "x=y"]) == 2
    assert "--limit 'x=y'" in capsys.readouterr().err
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "not-a-run" / "notes.txt").write_text("mine")
    assert main(["eval", "--model", "human", "--output", str(tmp_path / "not-a-run")]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_default_model_is_the_embedded_one():
    import argparse

    from harness.cli import build_parser
    from harness.runs.evaluate import request_from_cli

    args = build_parser().parse_args(["eval", "--limit", "5", "--limit", "mmlu_offline=1"])
    assert isinstance(args, argparse.Namespace)
    request = request_from_cli(args)
    assert request.backend == "hf" and request.model_args == {"pretrained": "smollm2-135m-instruct"}
    assert request.name == "smollm2-135m-instruct" and request.tasks == ["ed_empathy"]
    assert request.limit == 5 and request.task_limits == {"mmlu_offline": 1}


def test_lora_adapter_through_peft(mirror, toys, tmp_path):
    """A LoRA adapter on the tiny model, loaded by lm-eval's hf backend with peft=; the
    adapter's files are part of the model identity and name."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from harness.embedded import resolve_model

    base = resolve_model("tiny-llama")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    torch.manual_seed(0)
    model.save_pretrained(tmp_path / "adapter")
    out = run(tiny_request(tmp_path, model_args={"pretrained": "tiny-llama", "peft": str(tmp_path / "adapter")},
                           limit=2, use_cache=False))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == "tiny-llama+adapter"
    assert len(manifest["model_identity"]["peft_sha256"]) == 64
    assert manifest["model_args_resolved"] == {"pretrained": base, "peft": str(tmp_path / "adapter")}
    assert len(read_jsonl(out / "tasks" / "ed_empathy" / "generations.jsonl")) == 2


def test_scoring_has_its_own_batch_size_on_cpu(mirror, toys, tmp_path, monkeypatch):
    """Generation batches of --batch-size, likelihood batches of the (smaller) scoring size;
    scoring computes logits at the answer's positions only (harness/runs/hf_scoring.py)."""
    from lm_eval.models.huggingface import HFLM
    from transformers import LlamaForCausalLM

    seen, widths = [], []
    original = HFLM._loglikelihood_tokens
    forward = LlamaForCausalLM.forward

    def spy(self, requests, *args, **kwargs):
        seen.append(self.batch_size)
        return original(self, requests, *args, **kwargs)

    @functools.wraps(forward)  # keeps the signature hf_scoring looks for (logits_to_keep)
    def forward_spy(self, input_ids=None, *args, **kwargs):
        out = forward(self, input_ids, *args, **kwargs)
        if seen:  # scoring
            widths.append((input_ids.shape[1], out.logits.shape[1]))
        return out

    monkeypatch.setattr(HFLM, "_loglikelihood_tokens", spy)
    monkeypatch.setattr(LlamaForCausalLM, "forward", forward_spy)
    generated = _count_generate(monkeypatch)
    out = run(tiny_request(tmp_path, tasks=["ed_empathy", "mmlu_offline_anatomy"], limit=4, batch_size=4,
                           use_cache=False))
    assert seen == [2] and generated == [4]
    assert len(widths) == 2 and all(kept < width for width, kept in widths)  # 4 five-shot prompts, " A" ... " D"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batch_size"] == 4 and manifest["likelihood_batch_size"] == 2
    rows = read_jsonl(out / "tasks" / "mmlu_offline_anatomy" / "scores.jsonl")
    assert [r["id"] for r in rows] == [f"mmlu_offline_anatomy/{i}" for i in range(4)] and all(r["acc"] in (0, 1) for r in rows)
