"""`empathy-harness train`: the tiny recipe through SFT, DPO, resume and merge, on a
synthetic ED release (no mirror needed). Seconds per run on one CPU thread."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from transformers import TrainerCallback

from harness.cli import main
from harness.train import dpo as dpo_module
from harness.train import sft as sft_module
from harness.train.recipe import recipes_dir

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


class Interrupt(TrainerCallback):
    """Stops training as Ctrl-C would, after a given optimizer step."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt


class Steps(TrainerCallback):
    def __init__(self):
        self.steps: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, recipe):
    """One SFT run, then one DPO run on it, recording which rejected responses the DPO
    dataloader actually fetched in each epoch."""
    root = tmp_path_factory.mktemp("train")
    sft_dir = sft_module.train_sft(recipe, root / "sft", seed=0)
    fetched: list[tuple[int, str]] = []
    original = dpo_module.EpochPairs.__getitem__

    def recording(self, index):
        item = original(self, index)
        fetched.append((self.epoch, item["rejected_id"]))
        return item

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dpo_module.EpochPairs, "__getitem__", recording)
        dpo_dir = dpo_module.train_dpo(recipe, sft_dir, root / "dpo", seed=0)
    return {"sft": sft_dir, "dpo": dpo_dir, "fetched": fetched, "root": root}


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_sft_folder_holds_adapter_recipe_provenance_and_curve(trained, release):
    folder = trained["sft"]
    for name in ("adapter_model.safetensors", "adapter_config.json", "recipe.yaml", "training.json",
                 "loss_curve.json", "loss_curve.png", "tokenizer.json"):
        assert (folder / name).is_file(), name
    assert not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pt"))  # safetensors only
    assert not (folder / "checkpoints").exists()
    state = json.loads((folder / "training.json").read_text())
    assert state["complete"] and state["stage"] == "sft" and state["seed"] == 0
    assert state["data"]["dialogues"] == 16 and len(state["data"]["sha256"]) == 64
    from harness.resources import sha256_of

    assert state["data"]["source"]["sha256"] == sha256_of(release)
    assert {"torch", "transformers", "trl", "peft"} <= set(state["versions"])
    assert state["wall_seconds"] > 0 and state["cpu_seconds"] > 0
    assert state["recipe_file"]["sha256"] == sha256_of(recipes_dir() / "tiny.yaml")
    assert state["evaluate_with"].startswith("pretrained=") and f"peft={folder.resolve()}" in state["evaluate_with"]
    resolved = yaml.safe_load((folder / "recipe.yaml").read_text())
    assert resolved["seed"] == 0 and resolved["lora"]["r"] == 4 and resolved["sft"]["learning_rate"] == 1e-3
    curve = json.loads((folder / "loss_curve.json").read_text())
    assert [e["step"] for e in curve if "loss" in e] == [1, 2, 3, 4]


def test_sft_trains_exactly_the_listener_turns(recipe, tmp_path):
    """The labels the trainer's dataloader hands the model: -100 everywhere but the tokens of
    the assistant (listener) turns and their end-of-turn tokens."""
    from harness.train import data

    trainer, conversations = sft_module.build_trainer(recipe, 0, tmp_path / "ck")
    tokenizer = trainer.processing_class
    by_id = {c["id"]: c["messages"] for c in conversations}
    expected = {}
    for row in trainer.train_dataset:
        answers = [m["content"] + "<|im_end|>" for m in by_id[row["id"]] if m["role"] == "assistant"]
        assert answers  # every conversation ends on a listener turn
        trained = tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100])
        assert trained == "".join(answers)
        labels = row["labels"]
        assert all(label in (-100, token) for token, label in zip(row["input_ids"], labels))
        expected[tuple(row["input_ids"])] = labels
    seen = 0
    for batch in trainer.get_train_dataloader():
        for ids, labels, attention in zip(batch["input_ids"], batch["labels"], batch["attention_mask"]):
            n = int(attention.sum())
            assert expected[tuple(ids[:n].tolist())] == labels[:n].tolist()
            assert (labels[n:] == -100).all()  # padding is never trained
            seen += 1
    assert seen == len(conversations) == 16
    assert data.records_sha256(conversations) == data.records_sha256(data.sft_conversations(recipe))


