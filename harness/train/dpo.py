"""DPO on EmPO's preference pairs, a fresh rejected draw every epoch, trl's DPOTrainer.

The reference model is the SFT model. DPO continues training the SFT adapter, as EmPO's
code does: the base model is loaded with the SFT adapter (trainable), and trl's
DPOTrainer, given a PeftModel that already has an adapter and no `ref_model`, keeps a
frozen copy of that adapter (named "ref") and computes the reference log-probabilities
through it. Disabling the adapter instead would give the *base* model as the reference,
which is right only when the SFT weights were merged into the base first. The saved DPO
adapter (SFT + DPO updates) therefore applies to the same base model as the SFT adapter:
evaluate it with `pretrained=BASE,peft=DPO_DIR`.

Per-epoch pairs: the trainer's train dataset is an `EpochPairs` view whose content is the
epoch's own draw (`PreferenceBuilder.epoch(e)`, tokenized by trl's own DPO preprocessing);
`RedrawEachEpoch` switches it at the start of every epoch. The dataloader, sampler and
learning-rate schedule are built once, for all epochs, as for any multi-epoch run.

Two options change this (`train dpo --pairs FILE`, `--from-base`):

- a preference file (harness.pairs.files) replaces the opposite-emotion pairs: the same
  pairs every epoch; its sha256, row count and provenance sidecar go into training.json.
  The held-out pairs stay the recipe's opposite-emotion pairs on the held-out split, so
  reward accuracy is reported on one yardstick whatever the training pairs;
- from the base: no SFT adapter; a fresh LoRA adapter from the recipe's `lora` section is
  trained, and trl computes the reference log-probabilities with the adapter disabled, so
  the reference is the base model itself. The adapter applies to the base model too.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Callable, Sequence

from harness.embedded import resolve_model
from harness.errors import HarnessError
from harness.pairs.files import PairsFile
from harness.train import data, run_folder
from harness.train.recipe import Recipe
from harness.train.sft import eval_model_args, load_tokenizer


class EpochPairs:
    """A map-style dataset showing one epoch's tokenized preference pairs at a time.

    Every epoch has the same examples (only the rejected draw differs), so the length, and
    with it the sampler and the step count, is the same in every epoch."""

    def __init__(self, prepare: Callable[[int], object]):
        self._prepare = prepare
        self._epochs: dict[int, object] = {}
        self.epoch = 0

    def select_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        current = self.current()
        first = self._epochs.get(min(self._epochs))
        if len(current) != len(first):
            raise HarnessError(f"epoch {epoch} has {len(current)} pairs, epoch 0 had {len(first)}")

    def current(self):
        if self.epoch not in self._epochs:
            self._epochs[self.epoch] = self._prepare(self.epoch)
        return self._epochs[self.epoch]

    def __len__(self) -> int:
        return len(self.current())

    def __getitem__(self, index):
        return self.current()[index]


def _redraw_callback(pairs: EpochPairs):
    from transformers import TrainerCallback

    class RedrawEachEpoch(TrainerCallback):
        """Before each epoch's dataloader pass, show that epoch's draw. The epoch comes from
        the trainer state, so a run resumed mid-epoch continues on the same draw."""

        def on_epoch_begin(self, args, state, control, **kwargs):
            pairs.select_epoch(int(math.floor((state.epoch or 0.0) + 1e-9)))

    return RedrawEachEpoch()


def sft_adapter(sft_dir: Path, seed: int, several_seeds: bool) -> Path:
    """The SFT folder for a seed: SFT_DIR itself, or SFT_DIR/seed-N when it holds several."""
    per_seed = Path(sft_dir) / f"seed-{seed}"
    if (per_seed / "adapter_config.json").exists():
        return per_seed
    if several_seeds and not (Path(sft_dir) / "adapter_config.json").exists():
        run_folder.adapter_files(per_seed)  # raises, naming the missing file
    return Path(sft_dir)


def sft_policy(recipe: Recipe, sft_dir: Path | None, args):
    """The starting policy of DPO and RL, and its tokenizer: the base model with the SFT
    adapter (trainable), or the bare base model when `sft_dir` is None. The model is built
    here, so trl must not load one itself (`args.model_init_kwargs` is consumed)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = resolve_model(recipe.base_model)
    if sft_dir is not None:
        adapter_config = run_folder.adapter_files(sft_dir)
        trained_on = adapter_config.get("base_model_name_or_path")
        if trained_on and not _same_model(trained_on, base):
            raise HarnessError(
                f"{sft_dir / 'adapter_config.json'}: the SFT adapter was trained on {trained_on}, but the recipe's "
                f"base model is {recipe.base_model} ({base}); use the recipe the SFT run used"
            )
    tokenizer = load_tokenizer(str(sft_dir) if sft_dir is not None else base)
    init_kwargs = dict(args.model_init_kwargs or {})
    args.model_init_kwargs = None
    dtype = init_kwargs.pop("dtype", init_kwargs.pop("torch_dtype", "float32"))
    init_kwargs["dtype"] = getattr(torch, dtype) if isinstance(dtype, str) and dtype != "auto" else dtype
    try:
        model = AutoModelForCausalLM.from_pretrained(base, **init_kwargs)
    except OSError as exc:
        raise HarnessError(f"cannot load the base model {base}: {exc}") from None
    if sft_dir is not None:
        model = PeftModel.from_pretrained(model, str(sft_dir), is_trainable=True)
    return model, tokenizer


