"""`empathy-harness score`: the empathy metrics of generations files, as scored folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli import instruments, metric_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score generations files (DIFF-EPITOME, BERTScore, NIDF, IVA, response tries, Dist, BLEU, ROUGE-L, length)",
        description=(
            "Score each FILE (generations JSON lines, or lm-eval samples of this project's ED tasks) "
            "and write DIR/<file stem>/{summary.json,scores.jsonl,provenance.json}."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="generations or lm-eval samples (JSON lines)")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="folder for the scored folders")
    metric_option.add(parser, "the metrics to compute (default: the default suite)")
    parser.add_argument("--skip-invalid", action="store_true", help="skip and count malformed lines instead of failing")
    parser.add_argument(
        "--tokenizer", choices=["punkt", "preserve_line"], default="punkt",
        help="word_tokenize variant: punkt (nltk.word_tokenize, default) or preserve_line (no sentence splitting)",
    )
    parser.add_argument(
        "--iva-aggregate", choices=["max", "mean"], default="max",
        help="per-utterance IVA score: max over tokens (docs/METRICS.md, default) or mean",
    )
    parser.add_argument(
        "--nidf-documents", choices=["utterances", "empo-sp1"], default="utterances",
        help="NIDF document set: every ED train+valid utterance (docs/METRICS.md, default) or EmPO's code's "
        "'sp1' utterances (all but each conversation's last turn)",
    )
    parser.add_argument("--ed-source", metavar="PATH", help="ED release for the NIDF counts (default: mirror or cache)")
    instruments.add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness import scoring
    from harness.errors import HarnessError
    from harness.generations import read_generations

    instruments.apply(args)
    metrics = metric_option.chosen(args.metrics)
    stems: dict[str, str] = {}
    for name in args.files:
        stem = Path(name).stem
        if stem in stems:
            raise HarnessError(
                f"{name} and {stems[stem]} would both be scored into {args.output}/{stem}; "
                "rename one, or score them into different --output folders"
            )
        stems[stem] = name
        check_input(Path(name))

    # read every input first: a bad line stops the command before any scoring
    inputs = {name: read_generations(name, skip_invalid=args.skip_invalid) for name in args.files}
    results = {}
    options = dict(tokenizer=args.tokenizer, iva_aggregate=args.iva_aggregate,
                   nidf_documents=args.nidf_documents, ed_source=args.ed_source)
    with scoring.lexical_options(**options):
        for name, generations in inputs.items():
            folder, result, skipped = scoring.score_file(name, args.output, metrics, generations=generations)
            results[Path(name).stem] = result
            note = f" ({skipped} invalid line{'s' if skipped != 1 else ''} skipped)" if skipped else ""
            print(f"scored {name}: {result.summary['n']} examples{note} -> {folder}", file=sys.stderr)
    print(scoring.format_table(results))
    return 0


def check_input(path: Path) -> None:
    """A generations file; a folder gets a message naming what to pass instead."""
    from harness.errors import HarnessError

    if path.is_dir():
        inside = sorted(path.glob("tasks/*/generations.jsonl"))
        if inside:
            raise HarnessError(f"{path} is a run folder; score takes generations files, e.g. "
                               f"{' '.join(str(p) for p in inside)} (compare and leaderboard read the folder itself)")
        if (path / "summary.json").is_file():
            raise HarnessError(f"{path} is a scored folder, already scored; compare and leaderboard read it as it is")
        raise HarnessError(f"{path} is a folder; score takes generations files (JSON lines), e.g. {path}/*.jsonl")
    if not path.is_file():
        raise HarnessError(f"{path}: no such file")
