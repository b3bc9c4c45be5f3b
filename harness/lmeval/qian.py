"""Qian et al. (2023)'s prompting strategies as lm-eval tasks (tasks/ed_qian_*.yaml).

`QianTask` builds each document's prompt from the unified template
(harness.prompting.template) by the strategy named in the task's `metadata.strategy`:

- `random`: k = num_fewshot complete training dialogues drawn per test dialogue, seeded
  by lm-eval's few-shot seed (`--seed`) and the dialogue id (0-, 1-, 5-shot);
- `ssicl`: the k training dialogues whose contexts are most similar (harness.prompting.ssicl);
- `twostage_stage1`: the first-stage question; scored by emotion accuracy;
- `twostage`: the second stage on the first stage's text (doc["stage1"], from a stage file);
- `gold_emotion`, `gold_situation`: the second stage on the gold emotion or situation;
- `knowledge`: the five relations from a knowledge provider (`knowledge_provider`);
- `knowledge_stage1`: the evaluated model asked for each relation (five requests per dialogue);
- `knowledge_selfgen`: the template with those model-generated relations.

The first-stage texts reach a second-stage task through lm-eval's metadata (`stages`,
harness.prompting.stages); `empathy-harness eval` runs both stages (harness/runs/stages.py).
"""

from __future__ import annotations

import hashlib
from typing import Callable

from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from harness.errors import HarnessError
from harness.lmeval import ed, suite
from harness.prompting import emotions, exemplars, knowledge, ssicl, template
from harness.prompting.stages import read_stage_file

STRATEGIES = ("random", "ssicl", "twostage_stage1", "twostage", "gold_emotion", "gold_situation", "knowledge",
              "knowledge_stage1", "knowledge_selfgen")
FIRST_STAGES = ("twostage_stage1", "knowledge_stage1")
NEEDS_STAGE1 = ("twostage", "knowledge_selfgen")
STAGE_KIND = "ed_stage"  # metadata.kind of first-stage tasks: not scored as ED responses
EMOTION_METRICS = ({"metric": "emotion_acc", "aggregation": "mean", "higher_is_better": True},
                   {"metric": "emotion_mapped", "aggregation": "mean", "higher_is_better": None})


def dataset(split: str = "test", source=None, stages: dict | None = None, stage1_task: str | None = None,
            **_ignored):
    """ED examples (harness.lmeval.ed.dataset); a second-stage task's documents carry
    `stage1`, the first stage's texts for that dialogue ([] where the file has none)."""
    data = ed.dataset(split, source)
    if not stage1_task:
        return data
    path = (stages or {}).get(stage1_task)
    if not path:
        raise HarnessError(
            f"this task needs the texts of its first stage {stage1_task}: run that task first, then pass its "
            f"samples file as --metadata '{{\"stages\": {{\"{stage1_task}\": \"FILE\"}}}}' (empathy-harness eval "
            "does both)")
    texts = read_stage_file(path)
    return data.map(lambda doc: {"stage1": texts.get(doc["id"], [])})


