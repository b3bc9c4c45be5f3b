"""Options choosing the model-based metrics' instruments, shared by the commands that score."""

from __future__ import annotations

import argparse


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("instruments of the model-based metrics (recorded in provenance.json)")
    group.add_argument("--train-epitome", action="store_true",
                       help="train the EPITOME classifiers first if they are missing (else: an error saying how)")
    group.add_argument("--epitome-backbone", metavar="MODEL",
                       help="EPITOME encoder: roberta-base (default online), all-minilm-l6-v2 (default offline), ...")
    group.add_argument("--epitome-instrument", metavar="DIR", help="a trained EPITOME instrument folder")
    group.add_argument("--bertscore-model", metavar="MODEL",
                       help="BERTScore encoder: roberta-large (EmPO's, default online), all-minilm-l6-v2 (offline)")
    group.add_argument("--bertscore-layers", type=int, metavar="N",
                       help="BERTScore layer (default 17 for roberta-large, the last for other encoders)")


def apply(args: argparse.Namespace) -> None:
    """Configure the scorers before their first use in this process."""
    from harness.metrics import bertscore, diff_epitome

    diff_epitome.configure(train_if_missing=args.train_epitome)
    if args.epitome_backbone:
        diff_epitome.configure(backbone=args.epitome_backbone)
    if args.epitome_instrument:
        diff_epitome.configure(directory=args.epitome_instrument)
    if args.bertscore_model:
        bertscore.configure(model=args.bertscore_model)
    if args.bertscore_layers:
        bertscore.configure(num_layers=args.bertscore_layers)
