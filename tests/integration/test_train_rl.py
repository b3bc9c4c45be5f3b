"""`empathy-harness train rl`: the tiny recipe (tiny-llama, a tiny-bert instrument) through
SFT then RL with EmpRL's empathy reward: the folder, the reward the trainer saw, resume,
the constant-reward ablation and bad input. Seconds per run on one CPU thread."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.epitome.recipes import recipe_for
from harness.epitome.training import train_instrument
from harness.train import rl as rl_module
from harness.train import sft as sft_module
from harness.train.recipe import load_recipe, recipes_dir
from harness.train.reward import MECHS, empathy_reward, seeker_text
from tests.integration.test_epitome_training import write_mechanism_csvs
from tests.integration.test_train import Interrupt, Steps, adapter_tensors

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def instrument_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("epitome")
    out = folder / "instrument"
    train_instrument("tiny-bert", out, recipe=recipe_for("tiny-bert").updated(epochs=1), progress=False,
                     data_paths=write_mechanism_csvs(folder), log=lambda _: None)
    return out


@pytest.fixture(scope="module")
def recipe(release, instrument_dir):
    recipe = load_recipe("tiny")
    recipe.source = str(release)
    recipe.reward["directory"] = str(instrument_dir)
    return recipe


class Rewards:
    """Records what the reward function was given and returned."""

    def __init__(self, reward):
        self.reward, self.calls = reward, []
        self.__name__ = reward.__name__

    def __call__(self, prompts, completions, **columns):
        out = self.reward(prompts, completions, **columns)
        self.calls.append((completions, {k: columns[k] for k in ("seeker", "ref_level_er", "ref_level_ip",
                                                                 "ref_level_ex")}, out))
        return out

    def __getattr__(self, name):
        return getattr(self.reward, name)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, recipe):
    root = tmp_path_factory.mktemp("train")
    sft_dir = sft_module.train_sft(recipe, root / "sft", seed=0)
    seen = Rewards(rl_module.build_reward(recipe))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rl_module, "build_reward", lambda _recipe: seen)
        rl_dir = rl_module.train_rl(recipe, sft_dir, root / "rl", seed=0)
    return {"sft": sft_dir, "rl": rl_dir, "root": root, "seen": seen}


def test_rl_folder_holds_adapter_provenance_and_reward_curve(trained, recipe):
    folder = trained["rl"]
    state = json.loads((folder / "training.json").read_text())
    assert state["complete"] and state["stage"] == "rl" and state["trainer"] == "trl.RLOOTrainer"
    assert state["steps"] == 4 and state["kl_coefficient"] == 0.2
    assert state["rollouts"] == {"num_generations": 2, "temperature": 0.9, "top_k": 20, "top_p": 1.0,
                                 "max_completion_length": 8}
    assert state["reward"]["seeker_side"] == "full" and state["reward"]["instrument"]["backbone"] == "tiny-bert"
    assert len(state["reward"]["instrument"]["instrument_id"]) == 64
    assert state["sft_adapter"]["sha256"] and state["data"]["prompts"] == 8
    curve = json.loads((folder / "reward_curve.json").read_text())
    assert [row["step"] for row in curve] == [1, 2, 3, 4]
    assert all(0 < row["reward"] <= 1 and row["kl"] is not None and row["mean_length"] > 0 for row in curve)
    assert (folder / "reward_curve.png").stat().st_size > 0 and (folder / "loss_curve.png").exists()
    files = {p.name for p in folder.rglob("*") if p.is_file()}
    assert "adapter_model.safetensors" in files and not (folder / "ref").exists()
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl"))]
    assert not (folder / "checkpoints").exists()
    resolved = yaml.safe_load((folder / "recipe.yaml").read_text())
    assert resolved["rl"]["beta"] == 0.2 and resolved["reward"]["seeker"] == "full"


def test_reward_is_r_emp_of_the_reference_levels(trained, recipe):
    """What the trainer was handed equals the closed form on the instrument's own logits,
    with the reference levels the instrument gives (context, reference)."""
    from harness.data import ed
    from harness.train import data
    from harness.train.reward import completion_text, instrument

    inst = instrument(None, recipe.reward["directory"])
    examples = {seeker_text(ex.context, "full"): ex for ex in data.rl_examples(recipe)}
    completions, columns, out = trained["seen"].calls[0]
    refs = [examples[s].reference for s in columns["seeker"]]
    ref_levels = inst.levels(columns["seeker"], refs)
    assert {m: columns[f"ref_level_{m.lower()}"] for m in MECHS} == ref_levels
    logits = inst.logits(columns["seeker"], [completion_text(c) for c in completions])
    assert out == pytest.approx(empathy_reward(logits, ref_levels).tolist(), rel=1e-5)
    assert isinstance(examples[columns["seeker"][0]], ed.Example)


def test_rl_resumes_from_its_last_checkpoint(recipe, trained, tmp_path):
    folder = tmp_path / "rl"
    with pytest.raises(KeyboardInterrupt):
        rl_module.train_rl(recipe, trained["sft"], folder, seed=0, callbacks=[Interrupt(at_step=3)])
    assert (folder / "checkpoints" / "checkpoint-2").is_dir()
    assert not json.loads((folder / "training.json").read_text())["complete"]
    # the curve so far is there while the run is unfinished
    assert [r["step"] for r in json.loads((folder / "reward_curve.json").read_text())] == [1, 2]  # logged before the stop
    assert (folder / "reward_curve.png").exists()
    steps = Steps()
    rl_module.train_rl(recipe, trained["sft"], folder, seed=0, callbacks=[steps])
    assert steps.steps == [3, 4]  # continued after checkpoint-2
    state = json.loads((folder / "training.json").read_text())
    assert state["complete"] and state["resumed"][0]["checkpoint"].endswith("checkpoint-2")
    resumed, uninterrupted = adapter_tensors(folder), adapter_tensors(trained["rl"])
    assert resumed.keys() == uninterrupted.keys()
    # the checkpoint restores the sampling state too: the resumed run is the uninterrupted one,
    # which moved well away from the SFT adapter it started from
    assert all((resumed[k] - uninterrupted[k]).abs().max() < 1e-5 for k in resumed)
    sft = adapter_tensors(trained["sft"])
    assert max(float((uninterrupted[k] - sft[k]).abs().max()) for k in sft) > 1e-4


def test_constant_reward_ablation_has_only_the_kl_left(recipe, trained, tmp_path):
    import copy

    ablation = copy.deepcopy(recipe)
    ablation.reward = {**recipe.reward, "kind": "constant", "value": 0.0}
    folder = rl_module.train_rl(ablation, trained["sft"], tmp_path / "rl", seed=0)
    state = json.loads((folder / "training.json").read_text())
    assert state["reward"]["kind"] == "constant"
    curve = json.loads((folder / "reward_curve.json").read_text())
    assert [row["reward"] for row in curve] == [0.0] * 4


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(release, recipe, trained, tmp_path, capsys):
    raw = yaml.safe_load((recipes_dir() / "tiny.yaml").read_text())
    raw["reward"]["directory"] = recipe.reward["directory"]
    out = tmp_path / "rl"
    base = ["train", "rl", "--source", str(release), "--output", str(out)]

    no_rl = _write(tmp_path, {k: v for k, v in raw.items() if k != "rl"})
    assert main(base + ["--recipe", str(no_rl), "--from", str(trained["sft"])]) == 2
    err = capsys.readouterr().err
    assert "no `rl:` section" in err and err.count("\n") == 1

    good = _write(tmp_path, raw)
    for not_sft, says in ((tmp_path / "empty", "not a training folder"), (trained["rl"], "holds a 'rl' run, not SFT")):
        not_sft.mkdir(exist_ok=True)
        assert main(base + ["--recipe", str(good), "--from", str(not_sft)]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1 and "Traceback" not in err

    raw["reward"]["directory"] = str(tmp_path / "no-instrument")
    missing = _write(tmp_path, raw)
    assert main(base + ["--recipe", str(missing), "--from", str(trained["sft"])]) == 2
    err = capsys.readouterr().err
    assert "no trained EPITOME classifier" in err and "empathy-harness epitome train" in err
    assert "Nothing else is used in its place" in err
    assert not out.exists()  # nothing was started
