"""`train dpo --pairs FILE` and `--from-base`: the tiny recipe trains DPO from a pairs file (from the
SFT adapter and from the base), records the file in training.json; bad files stop before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.data import ed
from harness.pairs.files import provenance_path, read_pairs
from harness.resources import sha256_of
from harness.train import dpo as dpo_module
from harness.train import sft as sft_module

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def our_pairs(release: Path, path: Path, split: str = "train", n: int = 8) -> Path:
    rows = [{"id": ex.id, "context": list(ex.context), "chosen": ex.reference, "rejected": "Whatever. Not my problem."}
            for ex in ed.load_examples(split, release)[:n]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_dpo_from_sft_on_our_pairs_file_records_file_and_provenance(recipe, release, tmp_path):
    pairs_path = our_pairs(release, tmp_path / "pairs.jsonl")
    provenance_path(pairs_path).write_text(json.dumps({"pairs_sha256": sha256_of(pairs_path),
                                                       "scorer": {"name": "epitome_level_sum"}}))
    sft_dir = sft_module.train_sft(recipe, tmp_path / "sft", seed=0)
    out = dpo_module.train_dpo(recipe, sft_dir, tmp_path / "dpo", seed=0, pairs_file=read_pairs(pairs_path))
    state = json.loads((out / "training.json").read_text())
    assert state["complete"] and state["data"]["pairs"] == "file"
    described = state["data"]["pairs_file"]
    assert described["sha256"] == sha256_of(pairs_path) and described["rows"] == 8 and described["format"] == "harness"
    assert described["provenance"]["scorer"]["name"] == "epitome_level_sum" and "provenance_note" not in described
    assert state["data"]["pairs_per_epoch"] == 8 and state["data"]["heldout"]["pairs"] == 8
    assert state["sft_adapter"]["sha256"] == sha256_of(sft_dir / "adapter_model.safetensors")
    assert state["steps"] == 4  # 8 pairs, batch 4, 2 epochs
    assert not (out / "pairs.jsonl").exists()  # no per-epoch draws: the file is the data
    sft, dpo = adapter_tensors(sft_dir), adapter_tensors(out)
    assert sft.keys() == dpo.keys() and any(not (sft[k] == dpo[k]).all() for k in sft)
    # the same pairs again: complete, skipped; other pairs into the same folder: refused
    assert dpo_module.train_dpo(recipe, sft_dir, out, seed=0, pairs_file=read_pairs(pairs_path)) == out
    other = our_pairs(release, tmp_path / "other.jsonl", n=4)
    from harness.train.run_folder import RunFolderError

    with pytest.raises(RunFolderError, match="another recipe, seed or input"):
        dpo_module.train_dpo(recipe, sft_dir, out, seed=0, pairs_file=read_pairs(other))


def test_dpo_from_base_on_trl_standard_pairs_trains_a_fresh_adapter(recipe, release, tmp_path, capsys):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    rows = [{"prompt": f"<|user|>\n{ex.context[-1]}\n<|assistant|>\n", "chosen": ex.reference, "rejected": "No."}
            for ex in ed.load_examples("train", release)[:8]]
    pairs_path = tmp_path / "trl.jsonl"
    pairs_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "dpo-base"
    assert main(["train", "dpo", "--recipe", "tiny", "--source", str(release), "--from-base", "--pairs",
                 str(pairs_path), "--output", str(out)]) == 0
    assert "from the base model on" in capsys.readouterr().out
    state = json.loads((out / "training.json").read_text())
    assert state["complete"] and state["sft_adapter"] is None and "base model" in state["reference_model"]
    assert state["data"]["pairs_file"]["format"] == "trl-standard" and state["data"]["system_prompt"] is None
    history = json.loads((out / "loss_curve.json").read_text())
    first = next(e for e in history if "rewards/margins" in e)
    assert first["rewards/chosen"] == 0.0  # the fresh adapter starts as the base: policy == reference
    config = json.loads((out / "adapter_config.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        plain = base(ids).logits
        adapted = PeftModel.from_pretrained(base, str(out))(ids).logits
    assert not torch.allclose(plain, adapted)


def test_dpo_from_base_on_opposite_emotion_pairs(recipe, tmp_path):
    out = dpo_module.train_dpo(recipe, None, tmp_path / "dpo", seed=0)
    state = json.loads((out / "training.json").read_text())
    assert state["complete"] and state["sft_adapter"] is None and state["data"]["pairs"] == "opposite-emotion (EmPO)"
    assert (out / "pairs.jsonl").is_file()


@pytest.mark.parametrize("lines, message", [
    (["not json at all"], "line 1: not JSON lines"),
    ([{"context": ["hi"], "chosen": "a", "rejected": "b"}, {"prompt": "hi", "chosen": "a", "rejected": "b"}],
     "line 2: a trl-standard row in a harness file"),
    ([{"context": ["hi"], "chosen": "same", "rejected": "same"}], "line 1: chosen and rejected are the same"),
])
def test_cli_bad_pairs_file_exit_2_before_training(release, tmp_path, capsys, lines, message):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in lines))
    code = main(["train", "dpo", "--recipe", "tiny", "--source", str(release), "--from-base", "--pairs", str(path),
                 "--output", str(tmp_path / "dpo")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and str(path) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "dpo").exists()


def test_cli_pairs_from_test_dialogues_are_unknown_ids(release, tmp_path, capsys):
    path = our_pairs(release, tmp_path / "pairs.jsonl", split="test", n=2)
    code = main(["train", "dpo", "--recipe", "tiny", "--source", str(release), "--from-base", "--pairs", str(path),
                 "--output", str(tmp_path / "dpo")])
    err = capsys.readouterr().err
    assert code == 2 and "line 1: id: unknown id 'test_sad_0', not a dialogue of the ED train split" in err
    assert not (tmp_path / "dpo").exists()
