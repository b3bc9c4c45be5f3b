"""The only code that reaches the network or the cache for data files.

A resource is found, in order: an explicit path given by the caller; the offline mirror
folder named by EMPATHY_HARNESS_MIRROR (same file names as the official releases); the
harness cache; else it is downloaded from its official URL, checked against a pinned
sha256 and moved into the cache in one rename, so an interrupted download leaves nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness import __version__
from harness.archives import extract_tar, extract_zip_member
from harness.config import CACHE_ENV, MIRROR_ENV, OFFLINE_ENV, cache_dir, mirror_dir, offline
from harness.errors import ResourceError


@dataclass(frozen=True)
class Resource:
    """One data file (or folder) the harness reads.

    kind "file": the download is the file; `sha256` is the download's.
    kind "zip-member": the download is a zip; `member` is the glob of the file kept;
        `sha256` is the kept file's (the publishers give no checksum for their zips, so
        the pin is the file this harness was validated with).
    kind "tar-folder": the download is a tar; members matching `member` (comma-separated
        globs) are extracted under `relpath`'s parent; `sha256` is the tar's.
    """

    name: str
    relpath: str
    url: str
    sha256: str
    kind: str = "file"
    member: str = ""
    description: str = ""


_EPITOME_URL = "https://raw.githubusercontent.com/behavioral-data/Empathy-Mental-Health/master/dataset/"

RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in [
        Resource(
            "ed",
            "empatheticdialogues.tar.gz",
            "https://dl.fbaipublicfiles.com/parlai/empatheticdialogues/empatheticdialogues.tar.gz",
            "56f234d77b7dd1f005fd365bb17769cfe346c3c84295b69bc069c8ccb83be03d",
            description="EmpatheticDialogues release (CC BY-NC 4.0)",
        ),
        Resource(
            "nrc-vad",
            "nrc/NRC-VAD-Lexicon.txt",
            "https://saifmohammad.com/WebDocs/Lexicons/NRC-VAD-Lexicon.zip",
            "a3917e6c4ff9e62b714b24d586844e64666b4eeb5009bc829e7ceddeb893153e",
            kind="zip-member",
            member="*NRC-VAD-Lexicon.txt",
            description="NRC Valence-Arousal-Dominance lexicon (free for research)",
        ),
        Resource(
            "nrc-intensity",
            "nrc/NRC-Emotion-Intensity-Lexicon-v1.txt",
            "https://saifmohammad.com/WebDocs/Lexicons/NRC-Emotion-Intensity-Lexicon.zip",
            "19b9e2aa4b7f125a64f61bcbcad4bffdb163288824b9b5d59c8ef3d2e35208a1",
            kind="zip-member",
            member="*NRC-Emotion-Intensity-Lexicon-v1.txt",
            description="NRC Emotion Intensity lexicon (free for research)",
        ),
        Resource(
            "epitome-er",
            "epitome/emotional-reactions-reddit.csv",
            _EPITOME_URL + "emotional-reactions-reddit.csv",
            "225b28ffdc257f8a997d557eb937e78b68235e6203c87c7e2203d00fef8545cc",
            description="EPITOME emotional reactions, Reddit (academic, non-commercial)",
        ),
        Resource(
            "epitome-ip",
            "epitome/interpretations-reddit.csv",
            _EPITOME_URL + "interpretations-reddit.csv",
            "2cedbe4252c919d22a6f46685afa16d3192a91e3306c2d4a386be12a30ad3f29",
            description="EPITOME interpretations, Reddit (academic, non-commercial)",
        ),
        Resource(
            "epitome-ex",
            "epitome/explorations-reddit.csv",
            _EPITOME_URL + "explorations-reddit.csv",
            "9efa1af8e0537c16894379598f2076cb380ae18aacd9a8d26ebd381f5b7f9645",
            description="EPITOME explorations, Reddit (academic, non-commercial)",
        ),
        Resource(
            "mmlu",
            "mmlu/data",
            "https://people.eecs.berkeley.edu/~hendrycks/data.tar",
            "bec563ba4bac1d6aaf04141cd7d1605d7a5ca833e38f994051e818489592989b",
            kind="tar-folder",
            member="data/dev/*.csv,data/test/*.csv",
            description="MMLU, original release layout (MIT)",
        ),
        Resource(
            "eq-bench",
            "eq-bench/eq_bench_v2_questions_171.json",
            "https://raw.githubusercontent.com/EQ-bench/EQ-Bench/2f6eab448812177bda543711390d81b97686b81c/"
            "data/eq_bench_v2_questions_171.json",
            "b4e9bf11df7e88bc12381efab18565f8b0ff0d4743fe8708c4482df91c4e617a",
            description="EQ-Bench v2 questions, 171 (MIT)",
        ),
        Resource(
            "empo-human-eval",
            "empo-human-eval/he_data.csv",
            "https://raw.githubusercontent.com/justtherightsize/empo/main/data/he_data.csv",
            "b0f1983d1472f4c97093d09f1ab0fba1a6092077c3a10520513b96171373be0f",
            description="EmPO's human evaluation ratings (research data released with the paper)",
        ),
    ]
}


def get(name: str) -> Resource:
    try:
        return RESOURCES[name]
    except KeyError:
        raise ResourceError(f"unknown resource {name!r}; known: {', '.join(RESOURCES)}") from None


def resolve(name: str, path: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The local path of resource `name`, fetching it into the cache if needed."""
    res = get(name)
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.exists():
            raise ResourceError(f"{res.name}: the path you gave does not exist: {explicit}")
        return explicit
    mirror = mirror_dir()
    if mirror is not None and (mirror / res.relpath).exists():
        return mirror / res.relpath
    cached = cache_dir() / res.relpath
    if cached.exists():
        return cached
    if not download or offline():
        raise ResourceError(_missing_message(res, mirror, reason="downloads are off" if offline() else None))
    return _fetch(res, cached)


