"""Shared fixtures: a session cache, the offline mirror, hand-made ED releases, one torch thread."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from harness.data.ed import HEADER

REPO = Path(__file__).resolve().parents[1]

# Tests never touch the user's cache or a model hub. Built models (the dense SmolLM2 copy,
# tiny models, trained instruments) are kept between local runs under .pytest_cache.
os.environ.setdefault("EMPATHY_HARNESS_CACHE", str(REPO / ".pytest_cache" / "empathy-harness"))
for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[name] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def mirror() -> Path:
    """The offline data mirror; tests that need it skip, saying so, where it is absent."""
    value = os.environ.get("EMPATHY_HARNESS_MIRROR")
    if not value or not (Path(value) / "empatheticdialogues.tar.gz").exists():
        pytest.skip("needs the offline data mirror: set EMPATHY_HARNESS_MIRROR (e.g. ../shared/data)")
    return Path(value)


def ed_row(conv: str, idx: int, utterance: str, emotion: str = "sad", prompt: str = "a situation") -> str:
    return ",".join([conv, str(idx), emotion, prompt, "1", utterance, "", ""])


def write_ed_release(path: Path, splits: dict[str, list[str | bytes]]) -> Path:
    """A release tarball in the official layout; rows are lines without the header."""
    with tarfile.open(path, "w:gz") as tar:
        for split, rows in splits.items():
            lines = [",".join(HEADER).encode()] + [r if isinstance(r, bytes) else r.encode() for r in rows]
            data = b"\n".join(lines) + b"\n"
            info = tarfile.TarInfo(f"empatheticdialogues/{split}.csv")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def make_release(tmp_path: Path):
    def make(splits: dict[str, list[str | bytes]], name: str = "ed.tar.gz") -> Path:
        return write_ed_release(tmp_path / name, splits)

    return make


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train faster on one thread: they gain nothing from a second, and on a
    loaded machine OpenMP contention makes two threads many times slower than one.
    Modules opt in with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