def test_dpo_draws_afresh_every_epoch_on_one_lr_schedule(trained, recipe):
    from harness.train.data import preference_builders

    builder, _ = preference_builders(recipe, seed=0)
    by_epoch: dict[int, Counter] = {}
    for epoch, rejected in trained["fetched"]:
        by_epoch.setdefault(epoch, Counter())[rejected] += 1
    assert sorted(by_epoch) == [0, 1]
    for epoch, seen in by_epoch.items():
        assert seen == Counter(p.rejected_id for p in builder.epoch(epoch))  # each pair once, that epoch's draw
    assert by_epoch[0] != by_epoch[1]
    pairs = [json.loads(line) for line in (trained["dpo"] / "pairs.jsonl").read_text().splitlines()]
    assert {(p["epoch"], p["rejected_id"]) for p in pairs} == {(e, r) for e, c in by_epoch.items() for r in c}

    history = json.loads((trained["dpo"] / "loss_curve.json").read_text())
    steps = [(e["step"], e["learning_rate"], e["epoch"]) for e in history if "learning_rate" in e]
    assert [s for s, _, _ in steps] == list(range(1, 9))  # 2 epochs x 4 steps, one run
    rates = [lr for _, lr, _ in steps]
    assert all(a > b for a, b in zip(rates, rates[1:]))  # linear decay across the epoch boundary
    assert rates[4] < rates[3] < rates[0]  # epoch 2 does not restart the schedule


def test_dpo_reference_is_the_sft_model_and_heldout_is_reported(trained, recipe, tmp_path):
    state = json.loads((trained["dpo"] / "training.json").read_text())
    assert state["complete"] and state["stage"] == "dpo"
    assert [round(r["epoch"]) for r in state["heldout_per_epoch"]] == [1, 2]
    assert all(0.0 <= r["reward_accuracy"] <= 1.0 and r["reward_margin"] is not None for r in state["heldout_per_epoch"])
    assert state["data"]["heldout"]["split"] == "valid" and state["data"]["heldout"]["pairs"] == 8
    assert len(state["data"]["sha256_per_epoch"]) == 2
    history = json.loads((trained["dpo"] / "loss_curve.json").read_text())
    first = next(e for e in history if "rewards/margins" in e)
    assert first["rewards/chosen"] == 0.0 and first["rewards/rejected"] == 0.0  # policy == reference at start
    assert not (trained["dpo"] / "ref").exists()

    sft = adapter_tensors(trained["sft"])
    dpo = adapter_tensors(trained["dpo"])
    assert sft.keys() == dpo.keys()
    assert any(not (sft[k] == dpo[k]).all() for k in sft)  # DPO moved the SFT adapter
    # trl's frozen reference copy is the SFT adapter
    trainer, *_ = dpo_module.build_trainer(recipe, trained["sft"], 0, tmp_path / "ck")
    model = trainer.model
    assert model.active_adapter == "default"
    ref = {n: p for n, p in model.named_parameters() if ".ref." in n}
    assert ref and not any(p.requires_grad for p in ref.values())
    for name, param in ref.items():
        assert (param.detach() == sft[name.replace(".ref.", ".")]).all()


def test_trained_folders_load_with_peft_on_the_base(trained):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    for stage in ("sft", "dpo"):
        folder = trained[stage]
        state = json.loads((folder / "training.json").read_text())
        base = AutoModelForCausalLM.from_pretrained(state["base_model_path"])
        ids = torch.tensor([[5, 6, 7, 8, 9]])
        with torch.no_grad():
            plain = base(ids).logits
            adapted = PeftModel.from_pretrained(base, str(folder))(ids).logits
        assert not torch.allclose(plain, adapted)


def test_merge_gives_the_logits_of_base_plus_adapter(trained, tmp_path, capsys):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    folder = trained["dpo"]
    out = tmp_path / "merged"
    assert main(["train", "merge", str(folder), "--output", str(out)]) == 0
    assert (out / "model.safetensors").is_file() and not list(out.glob("adapter_*"))
    assert json.loads((out / "merged_from.json").read_text())["adapter"] == str(folder.resolve())
    base_path = json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
    ids = torch.tensor([[3, 14, 15, 92, 65, 35, 89, 79]])
    with torch.no_grad():
        merged = AutoModelForCausalLM.from_pretrained(out)(ids).logits
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), str(folder))(ids).logits
    assert torch.allclose(merged, adapted, atol=1e-5)
    assert main(["train", "merge", str(folder), "--output", str(out)]) == 2  # never overwrites
    assert "already holds a model" in capsys.readouterr().err


