"""Which backbone an instrument uses, and where it lives: chosen explicitly, never silently."""

from __future__ import annotations

import pytest

from harness.epitome import store


@pytest.fixture
def online(monkeypatch):
    for name in ("EMPATHY_HARNESS_OFFLINE", "HF_HUB_OFFLINE", "EMPATHY_HARNESS_EPITOME_BACKBONE"):
        monkeypatch.delenv(name, raising=False)
    probe = store.hub_problem
    probe.cache_clear()
    yield monkeypatch
    probe.cache_clear()


def test_roberta_base_where_the_hub_answers(online):
    online.setattr(store, "hub_problem", lambda model: None)
    choice = store.choose_backbone()
    assert choice.name == "roberta-base" and "hub can be reached" in choice.reason


def test_minilm_when_the_hub_cannot_be_reached_and_why(online, capsys):
    from harness import config
    from harness.metrics import bertscore

    online.setattr(config, "_told_offline", [])
    online.setattr(store, "hub_problem", lambda model: "ConnectionError: no route")
    choice = store.choose_backbone()
    assert choice.name == "all-minilm-l6-v2"
    assert choice.describe() == ("EPITOME instrument backbone: all-minilm-l6-v2 "
                                 "(offline mode: the model hub cannot be reached)")
    assert bertscore.choose_model() == ("all-minilm-l6-v2", "offline mode: the model hub cannot be reached")
    # one informational line for the process, saying what was chosen and why, not the error per choice
    told = capsys.readouterr().err.splitlines()
    assert told == ["offline mode: the model hub cannot be reached from here (ConnectionError: no route), so the "
                    "packaged offline models are used; set EMPATHY_HARNESS_OFFLINE=1 to choose offline mode without "
                    "trying the hub"]


def test_explicit_and_environment_choices_win(online):
    online.setattr(store, "hub_problem", lambda model: pytest.fail("no hub look-up when the choice is given"))
    assert store.choose_backbone("tiny-bert") == store.BackboneChoice("tiny-bert", "requested")
    online.setenv("EMPATHY_HARNESS_EPITOME_BACKBONE", "all-minilm-l6-v2")
    assert store.choose_backbone().name == "all-minilm-l6-v2"
    online.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    online.delenv("EMPATHY_HARNESS_EPITOME_BACKBONE")
    assert store.choose_backbone().reason.startswith("offline")


def test_backbone_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path))
    assert store.default_dir("roberta-base") == tmp_path / "epitome" / "roberta-base"
    assert store.backbone_slug("org/model") == "org--model"
    local = tmp_path / "my encoder"
    local.mkdir()
    slug = store.backbone_slug(str(local))
    assert slug.startswith("my-encoder-") and len(slug) == len("my-encoder-") + 8
    assert store.missing_mechanisms(tmp_path / "nothing") == ["ER", "IP", "EX"]


def test_recipe_drift_names_each_setting_that_changed():
    from harness.epitome.recipes import recipe_for

    current = recipe_for("all-minilm-l6-v2").to_json()
    manifest = {"backbone": {"name": "all-minilm-l6-v2"}, "recipe": {**current, "max_length": 64}}
    assert store.recipe_drift(manifest) == {"max_length": (64, current["max_length"])}
    assert store.recipe_drift({**manifest, "recipe": current}) == {}
    # a backbone without a recipe of its own is held to the reference recipe
    reference = recipe_for("roberta-base").to_json()
    assert store.recipe_drift({"backbone": {"name": "/models/my-bert"}, "recipe": {**reference, "lr": 3e-5}}) == \
        {"lr": (3e-5, reference["lr"])}
    # a classifier trained before a setting existed was trained as the setting's default does
    # (level_offsets stands in for a setting added later; its default is "none")
    older = {k: v for k, v in reference.items() if k != "level_offsets"}
    assert store.recipe_drift({"backbone": {"name": "/models/my-bert"}, "recipe": older}) == {}
    assert store.recipe_drift({"backbone": {"name": "all-minilm-l6-v2"}, "recipe": older})["level_offsets"] == \
        ("none", current["level_offsets"])
