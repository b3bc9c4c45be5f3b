"""Qian et al.'s strategies: each rendered prompt on a fixed dialogue against a prompt
written out by hand, and the exemplar draws (seeded, per dialogue, never from test)."""

from __future__ import annotations

import random

import pytest

from harness.errors import HarnessError
from tests.conftest import ed_row

# Table 7 of the paper, copied by hand (not from harness.prompting.template).
T = ("This is an empathetic dialogue task: The first worker (Speaker) is given an emotion label and writes his own "
     "description of a situation when he has felt that way. Then, Speaker tells his story in a conversation with a "
     "second worker (Listener). The emotion label and situation of Speaker are invisible to Listener. Listener should "
     "recognize and acknowledge others' feelings in a conversation as much as possible.")
G = ("Now you play the role of Listener, please give the corresponding response according to the existing context.\n"
     "You only need to provide the next round of response of Listener.")
S1 = ("Don't rush to reply yet, let's think step by step. Based on the existing dialogue, what may be the user's "
      "emotion, and according to his description, what may be the situation when he feels this way?")
S2 = "Now combine your thoughts with the existing dialogue context and give your response."
CONTEXT = "The following is the existing dialogue context:\nSpeaker: I lost my keys.\nListener: Oh no!\nSpeaker: They were my dad's."

TRAIN = [  # conv, turns, emotion
    ("hit:1_conv:1", ["I won the race.", "Congratulations!"], "proud"),
    ("hit:2_conv:2", ["My dog died.", "I am so sorry.", "Thank you."], "sad"),
    ("hit:3_conv:3", ["The exam is tomorrow.", "Good luck!"], "anxious"),
]


@pytest.fixture
def release(make_release):
    rows = [ed_row(c, i + 1, t, emotion=e) for c, turns, e in TRAIN for i, t in enumerate(turns)]
    test = [ed_row("hit:9_conv:9", 1, "I lost my keys.", "apprehensive", "I lost my keys"),
            ed_row("hit:9_conv:9", 2, "Oh no!", "apprehensive", "I lost my keys"),
            ed_row("hit:9_conv:9", 3, "They were my dad's.", "apprehensive", "I lost my keys"),
            ed_row("hit:9_conv:9", 4, "That is awful.", "apprehensive", "I lost my keys")]
    return make_release({"train": rows, "valid": rows[:2], "test": test})


def load(name: str, release, seed: int = 1234, **metadata):
    from harness.lmeval import taskdir

    manager = taskdir.task_manager([name], metadata={"source": str(release), **metadata})
    task = manager.load([name])["tasks"][name]
    task.set_fewshot_seed(seed)
    return task


def prompt(task, k: int | None = None) -> str:
    doc = task.test_docs()[0]
    return task.fewshot_context(doc, task.config.num_fewshot if k is None else k)


def test_zero_shot(release):
    assert prompt(load("ed_qian_0shot", release)) == f"{T}\n\n{G}\n\n{CONTEXT}\nListener:"


def test_zero_shot_with_a_chat_template(release):
    task = load("ed_qian_0shot", release)
    seen = []
    rendered = task.fewshot_context(task.test_docs()[0], 0, apply_chat_template=True,
                                    chat_template=lambda messages, add_generation_prompt: seen.append(messages) or "X")
    assert rendered == "X" and seen == [[{"role": "user", "content": f"{T}\n\n{G}\n\n{CONTEXT}"}]]
    task.fewshot_context(task.test_docs()[0], 0, system_instruction="Be kind.", apply_chat_template=True,
                         chat_template=lambda messages, add_generation_prompt: seen.append(messages) or "X")
    assert seen[-1][0] == {"role": "system", "content": "Be kind."}


def test_one_shot_and_five_shot(release):
    one = load("ed_qian_1shot", release)
    drawn = random.Random("1234/hit:9_conv:9").sample(range(3), 1)[0]  # the documented rule
    dialogue = {0: "Speaker: I won the race.\nListener: Congratulations!",
                1: "Speaker: My dog died.\nListener: I am so sorry.\nSpeaker: Thank you.",
                2: "Speaker: The exam is tomorrow.\nListener: Good luck!"}
    assert prompt(one) == f"{T}\n\n{G}\n\nInstance 1:\n{dialogue[drawn]}\n\n{CONTEXT}\nListener:"
    order = random.Random("1234/hit:9_conv:9").sample(range(3), 3)
    expected = f"{T}\n\n{G}\n\n" + "".join(f"Instance {i}:\n{dialogue[p]}\n\n" for i, p in enumerate(order, 1))
    assert prompt(load("ed_qian_5shot", release), k=3) == expected + f"{CONTEXT}\nListener:"


def test_more_exemplars_than_training_dialogues(release):
    with pytest.raises(HarnessError, match="5 exemplars asked for .* has 3 dialogues"):
        prompt(load("ed_qian_5shot", release))


