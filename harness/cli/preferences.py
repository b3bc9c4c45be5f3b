"""`empathy-harness preferences build`: DPO pairs from scored candidate responses."""

from __future__ import annotations

import argparse
import sys

from harness.cli import instruments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("preferences", help="preference pairs for DPO from scored candidate responses")
    sub = parser.add_subparsers(dest="preferences_command", metavar="ACTION", required=True)
    build = sub.add_parser(
        "build", help="score candidates; per dialogue the best is chosen, the worst rejected",
        description="Score every candidate response (generations files or run folders over the same dialogues: "
                    "several models, seeds or sampled responses) with a per-example scorer; per dialogue the "
                    "best-scored response becomes chosen and the worst rejected. Writes the pairs (JSON lines, "
                    "read by `train dpo --pairs`) and PAIRS.provenance.json beside them.")
    build.add_argument("candidates", nargs="+", metavar="CANDIDATES",
                       help="generations file (.jsonl) or run folder; at least two, over the same dialogues")
    build.add_argument("--scorer", required=True, metavar="NAME",
                       help="a per-example scorer with a direction: epitome_level_sum, diff_epitome (distance to "
                            "the reference's EPITOME levels), bertscore_f1, nidf, ... or SCORER:OUTPUT")
    build.add_argument("--output", required=True, metavar="PAIRS.jsonl", help="the pairs file to write")
    build.add_argument("--min-margin", type=float, default=0.0,
                       help="keep a dialogue only when best - worst >= this, in the scorer's units (default 0: any "
                            "difference)")
    build.add_argument("--ties", choices=("drop", "first"), default="drop",
                       help="a tie for the best or worst place between different responses: drop the dialogue "
                            "(default) or take the first candidate given")
    build.add_argument("--task", help="the run folders' task whose generations are candidates (when they have several)")
    instruments.add_options(build)
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    from harness.cpu import openmp_wait_policy

    openmp_wait_policy()
    from harness.pairs.build import build_pairs, check_same_dialogues, counts_text, load_candidates, say, write_pairs
    from harness.pairs.scorers import get_preference_scorer

    instruments.apply(args)
    scorer = get_preference_scorer(args.scorer)  # refused before anything is read or scored
    candidates = [load_candidates(c, args.task) for c in args.candidates]
    check_same_dialogues(candidates)
    say(f"{len(candidates)} candidate files, {len(candidates[0].items)} dialogues; scorer {scorer.name} "
        f"({'higher' if scorer.higher_is_better else 'lower'} is better, from {scorer.metric})")
    result = build_pairs(candidates, scorer, args.min_margin, args.ties, log=say)
    pairs, sidecar = write_pairs(args.output, result, candidates, scorer, args.min_margin, args.ties, sys.argv)
    print(counts_text(result.counts))
    print(f"wrote {pairs} and {sidecar}; train with: empathy-harness train dpo --recipe R --pairs {pairs} "
          "(--from SFT_DIR | --from-base)")
    return 0
