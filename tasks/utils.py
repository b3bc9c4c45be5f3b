"""Glue between lm-eval and the harness for the task YAMLs in this folder.

Only adapts lm-eval's documents and results; the work is in `harness.lmeval`.
"""

from lm_eval.api.task import ConfigurableTask

from harness.lmeval import ed, eq_bench, mmlu, qian, suite

ed_dataset = ed.dataset
mmlu_dataset = mmlu.dataset
eq_bench_dataset = eq_bench.dataset
eq_bench_process_results = eq_bench.process_results  # lm-eval's eq_bench scoring itself
qian_dataset = qian.dataset
QianTask = qian.QianTask  # Qian et al. (2023)'s prompting strategies (tasks/ed_qian_*.yaml)


def doc_to_text(doc: dict) -> str:
    """The plain transcript of the history (the full prompt is built by EDTask)."""
    return ed.plain_prompt(doc["context"], None)


def process_results(doc: dict, results: list[str]) -> dict:
    return suite.document_metrics(doc, results[0])


def likelihood_results(doc: dict, results: list) -> dict:
    return ed.likelihood_metrics(doc, results[0][0])


class EDTask(ConfigurableTask):
    """An ED generation task: the system prompt named by `metadata.system_prompt`, the chat
    history as chat messages (with --apply_chat_template) or as a plain transcript, and
    one metric per output of the suite's selected scorers."""

    def __init__(self, config: dict | None = None, **kwargs) -> None:
        config = dict(config or {})
        config.pop("class", None)
        config["description"] = ed.system_prompt((config.get("metadata") or {}).get("system_prompt", "baseline"))
        if config.get("output_type", "generate_until") == "generate_until":
            config["metric_list"] = suite.plan().metric_list()
        super().__init__(config=config)

    def fewshot_context(self, doc, num_fewshot, system_instruction=None, apply_chat_template=False,
                        fewshot_as_multiturn=False, chat_template=None, gen_prefix=None):
        # The history is the dialogue itself, not few-shot examples: always one message
        # per turn, whatever fewshot_as_multiturn says.
        system = ed.join_system(system_instruction, self.config.description, self.config.fewshot_delimiter)
        if apply_chat_template and chat_template:
            return ed.chat_prompt(doc["context"], system, chat_template)
        return ed.plain_prompt(doc["context"], system)
