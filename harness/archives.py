"""Extracting archives without letting a member escape the destination folder."""

from __future__ import annotations

import fnmatch
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from harness.errors import ResourceError


def _safe_relative(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith(("/", "\\")) or ":" in path.parts[0]:
        raise ResourceError(f"{archive}: refusing archive member {name!r}: it points outside the destination")
    return path


def extract_tar(archive: Path, dest: Path, patterns: list[str]) -> list[Path]:
    """Extract the regular-file members of `archive` matching any glob in `patterns` into `dest`.

    Links, devices and paths leaving `dest` are refused: the archive is untrusted input.
    """
    written = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if not any(fnmatch.fnmatch(member.name, p) for p in patterns):
                continue
            rel = _safe_relative(member.name, archive)
            if not member.isfile():
                if member.isdir():
                    continue
                raise ResourceError(f"{archive}: refusing archive member {member.name!r}: not a regular file")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            written.append(target)
    return written


def extract_zip_member(archive: Path, pattern: str, target: Path) -> Path:
    """Copy the one member of a zip whose name matches `pattern` to `target`."""
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if fnmatch.fnmatch(n, pattern) and not n.endswith("/")]
        if len(names) != 1:
            raise ResourceError(f"{archive}: expected one member matching {pattern!r}, found {names or 'none'}")
        _safe_relative(names[0], archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(names[0]) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
    return target
