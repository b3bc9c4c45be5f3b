"""Shared lower response layers (harness/epitome/trunk.py): how many layers classifiers
share is found from their weights, and the levels and logits of the shared path are those
of each classifier's own full pass."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, DistilBertConfig, RobertaConfig

from harness.embedded import resolve_model
from harness.epitome import features, trunk
from harness.epitome.model import EpitomeBiEncoder
from harness.epitome.prediction import Classifier, Instrument
from harness.epitome.training import SeekerStates, predict_logits

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MECHS = ("ER", "IP", "EX")
LAYERS = 4
MAX_LENGTH = 24
SEEKERS = ["my dog died last week", "i have an exam tomorrow and i studied hard but i am still afraid",
           "my brother broke my mug", "", "i got a new job"] * 2
RESPONSES = ["so sorry", "that is terrible , what will you do now ?", "", "good luck with the exam tomorrow",
             "oh no", "i am sorry to hear that your dog died , was he old ?", "congratulations",
             "that sounds hard " * 10, "what happened ?", "annoying"]
BATCH = 3  # several batches, each padded to its longest response


def instrument(share_layers: int = 2, *, share_embeddings: bool = True, same_seeker: bool = False,
               layers_shared_with_first: dict[str, int] | None = None) -> Instrument:
    """Three classifiers of random weights on tiny-bert's tokenizer and a 4-layer tiny-bert
    configuration, their response encoders made identical to ER's in the embeddings
    (unless not `share_embeddings`) and the first `share_layers` layers (or as many as
    `layers_shared_with_first` says per mechanism)."""
    path = resolve_model("tiny-bert")
    config = AutoConfig.from_pretrained(path, num_hidden_layers=LAYERS)
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(7)
    models = {m: EpitomeBiEncoder(config).eval() for m in MECHS}
    first = models["ER"]
    for m, model in models.items():
        if m == "ER":
            continue
        if share_embeddings:
            model.response_encoder.embeddings.load_state_dict(first.response_encoder.embeddings.state_dict())
        for i in range((layers_shared_with_first or {}).get(m, share_layers)):
            model.response_encoder.encoder.layer[i].load_state_dict(first.response_encoder.encoder.layer[i].state_dict())
        if same_seeker:
            model.seeker_encoder.load_state_dict(first.seeker_encoder.state_dict())
    manifest = {"recipe": {"max_length": MAX_LENGTH}}
    return Instrument(Path("unused"), "tiny-bert",
                      {m: Classifier(m, model, tokenizer, manifest, Path("unused")) for m, model in models.items()})


def per_mechanism_logits(inst: Instrument, seekers, responses, batch_size: int = BATCH) -> dict[str, torch.Tensor]:
    """Each classifier on its own full pass, batched as Instrument.levels batches."""
    out = {}
    for m, clf in inst.classifiers.items():
        data = features.Encoded(features.encode_texts(clf.tokenizer, seekers, MAX_LENGTH),
                                features.encode_texts(clf.tokenizer, responses, MAX_LENGTH))
        states = SeekerStates(m)
        states.fill(clf.model, features.encode_texts(clf.tokenizer, list(dict.fromkeys(seekers)), MAX_LENGTH),
                    clf.pad_id, batch_size=batch_size)
        out[m] = predict_logits(clf.model, data, clf.pad_id, states, batch_size=batch_size)
    return out


def shared_path_logits(inst: Instrument, seekers, responses, batch_size: int = BATCH) -> dict[str, torch.Tensor]:
    """The logits Instrument.levels takes its levels from (it keeps only the argmax)."""
    captured = {}
    original = trunk.shared_logits

    def spy(models, *args, **kwargs):
        logits = original(models, *args, **kwargs)
        by_model = {id(c.model): m for m, c in inst.classifiers.items()}
        captured.update({by_model[id(model)]: row for model, row in zip(models, logits)})
        return logits

    trunk.shared_logits = spy
    try:
        levels = inst.levels(seekers, responses, batch_size=batch_size)
    finally:
        trunk.shared_logits = original
    assert {m: captured[m].argmax(dim=-1).tolist() for m in captured} == {m: levels[m] for m in captured}
    return captured


def test_depth_is_found_from_the_weights():
    inst = instrument(share_layers=2)
    er, ip = (inst.classifiers[m].model.response_encoder for m in ("ER", "IP"))
    assert trunk.shared_depth(er, ip) == 2
    assert trunk.shared_depth(er, er) == LAYERS
    assert inst._trunks(MECHS) == [(["ER", "IP", "EX"], 2)]
    with torch.no_grad():  # one changed weight in layer 1 leaves one shared layer
        ip.encoder.layer[1].output.dense.weight[0, 0] += 1e-3
    assert trunk.shared_depth(er, ip) == 1


def test_embeddings_that_differ_share_nothing():
    inst = instrument(share_layers=LAYERS, share_embeddings=False)
    er, ip = (inst.classifiers[m].model.response_encoder for m in ("ER", "IP"))
    assert trunk.shared_depth(er, ip) == 0  # every layer is the same, but not the embeddings
    assert inst._trunks(MECHS) == [(["ER"], 0), (["IP"], 0), (["EX"], 0)]


def test_a_classifier_sharing_little_stays_apart():
    # ER and IP share 3 of 4 layers; EX shares 1 with ER: together 1 + 3 x 3 = 10 layer
    # passes per batch, apart (3 + 2 x 1) + 4 = 9
    assert instrument(layers_shared_with_first={"IP": 3, "EX": 1})._trunks(MECHS) == [(["ER", "IP"], 3), (["EX"], 0)]
    # sharing 2, it joins: 2 + 3 x 2 = 8
    assert instrument(layers_shared_with_first={"IP": 3, "EX": 2})._trunks(MECHS) == [(["ER", "IP", "EX"], 2)]


@pytest.mark.parametrize("share_layers", [1, 2, LAYERS])
def test_shared_path_gives_each_classifiers_own_logits(share_layers):
    inst = instrument(share_layers=share_layers)
    assert inst._trunks(MECHS) == [(list(MECHS), share_layers)]
    shared = shared_path_logits(inst, SEEKERS, RESPONSES)
    alone = per_mechanism_logits(inst, SEEKERS, RESPONSES)
    for m in MECHS:
        # the same operations on the same batches: equal to the last bit
        assert torch.equal(shared[m], alone[m]), m
    levels = inst.levels(SEEKERS, RESPONSES, batch_size=BATCH)
    assert levels == {m: alone[m].argmax(dim=-1).tolist() for m in MECHS}


def test_shared_path_equals_each_pair_on_its_own():
    """Independent of batching: each pair through the model's forward alone, no padding."""
    inst = instrument(share_layers=2)
    shared = shared_path_logits(inst, SEEKERS, RESPONSES)
    for m, clf in inst.classifiers.items():
        for i, (seeker, response) in enumerate(zip(SEEKERS, RESPONSES)):
            s_ids, s_mask = features.pad(features.encode_texts(clf.tokenizer, [seeker], MAX_LENGTH), clf.pad_id)
            r_ids, r_mask = features.pad(features.encode_texts(clf.tokenizer, [response], MAX_LENGTH), clf.pad_id)
            with torch.no_grad():
                alone = clf.model(s_ids, s_mask, r_ids, r_mask).level_logits[0]
            assert torch.allclose(shared[m][i], alone, atol=1e-5), (m, i)


