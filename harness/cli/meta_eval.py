"""`empathy-harness meta-eval`: how well each metric (and an LLM judge) agrees with human ratings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli import instruments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "meta-eval",
        help="correlate every metric (and a judge) with human ratings (EmPO's he_data.csv)",
        description=(
            "Map the rated responses to ED test examples, score them with the metric suite (and a judge), and "
            "write DIR/{README.md,meta_eval.json,agreement.png,scores.jsonl}: Kendall tau-b and Spearman rho "
            "against the mean human rating with 95% bootstrap intervals over dialogues, partial rho given "
            "response length, system-level rho, and the annotators' own agreement (the ceiling)."
        ),
    )
    parser.add_argument("ratings", nargs="?", metavar="RATINGS",
                        help="EmPO's he_data.csv (default: the empo-human-eval resource: mirror or cache)")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="report folder (replaced whole)")
    parser.add_argument("--metrics", action="append", metavar="NAMES",
                        help="comma-separated metrics or summary keys (default: the whole suite; 'none': judge only)")
    parser.add_argument("--ed", metavar="PATH", help="ED release to map the dialogues to (default: mirror or cache)")
    parser.add_argument("--allow-unmatched", action="store_true",
                        help="leave out (and list) responses whose dialogue matches no ED test example")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    judge = parser.add_argument_group("the LLM judge (harness/metrics/judge.py)")
    judge.add_argument("--judge", action="store_true", help="also score every response with an LLM judge")
    judge.add_argument("--judge-model", default="hf", choices=["hf", "vllm"], help="lm-eval backend (default hf)")
    judge.add_argument("--judge-model-args", default="pretrained=smollm2-135m-instruct", metavar="ARGS",
                       help="lm-eval model arguments (default pretrained=smollm2-135m-instruct)")
    judge.add_argument("--judge-rubric", metavar="FILE",
                       help="rubric YAML (default harness/judge_prompts/empo_statements.yaml: EmPO's Table 8, 0-100)")
    judge.add_argument("--judge-prompt", metavar="FILE", help="pointwise prompt template (default judge_prompts/rate.txt)")
    judge.add_argument("--judge-pairwise", metavar="SYSTEM_A,SYSTEM_B",
                       help="also ask A/B questions on these two systems' responses, in both orders")
    judge.add_argument("--judge-pairwise-prompt", metavar="FILE", help="pairwise template (default pairwise.txt)")
    judge.add_argument("--judge-batch-size", type=int, metavar="N", help="generation batch (default: eval's)")
    judge.add_argument("--judge-device", metavar="DEVICE", help="cpu, cuda, ... (default: cuda if available)")
    judge.add_argument("--judge-dialogues", type=int, metavar="N",
                       help="the judge rates only the responses of the first N rated dialogues (CPU time; default all)")
    judge.add_argument("--judge-answers", metavar="DIR", help="where the judge's answers are cached (default <cache>/judge)")
    instruments.add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.metaeval.run import MetaEvalRequest
    from harness.metaeval.run import run as meta_eval

    instruments.apply(args)
    if args.resamples < 100:
        raise HarnessError("--resamples must be at least 100 (percentile intervals need them)")
    metrics = None
    if args.metrics:
        metrics = [] if [m.strip().lower() for m in args.metrics] == ["none"] else args.metrics
    settings = None
    if args.judge:
        from harness.metrics.judge import JudgeSettings

        if args.judge_model == "vllm":
            from harness.runs.evaluate import require_vllm

            require_vllm()
        settings = JudgeSettings(model=args.judge_model, model_args=args.judge_model_args, rubric=args.judge_rubric,
                                 prompt=args.judge_prompt, pairwise_prompt=args.judge_pairwise_prompt,
                                 batch_size=args.judge_batch_size, device=args.judge_device,
                                 answers_dir=args.judge_answers)
    if args.judge_dialogues is not None and args.judge_dialogues < 3:
        raise HarnessError("--judge-dialogues must be at least 3")
    pairwise = None
    if args.judge_pairwise:
        parts = [p.strip() for p in args.judge_pairwise.split(",")]
        if len(parts) != 2 or not all(parts):
            raise HarnessError("--judge-pairwise takes two systems: SYSTEM_A,SYSTEM_B (e.g. zephyr_base,zephyr_dpo)")
        pairwise = (parts[0], parts[1])
    request = MetaEvalRequest(
        ratings=Path(args.ratings) if args.ratings else None, output=Path(args.output), metrics=metrics,
        ed_source=Path(args.ed) if args.ed else None, allow_unmatched=args.allow_unmatched,
        resamples=args.resamples, seed=args.seed, judge=settings, pairwise=pairwise, judge_dialogues=args.judge_dialogues,
        command=_command())
    report = meta_eval(request)
    mapping = report["mapping"]
    print(f"mapped {mapping['matched']} of {mapping['dialogues']} rated dialogues to ED test examples; "
          f"{report['responses_scored']} responses scored in {report['seconds']} s")
    if "judge" in report:
        bad = sum(u["count"] for u in report["judge"]["unparseable"].values())
        print(f"judge: {report['judge']['answers']} answers, {bad} unparseable, {report['judge']['generated']} generated")
    print(f"report: {Path(args.output) / 'README.md'}")
    return 0


def _command() -> list[str] | None:
    """The command line as run, with absolute paths cut to their names (reports are committed)."""
    if sys.argv[1:2] != ["meta-eval"]:
        return None
    return ["empathy-harness", "meta-eval", *(Path(a).name if Path(a).is_absolute() else a for a in sys.argv[2:])]
