"""RL with EmpRL's empathy reward (Ma et al. 2024) on trl's RLOOTrainer, continuing the SFT adapter.

Why RLOO: EmpRL runs PPO with the KL penalty folded into the reward (its eq. 6-8: the
reward minus beta x log pi/rho per token). trl moved PPO to `trl.experimental`; its
online trainers with a reward function are GRPO and RLOO. RLOOTrainer puts the KL in the
reward as EmpRL does (the sequence's summed log-ratio, times beta, subtracted from the
reward), where GRPOTrainer adds it to the loss; and like GRPO it needs no value model
(its baseline is the mean reward of the other completions of the same prompt), which is
what makes a CPU run possible at all. The differences from EmpRL that remain: a
leave-one-out baseline instead of PPO's learned value function and GAE, and the KL
reported per sequence instead of per token (same sum).

The policy starts from the SFT model: base + SFT adapter (trainable), and trl, given a
PeftModel that already has an adapter, keeps a frozen copy of it named "ref" as the KL
reference (as DPO does; harness/train/dpo.py). The saved adapter applies to the same base
model: evaluate with `pretrained=BASE,peft=RL_DIR`.

The RL folder holds what every training folder holds (harness/train/run_folder.py), plus
reward_curve.json / reward_curve.png: per logged step the mean reward (R_emp, or the
constant of the ablation), its SD, the KL to the SFT model, and the mean completion length.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

from harness.data.prompts import chat_messages
from harness.embedded import resolve_model
from harness.errors import HarnessError
from harness.train import data, run_folder
from harness.train.dpo import _sha256, sft_policy
from harness.train.recipe import Recipe
from harness.train.reward import LEVEL_COLUMNS, MECHS, ConstantReward, EmpathyReward, instrument, seeker_text
from harness.train.sft import eval_model_args

CURVE_KEYS = {
    "reward": "reward",
    "reward_std": "reward_std",
    "kl": "kl",
    "mean_length": "completions/mean_length",
    "entropy": "entropy",
    "loss": "loss",
}


def sft_folder(sft_dir: Path) -> dict:
    """The training.json of a complete SFT folder, or an error saying what the folder is."""
    sft_dir = Path(sft_dir)
    state_file = sft_dir / run_folder.STATE
    if not state_file.is_file():
        raise HarnessError(f"{sft_dir}: not a training folder (no {run_folder.STATE}); --from takes the output "
                           f"folder of `empathy-harness train sft`")
    try:
        state = json.loads(state_file.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{state_file}: unreadable ({exc})") from None
    if state.get("stage") != "sft":
        raise HarnessError(f"{sft_dir}: holds a {state.get('stage')!r} run, not SFT; --from takes the output folder "
                           f"of `empathy-harness train sft`")
    if not state.get("complete"):
        raise HarnessError(f"{sft_dir}: the SFT run is not complete (see {state_file}); finish it first with "
                           f"`empathy-harness train sft` on the same --output")
    run_folder.adapter_files(sft_dir)
    return state


def build_reward(recipe: Recipe):
    """The recipe's reward function; the empathy reward's instrument must exist already."""
    settings = recipe.reward
    if settings["kind"] == "constant":
        return ConstantReward(settings["value"])
    inst = instrument(settings["backbone"], settings["directory"])
    return EmpathyReward(inst, settings["seeker"], settings["batch_size"])


def rl_records(recipe: Recipe, reward) -> list[dict]:
    """One record per RL prompt: id, the chat prompt, the instrument's seeker text, the
    reference and (empathy reward) its three levels, computed once here."""
    examples = data.rl_examples(recipe)
    side = recipe.reward["seeker"]
    seekers = [seeker_text(ex.context, side) for ex in examples]
    records = [
        {"id": ex.id, "prompt": chat_messages(list(ex.context), recipe.system_prompt), "seeker": s,
         "reference": ex.reference}
        for ex, s in zip(examples, seekers)
    ]
    if hasattr(reward, "reference_levels"):  # the empathy reward
        levels = reward.reference_levels(seekers, [ex.reference for ex in examples])
        for i, record in enumerate(records):
            record.update({LEVEL_COLUMNS[m]: int(levels[m][i]) for m in MECHS})
    return records


def build_trainer(recipe: Recipe, sft_dir: Path, seed: int, checkpoints: Path, callbacks: Sequence = (), reward=None):
    """trl's RLOOTrainer on the recipe's prompts, continuing the SFT adapter. Returns
    (trainer, records, reward)."""
    from datasets import Dataset
    from trl import RLOOTrainer

    args = recipe.rl_config(checkpoints, seed)  # first: a recipe this machine cannot run fails at once
    reward = reward or build_reward(recipe)
    records = rl_records(recipe, reward)
    model, tokenizer = sft_policy(recipe, sft_dir, args)
    trainer = RLOOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=Dataset.from_list(records),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
    if args.beta != 0.0 and "ref" not in trainer.model.peft_config:
        raise HarnessError("trl did not create the frozen reference copy of the SFT adapter; check the trl version")
    return trainer, records, reward


def train_rl(recipe: Recipe, sft_dir: Path, output: Path, seed: int, callbacks: Sequence = ()) -> Path:
    """Train (or resume, or skip when complete) one RL run into `output`."""
    from accelerate import PartialState

    state = PartialState()
    sft_dir = Path(sft_dir)
    recipe.rl_config("unused", seed, check_only=True)  # a recipe without `rl:` fails before anything is written
    sft_state = sft_folder(sft_dir)
    adapter_config = run_folder.adapter_files(sft_dir)
    sft_sha = _sha256(sft_dir / "adapter_model.safetensors")
    reward = build_reward(recipe)  # a missing instrument fails before anything is written
    base = resolve_model(recipe.base_model)
    extra = {"source": data.source_info(recipe)["sha256"], "sft_adapter_sha256": sft_sha,
             "instrument_id": getattr(getattr(reward, "instrument", None), "id", None)}
    fingerprint = recipe.fingerprint(seed, "rl", extra)
    with state.main_process_first():
        run = run_folder.open_run(output, "rl", fingerprint, recipe.resolved(seed), seed, write=state.is_main_process)
    if run.complete:
        print(f"{output}: RL already complete (see {output / run_folder.STATE}); skipping")
        return output
    title = f"RL {recipe.name} seed {seed} ({reward.__name__} reward)"
    if state.is_main_process:
        callbacks = [*callbacks, _curve_callback(output, title)]
    trainer, records, reward = build_trainer(recipe, sft_dir, seed, run.checkpoints, callbacks, reward)
    if run.resume_from:
        print(f"{output}: resuming RL from {run.resume_from}")
    trainer.train(resume_from_checkpoint=run.resume_from)
    trainer.save_model(str(output))
    if state.is_main_process:
        shutil.rmtree(output / "ref", ignore_errors=True)  # the frozen copy of the SFT adapter
        curve = reward_curve(trainer.state.log_history)
        write_reward_curve(curve, output, title)
        args = trainer.args
        run.finish(
            {
                "base_model": recipe.base_model,
                "base_model_path": base,
                "trainer": "trl.RLOOTrainer",
                "sft_adapter": {
                    "path": str(sft_dir.resolve()),
                    "sha256": sft_sha,
                    "base_model_name_or_path": adapter_config.get("base_model_name_or_path"),
                    "sft_fingerprint": sft_state.get("fingerprint"),
                },
                "reference_model": "the SFT model: base + the SFT adapter (trl's frozen 'ref' copy of it)",
                "reward": reward.describe(),
                "kl_coefficient": args.beta,
                "rollouts": {"num_generations": args.num_generations, "temperature": args.temperature,
                             "top_k": args.top_k, "top_p": args.top_p,
                             "max_completion_length": args.max_completion_length},
                "recipe_file": {"path": str(recipe.path.resolve()), "sha256": _sha256(recipe.path)},
                "data": {
                    "source": data.source_info(recipe),
                    "split": recipe.rl_data.split,
                    "prompts": len(records),
                    "system_prompt": recipe.system_prompt_name,
                    "sha256": data.records_sha256(records),
                },
                "steps": trainer.state.global_step,
                "reward_first_last": _first_last(curve),
                "evaluate_with": eval_model_args(base, output),
            },
            trainer.state.log_history,
            f"RL {recipe.name} seed {seed}",
        )
        print(f"{output}: RL done; evaluate with --model-args {eval_model_args(base, output)}")
    return output


def _curve_callback(output: Path, title: str):
    """Keeps reward_curve.json current at every log, and the PNG at every checkpoint, so an
    interrupted run shows its curve so far."""
    from transformers import TrainerCallback

    class RewardCurve(TrainerCallback):
        def on_log(self, args, state, control, **kwargs):
            run_folder.write_json(output / "reward_curve.json", reward_curve(state.log_history))

        def on_save(self, args, state, control, **kwargs):
            write_reward_curve(reward_curve(state.log_history), output, title + " (in progress)")

    return RewardCurve()


def reward_curve(log_history: list[dict]) -> list[dict]:
    """Per logged training step: step, mean reward (the reward function's own, before the
    KL penalty), its SD, KL to the SFT model, mean completion length, entropy, loss."""
    rows = []
    for entry in log_history:
        if "reward" not in entry or "step" not in entry:
            continue
        row = {"step": entry["step"]}
        row.update({name: entry.get(key) for name, key in CURVE_KEYS.items()})
        rows.append(row)
    return rows


def write_reward_curve(rows: list[dict], folder: Path, title: str) -> None:
    """reward_curve.json and reward_curve.png (reward, KL and length against the step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_folder.write_json(folder / "reward_curve.json", rows)
    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    steps = [r["step"] for r in rows]
    for ax, key, label in zip(axes, ("reward", "kl", "mean_length"),
                              ("mean reward", "KL to the SFT model (per token)", "mean completion length (tokens)")):
        values = [r.get(key) for r in rows]
        if any(v is not None for v in values):
            ax.plot(steps, [float("nan") if v is None else v for v in values], ".-")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("optimizer step")
    axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(folder / "reward_curve.png", dpi=120)
    plt.close(fig)


def _first_last(rows: list[dict], window: int = 5) -> dict | None:
    """The mean reward of the first and of the last `window` logged steps."""
    values = [r["reward"] for r in rows if r.get("reward") is not None]
    if not values:
        return None
    k = min(window, len(values))
    return {"window": k, "first": sum(values[:k]) / k, "last": sum(values[-k:]) / k}
