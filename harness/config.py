"""Where the harness keeps and finds things: environment variables, read at call time."""

from __future__ import annotations

import os
import sys
from pathlib import Path

MIRROR_ENV = "EMPATHY_HARNESS_MIRROR"
CACHE_ENV = "EMPATHY_HARNESS_CACHE"
OFFLINE_ENV = "EMPATHY_HARNESS_OFFLINE"
# which trained EPITOME instrument / BERTScore encoder the metrics use (docs/EPITOME.md, docs/METRICS.md)
EPITOME_BACKBONE_ENV = "EMPATHY_HARNESS_EPITOME_BACKBONE"
BERTSCORE_MODEL_ENV = "EMPATHY_HARNESS_BERTSCORE_MODEL"


def cache_dir() -> Path:
    """The harness cache (downloads, dense model copies, trained instruments)."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "empathy-harness")
    return path.expanduser()


def mirror_dir() -> Path | None:
    """The offline mirror folder, laid out like the official file names, if one is set."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value).expanduser() if value else None


def offline() -> bool:
    """True when downloads must not be tried (our variable, or the Hugging Face one)."""
    return any(os.environ.get(name, "") not in ("", "0") for name in (OFFLINE_ENV, "HF_HUB_OFFLINE"))


_told_offline: list[str] = []


def offline_because(problem: str) -> str:
    """Offline mode chosen because the model hub did not answer: say so once per process,
    as information (what was chosen and why), and return the reason recorded with a choice."""
    if not _told_offline:
        _told_offline.append(problem)
        print(f"offline mode: the model hub cannot be reached from here ({problem}), so the packaged offline "
              f"models are used; set {OFFLINE_ENV}=1 to choose offline mode without trying the hub",
              file=sys.stderr, flush=True)
    return "offline mode: the model hub cannot be reached"


METRICS_ENV = "EMPATHY_HARNESS_METRICS"


def metric_selection() -> list[str] | None:
    """The scorers the ED tasks compute, from EMPATHY_HARNESS_METRICS (comma-separated,
    or "none" for generation only; `default` names the default suite, so `default,epitome_full`
    adds a scorer to it); None (the default suite) when it is unset."""
    value = os.environ.get(METRICS_ENV, "")
    if value.strip().lower() == "none":
        return []
    names = [name.strip() for name in value.split(",") if name.strip()]
    return names or None


SCORER_MODULES_ENV = "EMPATHY_HARNESS_SCORER_MODULES"


def extra_scorer_modules() -> list[str]:
    """Importable modules registering your own scorers, from EMPATHY_HARNESS_SCORER_MODULES
    (comma-separated): they join the suite in every command and in stock `lm_eval` runs."""
    return [m.strip() for m in os.environ.get(SCORER_MODULES_ENV, "").split(",") if m.strip()]
