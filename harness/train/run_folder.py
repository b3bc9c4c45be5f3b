"""What a training output folder holds, and how an interrupted run picks up again.

    DIR/adapter_config.json, adapter_model.safetensors   the LoRA adapter (peft)
    DIR/tokenizer files, chat_template.jinja             the tokenizer the data were rendered with
    DIR/recipe.yaml                                      the resolved recipe of this run (this seed)
    DIR/training.json                                    provenance: stage, seed, base model, data
                                                         sha256, package versions, times, metrics;
                                                         "complete": true once the adapter is saved
    DIR/loss_curve.json, loss_curve.png                  the trainer's log history and its plot
    DIR/checkpoints/checkpoint-N/                        while training; removed when it finishes

A folder whose training.json says complete is not trained again. A folder holding a
partial run of the same recipe, seed and inputs resumes from its last checkpoint; one
holding anything else is refused rather than overwritten.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError

STATE = "training.json"
PACKAGES = ("empathy-harness", "torch", "transformers", "trl", "peft", "accelerate", "datasets")


class RunFolderError(HarnessError):
    pass


def versions() -> dict[str, str]:
    from harness import CPU_KERNELS

    found = {"python": platform.python_version(), "cpu_kernels": CPU_KERNELS}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, obj: Any) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, default=str)
        fh.write("\n")
    os.replace(tmp, path)


@dataclass
class RunFolder:
    path: Path
    stage: str
    fingerprint: str
    complete: bool
    resume_from: str | None
    state: dict

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def finish(self, info: dict, log_history: list[dict], title: str) -> None:
        """Record the run as complete: provenance, loss curve; drop the checkpoints."""
        write_loss_curve(log_history, self.path, title)
        for leftover in ("training_args.bin", "README.md"):  # a pickle, and trl's hub model card
            (self.path / leftover).unlink(missing_ok=True)
        shutil.rmtree(self.checkpoints, ignore_errors=True)
        self.state.update(info)
        self.state.update({"complete": True, "finished": now()})
        # the session that finished the run; earlier, interrupted sessions are listed in "resumed"
        self.state["wall_seconds"] = round(time.time() - self.state.pop("_start_time", time.time()), 1)
        # CPU time of all threads: on a shared machine wall time says more about the neighbours
        self.state["cpu_seconds"] = round(time.process_time() - self.state.pop("_start_cpu", 0.0), 1)
        write_json(self.path / STATE, self.state)


def open_run(
    path: Path, stage: str, fingerprint: str, resolved_recipe: dict, seed: int, *, write: bool = True
) -> RunFolder:
    """Prepare DIR for a run: fresh, resumed from its last checkpoint, or already complete.

    In a distributed run only the main process writes (`write`); the others, which open the
    folder after it, only read what it wrote."""
    from transformers.trainer_utils import get_last_checkpoint

    path = Path(path)
    state_file = path / STATE
    if state_file.exists():
        try:
            state = json.loads(state_file.read_text())
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{state_file}: unreadable ({exc}); remove the folder to train again") from None
        if state.get("fingerprint") != fingerprint or state.get("stage") != stage:
            raise RunFolderError(
                f"{path}: holds a {state.get('stage', 'different')} run of another recipe, seed or input "
                f"(see {state_file}); choose another --output or remove the folder"
            )
        if state.get("complete"):
            return RunFolder(path, stage, fingerprint, True, None, state)
        last = get_last_checkpoint(str(path / "checkpoints")) if (path / "checkpoints").is_dir() else None
        state["_start_time"], state["_start_cpu"] = time.time(), time.process_time()
        if write:
            state.setdefault("resumed", []).append({"at": now(), "checkpoint": last})
            write_json(state_file, {k: v for k, v in state.items() if not k.startswith("_")})
        return RunFolder(path, stage, fingerprint, False, last, state)
    if path.exists() and any(path.iterdir()):
        raise RunFolderError(f"{path}: not empty and not a training folder (no {STATE}); choose another --output")
    if not write:
        raise RunFolderError(f"{path}: the main process did not create the run folder")
    path.mkdir(parents=True, exist_ok=True)
    (path / "recipe.yaml").write_text(yaml.safe_dump(resolved_recipe, sort_keys=False))
    state = {
        "stage": stage,
        "complete": False,
        "fingerprint": fingerprint,
        "seed": seed,
        "started": now(),
        "versions": versions(),
    }
    write_json(state_file, state)
    state["_start_time"], state["_start_cpu"] = time.time(), time.process_time()
    return RunFolder(path, stage, fingerprint, False, None, state)


def adapter_files(folder: Path) -> dict:
    """The adapter config of a training folder, or an error naming the missing file."""
    folder = Path(folder)
    config = folder / "adapter_config.json"
    weights = folder / "adapter_model.safetensors"
    for needed in (config, weights):
        if not needed.is_file():
            raise RunFolderError(
                f"{needed}: missing, so {folder} holds no trained adapter (train one with "
                "`empathy-harness train sft`, or wait for that run to finish)"
            )
    try:
        return json.loads(config.read_text())
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{config}: not valid JSON ({exc})") from None


def write_loss_curve(log_history: list[dict], folder: Path, title: str) -> None:
    """loss_curve.json (the trainer's log history as is) and loss_curve.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_json(folder / "loss_curve.json", log_history)
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    evals = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    accuracy = [(e["step"], e["eval_rewards/accuracies"]) for e in log_history if "eval_rewards/accuracies" in e]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label="held-out loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    if accuracy:
        right = ax.twinx()
        right.plot(*zip(*accuracy), "s--", color="tab:green", label="held-out reward accuracy")
        right.set_ylabel("reward accuracy")
        right.set_ylim(0, 1)
        right.legend(loc="upper right")
    ax.legend(loc="upper left" if accuracy else "best")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(folder / "loss_curve.png", dpi=120)
    plt.close(fig)