def test_sft_resumes_from_its_last_checkpoint(recipe, trained, tmp_path):
    folder = tmp_path / "sft"
    with pytest.raises(KeyboardInterrupt):
        sft_module.train_sft(recipe, folder, seed=0, callbacks=[Interrupt(at_step=3)])
    assert (folder / "checkpoints" / "checkpoint-2").is_dir()
    assert not json.loads((folder / "training.json").read_text())["complete"]
    steps = Steps()
    sft_module.train_sft(recipe, folder, seed=0, callbacks=[steps])
    assert steps.steps == [3, 4]  # continued after checkpoint-2, did not restart
    state = json.loads((folder / "training.json").read_text())
    assert state["complete"] and state["resumed"][0]["checkpoint"].endswith("checkpoint-2")
    resumed, uninterrupted = adapter_tensors(folder), adapter_tensors(trained["sft"])
    assert all((resumed[k] - uninterrupted[k]).abs().max() < 1e-6 for k in resumed)


def test_dpo_resumes_mid_epoch_on_that_epochs_draw(recipe, trained, tmp_path):
    folder = tmp_path / "dpo"
    with pytest.raises(KeyboardInterrupt):
        dpo_module.train_dpo(recipe, trained["sft"], folder, seed=0, callbacks=[Interrupt(at_step=7)])
    assert (folder / "checkpoints" / "checkpoint-6").is_dir()  # halfway through epoch 2
    steps = Steps()
    fetched = []
    original = dpo_module.EpochPairs.__getitem__

    def recording(self, index):
        fetched.append(self.epoch)
        return original(self, index)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dpo_module.EpochPairs, "__getitem__", recording)
        dpo_module.train_dpo(recipe, trained["sft"], folder, seed=0, callbacks=[steps])
    assert steps.steps == [7, 8]
    assert set(fetched) == {1}  # the second epoch's pairs, not a restart on the first
    resumed, uninterrupted = adapter_tensors(folder), adapter_tensors(trained["dpo"])
    assert all((resumed[k] - uninterrupted[k]).abs().max() < 1e-5 for k in resumed)


def test_complete_folder_is_skipped_and_foreign_folder_refused(recipe, trained, tmp_path, capsys):
    before = (trained["sft"] / "adapter_model.safetensors").stat().st_mtime_ns
    sft_module.train_sft(recipe, trained["sft"], seed=0)
    assert "already complete" in capsys.readouterr().out
    assert (trained["sft"] / "adapter_model.safetensors").stat().st_mtime_ns == before
    from harness.train.run_folder import RunFolderError

    with pytest.raises(RunFolderError, match="holds a sft run of another recipe, seed or input"):
        sft_module.train_sft(recipe, trained["sft"], seed=1)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not empty and not a training folder"):
        sft_module.train_sft(recipe, tmp_path / "other", seed=0)


def test_cli_seeds_train_one_folder_each(release, tmp_path, capsys):
    out = tmp_path / "sft"
    args = ["train", "sft", "--recipe", "tiny", "--source", str(release), "--output", str(out), "--seeds", "1", "2"]
    assert main(args) == 0
    states = [json.loads((out / f"seed-{s}" / "training.json").read_text()) for s in (1, 2)]
    assert [s["seed"] for s in states] == [1, 2] and all(s["complete"] for s in states)
    assert adapter_tensors(out / "seed-1").keys() == adapter_tensors(out / "seed-2").keys()
    one, two = adapter_tensors(out / "seed-1"), adapter_tensors(out / "seed-2")
    assert any(not (one[k] == two[k]).all() for k in one)
    # DPO with several seeds needs the matching seed-N SFT folder for each
    code = main(["train", "dpo", "--recipe", "tiny", "--source", str(release), "--from", str(out),
                 "--output", str(tmp_path / "dpo"), "--seeds", "1", "3"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{out / 'seed-3' / 'adapter_config.json'}: missing" in err
    assert not (tmp_path / "dpo").exists()  # checked before any run started


def test_cli_dpo_from_a_folder_without_adapter_exits_2(release, tmp_path, capsys):
    empty = tmp_path / "not-sft"
    empty.mkdir()
    code = main(["train", "dpo", "--recipe", "tiny", "--source", str(release), "--from", str(empty),
                 "--output", str(tmp_path / "dpo")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{empty / 'adapter_config.json'}: missing" in err and "Traceback" not in err
    assert main(["train", "merge", str(empty)]) == 2
    assert f"{empty / 'adapter_config.json'}: missing" in capsys.readouterr().err