class QianTask(ConfigurableTask):
    def __init__(self, config: dict | None = None, **kwargs) -> None:
        config = dict(config or {})
        config.pop("class", None)
        meta = dict(config.get("metadata") or {})
        self.strategy = meta.get("strategy")
        if self.strategy not in STRATEGIES:
            raise HarnessError(f"{config.get('task')}: unknown prompting strategy {self.strategy!r} "
                               f"(metadata.strategy); known: {', '.join(STRATEGIES)}")
        config["description"] = ""
        config["process_results"] = self.document_results  # also keeps lm-eval from looking metrics up by name
        if self.strategy == "twostage_stage1":
            config["metric_list"] = [dict(m) for m in EMOTION_METRICS]
        elif self.strategy == "knowledge_stage1":
            config["metric_list"] = [{"metric": "relations_answered", "aggregation": "mean", "higher_is_better": None}]
        else:
            config["metric_list"] = suite.plan().metric_list() + (
                [dict(m) for m in EMOTION_METRICS] if self.strategy == "twostage" else [])
        if self.strategy == "ssicl":
            choice = ssicl.choose_encoder(meta.get("encoder", "auto"))
            meta["ssicl_encoder"] = {"name": choice.name, "reason": choice.reason}
        if self.strategy == "knowledge":
            meta["knowledge_label"] = knowledge.LABELS.get(meta.get("knowledge_provider", ""), "user-registered")
        elif self.strategy in ("knowledge_stage1", "knowledge_selfgen"):
            meta["knowledge_label"] = knowledge.LABELS[knowledge.MODEL_GENERATED]
        meta["template_sha256"] = template.template_sha256()
        config["metadata"] = meta
        self._seed: int | None = None
        self._neighbours: dict[str, list[int]] | None = None
        self._provider = None
        self._knowledge: dict[str, dict[str, str]] = {}
        super().__init__(config=config)

    # --- lm-eval hooks -------------------------------------------------------------------------

    def fewshot_docs(self):
        return None  # exemplars are drawn here from the training split, never by lm-eval's sampler

    def set_fewshot_seed(self, seed: int | None = None) -> None:
        super().set_fewshot_seed(seed)
        self._seed = seed

    def fewshot_context(self, doc, num_fewshot, system_instruction=None, apply_chat_template=False,
                        fewshot_as_multiturn=False, chat_template=None, gen_prefix=None):
        template_fn = chat_template if apply_chat_template and chat_template else None
        if self.strategy == "knowledge_stage1":
            return self._relation_prompts(doc, system_instruction, template_fn)[0]
        return template.render(self.messages(doc, num_fewshot, system_instruction), template_fn,
                               answer_tag=None if self.strategy == "twostage_stage1" else template.LISTENER)

    def construct_requests(self, doc, ctx, **kwargs):
        if self.strategy != "knowledge_stage1":
            return super().construct_requests(doc, ctx, **kwargs)
        template_fn = kwargs.pop("chat_template", None) if kwargs.pop("apply_chat_template", False) else None
        kwargs.pop("chat_template", None)
        prompts = self._relation_prompts(doc, None, template_fn)
        return [Instance(request_type="generate_until", doc=doc, arguments=(p, dict(self.config.generation_kwargs)),
                         idx=i, **kwargs) for i, p in enumerate(prompts)]

    def document_results(self, doc: dict, results: list[str]) -> dict:
        """lm-eval's process_results: the metric values of one document."""
        if self.strategy == "twostage_stage1":
            return _emotion(results[0], doc["emotion"])
        if self.strategy == "knowledge_stage1":
            return {"relations_answered": sum(bool(knowledge.clean_inference(r)) for r in results) / len(results)}
        values = suite.document_metrics(doc, results[0])
        if self.strategy == "twostage":
            values.update(_emotion(self._stage1(doc)[0], doc["emotion"]))
        return values

    # --- prompts ---------------------------------------------------------------------------------

    def messages(self, doc: dict, k: int, system: str | None = None) -> template.Messages:
        """The chat messages of one document under this task's strategy."""
        s = self.strategy
        context = doc["context"]
        if s in ("random", "ssicl"):
            return template.response_messages(template.user_prompt(context, self.exemplars(doc, k)), system)
        if s == "knowledge":
            return template.response_messages(template.user_prompt(context, knowledge=self._comet(doc)), system)
        if s == "knowledge_selfgen":
            inferred = dict(zip(knowledge.RELATIONS, (knowledge.clean_inference(t) for t in self._stage1(doc))))
            return template.response_messages(template.user_prompt(context, knowledge=inferred), system)
        prompt = template.user_prompt(context)
        if s == "twostage_stage1":
            return template.stage1_messages(prompt, system)
        answer = {"twostage": lambda: self._stage1(doc)[0],
                  "gold_emotion": lambda: template.GOLD_EMOTION.format(emotion=doc["emotion"]),
                  "gold_situation": lambda: template.GOLD_SITUATION.format(situation=doc["situation"])}[s]()
        return template.stage2_messages(prompt, answer.strip(), system)

    def exemplars(self, doc: dict, k: int) -> list[tuple[str, ...]]:
        """The complete training dialogues shown before this document."""
        pool = exemplars.training_pool(self._source())
        exemplars.check_k(k, len(pool), self.config.task)
        if self.strategy == "random":
            positions = exemplars.random_draw(len(pool), k, self._seed, doc["id"])
        else:
            positions = self._ssicl_neighbours(k)[doc["id"]]
        return [pool.dialogues[p] for p in positions]

    def _relation_prompts(self, doc: dict, system: str | None, template_fn: Callable | None) -> list[str]:
        return [template.render(template.response_messages(knowledge.selfgen_prompt(doc["context"], rel), system),
                                template_fn, answer_tag=None) for rel in knowledge.RELATIONS]

    def _stage1(self, doc: dict) -> list[str]:
        texts = doc.get("stage1") or []
        need = len(knowledge.RELATIONS) if self.strategy == "knowledge_selfgen" else 1
        if len(texts) < need:
            raise HarnessError(f"{self.config.task}: the stage-1 file has no texts for dialogue {doc['id']}; run the "
                               f"first stage ({self.config.metadata.get('stage1_task')}) on the same documents")
        return texts

    def _comet(self, doc: dict) -> dict[str, str]:
        if doc["id"] not in self._knowledge:
            if self._provider is None:
                meta = self.config.metadata
                settings = {"model": meta["comet_model"]} if meta.get("comet_model") else {}
                self._provider = knowledge.provider(meta.get("knowledge_provider", knowledge.COMET_BART), **settings)
                describe = getattr(self._provider, "describe", None)
                meta["knowledge_provider_resolved"] = describe() if describe else {"provider": self._provider.name}
            self._knowledge[doc["id"]] = self._provider.relations([doc["context"]])[0]
        return self._knowledge[doc["id"]]

    def _ssicl_neighbours(self, k: int) -> dict[str, list[int]]:
        if self._neighbours is None or any(len(v) != k for v in self._neighbours.values()):
            meta = self.config.metadata
            encoder = meta["ssicl_encoder"]["name"]
            source = self._source()
            pool = exemplars.training_pool(source)
            release = ssicl.ed_release_sha256(source)
            train = ssicl.load_or_build(encoder, exemplars.POOL_SPLIT, pool.ids, pool.contexts, release)
            docs = self.eval_docs
            test_ids = [d["id"] for d in docs]
            test = ssicl.load_or_build(encoder, self.config.test_split, test_ids, [d["context"] for d in docs], release)
            found = ssicl.nearest(train.embeddings, test.embeddings, k)
            self._neighbours = {i: list(map(int, row)) for i, row in zip(test_ids, found)}
            meta["ssicl_index"] = {"train_embeddings_sha256": train.record["embeddings_sha256"],
                                   "test_embeddings_sha256": test.record["embeddings_sha256"],
                                   "dim": train.record["dim"], "n_train": train.record["n"]}
        return self._neighbours

    def _source(self):
        return (self.config.dataset_kwargs or {}).get("source") or (self.config.metadata or {}).get("source")


def _emotion(text: str, gold: str) -> dict:
    correct, mapped = emotions.emotion_correct(text, gold)
    return {"emotion_acc": correct, "emotion_mapped": mapped}


def prompt_digest(samples: list[dict]) -> str:
    """sha256 over the rendered prompts of a task's samples, in doc order."""
    digest = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s["doc_id"]):
        for argument in s.get("arguments") or []:
            digest.update(hashlib.sha256(str(argument[0]).encode()).digest())
    return digest.hexdigest()


__all__ = ["QianTask", "dataset", "prompt_digest", "STRATEGIES"]
