"""`ed_empathy_train`: the ED generation task on the training split, for candidate responses."""

from __future__ import annotations

from harness.data import ed
from harness.lmeval import taskdir


def test_ed_empathy_train_serves_training_dialogues_in_file_order(mirror):
    tasks = taskdir.task_manager(["ed_empathy_train"]).load(["ed_empathy_train", "ed_empathy"])["tasks"]
    task, same = tasks["ed_empathy_train"], tasks["ed_empathy"]
    docs = list(task.test_docs())
    train = ed.load_examples("train")
    assert len(docs) == len(train) and [d["id"] for d in docs[:5]] == [e.id for e in train[:5]]
    assert docs[0]["context"] == list(train[0].context) and docs[0]["reference"] == train[0].reference
    assert task.config.description == same.config.description  # EmPO's baseline system prompt, as ed_empathy
    assert task.config.generation_kwargs == same.config.generation_kwargs
