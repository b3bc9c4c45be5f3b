"""Resource resolution order, verified downloads, and safe extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness import resources
from harness.errors import ResourceError


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EMPATHY_HARNESS_MIRROR", raising=False)
    monkeypatch.delenv("EMPATHY_HARNESS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path


def fake(monkeypatch, **fields) -> resources.Resource:
    res = resources.Resource(**{"name": "fake", "relpath": "sub/fake.txt", "url": "file:///nowhere", "sha256": "0"} | fields)
    monkeypatch.setitem(resources.RESOURCES, "fake", res)
    return res


def test_explicit_path_wins(isolated, monkeypatch):
    fake(monkeypatch)
    given = isolated / "mine.txt"
    given.write_text("x")
    mirror = isolated / "mirror" / "sub"
    mirror.mkdir(parents=True)
    (mirror / "fake.txt").write_text("mirror")
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(isolated / "mirror"))
    assert resources.resolve("fake", given) == given
    assert resources.resolve("fake") == mirror / "fake.txt"


def test_explicit_path_missing_is_an_error(isolated, monkeypatch):
    fake(monkeypatch)
    with pytest.raises(ResourceError, match="does not exist: .*absent.txt"):
        resources.resolve("fake", isolated / "absent.txt")


def test_cache_used_when_mirror_lacks_the_file(isolated, monkeypatch):
    fake(monkeypatch)
    monkeypatch.setenv("EMPATHY_HARNESS_MIRROR", str(isolated / "empty-mirror"))
    cached = isolated / "cache" / "sub" / "fake.txt"
    cached.parent.mkdir(parents=True)
    cached.write_text("cached")
    assert resources.resolve("fake") == cached


def test_offline_and_missing_names_file_url_and_variable(isolated, monkeypatch):
    fake(monkeypatch, url="https://example.org/fake.txt")
    monkeypatch.setenv("EMPATHY_HARNESS_OFFLINE", "1")
    with pytest.raises(ResourceError) as err:
        resources.resolve("fake")
    message = str(err.value)
    assert "sub/fake.txt" in message and "https://example.org/fake.txt" in message
    assert "EMPATHY_HARNESS_MIRROR" in message


def test_download_verified_and_stored(isolated, monkeypatch):
    source = isolated / "published.txt"
    source.write_bytes(b"lexicon data\n")
    fake(monkeypatch, url=source.as_uri(), sha256=hashlib.sha256(b"lexicon data\n").hexdigest())
    path = resources.resolve("fake")
    assert path == isolated / "cache" / "sub" / "fake.txt"
    assert path.read_bytes() == b"lexicon data\n"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".download")]


def test_checksum_mismatch_stores_nothing(isolated, monkeypatch):
    source = isolated / "published.txt"
    source.write_bytes(b"tampered\n")
    fake(monkeypatch, url=source.as_uri(), sha256="ab" * 32)
    with pytest.raises(ResourceError, match="sha256 of the download .* expected abab"):
        resources.resolve("fake")
    assert not (isolated / "cache" / "sub" / "fake.txt").exists()
    assert list((isolated / "cache" / "sub").iterdir()) == []


def test_zip_member_download(isolated, monkeypatch):
    archive = isolated / "lexicon.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Lexicon/readme.txt", "read me")
        zf.writestr("Lexicon/Lexicon.txt", "word\t0.5\n")
    digest = hashlib.sha256(b"word\t0.5\n").hexdigest()
    fake(monkeypatch, url=archive.as_uri(), sha256=digest, kind="zip-member", member="*Lexicon.txt")
    assert resources.resolve("fake").read_text() == "word\t0.5\n"


def tar_with(path: Path, members: list[tarfile.TarInfo], payload: bytes = b"q,a,b,c,d,A\n") -> Path:
    with tarfile.open(path, "w") as tar:
        for info in members:
            if info.isfile():
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                tar.addfile(info)
    return path


def test_tar_folder_download(isolated, monkeypatch):
    archive = tar_with(isolated / "data.tar", [tarfile.TarInfo("data/dev/x_dev.csv"), tarfile.TarInfo("data/test/x_test.csv"),
                                              tarfile.TarInfo("data/auxiliary_train/big.csv")])
    digest = resources.sha256_of(archive)
    fake(monkeypatch, relpath="mmlu/data", url=archive.as_uri(), sha256=digest, kind="tar-folder",
         member="data/dev/*.csv,data/test/*.csv")
    folder = resources.resolve("fake")
    assert folder == isolated / "cache" / "mmlu" / "data"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.csv")) == ["dev/x_dev.csv", "test/x_test.csv"]


@pytest.mark.parametrize("name", ["data/../../evil.csv", "/etc/evil.csv"])
def test_tar_traversal_refused(isolated, name):
    archive = tar_with(isolated / "evil.tar", [tarfile.TarInfo(name)])
    with pytest.raises(ResourceError, match="points outside"):
        from harness.archives import extract_tar

        extract_tar(archive, isolated / "out", ["*"])
    assert not (isolated / "evil.csv").exists()


def test_tar_links_refused(isolated):
    link = tarfile.TarInfo("data/dev/link.csv")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    archive = tar_with(isolated / "link.tar", [link])
    from harness.archives import extract_tar

    with pytest.raises(ResourceError, match="not a regular file"):
        extract_tar(archive, isolated / "out", ["data/dev/*"])


def test_zip_traversal_refused(isolated):
    archive = isolated / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../Lexicon.txt", "x")
    from harness.archives import extract_zip_member

    with pytest.raises(ResourceError, match="points outside"):
        extract_zip_member(archive, "*Lexicon.txt", isolated / "out.txt")


def test_every_resource_has_a_pinned_checksum():
    for res in resources.RESOURCES.values():
        assert len(res.sha256) == 64 and res.url.startswith("https://"), res.name


@pytest.mark.mirror
def test_mirror_files_match_their_pins(mirror):
    # the mirror's ED tarball is a rebuild (see its README); every other file is the original
    for res in resources.RESOURCES.values():
        if res.kind != "tar-folder" and res.name != "ed":
            assert resources.sha256_of(resources.resolve(res.name)) == res.sha256, res.name
