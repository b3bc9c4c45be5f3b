"""How often the model's responses are not responses: a table for reports/prompting/README.md.

    python reports/prompting/failure_modes.py RUN_FOLDER...

For each run folder of an ed_qian_* task, over its generations.jsonl and samples.jsonl:
responses that open with a copy of their own prompt (their first 30 characters occur verbatim
in the prompt the model was given: the system prompt, an exemplar, or, in two-stage runs,
the model's or the gold stage-1 answer), responses that echo the chat template's system
prompt ("You are ...", "SmolLM"), responses that continue the prompt's template (an
"Instance N" exemplar header or "Speaker:" / "Listener:" lines), and responses of 600
characters or more (the 200-token limit reached, mostly repetition loops).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TEMPLATE = re.compile(r"Instance \d|Speaker:|Listener:")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _prompt(sample: dict) -> str:
    arguments = sample["arguments"]
    return arguments["gen_args_0"]["arg_0"] if isinstance(arguments, dict) else arguments[0][0]


def counts(generations: Path) -> dict[str, int]:
    rows = _rows(generations)
    responses = [r["response"] for r in rows]
    prompts = {s["doc"]["id"]: _prompt(s) for s in _rows(generations.with_name("samples.jsonl"))}
    copies = sum(len(r["response"].strip()) >= 30 and r["response"].strip()[:30] in prompts.get(r["id"], "")
                 for r in rows)
    return {"n": len(responses), "copy": copies,
            "echo": sum("SmolLM" in r or r.lstrip().startswith("You are") for r in responses),
            "template": sum(bool(TEMPLATE.search(r)) for r in responses),
            "long": sum(len(r) >= 600 for r in responses)}


def main(runs: list[str]) -> None:
    print("| strategy | n | opens with a copy of its prompt | echoes the system prompt | continues the template "
          "| 600+ characters |")
    print("|---|--:|--:|--:|--:|--:|")
    for run in runs:
        for generations in sorted(Path(run).glob("tasks/*/generations.jsonl")):
            c = counts(generations)
            print(f"| {generations.parent.name} | {c['n']} | {c['copy']} | {c['echo']} | {c['template']} | {c['long']} |")


if __name__ == "__main__":
    main(sys.argv[1:])
