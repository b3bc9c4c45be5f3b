"""Helpers of the human-evaluation tests: generations files over made-up dialogues, a
prepared study, and its survey server on a free local port."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

EMOTIONS = [f"emotion{i:02d}" for i in range(32)]


def write_generations(folder: Path, systems=("alpha", "beta", "gamma"), n: int = 200, emotions=EMOTIONS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for system in systems:
        path = folder / f"{system}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(n):
                emotion = emotions[i % len(emotions)]
                fh.write(json.dumps({"id": f"hit:{i}_conv:{i}", "context": [f"I feel {emotion} today ({i})."],
                                     "response": f"{system} answers <i>{i}</i>", "reference": f"reference {i}",
                                     "emotion": emotion}) + "\n")
        paths.append(path)
    return paths


def make_study(tmp: Path, design: str = "empo", systems=("alpha", "beta", "gamma"), **options) -> Path:
    from harness.human_eval.designs import design as design_named
    from harness.human_eval.study import prepare

    inputs = write_generations(tmp / "generations", systems)
    folder = tmp / "study"
    prepare([str(p) for p in inputs], folder, design_named(design), **options)
    return folder


@contextlib.contextmanager
def running_server(folder: Path):
    """(base url, store) of the study's server on a free port, stopped after the block."""
    from harness.human_eval.server import make_server
    from harness.human_eval.store import open_store

    store = open_store(folder)
    server = make_server(store, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