def test_no_sharing_falls_back_to_the_full_passes():
    inst = instrument(share_layers=LAYERS, share_embeddings=False)
    calls = []
    original = trunk.shared_logits
    trunk.shared_logits = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        levels = inst.levels(SEEKERS, RESPONSES, batch_size=BATCH)
    finally:
        trunk.shared_logits = original
    assert not calls
    alone = per_mechanism_logits(inst, SEEKERS, RESPONSES)
    assert levels == {m: alone[m].argmax(dim=-1).tolist() for m in MECHS}


def layer_calls(inst: Instrument, run) -> Counter:
    """How often each (mechanism, response layer) and each mechanism's seeker embeddings
    (rows seen) ran during run()."""
    calls: Counter = Counter()
    handles = []
    for m, clf in inst.classifiers.items():
        for i, layer in enumerate(clf.model.response_encoder.encoder.layer):
            handles.append(layer.register_forward_hook(lambda mod, args, out, key=(m, i): calls.update([key])))
        handles.append(clf.model.seeker_encoder.embeddings.register_forward_hook(
            lambda mod, args, out, key=(m, "seeker rows"): calls.update({key: out.shape[0]})))
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return calls


def test_lower_layers_run_once_per_batch_and_seekers_once_per_text():
    inst = instrument(share_layers=2, same_seeker=True)
    seekers, responses = SEEKERS + SEEKERS, RESPONSES + RESPONSES[::-1]  # as DIFF-EPITOME asks (prevs + prevs)
    calls = layer_calls(inst, lambda: inst.levels(seekers, responses, batch_size=BATCH))
    batches = -(-len(responses) // BATCH)
    for i in range(LAYERS):
        assert calls[("ER", i)] == batches
        for m in ("IP", "EX"):
            assert calls[(m, i)] == (batches if i >= 2 else 0), (m, i)  # layers 0 and 1: ER's, shared
    # one seeker encoder pass, over the distinct seeker texts only
    assert calls[("ER", "seeker rows")] == len(set(SEEKERS))
    assert calls[("IP", "seeker rows")] == calls[("EX", "seeker rows")] == 0


def test_some_mechanisms_only():
    inst = instrument(share_layers=2)
    alone = per_mechanism_logits(inst, SEEKERS, RESPONSES)
    assert inst._trunks(["IP"]) == [(["IP"], 0)]
    assert inst._trunks(["EX", "IP"]) == [(["IP", "EX"], 2)]
    levels = inst.levels(SEEKERS, RESPONSES, ["EX", "IP"], batch_size=BATCH)
    assert list(levels) == ["EX", "IP"]
    assert levels == {m: alone[m].argmax(dim=-1).tolist() for m in ("EX", "IP")}
    assert inst.levels(SEEKERS, RESPONSES, ["IP"], batch_size=BATCH)["IP"] == levels["IP"]


def tiny_encoder(kind: str, attention: str):
    settings = dict(vocab_size=60, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
                    max_position_embeddings=40)
    config = (BertConfig if kind == "bert" else RobertaConfig)(**settings)
    config._attn_implementation = attention
    torch.manual_seed(3)
    return AutoModel.from_config(config).eval()


@pytest.mark.parametrize("kind", ["bert", "roberta"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("padded", [True, False])
def test_split_pass_is_the_full_pass(kind, attention, padded):
    encoder = tiny_encoder(kind, attention)
    assert encoder.config._attn_implementation == attention and trunk.splittable(encoder)
    lengths = [9, 4, 7] if padded else [9, 9, 9]
    ids = torch.full((3, 9), encoder.config.pad_token_id, dtype=torch.long)
    mask = torch.zeros((3, 9), dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(5, 60, (n,))
        mask[row, :n] = 1
    with torch.no_grad():
        full = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        for depth in range(4):
            hidden, layer_mask = trunk.lower(encoder, ids, mask, depth)
            assert torch.equal(trunk.upper(encoder, hidden, layer_mask, depth), full), depth


def test_encoders_of_another_layout_are_not_split():
    torch.manual_seed(0)
    distil = AutoModel.from_config(DistilBertConfig(vocab_size=60, dim=16, n_layers=2, n_heads=2, hidden_dim=32))
    assert not trunk.splittable(distil) and trunk.shared_depth(distil, distil) == 0 and trunk.num_layers(distil) == 0
    decoder = AutoModel.from_config(BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                               intermediate_size=32, is_decoder=True))
    assert not trunk.splittable(decoder)
