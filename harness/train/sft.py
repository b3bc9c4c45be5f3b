"""Supervised fine-tuning on whole ED dialogues, listener turns only, LoRA via trl's SFTTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.embedded import resolve_model
from harness.errors import HarnessError
from harness.train import data, run_folder
from harness.train.recipe import Recipe


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except OSError as exc:
        raise HarnessError(f"cannot load the tokenizer of {name_or_path}: {exc}") from None
    if not tokenizer.chat_template:
        raise HarnessError(
            f"{name_or_path}: the tokenizer has no chat template; the harness trains chat conversations, "
            "so use a chat model (or a tokenizer folder that has one)"
        )
    return tokenizer


def build_trainer(recipe: Recipe, seed: int, checkpoints: Path, callbacks: Sequence = ()):
    """trl's SFTTrainer on the recipe's dialogues, pre-tokenized with listener-only masks,
    and a fresh LoRA adapter from the recipe. Returns (trainer, conversations)."""
    from trl import SFTTrainer

    args = recipe.sft_config(checkpoints, seed)  # first: a recipe this machine cannot run fails at once
    base = resolve_model(recipe.base_model)
    tokenizer = load_tokenizer(base)
    conversations = data.sft_conversations(recipe)
    dataset = data.sft_dataset(tokenizer, conversations)
    try:
        trainer = SFTTrainer(
            model=base,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=recipe.lora_config(),
            callbacks=list(callbacks),
        )
    except OSError as exc:
        raise HarnessError(f"cannot load the base model {base}: {exc}") from None
    return trainer, conversations


def train_sft(recipe: Recipe, output: Path, seed: int, callbacks: Sequence = ()) -> Path:
    """Train (or resume, or skip when complete) one SFT run into `output`."""
    from accelerate import PartialState

    state = PartialState()
    base = resolve_model(recipe.base_model)
    fingerprint = recipe.fingerprint(seed, "sft", {"source": data.source_info(recipe)["sha256"]})
    with state.main_process_first():
        run = run_folder.open_run(
            output, "sft", fingerprint, recipe.resolved(seed), seed, write=state.is_main_process
        )
    if run.complete:
        print(f"{output}: SFT already complete (see {output / run_folder.STATE}); skipping")
        return output
    trainer, conversations = build_trainer(recipe, seed, run.checkpoints, callbacks)
    if run.resume_from:
        print(f"{output}: resuming SFT from {run.resume_from}")
    trainer.train(resume_from_checkpoint=run.resume_from)
    trainer.save_model(str(output))
    if state.is_main_process:
        source = data.source_info(recipe)
        run.finish(
            {
                "base_model": recipe.base_model,
                "base_model_path": base,
                "recipe_file": {"path": str(recipe.path.resolve()), "sha256": _sha256(recipe.path)},
                "data": {
                    "source": source,
                    "split": recipe.sft_data.split,
                    "dialogues": len(conversations),
                    "system_prompt": recipe.system_prompt_name,
                    "sha256": data.records_sha256(conversations),
                },
                "steps": trainer.state.global_step,
                "final_train_loss": _last(trainer.state.log_history, "train_loss"),
                "evaluate_with": eval_model_args(base, output),
            },
            trainer.state.log_history,
            f"SFT {recipe.name} seed {seed}",
        )
        print(f"{output}: SFT done; evaluate with --model-args {eval_model_args(base, output)}")
    return output


def eval_model_args(base: str, adapter: Path) -> str:
    return f"pretrained={base},peft={Path(adapter).resolve()}"


def _sha256(path: Path) -> str:
    from harness.resources import sha256_of

    return sha256_of(path)


def _last(history: list[dict], key: str):
    values = [entry[key] for entry in history if key in entry]
    return values[-1] if values else None