def build_trainer(recipe: Recipe, sft_dir: Path | None, seed: int, checkpoints: Path, callbacks: Sequence = (),
                  pairs_file: PairsFile | None = None):
    """trl's DPOTrainer continuing the SFT adapter (or a fresh adapter on the base when
    `sft_dir` is None), on per-epoch opposite-emotion pairs or the fixed pairs of
    `pairs_file`. Returns (trainer, builder, heldout pairs, EpochPairs or None)."""
    from trl import DPOTrainer

    args = recipe.dpo_config(checkpoints, seed)  # first: a recipe this machine cannot run fails at once
    model, tokenizer = sft_policy(recipe, sft_dir, args)

    builder, heldout = data.preference_builders(recipe, seed)
    if pairs_file is not None:
        from datasets import Dataset

        train_dataset = Dataset.from_list(pairs_file.records(recipe.system_prompt))
    else:
        train_dataset = data.pairs_dataset(builder.epoch(0), recipe.system_prompt)
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=data.pairs_dataset(heldout, recipe.system_prompt) if heldout else None,
        processing_class=tokenizer,
        callbacks=list(callbacks),
        peft_config=recipe.lora_config() if sft_dir is None else None,
    )
    if sft_dir is not None and "ref" not in trainer.model.peft_config:
        raise HarnessError("trl did not create the frozen reference copy of the SFT adapter; check the trl version")
    if sft_dir is None and "ref" in trainer.model.peft_config:
        raise HarnessError("trl created a reference adapter for a fresh adapter; check the trl version")
    if pairs_file is not None:
        return trainer, builder, heldout, None
    first = trainer.train_dataset

    def prepare(epoch: int):
        if epoch == 0:
            return first
        raw = data.pairs_dataset(builder.epoch(epoch), recipe.system_prompt)
        # trl's own DPO preprocessing (chat template, tokenization, length filter), as for epoch 0
        return trainer._prepare_dataset(raw, trainer.processing_class, trainer.args, f"train (epoch {epoch})")

    pairs = EpochPairs(prepare)
    trainer.train_dataset = pairs
    trainer.add_callback(_redraw_callback(pairs))
    return trainer, builder, heldout, pairs


