"""What makes one model's responses one model's: the key of a run's generation cache.

lm-eval's own response cache (`use_cache`) keys a response by the request alone (prompt
and generation arguments), not by the model that produced it. The harness gives each
model identity its own cache file, so a response is reused only for the same model:
backend, every model argument that changes outputs, and the content of local model,
adapter and tokenizer folders (sha256 of their files, remembered by size and mtime so a
large checkpoint is hashed once), plus the Hub commit of a downloaded model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from harness.config import cache_dir
from harness.resources import sha256_of

# Model arguments that change where or how fast a model runs, not what it says.
NOT_IDENTITY = {
    "batch_size", "max_batch_size", "device", "parallelize", "max_memory_per_gpu", "max_cpu_memory",
    "offload_folder", "trust_remote_code", "gpu_memory_utilization", "tensor_parallel_size",
    "data_parallel_size", "swap_space", "max_num_seqs", "enforce_eager", "use_fast_tokenizer",
}
PATH_ARGS = ("pretrained", "peft", "delta", "lora_local_path", "tokenizer")


def model_identity(backend: str, model_args: dict, lm=None) -> dict:
    """The identity of a model as a flat JSON-able dict."""
    identity: dict = {"backend": backend}
    for key, value in sorted(model_args.items()):
        if key not in NOT_IDENTITY:
            identity[key] = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
    for key in PATH_ARGS:
        value = model_args.get(key)
        if isinstance(value, str) and Path(value).expanduser().is_dir():
            identity[f"{key}_sha256"] = folder_sha256(Path(value).expanduser())
    model = getattr(lm, "_model", None)
    config = getattr(model, "config", None)
    commit = getattr(config, "_commit_hash", None)
    if commit:
        identity["commit"] = commit
    if getattr(model, "dtype", None) is not None:
        identity["loaded_dtype"] = str(model.dtype)
    return identity


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def cache_path(identity: dict) -> Path:
    """The folder of this identity's response cache (lm-eval's sqlite file goes inside),
    named by the model folder or id (for people) and the identity hash (the key)."""
    label = Path(str(identity.get("pretrained", identity.get("backend", "model")))).name
    folder = cache_dir() / "lm-cache" / f"{slug(label)}-{identity_hash(identity)[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "identity.json"
    if not record.exists():
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(identity, indent=2, sort_keys=True))
        os.replace(tmp, record)
    return folder


def folder_sha256(folder: Path) -> str:
    """sha256 over the files directly in `folder` (a model folder; subfolders such as
    training checkpoints are not the model), by name, remembered by size and mtime."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + _file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    if stat.st_size < 1 << 20:
        return sha256_of(path)
    key = hashlib.sha256(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    memo = cache_dir() / "derived" / "file-sha256" / key
    if memo.exists():
        return memo.read_text().strip()
    value = sha256_of(path)
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_name(memo.name + f".{os.getpid()}.tmp")
    tmp.write_text(value)
    os.replace(tmp, memo)
    return value


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:80] or "model"
