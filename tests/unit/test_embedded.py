"""The offline embedded models resolve to local paths and load."""

from __future__ import annotations

import pytest

from harness import embedded


def test_minilm_is_packaged():
    path = embedded.minilm_path()
    assert (path / "config.json").exists() and (path / "model.safetensors").exists()


def test_other_names_pass_through():
    assert embedded.resolve_model("org/some-model") == "org/some-model"


def test_tiny_llama_chats_and_generates():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = embedded.resolve_model("tiny-llama")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    ids = tok.apply_chat_template([{"role": "user", "content": "I am sad."}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    assert tok.decode(ids["input_ids"][0]).endswith("<|im_start|>assistant\n")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_tiny_bert_encodes():
    from transformers import AutoModel, AutoTokenizer

    path = embedded.resolve_model("tiny-bert")
    batch = AutoTokenizer.from_pretrained(path)(["I am sad.", "So sorry."], padding=True, return_tensors="pt")
    hidden = AutoModel.from_pretrained(path)(**batch).last_hidden_state
    assert hidden.shape[:2] == batch["input_ids"].shape and hidden.shape[2] == 32


@pytest.mark.slow
def test_smollm2_dense_copy_is_the_gguf_network():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = embedded.smollm2_path()
    assert (path / "model.safetensors").exists() and (path / "harness-source.json").exists()
    tok = AutoTokenizer.from_pretrained(path)
    dense = AutoModelForCausalLM.from_pretrained(path)
    gguf = embedded.smollm2_gguf()
    quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    batch = tok(["I lost my dog yesterday."], return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(dense(**batch).logits, quantized(**batch).logits)
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert tok.eos_token == "<|im_end|>"
