"""Training on a tiny backbone: the loop learns, saved weights reload to the same
predictions, a missing instrument says how to train it, and the CLI works end to end."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import torch

from harness.cli import main
from harness.embedded import resolve_model
from harness.epitome import store
from harness.epitome.data import Pair
from harness.epitome.prediction import evaluate_instrument, load_instrument
from harness.epitome.recipes import recipe_for
from harness.epitome.training import train_classifier, train_instrument

FILLER = ("dog died week old new job what will doing brother broke mug talk exam tomorrow studied hard "
          "friendly flow").split()
KEYWORD = {0: "annoying", 1: "sad", 2: "sorry"}


def make_pairs(n: int, seed: int) -> list[Pair]:
    """Pairs whose level (i % 3, so balanced) shows in one keyword among random filler
    words: learnable, but only by training (a constant guess gets 1/3)."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        level = i % 3
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 7))]
        words.insert(rng.randint(0, len(words)), KEYWORD[level])
        seeker = " ".join(rng.choice(FILLER) for _ in range(rng.randint(4, 9)))
        pairs.append(Pair(i + 2, seeker, " ".join(words), level, (KEYWORD[level],) if level else ()))
    return pairs


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def overfit():
    pairs = make_pairs(24, seed=3)
    recipe = recipe_for("tiny-bert")
    result = train_classifier(resolve_model("tiny-bert"), recipe, {"train": pairs, "validation": pairs, "test": pairs},
                              progress=False)
    return pairs, result


@pytest.mark.slow
def test_training_fits_a_small_set(overfit):
    _, result = overfit
    assert result.test["accuracy"] >= 0.95  # the 24 pairs it was trained on (a constant guess: 1/3)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] / 3


@pytest.mark.slow
def test_save_load_round_trip_predicts_the_same(overfit, tmp_path):
    import copy

    from harness.epitome import features
    from harness.epitome.training import predict_encoded

    pairs, result = overfit
    result = copy.copy(result)
    result.model = copy.deepcopy(result.model)
    result.model.level_offsets.copy_(torch.tensor([0.0, 0.7, -0.4]))  # saved with the weights
    folder = store.save_classifier(result.model, result.tokenizer, _manifest(result), tmp_path / "ER")
    model, tokenizer, manifest = store.load_classifier(folder)
    enc = features.encode_pairs(tokenizer, pairs, 64)
    pad = tokenizer.pad_token_id
    assert model.level_offsets.tolist() == result.model.level_offsets.tolist()
    assert predict_encoded(model, enc, pad) == predict_encoded(result.model, enc, pad)
    ids, mask = features.pad(enc.seeker_ids, pad)
    rids, rmask = features.pad(enc.response_ids, pad)
    result.model.eval()
    with torch.no_grad():
        assert torch.equal(model(ids, mask, rids, rmask).level_logits, result.model(ids, mask, rids, rmask).level_logits)
    assert manifest["weights_sha256"] == store.read_manifest(folder)["weights_sha256"]


def _manifest(result):
    return {"format": store.FORMAT, "mechanism": "ER", "backbone": {"name": "tiny-bert"},
            "recipe": recipe_for("tiny-bert").to_json(), "test": result.test}


def test_changed_weights_are_refused(overfit, tmp_path):
    _, result = overfit
    folder = store.save_classifier(result.model, result.tokenizer, _manifest(result), tmp_path / "ER")
    with open(folder / store.WEIGHTS, "r+b") as fh:
        fh.seek(-4, 2)
        fh.write(b"\0\0\0\1")
    with pytest.raises(Exception, match="differs from the manifest"):
        store.load_classifier(folder)


def test_missing_instrument_says_how_to_train(tmp_path):
    with pytest.raises(store.InstrumentMissing) as info:
        load_instrument("tiny-bert", tmp_path / "none", announce=False)
    message = str(info.value)
    assert "ER, IP, EX" in message
    assert f"empathy-harness epitome train --backbone tiny-bert --output {tmp_path / 'none'}" in message
    assert "--train-epitome" in message and "Nothing else is used in its place" in message


def test_offline_default_is_minilm_and_says_why(monkeypatch):
    monkeypatch.delenv("EMPATHY_HARNESS_EPITOME_BACKBONE", raising=False)
    choice = store.choose_backbone()
    assert choice.name == "all-minilm-l6-v2" and "offline" in choice.reason
    assert store.choose_backbone("tiny-bert").name == "tiny-bert"


