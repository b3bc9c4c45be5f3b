"""Folders that appear whole: written under a temporary name, then moved into place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_folder(staging: Path, target: Path) -> None:
    """Move the finished `staging` folder to `target`; a folder already there is moved
    aside first and removed after, so `target` is never half-written."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
