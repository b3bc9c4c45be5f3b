"""`empathy-harness train`: SFT, then DPO (EmPO's pairs or a pairs file; from SFT or from the base) or RL with EmpRL's empathy reward, merged checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cpu import openmp_wait_policy


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="SFT, DPO and RL (trl + peft) on EmpatheticDialogues from a recipe in models/recipes"
    )
    sub = parser.add_subparsers(dest="train_command", metavar="STAGE", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--recipe", required=True, help="recipe YAML, or the name of one in models/recipes")
        p.add_argument("--output", help="output folder (default runs/train/<recipe>/<stage>); with several "
                       "seeds, one seed-N folder each inside it")
        p.add_argument("--seeds", nargs="+", type=int, help="train one run per seed (default: the recipe's seeds)")
        p.add_argument("--source", help="ED release tarball or folder (default: recipe, mirror, cache, download)")

    sft = sub.add_parser("sft", help="supervised fine-tuning on whole dialogues, loss on listener turns only",
                         description="Supervised fine-tuning (trl SFTTrainer, a peft LoRA adapter) of the recipe's "
                                     "base model on its ED training dialogues, each one chat conversation with the loss "
                                     "on the listener turns only. Writes the adapter, training.json (with the "
                                     "--model-args to evaluate it) and the loss curve; an interrupted run resumes.")
    common(sft)
    sft.set_defaults(func=run_sft)

    dpo = sub.add_parser("dpo", help="DPO on opposite-emotion pairs (a fresh rejected draw each epoch) or a pairs file",
                         description="DPO (trl DPOTrainer) continuing an SFT adapter (--from) or a fresh adapter on the "
                                     "base model (--from-base). Pairs: EmPO's by default (chosen = the dialogue's "
                                     "listener turn, rejected = one of a dialogue with the opposite emotion, drawn afresh "
                                     "every epoch), or a preference file (--pairs). The starting model is the reference; "
                                     "held-out reward accuracy and margin are reported after every epoch.")
    common(dpo)
    start = dpo.add_mutually_exclusive_group(required=True)
    start.add_argument("--from", dest="sft_dir", metavar="SFT_DIR",
                       help="continue this SFT adapter (with several seeds: the folder holding seed-N folders)")
    start.add_argument("--from-base", action="store_true",
                       help="DPO on the base model: a fresh LoRA adapter from the recipe, the base as reference")
    dpo.add_argument("--pairs", metavar="FILE.jsonl",
                     help="train on this preference file (ours: context, chosen, rejected, optional id; trl's: "
                          "prompt, chosen, rejected as strings or chat messages) instead of opposite-emotion pairs")
    dpo.set_defaults(func=run_dpo)

    rl = sub.add_parser("rl", help="RL (trl's RLOO) with EmpRL's empathy reward, continuing the SFT adapter")
    common(rl)
    rl.add_argument("--from", dest="sft_dir", required=True, metavar="SFT_DIR",
                    help="the SFT output folder (with several seeds: the folder holding seed-N folders)")
    rl.set_defaults(func=run_rl)

    merge = sub.add_parser("merge", help="write base + adapter as one checkpoint (e.g. for vLLM)",
                           description="Write a training folder's base model with its LoRA adapter merged in as one "
                                       "safetensors checkpoint (same logits as base + adapter).")
    merge.add_argument("folder", metavar="DIR", help="a training output folder")
    merge.add_argument("--output", help="where to write it (default DIR/merged)")
    merge.set_defaults(func=run_merge)


def _runs(args: argparse.Namespace, stage: str):
    openmp_wait_policy()
    from harness.train.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    if args.source:
        recipe.source = args.source
    seeds = args.seeds or recipe.seeds
    root = Path(args.output) if args.output else Path("runs") / "train" / recipe.name / stage
    for seed in seeds:
        yield recipe, seed, (root / f"seed-{seed}" if len(seeds) > 1 else root), len(seeds) > 1


def run_sft(args: argparse.Namespace) -> int:
    from harness.train.sft import train_sft

    for recipe, seed, output, _ in _runs(args, "sft"):
        print(f"SFT {recipe.name} seed {seed} -> {output}")
        train_sft(recipe, output, seed)
    return 0


def run_dpo(args: argparse.Namespace) -> int:
    from harness.train import run_folder
    from harness.train.dpo import sft_adapter, train_dpo

    runs = list(_runs(args, "dpo"))
    if args.from_base:
        sft_dirs = [None] * len(runs)
    else:
        sft_dirs = [sft_adapter(Path(args.sft_dir), seed, several) for _, seed, _, several in runs]
        for sft_dir in sft_dirs:  # every SFT folder is checked before the first run starts
            run_folder.adapter_files(sft_dir)
    pairs = read_checked_pairs(args.pairs, runs[0][0]) if args.pairs else None  # every row, before training
    for (recipe, seed, output, _), sft_dir in zip(runs, sft_dirs):
        start = "the base model" if sft_dir is None else sft_dir
        what = f"{pairs.path} ({len(pairs.rows)} pairs)" if pairs else "opposite-emotion pairs"
        print(f"DPO {recipe.name} seed {seed} from {start} on {what} -> {output}")
        train_dpo(recipe, sft_dir, output, seed, pairs_file=pairs)
    return 0


def read_checked_pairs(path: str, recipe):
    """The pairs file with every row validated, and its ids checked against the recipe's DPO split."""
    from harness.pairs.files import check_ids, read_pairs
    from harness.train import data

    pairs = read_pairs(path)
    if pairs.ids:
        check_ids(pairs, (d.conv_id for d in data.load(recipe, recipe.dpo_data.split)), recipe.dpo_data.split)
    return pairs


def run_rl(args: argparse.Namespace) -> int:
    from harness.train.dpo import sft_adapter
    from harness.train.rl import sft_folder, train_rl

    runs = list(_runs(args, "rl"))
    sft_dirs = [sft_adapter(Path(args.sft_dir), seed, several) for _, seed, _, several in runs]
    for (recipe, seed, _, _), sft_dir in zip(runs, sft_dirs):  # every input is checked before the first run
        recipe.rl_config("unused", seed, check_only=True)
        sft_folder(sft_dir)
    for (recipe, seed, output, _), sft_dir in zip(runs, sft_dirs):
        print(f"RL {recipe.name} seed {seed} from {sft_dir} -> {output}")
        train_rl(recipe, sft_dir, output, seed)
    return 0


def run_merge(args: argparse.Namespace) -> int:
    openmp_wait_policy()
    from harness.train.merge import merge

    output = merge(args.folder, args.output)
    print(f"merged checkpoint: {output}  (evaluate with --model-args pretrained={output.resolve()})")
    return 0