def write_mechanism_csvs(folder, n=30):
    paths = {}
    for k, m in enumerate(("ER", "IP", "EX")):
        path = folder / f"{m}.csv"
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["sp_id", "rp_id", "seeker_post", "response_post", "level", "rationales"])
            for p in make_pairs(n, seed=10 + k):
                w.writerow(["s", "r", p.seeker, p.response, p.level, "|".join(p.rationales)])
        paths[m] = str(path)
    return paths


FEW_EPOCHS = recipe_for("tiny-bert").updated(epochs=3)  # what is tested here needs no accuracy


@pytest.fixture(scope="module")
def tiny_instrument(tmp_path_factory):
    folder = tmp_path_factory.mktemp("epitome")
    paths = write_mechanism_csvs(folder)
    out = folder / "instrument"
    manifests = train_instrument("tiny-bert", out, recipe=FEW_EPOCHS, progress=False, data_paths=paths,
                                 log=lambda _: None)
    return out, paths, manifests


@pytest.mark.slow
def test_instrument_manifest_records_what_made_it(tiny_instrument):
    out, paths, manifests = tiny_instrument
    man = store.read_manifest(out / "IP")
    assert man["backbone"]["name"] == "tiny-bert" and len(man["backbone"]["sha256"]) == 64
    assert man["data"]["path"] == paths["IP"] and len(man["data"]["sha256"]) == 64
    assert man["split"]["seed"] == 12 and man["split"]["sizes"] == {"train": 21, "validation": 3, "test": 6}
    assert man["recipe"] == FEW_EPOCHS.to_json()
    assert set(man["test"]) >= {"accuracy", "macro_f1", "confusion_matrix", "interval"}
    assert man["test"]["interval"]["macro_f1"][0] <= man["test"]["macro_f1"] <= man["test"]["interval"]["macro_f1"][1]
    assert man["versions"]["torch"] and man["versions"]["transformers"]
    assert sorted(p.name for p in (out / "IP").iterdir()) >= ["config.json", "manifest.json", "model.safetensors"]


@pytest.mark.slow
def test_instrument_levels_and_evaluation(tiny_instrument):
    out, paths, manifests = tiny_instrument
    inst = load_instrument(directory=out, announce=False)
    assert inst.backbone == "tiny-bert"
    # frozen seeker encoders are shared: one seeker pass for the three mechanisms
    assert inst._groups(("ER", "IP", "EX")) == [["ER", "IP", "EX"]]
    levels = inst.levels(["i am sad", "i am sad"], ["so sorry", ""])
    assert set(levels) == {"ER", "IP", "EX"} and all(len(v) == 2 and set(v) <= {0, 1, 2} for v in levels.values())
    # one pair alone or inside a batch: same level
    assert inst.levels(["i am sad"], ["so sorry"])["IP"] == [levels["IP"][0]]
    results = evaluate_instrument(inst, paths)
    for m in ("ER", "IP", "EX"):
        assert results[m]["accuracy"] == pytest.approx(manifests[m]["test"]["accuracy"])
        assert results[m]["n"] == 6
    desc = inst.describe()
    assert desc["backbone"] == "tiny-bert" and set(desc["weights_sha256"]) == {"ER", "IP", "EX"}


@pytest.mark.slow
def test_default_instrument_from_another_recipe_is_named(tiny_instrument, monkeypatch, capsys):
    out, _, _ = tiny_instrument  # trained for 3 epochs; tiny-bert's recipe says 80
    monkeypatch.setattr(store, "default_dir", lambda backbone: out)
    load_instrument("tiny-bert", announce=False)
    err = capsys.readouterr().err
    assert f"the EPITOME instrument in {out} was trained with another recipe" in err
    assert "epochs 3 (now 80)" in err and "empathy-harness epitome train --backbone tiny-bert" in err
    load_instrument(directory=out, announce=False)  # a folder the user names is used as it is
    assert "another recipe" not in capsys.readouterr().err


