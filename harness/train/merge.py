"""A merged checkpoint: the base model with a training folder's adapter folded in.

Servers such as vLLM cap the LoRA rank they load (EmPO's adapters have rank 1024), so a
merged checkpoint is what they serve. For a DPO folder the adapter already holds the SFT
and DPO updates (DPO continues the SFT adapter), so merging it gives the full SFT+DPO model.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.errors import HarnessError
from harness.train import run_folder


def merge(folder: str | Path, output: str | Path | None = None) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    config = run_folder.adapter_files(folder)
    base = config.get("base_model_name_or_path")
    if not base:
        raise HarnessError(f"{folder / 'adapter_config.json'}: names no base_model_name_or_path to merge into")
    output = Path(output) if output else folder / "merged"
    if (output / "model.safetensors").exists() or (output / "model.safetensors.index.json").exists():
        raise HarnessError(f"{output}: already holds a model; remove it or pass another --output")
    dtype = _training_dtype(folder)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    output.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(output, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(folder)).save_pretrained(output)
    run_folder.write_json(
        output / "merged_from.json",
        {
            "base_model": base,
            "adapter": str(folder.resolve()),
            "adapter_sha256": _sha256(folder / "adapter_model.safetensors"),
            "dtype": dtype,
            "versions": run_folder.versions(),
            "created": run_folder.now(),
        },
    )
    return output


def _training_dtype(folder: Path) -> str:
    """The dtype the base model was loaded in for training (recipe model_init_kwargs), so
    the merge adds the adapter to the same weights; float32 by default, as trl loads."""
    recipe = folder / "recipe.yaml"
    if not recipe.exists():
        return "float32"
    resolved = yaml.safe_load(recipe.read_text()) or {}
    stage = json.loads((folder / run_folder.STATE).read_text()).get("stage", "sft") if (
        folder / run_folder.STATE
    ).exists() else "sft"
    kwargs = (resolved.get(stage) or {}).get("model_init_kwargs") or {}
    dtype = kwargs.get("dtype", kwargs.get("torch_dtype", "float32"))
    return "float32" if dtype in (None, "auto") else str(dtype).replace("torch.", "")


def _sha256(path: Path) -> str:
    from harness.resources import sha256_of

    return sha256_of(path)
