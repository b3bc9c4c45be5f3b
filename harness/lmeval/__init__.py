"""The harness inside lm-evaluation-harness: what the task folder's utils.py delegates to.

- `ed`: the EmpatheticDialogues generation tasks (docs, prompt rendering, responses);
- `suite`: the metric suite as lm-eval metrics (per-document and once-per-corpus);
- `mmlu`: MMLU from its original release layout, in lm-eval's `cais/mmlu` schema;
- `eq_bench`: EQ-Bench v2's questions file, in the rows of lm-eval's `eq_bench` (Hub copy);
- `taskdir`: where the task folder is, and a TaskManager that scans only what is needed.
"""