@pytest.mark.slow
def test_frozen_lower_layers_are_found_and_shared(tmp_path):
    """Trained as the MiniLM recipe trains (embeddings and lower layers frozen), saved and
    loaded: the classifiers share their frozen layer, found from the loaded weights, and
    the shared path gives every classifier's own levels."""
    from harness.epitome import features
    from harness.epitome.training import SeekerStates, predict_encoded

    paths = write_mechanism_csvs(tmp_path, n=18)
    recipe = FEW_EPOCHS.updated(epochs=2, freeze_embeddings=True, train_top_layers=1)  # tiny-bert: 2 layers
    train_instrument("tiny-bert", tmp_path / "instrument", recipe=recipe, progress=False, data_paths=paths,
                     log=lambda _: None)
    inst = load_instrument(directory=tmp_path / "instrument", announce=False)
    assert inst._trunks(("ER", "IP", "EX")) == [(["ER", "IP", "EX"], 1)]
    pairs = make_pairs(20, seed=8)
    seekers, responses = [p.seeker for p in pairs], [p.response for p in pairs]
    levels = inst.levels(seekers + seekers, responses + responses[::-1], batch_size=8)
    for m, clf in inst.classifiers.items():
        data = features.Encoded(features.encode_texts(clf.tokenizer, seekers + seekers, clf.max_length),
                                features.encode_texts(clf.tokenizer, responses + responses[::-1], clf.max_length))
        states = SeekerStates(m)
        states.fill(clf.model, data.seeker_ids, clf.pad_id, batch_size=8)
        assert levels[m] == predict_encoded(clf.model, data, clf.pad_id, states, batch_size=8), m


