"""SS-ICL: cosine neighbours on hand-computed toy cases, the cached index and its checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.prompting import ssicl

VOCAB = ("dog", "cat", "exam", "rain")


def bag_of_words(texts):
    """A toy encoder: counts of four words (not normalised: cosine must be computed)."""
    return np.array([[t.lower().split().count(w) for w in VOCAB] for t in texts], dtype=np.float32)


def test_nearest_by_hand():
    train = np.array([[1, 0], [0, 1], [1, 1], [2, 2], [-1, 0]], dtype=np.float32)
    # query (1, 0.1): cosines 0.995, 0.0995, 0.774, 0.774, -0.995 -> 0, then the tie 2 < 3, then 1
    query = np.array([[1, 0.1]], dtype=np.float32)
    assert ssicl.nearest(train, query, 3).tolist() == [[0, 2, 3]]
    assert ssicl.nearest(train, query, 5).tolist() == [[0, 2, 3, 1, 4]]
    assert ssicl.nearest(train, np.array([[0, 1]], dtype=np.float32), 1).tolist() == [[1]]
    assert ssicl.nearest(train, query, 0).shape == (1, 0)


def test_toy_corpus_neighbours(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    ids = ["a", "b", "c", "d"]
    contexts = [["my dog", "dog again"], ["the cat"], ["exam tomorrow", "rain"], ["dog and cat"]]
    # context texts: "my dog dog again" (2,0,0,0), "the cat" (0,1,0,0), "exam tomorrow rain" (0,0,1,1),
    # "dog and cat" (1,1,0,0)
    index = ssicl.load_or_build("toy-bow", "train", ids, contexts, "f" * 64, encode=bag_of_words)
    queries = bag_of_words(["dog", "cat cat", "rain exam dog"])
    # "dog": a (1.0), d (0.707); "cat cat": b (1.0), d (0.707);
    # "rain exam dog" (1,0,1,1): c 2/(sqrt3*sqrt2)=0.816, a 1/sqrt3=0.577, d 1/(sqrt3*sqrt2)=0.408
    assert ssicl.nearest(index.embeddings, queries, 2).tolist() == [[0, 3], [1, 3], [2, 0]]


def test_index_is_cached_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    calls = []

    def encode(texts):
        calls.append(len(texts))
        return bag_of_words(texts)

    ids, contexts = ["a", "b"], [["dog"], ["cat"]]
    first = ssicl.load_or_build("toy-bow", "train", ids, contexts, "e" * 64, encode=encode)
    again = ssicl.load_or_build("toy-bow", "train", ids, contexts, "e" * 64, encode=encode)
    assert calls == [2] and np.array_equal(first.embeddings, again.embeddings)
    npy, record = ssicl.index_paths("toy-bow", "train", "e" * 64)
    assert json.loads(record.read_text())["embeddings_sha256"] == first.record["embeddings_sha256"]
    with pytest.raises(HarnessError, match="built for other dialogues .* delete it"):
        ssicl.load_or_build("toy-bow", "train", ["a", "z"], contexts, "e" * 64, encode=encode)
    np.save(npy, np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(HarnessError, match="does not match its checksum; delete it"):
        ssicl.load_or_build("toy-bow", "train", ids, contexts, "e" * 64, encode=encode)
    record.unlink()
    with pytest.raises(HarnessError, match="incomplete"):
        ssicl.load_or_build("toy-bow", "train", ids, contexts, "e" * 64, encode=encode)


def test_encoder_choice(monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    choice = ssicl.choose_encoder("auto")
    assert choice.name == "all-minilm-l6-v2" and "offline" in choice.reason
    assert ssicl.choose_encoder("x/y").reason == "requested"
    monkeypatch.delenv("EMPATHY_HARNESS_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr("harness.epitome.store.hub_problem", lambda model: "ConnectError: no route")
    assert ssicl.choose_encoder("auto").reason == "the model hub cannot be reached: ConnectError: no route"
    monkeypatch.setattr("harness.epitome.store.hub_problem", lambda model: None)
    assert ssicl.choose_encoder("auto").name == "sentence-transformers/all-mpnet-base-v2"


def test_missing_encoder_is_one_line(monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    with pytest.raises(HarnessError, match="'sentence-transformers/all-mpnet-base-v2' is not available offline"):
        ssicl.sentence_encoder("sentence-transformers/all-mpnet-base-v2")


def test_ssicl_task_uses_the_nearest_training_dialogues(make_release, tmp_path, monkeypatch):
    from harness.lmeval import taskdir
    from tests.conftest import ed_row

    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(ssicl.ENCODERS, "toy-bow", lambda: bag_of_words)
    train = [("hit:1_conv:1", ["my cat", "nice"]), ("hit:2_conv:2", ["rain rain", "wet"]),
             ("hit:3_conv:3", ["dog dog", "cute"]), ("hit:4_conv:4", ["exam", "luck"])]
    rows = [ed_row(c, i + 1, t) for c, turns in train for i, t in enumerate(turns)]
    test = [ed_row("hit:9_conv:9", 1, "dog and rain"), ed_row("hit:9_conv:9", 2, "hm"),
            ed_row("hit:8_conv:8", 1, "a cat"), ed_row("hit:8_conv:8", 2, "ok")]
    release = make_release({"train": rows, "valid": rows[:2], "test": test})
    manager = taskdir.task_manager(["ed_qian_ssicl"], metadata={"source": str(release), "encoder": "toy-bow"})
    task = manager.load(["ed_qian_ssicl"])["tasks"]["ed_qian_ssicl"]
    docs = {d["id"]: d for d in task.test_docs()}
    # "dog and rain" (1,0,0,1): cosines with conv 2 (0,0,0,2) and conv 3 (2,0,0,0) tie at 0.707, then 0, 0
    assert task.exemplars(docs["hit:9_conv:9"], 2) == [("rain rain", "wet"), ("dog dog", "cute")]
    assert task.exemplars(docs["hit:8_conv:8"], 1) == [("my cat", "nice")]
    meta = task.config.metadata
    assert meta["ssicl_encoder"] == {"name": "toy-bow", "reason": "requested"}
    assert len(meta["ssicl_index"]["train_embeddings_sha256"]) == 64


def test_packaged_minilm_encoder():
    encode = ssicl.sentence_encoder("all-minilm-l6-v2")
    train = encode(["I failed my exam today.", "My dog died last week.", "I won the lottery!"])
    assert train.shape == (3, 384) and np.allclose(np.linalg.norm(train, axis=1), 1, atol=1e-5)
    assert ssicl.nearest(train, encode(["My puppy passed away."]), 1).tolist() == [[1]]
