"""Where trained instruments live, which backbone is used, and how they are saved and found.

An instrument is a folder with one sub-folder per mechanism (ER, IP, EX), each holding
`model.safetensors`, the backbone's `config.json` and tokenizer, and `manifest.json`
(backbone, data sha256, split, recipe, held-out scores, package versions). The default
folder is `<cache>/epitome/<backbone-slug>/`. Folders are written under a temporary name
and renamed into place, so an interrupted training leaves no half-written classifier.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from harness.config import EPITOME_BACKBONE_ENV, cache_dir, offline, offline_because
from harness.epitome.data import MECHANISMS
from harness.epitome.recipes import Recipe, recipe_for
from harness.errors import HarnessError

ONLINE_DEFAULT = "roberta-base"
OFFLINE_DEFAULT = "all-minilm-l6-v2"
MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
FORMAT = "empathy-harness-epitome/2"  # 2: level_offsets in the weights


class InstrumentMissing(HarnessError):
    """No trained classifier where one is needed; the message says how to train it."""


@dataclass(frozen=True)
class BackboneChoice:
    name: str
    reason: str

    def describe(self) -> str:
        return f"EPITOME instrument backbone: {self.name} ({self.reason})"


def choose_backbone(requested: str | None = None) -> BackboneChoice:
    """The backbone to use, and why: asked for > EMPATHY_HARNESS_EPITOME_BACKBONE >
    roberta-base where the model hub answers > the packaged MiniLM offline."""
    if requested:
        return BackboneChoice(requested, "requested")
    env = os.environ.get(EPITOME_BACKBONE_ENV)
    if env:
        return BackboneChoice(env, f"{EPITOME_BACKBONE_ENV} is set")
    if offline():
        return BackboneChoice(OFFLINE_DEFAULT, "offline: EMPATHY_HARNESS_OFFLINE or HF_HUB_OFFLINE is set")
    problem = hub_problem(ONLINE_DEFAULT)
    if problem is None:
        return BackboneChoice(ONLINE_DEFAULT, "the default where the model hub can be reached")
    return BackboneChoice(OFFLINE_DEFAULT, offline_because(problem))


@lru_cache(maxsize=4)
def hub_problem(model_id: str) -> str | None:
    """None if the model hub answers for `model_id`, else what went wrong."""
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(model_id, timeout=10)
        return None
    except Exception as exc:  # any failure means: not reachable from here
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}".rstrip(": ")


def backbone_slug(backbone: str) -> str:
    """A folder name for a backbone: hub ids and embedded names as they are ('/' -> '--');
    a local path by its last component and a short hash of the full path."""
    path = Path(backbone).expanduser()
    if path.exists():
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
        return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', path.name)}-{digest}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", backbone.replace("/", "--"))


def default_dir(backbone: str) -> Path:
    return cache_dir() / "epitome" / backbone_slug(backbone)


def missing_mechanisms(directory: Path, mechanisms=MECHANISMS) -> list[str]:
    return [m for m in mechanisms if not ((directory / m / WEIGHTS).exists() and (directory / m / MANIFEST).exists())]


def train_command(backbone: str, directory: Path | None = None) -> str:
    command = f"empathy-harness epitome train --backbone {backbone}"
    if directory is not None and directory != default_dir(backbone):
        command += f" --output {directory}"
    return command


def missing_message(backbone: str, directory: Path, missing: list[str]) -> str:
    return (
        f"no trained EPITOME classifier for {', '.join(missing)} with backbone {backbone} in {directory}. "
        f"Train the instrument with: {train_command(backbone, directory)} "
        f"(MiniLM: about 10 minutes on 2 idle CPU cores; roberta-base wants a GPU), or ask the command to "
        f"train it first (--train-epitome). Nothing else is used in its place."
    )


def recipe_drift(manifest: dict) -> dict[str, tuple]:
    """The settings in which a classifier's recorded recipe differs from its backbone's
    current one: name -> (trained with, current)."""
    # a setting added after the classifier was trained did not exist then: it was trained as
    # the setting's default does (new settings default to what training did before them)
    trained = {**{f.name: f.default for f in fields(Recipe)}, **manifest.get("recipe", {})}
    current = recipe_for(manifest["backbone"]["name"]).to_json()
    return {k: (trained.get(k), v) for k, v in current.items() if trained.get(k) != v}


def drift_message(backbone: str, directory: Path, drift: dict[str, tuple]) -> str:
    changes = ", ".join(f"{k} {old} (now {new})" for k, (old, new) in sorted(drift.items()))
    return (f"note: the EPITOME instrument in {directory} was trained with another recipe than the current one "
            f"for {backbone}: {changes}. Its scores are those of that instrument (every result records it); "
            f"to use the current recipe, retrain: {train_command(backbone, directory)}")


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from harness import CPU_KERNELS, __version__

    versions = {"harness": __version__, "python": platform.python_version(), "cpu_kernels": CPU_KERNELS}
    for name in ("torch", "transformers", "tokenizers", "safetensors", "scikit-learn", "numpy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def save_classifier(model, tokenizer, manifest: dict, target: Path) -> Path:
    """Write one mechanism's classifier to `target` (replacing what was there) in one rename."""
    from safetensors.torch import save_model

    from harness.folders import replace_folder
    from harness.resources import sha256_of

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        save_model(model, str(tmp / WEIGHTS))
        model.config.to_json_file(str(tmp / "config.json"))
        tokenizer.save_pretrained(str(tmp))
        manifest = {**manifest, "weights_sha256": sha256_of(tmp / WEIGHTS)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        replace_folder(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read the instrument manifest ({exc}); retrain the instrument") from None
    if manifest.get("format") != FORMAT:
        raise HarnessError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}; retrain the instrument")
    return manifest


def load_classifier(folder: Path):
    """(model in eval mode, tokenizer, manifest) of one mechanism's folder; the weights'
    sha256 must match the manifest's."""
    from safetensors.torch import load_model
    from transformers import AutoConfig, AutoTokenizer

    from harness.epitome.model import EpitomeBiEncoder
    from harness.resources import sha256_of

    manifest = read_manifest(folder)
    weights = folder / WEIGHTS
    digest = sha256_of(weights)
    if digest != manifest.get("weights_sha256"):
        raise HarnessError(f"{weights}: sha256 {digest} differs from the manifest's {manifest.get('weights_sha256')}; "
                           f"the file was changed or damaged: retrain the instrument")
    config = AutoConfig.from_pretrained(str(folder))
    model = EpitomeBiEncoder(config, dropout=manifest["recipe"]["dropout"])
    load_model(model, str(weights), strict=True)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return model, tokenizer, manifest