def test_two_stage_prompts(release, tmp_path, mirror):  # the task build loads the NRC lexicon
    stage1 = load("ed_qian_twostage_stage1", release)
    assert prompt(stage1) == f"{T}\n\n{G}\n\n{CONTEXT}\n\n{S1}\n"
    gold_e = load("ed_qian_twostage_gold_emotion", release)
    assert prompt(gold_e) == (f"{T}\n\n{G}\n\n{CONTEXT}\n\n{S1}\n\nThe user's emotion may be: apprehensive.\n\n"
                              f"{S2}\nListener:")
    gold_s = load("ed_qian_twostage_gold_situation", release)
    assert prompt(gold_s) == (f"{T}\n\n{G}\n\n{CONTEXT}\n\n{S1}\n\nThe situation when he feels this way may be: "
                              f"I lost my keys\n\n{S2}\nListener:")
    (tmp_path / "s1.jsonl").write_text('{"id": "hit:9_conv:9", "texts": [" He is worried about his keys. "]}\n')
    two = load("ed_qian_twostage", release, stages={"ed_qian_twostage_stage1": str(tmp_path / "s1.jsonl")})
    seen = []
    two.fewshot_context(two.test_docs()[0], 0, apply_chat_template=True,
                        chat_template=lambda messages, add_generation_prompt: seen.append(messages) or "X")
    assert seen == [[{"role": "user", "content": f"{T}\n\n{G}\n\n{CONTEXT}\n\n{S1}"},
                     {"role": "assistant", "content": "He is worried about his keys."},
                     {"role": "user", "content": S2}]]
    # emotion accuracy of the first stage rides along with the response's metrics
    assert two.document_results(two.test_docs()[0], ["Sorry!"])["emotion_acc"] == 0  # worried -> anxious


def test_two_stage_without_its_first_stage(release):
    with pytest.raises(HarnessError, match="needs the texts of its first stage ed_qian_twostage_stage1"):
        load("ed_qian_twostage", release)


def test_knowledge_prompts(release, tmp_path):
    from harness.prompting import knowledge

    block = ("The following is the commonsense knowledge about Speaker in this dialogue:\n"
             "xIntent: i1\nxNeed: n1\nxWant: w1\nxEffect: e1\nxReact: r1")

    class Fake:
        name = "fake"

        def relations(self, contexts):
            return [dict(zip(knowledge.RELATIONS, ["i1", "n1", "w1", "e1", "r1"])) for _ in contexts]

    knowledge.register("fake", lambda **_: Fake())
    try:
        task = load("ed_qian_knowledge", release, knowledge_provider="fake", comet_model="")
        assert prompt(task) == f"{T}\n\n{G}\n\n{CONTEXT}\n\n{block}\nListener:"
    finally:
        del knowledge.PROVIDERS["fake"]
    (tmp_path / "k.jsonl").write_text('{"id": "hit:9_conv:9", "texts": ["i1\\nmore", " n1", "w1", "e1", "r1"]}\n')
    selfgen = load("ed_qian_knowledge_selfgen", release,
                   stages={"ed_qian_knowledge_selfgen_stage1": str(tmp_path / "k.jsonl")})
    assert prompt(selfgen) == f"{T}\n\n{G}\n\n{CONTEXT}\n\n{block}\nListener:"
    assert selfgen.config.metadata["knowledge_label"] == "model-generated commonsense"
    stage = load("ed_qian_knowledge_selfgen_stage1", release)
    assert prompt(stage) == ("Read the dialogue, then complete the sentence about Speaker with a short phrase.\n\n"
                             "Speaker: I lost my keys.\nListener: Oh no!\nSpeaker: They were my dad's.\n\n"
                             "Sentence: Because of this, Speaker wanted ___\n")
    requests = stage.construct_requests(stage.test_docs()[0], prompt(stage), metadata=("t", 0, 1))
    assert [r.arguments[0].rsplit("Sentence: ", 1)[1] for r in requests] == [
        "Because of this, Speaker wanted ___\n", "Before this, Speaker needed ___\n", "As a result, Speaker wants ___\n",
        "As a result, Speaker ___\n", "As a result, Speaker feels ___\n"]


def test_comet_offline_is_one_line(release, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    task = load("ed_qian_knowledge", release)
    with pytest.raises(HarnessError, match="comet-bart needs the COMET-BART checkpoint .* ed_qian_knowledge_selfgen"):
        prompt(task)


def test_unknown_strategy(release, tmp_path):
    with pytest.raises(HarnessError, match="unknown prompting strategy 'nope'"):
        load("ed_qian_0shot", release, strategy="nope")


# --- exemplar draws ---------------------------------------------------------------------------


def test_draws_are_reproducible_per_seed_and_dialogue():
    from harness.prompting.exemplars import random_draw

    a = random_draw(1000, 5, 7, "hit:1_conv:2")
    assert a == random_draw(1000, 5, 7, "hit:1_conv:2") and len(set(a)) == 5
    assert a != random_draw(1000, 5, 8, "hit:1_conv:2") and a != random_draw(1000, 5, 7, "hit:1_conv:3")


@pytest.mark.mirror
def test_exemplars_come_from_training_dialogues_only(mirror):
    from harness.data import ed
    from harness.lmeval import taskdir

    train = {d.conv_id: tuple(t.text for t in d.turns) for d in ed.load_split("train")[0]}
    test_ids = {d.conv_id for d in ed.load_split("test")[0]}
    by_turns = {turns: conv for conv, turns in train.items()}
    task = taskdir.task_manager(["ed_qian_5shot"]).load(["ed_qian_5shot"])["tasks"]["ed_qian_5shot"]
    task.set_fewshot_seed(3)
    docs = list(task.test_docs())[:40]
    first = [task.exemplars(doc, 5) for doc in docs]
    assert [task.exemplars(doc, 5) for doc in reversed(docs)] == first[::-1]  # order of evaluation is irrelevant
    for shown in first:
        ids = [by_turns[turns] for turns in shown]
        assert len(set(ids)) == 5 and not set(ids) & test_ids
    task.set_fewshot_seed(4)
    assert [task.exemplars(doc, 5) for doc in docs] != first