def provenance(name: str, path: str | os.PathLike | None = None) -> dict:
    """Where a resource was read from and its sha256, for run manifests."""
    resolved = resolve(name, path)
    return {"resource": name, "path": str(resolved), "sha256": sha256_of(resolved)}


def sha256_of(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a folder's files in sorted relative-path order."""
    path = Path(path)
    stat = path.stat()
    return _sha256_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _sha256_cached(path: str, _mtime: int, _size: int) -> str:
    p = Path(path)
    digest = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            digest.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _missing_message(res: Resource, mirror: Path | None, reason: str | None = None) -> str:
    where = f"{MIRROR_ENV}={mirror} has no {res.relpath}" if mirror else f"{MIRROR_ENV} is not set"
    why = f" ({reason}: {OFFLINE_ENV} or HF_HUB_OFFLINE is set)" if reason else ""
    return (
        f"{res.description or res.name} is missing{why}: {where}, and the cache "
        f"{cache_dir() / res.relpath} is empty. Download {res.url} (sha256 {res.sha256}) and put "
        f"it at <mirror>/{res.relpath}, then set {MIRROR_ENV}=<mirror> (or {CACHE_ENV})."
    )


def _fetch(res: Resource, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        download = Path(tmp) / Path(res.url).name
        digest = _download(res, download)
        if res.kind == "file":
            _check(res, digest, what="download")
            os.replace(download, target)
        elif res.kind == "zip-member":
            member = extract_zip_member(download, res.member, Path(tmp) / "member")
            _check(res, sha256_of(member), what=f"file {res.member} inside the download")
            os.replace(member, target)
        elif res.kind == "tar-folder":
            _check(res, digest, what="download")
            staging = Path(tmp) / "staging"
            extract_tar(download, staging, res.member.split(","))
            # the tar's top folder ("data") becomes relpath's last component
            top = staging / Path(res.member.split(",")[0]).parts[0]
            if target.exists():
                shutil.rmtree(target)
            os.replace(top, target)
        else:  # pragma: no cover - the table above is the only source of kinds
            raise ResourceError(f"unknown resource kind {res.kind!r}")
    return target


def _check(res: Resource, digest: str, what: str) -> None:
    if digest != res.sha256:
        raise ResourceError(
            f"{res.name}: sha256 of the {what} from {res.url} is {digest}, expected {res.sha256}. "
            f"The published file changed or the download was corrupted; nothing was stored. "
            f"Put a copy you trust at <mirror>/{res.relpath} and set {MIRROR_ENV}=<mirror>."
        )


def _download(res: Resource, dest: Path) -> str:
    request = urllib.request.Request(res.url, headers={"User-Agent": f"empathy-harness/{__version__}"})
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=60) as response, open(dest, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise ResourceError(_missing_message(res, mirror_dir(), reason=None) + f" (download failed: {exc})") from None
    return digest.hexdigest()