@pytest.mark.slow
def test_cli_evaluate_and_predict(tiny_instrument, tmp_path, capsys):
    out, paths, _ = tiny_instrument
    report = tmp_path / "eval.json"
    data = [arg for m, path in paths.items() for arg in ("--data", m, path)]
    assert main(["epitome", "evaluate", "--instrument", str(out), "--json", str(report), *data]) == 0
    scores = json.loads(report.read_text())
    assert set(scores) == {"ER", "IP", "EX"}
    assert all(0 <= scores[m]["accuracy"] <= 1 and 0 <= scores[m]["macro_f1"] <= 1 for m in scores)
    assert all(len(scores[m]["interval"]["accuracy"]) == 2 for m in scores)
    printed = capsys.readouterr().out
    assert "confusion matrices" in printed and "95% interval, half-sampling" in printed

    gens = tmp_path / "gens.jsonl"
    gens.write_text(
        json.dumps({"id": "a", "context": ["i lost my job", "oh no", "i am sad"], "response": "so sorry",
                    "reference": "that is terrible"}) + "\n"
        + json.dumps({"id": "b", "context": ["my exam is tomorrow"], "response": "", "reference": "good luck"}) + "\n"
    )
    predicted = tmp_path / "levels.jsonl"
    assert main(["epitome", "predict", str(gens), "--instrument", str(out), "--output", str(predicted)]) == 0
    rows = [json.loads(line) for line in predicted.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert set(rows[0]) == {"id", "level_er", "level_ip", "level_ex", "ref_level_er", "ref_level_ip", "ref_level_ex"}
    inst = load_instrument(directory=out, announce=False)
    assert rows[0]["level_ip"] == inst.levels(["i am sad"], ["so sorry"])["IP"][0]


def test_cli_predict_bad_line_and_missing_instrument(tmp_path, capsys):
    gens = tmp_path / "gens.jsonl"
    gens.write_text(json.dumps({"id": "a", "context": ["x"], "response": "y", "reference": "z"}) + "\n{oops\n")
    assert main(["epitome", "predict", str(gens), "--instrument", str(tmp_path / "none")]) == 2
    assert f"{gens}, line 2: invalid JSON" in capsys.readouterr().err
    gens.write_text(json.dumps({"id": "a", "context": "x", "response": "y", "reference": "z"}) + "\n")
    assert main(["epitome", "predict", str(gens)]) == 2
    assert "line 1: context must be a list of strings" in capsys.readouterr().err
    gens.write_text(json.dumps({"id": "a", "context": ["x"], "response": "y", "reference": "z"}) + "\n")
    assert main(["epitome", "predict", str(gens), "--backbone", "tiny-bert", "--instrument", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no trained EPITOME classifier" in err and "empathy-harness epitome train --backbone tiny-bert" in err


@pytest.mark.slow
def test_level_offsets_fitted_on_validation_never_lower_its_macro_f1():
    pairs = make_pairs(18, seed=5)
    recipe = recipe_for("tiny-bert").updated(epochs=3, level_offsets="macro_f1")
    result = train_classifier(resolve_model("tiny-bert"), recipe,
                              {"train": pairs[:12], "validation": pairs[12:], "test": pairs[12:]}, progress=False)
    assert result.validation_before_offsets is not None
    assert result.validation["macro_f1"] >= result.validation_before_offsets["macro_f1"]
    assert result.model.level_offsets[0].item() == 0.0


@pytest.mark.slow
def test_prior_offsets_are_fitted_on_validation_logits_and_training_levels(monkeypatch):
    from harness.epitome import training

    calls = []

    def fitter(logits, train_levels):  # the fitter itself is worked out by hand in test_epitome_offsets
        calls.append((tuple(logits.shape), list(train_levels)))
        return [0.0, 0.3, -0.2]

    monkeypatch.setattr(training, "fit_prior_offsets", fitter)
    pairs = make_pairs(18, seed=5)
    parts = {"train": pairs[:12], "validation": pairs[12:], "test": pairs[12:]}
    recipe = recipe_for("tiny-bert").updated(epochs=1, level_offsets="prior")
    result = train_classifier(resolve_model("tiny-bert"), recipe, parts, progress=False)
    assert calls == [((6, 3), [p.level for p in parts["train"]])]
    assert result.model.level_offsets.tolist() == pytest.approx([0.0, 0.3, -0.2])
    assert result.validation_before_offsets is not None


@pytest.mark.slow
def test_on_epoch_sees_each_epoch_and_the_kept_one_is_what_training_returns():
    from transformers import AutoTokenizer

    from harness.epitome import features
    from harness.epitome.training import predict_logits

    pairs = make_pairs(18, seed=5)
    parts = {"train": pairs[:12], "validation": pairs[12:], "test": pairs[12:]}
    recipe = recipe_for("tiny-bert").updated(epochs=4)
    path = resolve_model("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(path)
    validation = features.encode_pairs(tokenizer, parts["validation"], recipe.max_length)
    seen = []

    def keep(record, model):
        seen.append((record["epoch"], predict_logits(model, validation, tokenizer.pad_token_id)))

    result = train_classifier(path, recipe, parts, progress=False, on_epoch=keep)
    assert [epoch for epoch, _ in seen] == [1, 2, 3, 4]
    assert torch.equal(seen[result.best_epoch - 1][1], predict_logits(result.model, validation, tokenizer.pad_token_id))
    assert not all(torch.equal(seen[0][1], logits) for _, logits in seen[1:])  # the epochs differ


def test_too_few_rows_for_the_split_stop_before_training(tmp_path, capsys):
    paths = write_mechanism_csvs(tmp_path, n=3)
    code = main(["epitome", "train", "--backbone", "tiny-bert", "--mechanisms", "IP", "--data", "IP", paths["IP"],
                 "--output", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert paths["IP"] in err and "3 rows" in err and "give it more rows" in err
    assert not (tmp_path / "out" / "IP").exists()


@pytest.mark.slow
def test_cli_recipe_overrides_reach_the_manifest(tmp_path, capsys):
    paths = write_mechanism_csvs(tmp_path)
    out = tmp_path / "out"
    assert main(["epitome", "train", "--backbone", "tiny-bert", "--mechanisms", "IP", "--data", "IP", paths["IP"],
                 "--epochs", "1", "--level-offsets", "macro_f1", "--seed", "3", "--max-length", "24",
                 "--output", str(out), "--no-progress"]) == 0
    man = store.read_manifest(out / "IP")
    recipe = man["recipe"]
    assert (recipe["epochs"], recipe["level_offsets"], recipe["seed"], recipe["max_length"]) == (1, "macro_f1", 3, 24)
    assert "validation_before_offsets" in man
    assert '"level_offsets": "macro_f1"' in capsys.readouterr().out


def test_cli_max_length_beyond_the_backbone_is_a_clear_error(tmp_path, capsys):
    paths = write_mechanism_csvs(tmp_path)
    code = main(["epitome", "train", "--backbone", "tiny-bert", "--mechanisms", "IP", "--data", "IP", paths["IP"],
                 "--max-length", "4096", "--output", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "max_length 4096" in err and "1 to 128 tokens" in err


RECORDED_TINY_INSTRUMENT = Path(__file__).with_name("tiny_instrument_sha256.json")


@pytest.mark.slow
def test_tiny_instrument_reproduces_bit_for_bit_in_the_locked_environment(tiny_instrument):
    """The lock (constraints/lock-cpu.txt) fixes every package, so training is bit-identical on any machine."""
    out, _, manifests = tiny_instrument
    recorded = json.loads(RECORDED_TINY_INSTRUMENT.read_text())
    got = {m: store.read_manifest(out / m)["weights_sha256"] for m in ("ER", "IP", "EX")}
    versions = store.read_manifest(out / "IP")["versions"]
    differing = {k: (v, versions.get(k)) for k, v in recorded["versions"].items() if versions.get(k) != v}
    assert got == recorded["weights_sha256"], (
        f"the tiny instrument's weights differ from {RECORDED_TINY_INSTRUMENT.name}; packages that differ from "
        f"the recorded ones (recorded, installed): {differing or 'none'}; install the lock (make venv)"
    )
