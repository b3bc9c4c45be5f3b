"""EmpRL's empathy reward (harness/train/reward.py): the closed form on toy logits, the
seeker side, completions as text, and the recipe's `rl:` / `reward:` sections."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml

from harness.train.recipe import RL_DEFAULTS, RecipeError, load_recipe, recipes_dir
from harness.train.reward import ConstantReward, EmpathyReward, completion_text, empathy_reward, seeker_text

MECHS = ("ER", "IP", "EX")


def test_uniform_logits_give_one_over_27():
    logits = {m: torch.zeros(2, 3) for m in MECHS}
    levels = {m: [0, 2] for m in MECHS}
    assert empathy_reward(logits, levels).tolist() == pytest.approx([1 / 27, 1 / 27], rel=1e-6)


def test_reward_is_the_product_of_the_reference_levels_probabilities():
    logits = {"ER": torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]),
              "IP": torch.tensor([[0.0, 1.0, 0.0], [-2.0, 1.0, 0.3]]),
              "EX": torch.tensor([[1.0, 1.0, 1.0], [4.0, -4.0, 0.0]])}
    levels = {"ER": [0, 1], "IP": [1, 2], "EX": [2, 0]}

    def p(row, k):  # softmax by hand
        return math.exp(row[k]) / sum(math.exp(x) for x in row)

    expected = [math.prod(p(logits[m][i].tolist(), levels[m][i]) for m in MECHS) for i in range(2)]
    # and as EmpRL writes it: exp(-sum of cross-entropies)
    written = [math.exp(-sum(-math.log(p(logits[m][i].tolist(), levels[m][i])) for m in MECHS)) for i in range(2)]
    got = empathy_reward(logits, levels).tolist()
    assert got == pytest.approx(expected, rel=1e-6) and got == pytest.approx(written, rel=1e-6)
    assert all(0 < r <= 1 for r in got)


def test_confident_right_levels_reward_near_one_wrong_near_zero():
    right = {m: torch.tensor([[20.0, 0.0, 0.0]]) for m in MECHS}
    assert empathy_reward(right, {m: [0] for m in MECHS}).item() == pytest.approx(1.0, abs=1e-6)
    assert empathy_reward(right, {"ER": [0], "IP": [0], "EX": [2]}).item() < 1e-8


class FakeInstrument:
    """Logits that depend on the seeker text's length and the response's: enough to see
    which texts the reward hands the instrument."""

    id = "fake"

    def __init__(self):
        self.calls = []

    def logits(self, seekers, responses, mechanisms, batch_size=64):
        self.calls.append((list(seekers), list(responses), batch_size))
        rows = torch.tensor([[float(len(s)), float(len(r)), 0.0] for s, r in zip(seekers, responses)]) / 10
        return {m: rows for m in mechanisms}

    def levels(self, seekers, responses, mechanisms, batch_size=64):
        return {m: row.argmax(dim=-1).tolist() for m, row in self.logits(seekers, responses, mechanisms).items()}


def test_reward_function_scores_completions_in_one_batch_against_the_columns():
    inst = FakeInstrument()
    reward = EmpathyReward(inst, "full", batch_size=7)
    completions = [[{"role": "assistant", "content": "  so sorry  "}], [{"role": "assistant", "content": "oh"}]]
    out = reward(prompts=["p", "p"], completions=completions, seeker=["a b", "a b"],
                 ref_level_er=[1, 0], ref_level_ip=[1, 0], ref_level_ex=[0, 0], trainer_state=None)
    assert len(inst.calls) == 1 and inst.calls[0] == (["a b", "a b"], ["so sorry", "oh"], 7)
    logits = inst.logits(["a b", "a b"], ["so sorry", "oh"], MECHS)
    expected = empathy_reward(logits, {"ER": [1, 0], "IP": [1, 0], "EX": [0, 0]}).tolist()
    assert out == pytest.approx(expected)


def test_reference_levels_are_cached_by_instrument_and_content(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    inst = FakeInstrument()
    reward = EmpathyReward(inst, "prev")
    first = reward.reference_levels(["x", "yy"], ["a", "bbbbbbbbbbbbbbbb"])
    second = reward.reference_levels(["x", "yy"], ["a", "bbbbbbbbbbbbbbbb"])
    assert first == second == {m: [0, 1] for m in MECHS}
    assert len(inst.calls) == 1  # the second call read the cache


def test_seeker_sides_and_completion_text():
    context = ("I lost my job.", "Oh no, what happened?", "They closed the office.")
    assert seeker_text(context, "prev") == "They closed the office."
    assert seeker_text(context, "full") == "I lost my job. Oh no, what happened? They closed the office."
    with pytest.raises(Exception, match="prev, full"):
        seeker_text(context, "last")
    assert completion_text(" hi \n") == "hi"
    assert completion_text([{"role": "assistant", "content": "Sorry. "}]) == "Sorry."


def test_constant_reward_is_constant():
    assert ConstantReward(0.0)(prompts=[1, 2, 3], completions=["a", "b", "c"]) == [0.0, 0.0, 0.0]


def test_rl_config_has_emprl_defaults_and_the_recipe_wins():
    recipe = load_recipe("tiny")
    args = recipe.rl_config("unused", 0, check_only=True)
    assert (args.beta, args.top_k, args.top_p, args.temperature) == (0.2, 20, 1.0, 0.9)
    assert args.max_completion_length == 8 and args.learning_rate == 1e-3  # the tiny recipe's own
    assert RL_DEFAULTS["max_completion_length"] == 30 and RL_DEFAULTS["learning_rate"] == 1e-5
    assert recipe.reward["seeker"] == "full" and recipe.reward["kind"] == "empathy"
    # RL settings decide only the RL run's fingerprint
    other = load_recipe("tiny")
    other.rl = {**other.rl, "beta": 0.0}
    assert other.fingerprint(0, "sft") == recipe.fingerprint(0, "sft")
    assert other.fingerprint(0, "rl") != recipe.fingerprint(0, "rl")


def _variant(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load((recipes_dir() / "tiny.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_recipe_without_rl_section_loads_but_cannot_train_rl(tmp_path):
    recipe = load_recipe(_variant(tmp_path, rl=None))
    with pytest.raises(RecipeError, match=r"variant.yaml: no `rl:` section"):
        recipe.rl_config("unused", 0)


@pytest.mark.parametrize("changes, message", [
    ({"rl": {"bogus_field": 1}}, r"rl.bogus_field: unknown field .*RLOOConfig"),
    ({"rl": {"trust_remote_code": True}}, r"rl.trust_remote_code: not allowed"),
    ({"rl": {"output_dir": "x"}}, r"rl.output_dir: set by the harness"),
    ({"reward": {"seeker": "last"}}, r"reward.seeker: 'last' is not one of prev, full"),
    ({"reward": {"kind": "length"}}, r"reward.kind: 'length' is not one of empathy, constant"),
    ({"reward": {"seekr": "full"}}, r"reward.seekr: unknown key; did you mean 'seeker'"),
])
def test_bad_rl_and_reward_sections_name_the_field(tmp_path, changes, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(_variant(tmp_path, **changes))


def test_shipped_rl_recipes_load():
    for name in ("smollm2-135m-cpu", "smollm2-135m-cpu-rl-no-kl", "smollm2-135m-cpu-rl-no-empathy", "zephyr-7b-empo"):
        recipe = load_recipe(name)
        assert recipe.rl is not None, name


def test_gpu_recipe_is_emprls_rl_setting():
    rl = load_recipe("zephyr-7b-empo").rl_config("out", 1, check_only=True)
    assert (rl.max_steps, rl.learning_rate, rl.beta) == (1600, 1e-5, 0.2)
    assert (rl.top_k, rl.top_p, rl.temperature, rl.max_completion_length) == (20, 1.0, 0.9, 30)
    assert rl.per_device_train_batch_size * rl.gradient_accumulation_steps * 8 == 32  # on the 8 GPUs documented


def test_cpu_ablations_differ_from_the_cpu_recipe_only_where_named():
    full = load_recipe("smollm2-135m-cpu")
    no_kl, no_emp = load_recipe("smollm2-135m-cpu-rl-no-kl"), load_recipe("smollm2-135m-cpu-rl-no-empathy")
    assert no_kl.rl == {**full.rl, "beta": 0.0} and no_kl.reward == full.reward
    assert no_emp.rl == full.rl and no_emp.reward == {**full.reward, "kind": "constant", "value": 0.0}
    for ablation in (no_kl, no_emp):
        assert (ablation.base_model, ablation.rl_data, ablation.system_prompt_name) == \
            (full.base_model, full.rl_data, full.system_prompt_name)


class ProbabilityInstrument:
    """Level probabilities looked up by response text (logits = their logs); records the
    seeker texts it is handed."""

    id = "p" * 64
    PROBS = {  # response -> (ER, IP, EX) level probabilities
        "there there": ((0.5, 0.25, 0.25), (0.1, 0.8, 0.1), (1 / 3, 1 / 3, 1 / 3)),
        "ok": ((0.2, 0.2, 0.6), (0.6, 0.2, 0.2), (0.2, 0.2, 0.6)),
        "REF": ((0.9, 0.05, 0.05), (0.1, 0.8, 0.1), (0.1, 0.1, 0.8)),  # levels 0, 1, 2
    }

    def __init__(self):
        self.seekers = []

    def logits(self, seekers, responses, mechanisms, batch_size=64):
        self.seekers.append(list(seekers))
        return {m: torch.tensor([self.PROBS[r][i] for r in responses]).log() for i, m in enumerate(MECHS)}

    def levels(self, seekers, responses, mechanisms=MECHS, batch_size=64):
        return {m: row.argmax(dim=-1).tolist() for m, row in self.logits(seekers, responses, mechanisms).items()}

    def describe(self):
        return {"kind": "epitome", "backbone": "fake", "instrument_id": self.id}


def test_reward_as_a_metric_is_the_product_of_the_reference_levels_probabilities(tmp_path, monkeypatch):
    from harness.metrics import base, emp_reward
    from harness.metrics.base import Item

    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(base, "_INSTANCES", {})
    inst = ProbabilityInstrument()
    monkeypatch.setattr(emp_reward.EmpRewardScorer, "_load", lambda self: inst)
    history = ("I lost my dog.", "Oh no.", "He was 14.")
    items = [Item("a", history, "there there", "REF"), Item("b", history, "ok", "REF")]
    result = base.score(items, ["emp_reward"])
    # reference levels ER 0, IP 1, EX 2: 0.5 * 0.8 * 1/3 and 0.2 * 0.2 * 0.6
    assert [r["r_emp"] for r in result.per_example] == pytest.approx([0.5 * 0.8 / 3, 0.2 * 0.2 * 0.6])
    assert result.summary["r_emp"] == pytest.approx((0.5 * 0.8 / 3 + 0.024) / 2)
    assert inst.seekers[0] == ["I lost my dog. Oh no. He was 14."] * 2  # EmpRL's seeker: the whole history
    assert result.outputs["r_emp"].higher_is_better is True
    assert "emp_reward" not in base.default_suite()