def train_dpo(recipe: Recipe, sft_dir: Path | None, output: Path, seed: int, callbacks: Sequence = (),
              pairs_file: PairsFile | None = None) -> Path:
    """Train (or resume, or skip when complete) one DPO run into `output`: from the SFT
    adapter in `sft_dir`, or from the base model when it is None; on opposite-emotion pairs,
    or on `pairs_file` (read and validated with harness.pairs.files.read_pairs)."""
    from accelerate import PartialState

    state = PartialState()
    base = resolve_model(recipe.base_model)
    if sft_dir is not None:
        sft_dir = Path(sft_dir)
        adapter_config = run_folder.adapter_files(sft_dir)
        sft_sha = _sha256(sft_dir / "adapter_model.safetensors")
    else:
        adapter_config, sft_sha = {}, None
    extra = {"source": data.source_info(recipe)["sha256"], "sft_adapter_sha256": sft_sha or "none: from the base"}
    if pairs_file is not None:
        extra["pairs_sha256"] = pairs_file.sha256
        extra["lora"] = recipe.resolved(seed)["lora"] if sft_dir is None else None
    elif sft_dir is None:
        extra["lora"] = recipe.resolved(seed)["lora"]
    fingerprint = recipe.fingerprint(seed, "dpo", extra)
    with state.main_process_first():
        run = run_folder.open_run(output, "dpo", fingerprint, recipe.resolved(seed), seed, write=state.is_main_process)
    if run.complete:
        print(f"{output}: DPO already complete (see {output / run_folder.STATE}); skipping")
        return output
    trainer, builder, heldout, _pairs = build_trainer(recipe, sft_dir, seed, run.checkpoints, callbacks, pairs_file)
    if run.resume_from:
        print(f"{output}: resuming DPO from {run.resume_from}")
    trainer.train(resume_from_checkpoint=run.resume_from)
    trainer.save_model(str(output))
    if state.is_main_process:
        # trainer.save_model writes every adapter; the frozen "ref" copy is the SFT adapter itself
        shutil.rmtree(output / "ref", ignore_errors=True)
        source = data.source_info(recipe)
        heldout_info = {
            "split": recipe.heldout.split,
            "pairs": len(heldout),
            "draw_seed": recipe.heldout.seed,
            "sha256": data.records_sha256(heldout),
        }
        if pairs_file is None:
            epochs = math.ceil(trainer.args.num_train_epochs) if trainer.args.max_steps <= 0 else None
            drawn = range(epochs if epochs else int(math.floor(trainer.state.epoch + 1e-9)) + 1)
            per_epoch = {e: builder.epoch(e) for e in drawn}
            _write_pairs(output / "pairs.jsonl", per_epoch)
            data_info = {
                "pairs": "opposite-emotion (EmPO)",
                "source": source,
                "split": recipe.dpo_data.split,
                "pairs_per_epoch": len(builder.examples),
                "draw_seed": seed,
                "system_prompt": recipe.system_prompt_name,
                "sha256_per_epoch": {str(e): data.records_sha256(p) for e, p in per_epoch.items()},
                "heldout": heldout_info,
            }
        else:
            data_info = {
                "pairs": "file",
                "pairs_file": pairs_file.describe(),
                "pairs_per_epoch": len(pairs_file.rows),
                "system_prompt": recipe.system_prompt_name if pairs_file.format == "harness" else None,
                "sha256_records": data.records_sha256(pairs_file.records(recipe.system_prompt)),
                "source": source,
                "heldout": heldout_info,
            }
        if sft_dir is not None:
            sft_info = {
                "path": str(sft_dir.resolve()),
                "sha256": sft_sha,
                "base_model_name_or_path": adapter_config.get("base_model_name_or_path"),
            }
            reference = "the SFT model: base + the SFT adapter (trl's frozen 'ref' copy of it)"
        else:
            sft_info = None
            reference = "the base model: a fresh LoRA adapter from the recipe, disabled for the reference (trl)"
        run.finish(
            {
                "base_model": recipe.base_model,
                "base_model_path": base,
                "sft_adapter": sft_info,
                "reference_model": reference,
                "recipe_file": {"path": str(recipe.path.resolve()), "sha256": _sha256(recipe.path)},
                "data": data_info,
                "steps": trainer.state.global_step,
                "heldout_per_epoch": heldout_table(trainer.state.log_history),
                "evaluate_with": eval_model_args(base, output),
            },
            trainer.state.log_history,
            f"DPO {recipe.name} seed {seed}",
        )
        print(format_heldout(heldout_table(trainer.state.log_history)))
        print(f"{output}: DPO done; evaluate with --model-args {eval_model_args(base, output)}")
    return output


def heldout_table(log_history: list[dict]) -> list[dict]:
    """Held-out reward accuracy and margin at each evaluation (each epoch by default)."""
    rows = []
    for entry in log_history:
        if "eval_rewards/accuracies" in entry:
            rows.append(
                {
                    "epoch": round(entry.get("epoch", float("nan")), 3),
                    "step": entry.get("step"),
                    "reward_accuracy": entry["eval_rewards/accuracies"],
                    "reward_margin": entry.get("eval_rewards/margins"),
                    "loss": entry.get("eval_loss"),
                }
            )
    return rows


def format_heldout(rows: list[dict]) -> str:
    lines = ["held-out pairs:  epoch  step  reward accuracy  reward margin  loss"]
    for r in rows:
        lines.append(
            f"                 {r['epoch']:>5}  {r['step']:>4}  {r['reward_accuracy']:>15.3f}  "
            f"{r['reward_margin']:>13.4f}  {r['loss']:.4f}"
        )
    return "\n".join(lines)


def _write_pairs(path: Path, per_epoch: dict) -> None:
    with open(path, "w") as fh:
        for epoch, pairs in per_epoch.items():
            for p in pairs:
                fh.write(json.dumps({"epoch": epoch, "id": p.id, "rejected_id": p.rejected_id}) + "\n")


def _same_model(a: str, b: str) -> bool:
    if Path(a).exists() and Path(b).exists():
        return Path(a).resolve() == Path(b).resolve()
    return a == b


def _sha256(path: Path) -> str:
    from harness.resources import sha256_of

    return sha256_of(path)
