"""`empathy-harness epitome`: train, evaluate and use the EPITOME instrument."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.epitome.recipes import LEVEL_OFFSET_MODES

# Sharma et al. (2020), as METRICS.md quotes them: the bar a trained instrument is held to.
SHARMA = {"ER": (0.79, 0.74), "IP": (0.84, 0.63), "EX": (0.93, 0.73)}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("epitome", help="train, evaluate and apply the EPITOME empathy classifiers")
    sub = parser.add_subparsers(dest="epitome_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="train the ER, IP and EX classifiers on the EPITOME Reddit data",
                           description="Train the EPITOME instrument (Sharma et al. 2020's ER, IP and EX classifiers) "
                                       "on the EPITOME Reddit data with the backbone's recipe (MiniLM offline: about "
                                       "10-12 minutes on 2 CPU cores), then score each on its held-out test part.")
    _instrument_args(train, output=True)
    train.add_argument("--mechanisms", nargs="+", default=["ER", "IP", "EX"], metavar="M",
                       help="which of ER IP EX to train (default all three)")
    train.add_argument("--data", nargs=2, action="append", metavar=("M", "CSV"), default=[],
                       help="read mechanism M from CSV instead of the mirror / cache (repeatable)")
    recipe = train.add_argument_group("recipe overrides (recorded in the manifest; defaults: the backbone's recipe, "
                                      "MiniLM / roberta-base)")
    recipe.add_argument("--lr", type=float, help="peak learning rate (1e-4 / 2e-5)")
    recipe.add_argument("--epochs", type=int, help="epochs; the one best on validation macro-F1 is kept (3 / 4)")
    recipe.add_argument("--batch-size", type=int, help="training batch size (32)")
    recipe.add_argument("--warmup-ratio", type=float, help="share of the steps of linear warm-up (0.1 / 0)")
    recipe.add_argument("--max-length", type=int, help="tokens kept of each seeker and response post (128 / 64)")
    recipe.add_argument("--class-weighting", choices=["none", "balanced", "sqrt"],
                        help="weights of the level loss: none, inverse level frequency, or its square root "
                             "(sqrt / none)")
    recipe.add_argument("--level-offsets", choices=list(LEVEL_OFFSET_MODES),
                        help="level-logit offsets fitted on the validation part: none; macro_f1 (its "
                             "macro-F1); prior (its predicted levels in the training part's proportions) "
                             "(prior / none)")
    recipe.add_argument("--seed", type=int, help="training seed (default 12; the data split's seed is fixed)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=run_train)

    evaluate = sub.add_parser("evaluate", help="accuracy, macro-F1 and confusion matrices on the held-out test part",
                              description="Rebuild a trained instrument's held-out test part from its manifest and "
                                          "print accuracy and macro-F1 with 95%% intervals, F1 per level and the "
                                          "confusion matrix per mechanism, beside Sharma et al.'s figures.")
    _instrument_args(evaluate)
    evaluate.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    evaluate.add_argument("--data", nargs=2, action="append", metavar=("M", "CSV"), default=[],
                          help="the CSV mechanism M was trained from, if not the mirror / cache one (repeatable)")
    evaluate.set_defaults(func=run_evaluate)

    predict = sub.add_parser("predict", help="EPITOME levels of a generations file's responses and references",
                             description="Classify every response and reference of a generations file: one JSON line "
                                         "per example with id, level_er, level_ip, level_ex (of the last context turn "
                                         "and the response) and ref_level_* (of that turn and the reference).")
    predict.add_argument("generations", metavar="GENERATIONS",
                         help="generations file (JSON lines: id, context, response, reference)")
    _instrument_args(predict)
    predict.add_argument("--output", metavar="FILE", help="write JSON lines here (default: standard output)")
    predict.add_argument("--train-epitome", action="store_true", help="train the instrument first if it is missing")
    predict.add_argument("--batch-size", type=int, default=64,
                         help="(seeker post, response) pairs classified at once (default 64)")
    predict.set_defaults(func=run_predict)


def _instrument_args(parser: argparse.ArgumentParser, output: bool = False) -> None:
    parser.add_argument("--backbone", help="encoder to train from / whose instrument to use: a hub id "
                        "(default roberta-base where the hub answers), all-minilm-l6-v2 (packaged, offline default), "
                        "tiny-bert (tests), or a local folder")
    if output:
        parser.add_argument("--output", metavar="DIR", help="instrument folder (default <cache>/epitome/<backbone>)")
    else:
        parser.add_argument("--instrument", metavar="DIR", help="an instrument folder (as written by train --output)")


def run_train(args: argparse.Namespace) -> int:
    from harness.epitome import store
    from harness.epitome.data import check_mechanism
    from harness.epitome.recipes import recipe_for
    from harness.epitome.training import train_instrument

    choice = store.choose_backbone(args.backbone)
    recipe = recipe_for(choice.name).updated(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                                             warmup_ratio=args.warmup_ratio, max_length=args.max_length,
                                             class_weighting=args.class_weighting,
                                             level_offsets=args.level_offsets, seed=args.seed)
    directory = Path(args.output) if args.output else store.default_dir(choice.name)
    print(choice.describe())
    print(f"recipe: {json.dumps(recipe.to_json())}")
    data_paths = {check_mechanism(m): path for m, path in args.data}
    manifests = train_instrument(choice, directory, [check_mechanism(m) for m in args.mechanisms], recipe=recipe,
                                 progress=not args.no_progress, data_paths=data_paths)
    print()
    print(format_scores({m: man["test"] for m, man in manifests.items()}, title=f"held-out test part, {directory}"))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from harness.epitome.prediction import evaluate_instrument, load_instrument

    from harness.epitome.data import check_mechanism

    instrument = load_instrument(args.backbone, args.instrument)
    results = evaluate_instrument(instrument, {check_mechanism(m): path for m, path in args.data})
    print(format_scores(results, title=f"held-out test part, {instrument.directory} (backbone {instrument.backbone})"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def format_scores(results: dict[str, dict], title: str) -> str:
    lines = [f"EPITOME classifiers, {title}", "",
             f"{'mechanism':<10}{'n':>5}{'accuracy':>22}{'macro-F1':>22}   F1 per level 0/1/2   "
             f"Sharma et al. acc/F1"]
    for m, r in results.items():
        per = "/".join(f"{x:.2f}" for x in r["f1_per_level"])
        acc, f1 = SHARMA[m]
        lines.append(f"{m:<10}{r['n']:>5}{_with_interval(r, 'accuracy'):>22}{_with_interval(r, 'macro_f1'):>22}   "
                     f"{per:<20} {acc:.2f}/{f1:.2f}")
    intervals = [r["interval"] for r in results.values() if "interval" in r]
    if intervals:
        lines += ["", f"[low, high]: {intervals[0]['level']:.0%} interval, {intervals[0]['method']}"]
    lines += ["", "confusion matrices (rows: annotated level 0/1/2, columns: predicted 0/1/2)"]
    for m, r in results.items():
        lines.append(f"  {m}: " + "  ".join(" ".join(f"{x:>4}" for x in row) for row in r["confusion_matrix"]))
    return "\n".join(lines) + "\n"


def _with_interval(result: dict, key: str) -> str:
    interval = result.get("interval", {}).get(key)
    return f"{result[key]:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def run_predict(args: argparse.Namespace) -> int:
    from harness.epitome.data import MECHANISMS
    from harness.epitome.prediction import load_instrument

    from harness.errors import DataError
    from harness.generations import read_generations

    items = read_generations(args.generations).items
    if not items:
        raise DataError(f"{args.generations}: no generations in it")
    instrument = load_instrument(args.backbone, args.instrument, train_if_missing=args.train_epitome)
    prevs = [it.prev for it in items]
    texts = [it.response for it in items] + [it.reference for it in items]
    levels = instrument.levels(prevs + prevs, texts, batch_size=args.batch_size)
    n = len(items)
    out = open(args.output, "w") if args.output else sys.stdout
    try:
        for i, it in enumerate(items):
            record = {"id": it.id}
            record.update({f"level_{m.lower()}": levels[m][i] for m in MECHANISMS})
            record.update({f"ref_level_{m.lower()}": levels[m][n + i] for m in MECHANISMS})
            out.write(json.dumps(record) + "\n")
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f"{n} rows -> {args.output} (instrument {instrument.id[:12]}, backbone {instrument.backbone})",
              file=sys.stderr)
    return 0
