"""Semantically similar in-context learning (Qian et al. 2023, s.3.3.1, eq. 1-4).

Each dialogue's context (the turns before its target, joined by a space: eq. 1's
concatenation) is embedded by a sentence encoder; a test dialogue's exemplars are the k
training dialogues of highest cosine similarity (eq. 4), most similar first, ties to the
earlier training dialogue.

The encoder: the paper's `sentence-transformers/all-mpnet-base-v2` where the model hub
answers, else the packaged all-MiniLM-L6-v2 (harness.embedded), chosen and recorded like
the EPITOME backbone (`choose_encoder`). A split's embeddings are computed once per encoder
and ED release and cached under `<cache>/derived/ssicl/<encoder>/` as `<split>-<ED sha256
prefix>.npy` with a JSON record holding the file's own sha256 and the digest of the ids it
covers; a record that does not match is an error (delete the two files to rebuild).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harness import resources
from harness.config import cache_dir, offline
from harness.errors import HarnessError

PAPER_ENCODER = "sentence-transformers/all-mpnet-base-v2"
OFFLINE_ENCODER = "all-minilm-l6-v2"
FORMAT = "empathy-harness-ssicl/1"
BATCH = 64
QUERY_CHUNK = 256


@dataclass(frozen=True)
class EncoderChoice:
    name: str
    reason: str

    def describe(self) -> str:
        return f"SS-ICL encoder: {self.name} ({self.reason})"


def choose_encoder(requested: str | None = "auto") -> EncoderChoice:
    """asked for > the paper's all-mpnet-base-v2 where the hub answers > packaged MiniLM."""
    if requested and requested != "auto":
        return EncoderChoice(requested, "requested")
    if offline():
        return EncoderChoice(OFFLINE_ENCODER, "offline: EMPATHY_HARNESS_OFFLINE or HF_HUB_OFFLINE is set")
    from harness.epitome.store import hub_problem

    problem = hub_problem(PAPER_ENCODER)
    if problem is None:
        return EncoderChoice(PAPER_ENCODER, "the paper's encoder, the model hub can be reached")
    return EncoderChoice(OFFLINE_ENCODER, f"the model hub cannot be reached: {problem}")


def context_text(turns: Sequence[str]) -> str:
    """Eq. 1: the context's turns as one long sentence."""
    return " ".join(turns)


Encode = Callable[[list[str]], np.ndarray]
# Encoders other than sentence-transformers models, by name (tests register toy ones).
ENCODERS: dict[str, Callable[[], Encode]] = {}


def sentence_encoder(name: str) -> Encode:
    """The encoder `name`: a registered one, else the sentence-transformers model `name`
    (embedded name, hub id or folder) as a function from texts to unit-length embeddings."""
    from harness.embedded import minilm_path

    if name in ENCODERS:
        return ENCODERS[name]()
    location = str(minilm_path()) if name == OFFLINE_ENCODER else name
    if offline() and not Path(location).exists():
        raise HarnessError(f"SS-ICL encoder {name!r} is not available offline; use encoder=all-minilm-l6-v2 "
                           "(packaged) or a local sentence-transformers folder")
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(location, device="cpu" if not _cuda() else None, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"SS-ICL encoder {name!r} could not be loaded ({str(exc).splitlines()[0][:160]}); "
                           "name a sentence-transformers model folder or hub id") from None

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True,
                                       show_progress_bar=False), dtype=np.float32)

    return encode


@dataclass
class Index:
    ids: list[str]
    embeddings: np.ndarray  # (n, dim) float32, unit rows
    record: dict


def index_paths(encoder: str, split: str, ed_sha256: str) -> tuple[Path, Path]:
    from harness.epitome.store import backbone_slug

    folder = cache_dir() / "derived" / "ssicl" / backbone_slug(encoder)
    stem = f"{split}-{ed_sha256[:16]}"
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def load_or_build(encoder: str, split: str, ids: Sequence[str], contexts: Sequence[Sequence[str]],
                  ed_sha256: str, encode: Encode | None = None) -> Index:
    """The cached embeddings of one split's contexts, built (and cached) on first use."""
    npy, record_path = index_paths(encoder, split, ed_sha256)
    if npy.exists() or record_path.exists():
        return _load(npy, record_path, ids)
    encode = encode or sentence_encoder(encoder)
    started, cpu = time.perf_counter(), time.process_time()
    embeddings = encode([context_text(c) for c in contexts])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    npy.parent.mkdir(parents=True, exist_ok=True)
    tmp = npy.with_name(f".{npy.name}.{os.getpid()}.npy")
    np.save(tmp, embeddings)
    record = {"format": FORMAT, "encoder": encoder, "split": split, "ed_sha256": ed_sha256, "n": len(ids),
              "dim": int(embeddings.shape[1]), "ids_sha256": ids_digest(ids), "embeddings_sha256": _sha(tmp),
              "text": "context turns joined by a space (eq. 1)", "seconds": round(seconds, 1),
              "cpu_seconds": round(cpu, 1), "load_1min": round(os.getloadavg()[0], 2)}
    tmp_record = record_path.with_name(f".{record_path.name}.{os.getpid()}")
    tmp_record.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, npy)
    os.replace(tmp_record, record_path)
    return Index(list(ids), embeddings, record)


def _load(npy: Path, record_path: Path, ids: Sequence[str]) -> Index:
    where = f"<cache>/{npy.relative_to(cache_dir())}" if npy.is_relative_to(cache_dir()) else str(npy)
    if not (npy.exists() and record_path.exists()):
        raise HarnessError(f"cached SS-ICL index {where} is incomplete (its .npy or .json is missing); "
                           "delete both files to rebuild it")
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError:
        raise HarnessError(f"cached SS-ICL index record {record_path.name} is not JSON; delete it and {npy.name} "
                           "to rebuild") from None
    if record.get("embeddings_sha256") != _sha(npy):
        raise HarnessError(f"cached SS-ICL index {where} does not match its checksum; delete it and "
                           f"{record_path.name} to rebuild")
    if record.get("ids_sha256") != ids_digest(ids) or record.get("n") != len(ids):
        raise HarnessError(f"cached SS-ICL index {where} was built for other dialogues than this ED release's "
                           f"{record.get('split')} split; delete it and {record_path.name} to rebuild")
    return Index(list(ids), np.load(npy), record)


def nearest(train: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(queries, k) positions of the k rows of `train` with the highest cosine similarity
    to each query, most similar first; ties go to the lower position."""
    if k == 0:
        return np.zeros((len(queries), 0), dtype=np.int64)
    a = train / np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)
    b = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    k = min(k, len(a))
    out = np.empty((len(b), k), dtype=np.int64)
    for first in range(0, len(b), QUERY_CHUNK):  # a chunk's similarities stay small (256 x n floats)
        sims = b[first:first + QUERY_CHUNK] @ a.T
        kth = np.partition(sims, len(a) - k, axis=1)[:, len(a) - k]  # each row's k-th highest similarity
        for row, (values, bound) in enumerate(zip(sims, kth)):
            tied_or_better = np.flatnonzero(values >= bound)  # ascending positions
            order = np.argsort(-values[tied_or_better], kind="stable")  # stable: ties keep position order
            out[first + row] = tied_or_better[order[:k]]
    return out


def ed_release_sha256(source=None) -> str:
    return resources.sha256_of(resources.resolve("ed", source))


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
