"""neuneu.sources: verified fetches from a mirror, and every failure named."""

import hashlib
import shutil
from pathlib import Path

import pytest

from neuneu import sources
from neuneu.sources import SourceError, fetch

PAYLOAD = b"step,acc\n1,0.25\n2,0.5\n"
URL = "https://example.org/owner/repo/ref/data/runs.csv"


def _catalog(tmp_path: Path, sha: str, url: str = URL) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        "[sources.demo]\ndescription = 'd'\nlicense = 'MIT'\ncitation = 'c'\n"
        f'files = [ {{ url = "{url}", sha256 = "{sha}", bytes = {len(PAYLOAD)} }} ]\n'
    )
    return path


@pytest.fixture
def world(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "example.org/owner/repo/ref/data").mkdir(parents=True)
    (mirror / "example.org/owner/repo/ref/data/runs.csv").write_bytes(PAYLOAD)
    catalog = _catalog(tmp_path, hashlib.sha256(PAYLOAD).hexdigest())
    return mirror, catalog, tmp_path / "cache"


def test_fetch_from_mirror_verifies_and_caches(world):
    mirror, catalog, cache = world
    got = fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)
    path = got["demo"][0]
    assert path == cache / "example.org/owner/repo/ref/data/runs.csv"
    assert path.read_bytes() == PAYLOAD


def test_fetch_skips_verified_file(world, monkeypatch):
    mirror, catalog, cache = world
    fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)
    monkeypatch.setattr(sources, "_copy_into", lambda *a: pytest.fail("re-fetched a verified file"))
    fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)


def test_checksum_mismatch_names_file_and_keeps_nothing(tmp_path, world):
    mirror, _, cache = world
    catalog = _catalog(tmp_path, "0" * 64)
    with pytest.raises(SourceError, match=r"example.org/owner/repo/ref/data/runs.csv: checksum mismatch \(expected 0{64}, got "):
        fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)
    folder = cache / "example.org/owner/repo/ref/data"
    assert list(folder.iterdir()) == []


def test_corrupted_cache_is_replaced(world):
    mirror, catalog, cache = world
    path = fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)["demo"][0]
    path.write_bytes(b"corrupted")
    again = fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)["demo"][0]
    assert again.read_bytes() == PAYLOAD


def test_corrupted_cache_with_corrupted_mirror_fails_naming_file(world):
    mirror, catalog, cache = world
    fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)
    (cache / "example.org/owner/repo/ref/data/runs.csv").write_bytes(b"bad")
    (mirror / "example.org/owner/repo/ref/data/runs.csv").chmod(0o644)
    (mirror / "example.org/owner/repo/ref/data/runs.csv").write_bytes(b"also bad")
    with pytest.raises(SourceError, match=r"runs.csv: checksum mismatch"):
        fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)


def test_missing_in_mirror(world, tmp_path):
    _, catalog, cache = world
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    with pytest.raises(SourceError, match=rf"example.org/owner/repo/ref/data/runs.csv: not found in mirror {empty}"):
        fetch(["demo"], mirror=empty, cache_dir=cache, catalog=catalog, progress=False)


def test_no_network_and_no_mirror(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    catalog = _catalog(tmp_path, "0" * 64, url="http://127.0.0.1:9/nothing/here.csv")
    with pytest.raises(SourceError, match=r"127.0.0.1:9/nothing/here.csv: download failed .*Set NEUNEU_MIRROR"):
        fetch(["demo"], cache_dir=tmp_path / "cache", catalog=catalog, progress=False)


def test_unknown_source(world):
    mirror, catalog, cache = world
    with pytest.raises(SourceError, match=r"unknown source\(s\): nope; known: demo"):
        fetch(["nope"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)


def test_interrupted_write_leaves_nothing(world, monkeypatch):
    mirror, catalog, cache = world

    def half_copy(src, dst):
        Path(dst).write_bytes(PAYLOAD[:5])
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copyfile", half_copy)
    with pytest.raises(KeyboardInterrupt):
        fetch(["demo"], mirror=mirror, cache_dir=cache, catalog=catalog, progress=False)
    leftovers = [p for p in cache.rglob("*") if p.is_file()]
    assert leftovers == []


def test_real_catalog_is_consistent():
    catalog = sources.load_catalog()
    urls = [f.url for s in catalog.values() for f in s.files]
    assert len(urls) == len(set(urls))
    for s in catalog.values():
        assert s.license and s.citation
        for f in s.files:
            assert len(f.sha256) == 64 and f.bytes > 0 and f.url.startswith("https://")


def test_catalog_unknown_source_field_is_named(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text("[sources.demo]\ndescription = 'd'\nlicence = 'MIT'\ncitation = 'c'\nfiles = []\n")
    with pytest.raises(sources.CatalogError, match=r"^sources.toml: source 'demo': unknown field 'licence'; "
                                                   r"the fields are description, license, citation, files$"):
        sources.load_catalog(path)


def test_catalog_unknown_file_field_is_named(tmp_path):
    path = _catalog(tmp_path, "0" * 64).with_name("sources.toml")
    path.write_text(path.read_text().replace("sha256 =", "sha =", 1))
    with pytest.raises(sources.CatalogError, match=rf"^sources.toml: source 'demo', file 1 \({URL}\): unknown field "
                                                   rf"'sha'; the fields are url, sha256, bytes$"):
        sources.load_catalog(path)


def test_catalog_missing_field_is_named(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text("[sources.demo]\ndescription = 'd'\ncitation = 'c'\nfiles = []\n")
    with pytest.raises(sources.CatalogError, match=r"^sources.toml: source 'demo': missing field 'license'; "
                                                   r"the fields are description, license, citation, files$"):
        sources.load_catalog(path)
    path.write_text("[source.demo]\ndescription = 'd'\n")
    with pytest.raises(sources.CatalogError, match=r"^sources.toml: unknown top-level field 'source'; "
                                                   r"the catalog holds only \[sources.<name>\] tables$"):
        sources.load_catalog(path)
