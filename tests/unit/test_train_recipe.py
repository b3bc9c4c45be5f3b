"""Training recipes: the shipped ones load and say what the issue asks; mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.train.recipe import RecipeError, find_recipe, load_recipe, recipes_dir


def write(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((recipes_dir() / "tiny.yaml").read_text())
    change(raw)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shipped_recipes_load_and_map_onto_trl_and_peft():
    from peft import LoraConfig
    from trl import DPOConfig, SFTConfig

    names = sorted(p.stem for p in recipes_dir().glob("*.yaml"))
    assert names == ["smollm2-135m-cpu", "smollm2-135m-cpu-rl-no-empathy", "smollm2-135m-cpu-rl-no-kl", "tiny",
                     "zephyr-7b-empo"]
    for name in names:
        recipe = load_recipe(name)
        assert isinstance(recipe.sft_config("out", 1, check_only=True), SFTConfig)
        assert isinstance(recipe.dpo_config("out", 1, check_only=True), DPOConfig)
        assert isinstance(recipe.lora_config(), LoraConfig)


def test_zephyr_recipe_is_the_papers_setting():
    recipe = load_recipe("zephyr-7b-empo")
    assert recipe.base_model == "alignment-handbook/zephyr-7b-sft-full"
    lora = recipe.lora_config()
    assert (lora.r, lora.lora_alpha) == (1024, 64)
    sft = recipe.sft_config("out", 1, check_only=True)
    dpo = recipe.dpo_config("out", 1, check_only=True)
    assert (sft.learning_rate, sft.num_train_epochs, sft.warmup_steps) == (1e-5, 1, 0)
    assert (dpo.beta, dpo.learning_rate, dpo.num_train_epochs, dpo.warmup_steps) == (0.05, 1e-6, 3, 0)
    for cfg in (sft, dpo):
        assert cfg.lr_scheduler_type.value == "cosine" and cfg.bf16
        assert cfg.optim.value == "adamw_torch"
        # batch 64 on the 8 GPUs the recipe's header documents
        assert cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps * 8 == 64
    assert recipe.sft_data.limit is None and recipe.dpo_data.limit is None  # all of ED's training dialogues
    assert recipe.seeds == [1, 2, 3, 4]


def test_any_trl_field_passes_through(tmp_path):
    path = write(tmp_path, lambda r: r["dpo"].update({"loss_type": ["ipo"], "label_smoothing": 0.0, "max_grad_norm": 0.3}))
    cfg = load_recipe(path).dpo_config("out", 3)
    assert cfg.loss_type == ["ipo"] and cfg.max_grad_norm == 0.3 and cfg.seed == 3


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = write(tmp_path, lambda r: r["sft"].update({"learning_rate": "1e-5"}))
    assert load_recipe(path).sft_config("out", 0).learning_rate == 1e-5


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda r: r["sft"].update({"learning_rat": 1e-4}),
         ["sft.learning_rat: unknown field", "did you mean 'learning_rate'", "trl.SFTConfig"]),
        (lambda r: r["dpo"].update({"betta": 0.1}), ["dpo.betta: unknown field", "'beta'", "trl.DPOConfig"]),
        (lambda r: r["lora"].update({"rank": 8}), ["lora.rank: unknown field", "peft.LoraConfig"]),
        (lambda r: r.update({"trainer": {}}), ["trainer: unknown key", "a recipe takes"]),
        (lambda r: r["data"].update({"split": "train"}), ["data.split: unknown key"]),
        (lambda r: r["data"]["sft"].update({"split": "dev"}), ["data.sft.split: 'dev' is not one of train, valid, test"]),
        (lambda r: r["data"]["sft"].update({"limit": 0}), ["data.sft.limit"]),
        (lambda r: r["data"].update({"system_prompt": "friendly"}), ["data.system_prompt: 'friendly'"]),
        (lambda r: r["sft"].update({"learning_rate": "fast"}), ["sft.learning_rate: 'fast' is not a valid float"]),
        (lambda r: r["sft"].update({"num_train_epochs": True}), ["sft.num_train_epochs: True"]),
        (lambda r: r["sft"].update({"output_dir": "x"}), ["sft.output_dir: set by the harness", "--output"]),
        (lambda r: r["dpo"].update({"seed": 3}), ["dpo.seed: set by the harness", "seeds"]),
        (lambda r: r["dpo"].update({"precompute_ref_log_probs": True}), ["dpo.precompute_ref_log_probs", "afresh"]),
        (lambda r: r["sft"].update({"lr_scheduler_type": "zigzag"}), ["sft: trl.SFTConfig refused it", "zigzag"]),
        (lambda r: r["lora"].update({"layers_pattern": "layers"}), ["lora: peft.LoraConfig refused it"]),
        (lambda r: r.update({"seeds": "42"}), ["seeds: a non-empty list of integers"]),
        (lambda r: r.pop("base_model"), ["base_model: required"]),
    ],
)
def test_recipe_mistakes_name_file_and_field(tmp_path, change, expected):
    path = write(tmp_path, change)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    message = str(err.value)
    assert message.startswith(str(path))
    for fragment in expected:
        assert fragment in message


def test_not_yaml_and_not_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sft: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)
    bad.write_text("- a list\n")
    with pytest.raises(RecipeError, match="a recipe is a mapping"):
        load_recipe(bad)


def test_recipe_by_name_or_path(tmp_path):
    assert find_recipe("tiny") == recipes_dir() / "tiny.yaml"
    with pytest.raises(RecipeError, match=r"nope\.yaml: recipe file not found \(shipped recipes: smollm2"):
        find_recipe(tmp_path / "nope.yaml")


def test_cli_missing_recipe_exits_2_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "missing.yaml"
    assert main(["train", "sft", "--recipe", str(missing), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: recipe file not found" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_stage_fingerprint_covers_only_what_decides_that_stage(tmp_path):
    tiny = load_recipe("tiny")
    dpo_changed = load_recipe(write(tmp_path, lambda r: r["dpo"].update({"beta": 0.5})))
    assert dpo_changed.fingerprint(0, "sft") == tiny.fingerprint(0, "sft")
    assert dpo_changed.fingerprint(0, "dpo") != tiny.fingerprint(0, "dpo")
    sft_changed = load_recipe(write(tmp_path, lambda r: r["lora"].update({"r": 8})))
    assert sft_changed.fingerprint(0, "sft") != tiny.fingerprint(0, "sft")
    assert sft_changed.fingerprint(0, "dpo") == tiny.fingerprint(0, "dpo")  # the SFT adapter's hash covers it
    assert tiny.fingerprint(0, "sft") != tiny.fingerprint(1, "sft")
    assert tiny.fingerprint(0, "dpo", {"sft_adapter_sha256": "a"}) != tiny.fingerprint(0, "dpo", {"sft_adapter_sha256": "b"})


def test_pinned_memory_is_off_without_an_accelerator_unless_the_recipe_sets_it(tmp_path, monkeypatch):
    from harness.train import recipe as recipe_module

    recipe = load_recipe("tiny")
    monkeypatch.setattr(recipe_module, "_has_accelerator", lambda: False)
    assert recipe.sft_config("out", 1).dataloader_pin_memory is False
    assert recipe.dpo_config("out", 1).dataloader_pin_memory is False
    pinned = load_recipe(write(tmp_path, lambda r: r["sft"].update({"dataloader_pin_memory": True})))
    assert pinned.sft_config("out", 1).dataloader_pin_memory is True
    monkeypatch.setattr(recipe_module, "_has_accelerator", lambda: True)
    assert recipe.sft_config("out", 1).dataloader_pin_memory is True  # transformers' own default
