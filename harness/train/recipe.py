"""Training recipes: YAML mapped straight onto trl's and peft's own configuration classes.

A recipe (models/recipes/*.yaml) has these top-level keys:

    description  free text
    base_model   an embedded model name (harness.embedded) or a hub id / local path
    seeds        one training run, and one output folder, per seed
    data         which ED dialogues: `source`, `system_prompt`, and the selections `sft`,
                 `dpo`, `rl` and `heldout`, each {split, limit, seed}
    lora         keyword arguments of peft.LoraConfig (task_type is always CAUSAL_LM)
    sft          keyword arguments of trl.SFTConfig
    dpo          keyword arguments of trl.DPOConfig
    rl           keyword arguments of trl.RLOOConfig (`train rl`; EmpRL's defaults below)
    reward       the RL reward (harness.train.reward): `kind` (empathy | constant), `seeker`
                 (prev | full), `backbone` / `directory` (the EPITOME instrument),
                 `batch_size`, `value` (the constant)

`sft`, `dpo`, `rl` and `lora` pass through to those classes unchanged: any field they accept is
allowed, and nothing else. Three fields belong to the command line and may not be set:
`output_dir` (--output), `seed` (`seeds` / --seeds) and `resume_from_checkpoint`
(automatic). Every problem names the file and the field.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from harness.data.ed import SPLITS
from harness.data.prompts import SYSTEM_PROMPTS
from harness.errors import HarnessError

TOP_LEVEL = ("description", "base_model", "seeds", "data", "lora", "sft", "dpo", "rl", "reward")
DATA_KEYS = ("source", "system_prompt", "sft", "dpo", "rl", "heldout")
SELECTION_KEYS = ("split", "limit", "seed")
RESERVED = {
    "output_dir": "it is the --output folder",
    "seed": "use the top-level `seeds` list or --seeds",
    "resume_from_checkpoint": "training resumes from the output folder's last checkpoint by itself",
}
# Set only where the recipe leaves them unset: no experiment tracker by default, and the
# held-out DPO pairs evaluated at the end of every epoch.
SFT_DEFAULTS: dict[str, Any] = {"report_to": "none"}
DPO_DEFAULTS: dict[str, Any] = {"report_to": "none", "eval_strategy": "epoch"}
# EmpRL (Ma et al. 2024, section IV-C): KL coefficient 0.2; rollouts sampled with top-k 20,
# top-p 1.0, temperature 0.9, at most 30 new tokens; AdamW at lr 1e-5. (Its batch of 32 and
# 1,600 steps are the GPU recipe's; RLOO needs >= 2 completions per prompt: 4 here.)
RL_DEFAULTS: dict[str, Any] = {
    "report_to": "none", "beta": 0.2, "top_k": 20, "top_p": 1.0, "temperature": 0.9,
    "max_completion_length": 30, "learning_rate": 1.0e-5, "num_generations": 4,
}
REWARD_KEYS = ("kind", "seeker", "backbone", "directory", "batch_size", "value")
REWARD_DEFAULTS: dict[str, Any] = {"kind": "empathy", "seeker": "full", "backbone": None, "directory": None,
                                   "batch_size": 64, "value": 0.0}
DEFAULT_SELECTIONS = {
    "sft": {"split": "train", "limit": None, "seed": 0},
    "dpo": {"split": "train", "limit": None, "seed": 0},
    "rl": {"split": "train", "limit": None, "seed": 0},
    "heldout": {"split": "valid", "limit": 200, "seed": 0},
}


class RecipeError(HarnessError):
    """A recipe file is missing, unreadable, or names something trl/peft do not accept."""


@dataclass(frozen=True)
class Selection:
    """Which dialogues of one ED split: a seeded random subset of `limit` (None: all)."""

    split: str
    limit: int | None
    seed: int


@dataclass
class Recipe:
    path: Path
    name: str
    base_model: str
    seeds: list[int]
    source: str | None
    system_prompt_name: str
    sft_data: Selection
    dpo_data: Selection
    heldout: Selection
    lora: dict[str, Any]
    sft: dict[str, Any]
    dpo: dict[str, Any]
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    rl_data: Selection = field(default_factory=lambda: Selection("train", None, 0))
    rl: dict[str, Any] | None = None  # None: the recipe has no `rl:` section
    reward: dict[str, Any] = field(default_factory=lambda: dict(REWARD_DEFAULTS))

    @property
    def system_prompt(self) -> str | None:
        return SYSTEM_PROMPTS.get(self.system_prompt_name)

    def resolved(self, seed: int) -> dict[str, Any]:
        """The recipe as one run used it: this seed, defaults filled in."""
        return {
            "description": self.description,
            "recipe_file": str(self.path),
            "base_model": self.base_model,
            "seed": seed,
            "data": {
                "source": self.source,
                "system_prompt": self.system_prompt_name,
                "sft": dataclasses.asdict(self.sft_data),
                "dpo": dataclasses.asdict(self.dpo_data),
                "rl": dataclasses.asdict(self.rl_data),
                "heldout": dataclasses.asdict(self.heldout),
            },
            "lora": dict(self.lora),
            "sft": {**SFT_DEFAULTS, **self.sft},
            "dpo": {**DPO_DEFAULTS, **self.dpo},
            "rl": None if self.rl is None else {**RL_DEFAULTS, **self.rl},
            "reward": dict(self.reward),
        }

    def fingerprint(self, seed: int, stage: str, extra: dict | None = None) -> str:
        """A hash of everything that decides one stage's run (DPO settings do not touch an
        SFT run, and the DPO adapter starts from the SFT folder, named in `extra`): a
        folder holding a partial run with another fingerprint is not resumed."""
        resolved = self.resolved(seed)
        data = dict(resolved["data"])
        data.pop("rl")
        if stage == "sft":
            data.pop("dpo")
            if self.heldout.split != self.sft_data.split:  # the held-out set only matters when excluded
                data.pop("heldout")
            payload = {"lora": resolved["lora"], "sft": resolved["sft"]}
        elif stage == "rl":
            data = {"source": data["source"], "system_prompt": data["system_prompt"], "rl": resolved["data"]["rl"]}
            payload = {"rl": resolved["rl"], "reward": resolved["reward"]}
        else:
            data.pop("sft")
            payload = {"dpo": resolved["dpo"]}
        payload.update({"stage": stage, "base_model": self.base_model, "seed": seed, "data": data, **(extra or {})})
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def sft_config(self, output_dir: str | Path, seed: int, *, check_only: bool = False):
        from trl import SFTConfig

        return _build(SFTConfig, {**SFT_DEFAULTS, **self.sft}, output_dir, seed, self.path, "sft", check_only)

    def dpo_config(self, output_dir: str | Path, seed: int, *, check_only: bool = False):
        from trl import DPOConfig

        return _build(DPOConfig, {**DPO_DEFAULTS, **self.dpo}, output_dir, seed, self.path, "dpo", check_only)

    def rl_config(self, output_dir: str | Path, seed: int, *, check_only: bool = False):
        from trl import RLOOConfig

        if self.rl is None:
            raise RecipeError(f"{self.path}: no `rl:` section, so `train rl` has nothing to run; add one (the fields "
                              f"of trl.RLOOConfig, e.g. as models/recipes/smollm2-135m-cpu.yaml does)")
        return _build(RLOOConfig, {**RL_DEFAULTS, **self.rl}, output_dir, seed, self.path, "rl", check_only)

    def lora_config(self):
        from peft import LoraConfig, TaskType

        try:
            return LoraConfig(task_type=TaskType.CAUSAL_LM, **self.lora)
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"{self.path}: lora: peft.LoraConfig refused it: {exc}") from None


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe; every problem is a RecipeError naming file and field."""
    path = find_recipe(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping with keys {', '.join(TOP_LEVEL)}")
    _check_keys(raw, TOP_LEVEL, path, "", "a recipe")

    base_model = raw.get("base_model")
    if not isinstance(base_model, str) or not base_model:
        raise RecipeError(f"{path}: base_model: required, an embedded model name, hub id or local path")
    seeds = raw.get("seeds", [42])
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
        raise RecipeError(f"{path}: seeds: a non-empty list of integers, e.g. [42] or [1, 2, 3, 4]")

    data = raw.get("data") or {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: data: a mapping with keys {', '.join(DATA_KEYS)}")
    _check_keys(data, DATA_KEYS, path, "data.", "the data section")
    source = data.get("source")
    if source is not None and not isinstance(source, str):
        raise RecipeError(f"{path}: data.source: a path to an ED release (tarball or folder), or null")
    prompt = data.get("system_prompt", "baseline")
    prompt = "none" if prompt is None else prompt
    if prompt not in (*SYSTEM_PROMPTS, "none"):
        raise RecipeError(
            f"{path}: data.system_prompt: {prompt!r} is not one of {', '.join([*SYSTEM_PROMPTS, 'none'])} "
            "(EmPO's prompts in harness/data/prompts.py)"
        )
    selections = {name: _selection(data.get(name), name, path) for name in DEFAULT_SELECTIONS}

    sections = {}
    for name in ("lora", "sft", "dpo", "rl"):
        value = raw.get(name) or {}
        if not isinstance(value, dict):
            raise RecipeError(f"{path}: {name}: a mapping of {_owner(name)} fields")
        sections[name] = dict(value)
    _validate_lora(sections["lora"], path)
    _validate_trainer("sft", sections["sft"], path)
    _validate_trainer("dpo", sections["dpo"], path)
    has_rl = "rl" in raw
    if has_rl:
        _validate_trainer("rl", sections["rl"], path)
    reward = _reward(raw.get("reward"), path)

    recipe = Recipe(
        path=path, name=path.stem, base_model=base_model, seeds=[int(s) for s in seeds], source=source,
        system_prompt_name=prompt, sft_data=selections["sft"], dpo_data=selections["dpo"],
        heldout=selections["heldout"], lora=sections["lora"], sft=sections["sft"], dpo=sections["dpo"],
        description=str(raw.get("description") or ""), raw=raw, rl_data=selections["rl"],
        rl=sections["rl"] if has_rl else None, reward=reward,
    )
    # Building the configs runs trl's and peft's own checks (value ranges, combinations).
    recipe.lora_config()
    recipe.sft_config("unused", recipe.seeds[0], check_only=True)
    recipe.dpo_config("unused", recipe.seeds[0], check_only=True)
    if has_rl:
        recipe.rl_config("unused", recipe.seeds[0], check_only=True)
    return recipe


def find_recipe(name_or_path: str | Path) -> Path:
    """A recipe file: the path given, or the name of a recipe shipped in models/recipes."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = recipes_dir() / f"{name_or_path}.yaml"
    if path.suffix not in (".yaml", ".yml") and shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in recipes_dir().glob("*.yaml")))
    raise RecipeError(f"{path}: recipe file not found (shipped recipes: {names})")


def recipes_dir() -> Path:
    """models/recipes of the source tree (the recipes shipped with the harness)."""
    return Path(__file__).resolve().parents[2] / "models" / "recipes"


def _owner(section: str) -> str:
    return {"lora": "peft.LoraConfig", "sft": "trl.SFTConfig", "dpo": "trl.DPOConfig", "rl": "trl.RLOOConfig"}[section]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(mapping: dict, allowed: tuple[str, ...], path: Path, prefix: str, what: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RecipeError(f"{path}: {prefix}{key}: unknown key{hint} ({what} takes {', '.join(allowed)})")


def _reward(value: Any, path: Path) -> dict[str, Any]:
    from harness.train.reward import REWARD_KINDS, SEEKER_SIDES

    if value is None:
        return dict(REWARD_DEFAULTS)
    if not isinstance(value, dict):
        raise RecipeError(f"{path}: reward: a mapping with keys {', '.join(REWARD_KEYS)}")
    _check_keys(value, REWARD_KEYS, path, "reward.", "the reward section")
    merged = {**REWARD_DEFAULTS, **value}
    if merged["kind"] not in REWARD_KINDS:
        raise RecipeError(f"{path}: reward.kind: {merged['kind']!r} is not one of {', '.join(REWARD_KINDS)}")
    if merged["seeker"] not in SEEKER_SIDES:
        raise RecipeError(f"{path}: reward.seeker: {merged['seeker']!r} is not one of {', '.join(SEEKER_SIDES)} "
                          "(prev: the last speaker turn, as EmPO; full: the whole history, as EmpRL)")
    for key in ("backbone", "directory"):
        if merged[key] is not None and not isinstance(merged[key], str):
            raise RecipeError(f"{path}: reward.{key}: a string or null")
    if not _is_int(merged["batch_size"]) or merged["batch_size"] < 1:
        raise RecipeError(f"{path}: reward.batch_size: a positive whole number")
    if isinstance(merged["value"], bool) or not isinstance(merged["value"], (int, float)):
        raise RecipeError(f"{path}: reward.value: a number")
    return merged


def _selection(value: Any, name: str, path: Path) -> Selection:
    merged = dict(DEFAULT_SELECTIONS[name])
    if value is not None:
        if not isinstance(value, dict):
            raise RecipeError(f"{path}: data.{name}: a mapping with keys {', '.join(SELECTION_KEYS)}")
        _check_keys(value, SELECTION_KEYS, path, f"data.{name}.", f"data.{name}")
        merged.update(value)
    if merged["split"] not in SPLITS:
        raise RecipeError(f"{path}: data.{name}.split: {merged['split']!r} is not one of {', '.join(SPLITS)}")
    limit = merged["limit"]
    if limit is not None and (not _is_int(limit) or limit < 1):
        raise RecipeError(f"{path}: data.{name}.limit: a positive number of dialogues, or null for all")
    if not _is_int(merged["seed"]):
        raise RecipeError(f"{path}: data.{name}.seed: an integer")
    return Selection(merged["split"], limit, merged["seed"])


def _has_accelerator() -> bool:
    import torch

    accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6 knows CUDA, MPS, XPU, ...
    return accelerator.is_available() if accelerator is not None else torch.cuda.is_available()


def _config_fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def _validate_lora(values: dict, path: Path) -> None:
    from peft import LoraConfig

    fields = _config_fields(LoraConfig)
    for key in ("task_type", "peft_type", "base_model_name_or_path", "inference_mode"):
        fields.pop(key, None)
    _check_fields(values, fields, path, "lora", "peft.LoraConfig")


def _validate_trainer(section: str, values: dict, path: Path) -> None:
    from trl import DPOConfig, RLOOConfig, SFTConfig

    cls = {"sft": SFTConfig, "dpo": DPOConfig, "rl": RLOOConfig}[section]
    for key, why in RESERVED.items():
        if key in values:
            raise RecipeError(f"{path}: {section}.{key}: set by the harness, not the recipe ({why})")
    _check_fields(values, _config_fields(cls), path, section, f"trl.{cls.__name__}")
    if section == "rl" and values.get("trust_remote_code"):
        raise RecipeError(f"{path}: rl.trust_remote_code: not allowed: the harness never runs a model's own code")
    if section == "dpo":
        if values.get("precompute_ref_log_probs"):
            raise RecipeError(
                f"{path}: dpo.precompute_ref_log_probs: not supported here: the rejected responses are drawn "
                "afresh every epoch, so reference log-probabilities computed once would be stale"
            )
        if values.get("dataloader_persistent_workers"):
            raise RecipeError(
                f"{path}: dpo.dataloader_persistent_workers: must stay false: persistent workers keep the "
                "first epoch's pairs and would never see the per-epoch redraws"
            )


def _check_fields(values: dict, fields: dict[str, Any], path: Path, section: str, owner: str) -> None:
    import importlib.metadata as md

    package = owner.split(".")[0]
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise RecipeError(
                f"{path}: {section}.{key}: unknown field{hint} ({owner} of {package} {md.version(package)} has "
                f"no such field; it accepts {len(fields)} fields, listed by: python -c \"import {package}; "
                f"help({owner})\")"
            )
        if not _type_ok(value, fields[key]):
            raise RecipeError(
                f"{path}: {section}.{key}: {value!r} is not a valid {_type_name(fields[key])} for {owner}.{key}"
            )


def _type_ok(value: Any, hint: Any) -> bool:
    """A best-effort check of YAML scalars against a dataclass field's type hint."""
    if hint is Any or hint is None:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return isinstance(value, str) or isinstance(value, hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        # YAML 1.1 reads `1e-5` (no dot) as a string; trl's own CLI parser accepts it too
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return False
            return True
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple) or hint in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _coerce(value: Any, hint: Any) -> Any:
    if isinstance(value, str) and (hint is float or float in typing.get_args(hint)):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _build(
    cls: type, values: dict, output_dir: str | Path, seed: int, path: Path, section: str, check_only: bool = False
):
    fields = _config_fields(cls)
    kwargs = {k: _coerce(v, fields.get(k)) for k, v in values.items()}
    if check_only and "use_cpu" not in kwargs:
        import torch

        # A GPU recipe (bf16, ...) is checked on a machine without one as if for the CPU;
        # running it there still fails, with transformers' own message, when training starts.
        kwargs["use_cpu"] = not torch.cuda.is_available()
    if "dataloader_pin_memory" in fields and "dataloader_pin_memory" not in kwargs and not _has_accelerator():
        # pinned memory only speeds copies to an accelerator; without one transformers'
        # default (True) changes nothing but warns once per data loader
        kwargs["dataloader_pin_memory"] = False
    try:
        return cls(output_dir=str(output_dir), seed=seed, **kwargs)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{path}: {section}: trl.{cls.__name__} refused it: {exc}") from None
