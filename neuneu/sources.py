"""Fetch the external data named in ``data/sources.toml``: by URL, or from a local mirror, always sha256-verified.

Every external file has a URL and a sha256 in the catalog. A file is stored in the cache under its URL with the
scheme removed (``data/cache/raw/raw.githubusercontent.com/OWNER/REPO/REF/PATH``), which is also the layout of a
mirror directory, so ``NEUNEU_MIRROR=../shared/mirror`` replaces the network one-for-one. Downloads go to a temp
file beside the target and are renamed only once the checksum matches: an interrupted fetch leaves nothing behind,
and a corrupt cached file is detected (by its checksum) and replaced on the next fetch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tqdm import tqdm

from neuneu import atomic
from neuneu.paths import DATA_DIR, RAW_DIR

CATALOG = DATA_DIR / "sources.toml"
MIRROR_ENV = "NEUNEU_MIRROR"
_CHUNK = 1 << 20


class SourceError(RuntimeError):
    """A file could not be provided: unknown source, checksum mismatch, absent from the mirror, no network."""


class CatalogError(SourceError):
    """``data/sources.toml`` itself is malformed: an unknown or missing field in a source or a file entry.

    Unknown fields are errors rather than ignored, so that a misspelt key (``licence``, ``sha``) is caught when
    the catalog is read instead of silently dropping the information it was meant to carry."""


@dataclass(frozen=True)
class RemoteFile:
    """One external file: where it comes from and what its bytes must hash to."""

    url: str
    sha256: str
    bytes: int

    @property
    def relpath(self) -> str:
        """The URL without its scheme: the path of the file inside the cache and inside a mirror."""
        return self.url.split("://", 1)[1]


@dataclass(frozen=True)
class Source:
    """A named group of files with one license and one citation."""

    name: str
    description: str
    license: str
    citation: str
    files: tuple[RemoteFile, ...]


SOURCE_FIELDS = ("description", "license", "citation", "files")
FILE_FIELDS = ("url", "sha256", "bytes")


def _check_fields(entry: dict, allowed: tuple[str, ...], where: str) -> None:
    """Every field of ``entry`` must be one of ``allowed``, and every allowed field must be there."""
    for key in entry:
        if key not in allowed:
            raise CatalogError(f"{where}: unknown field {key!r}; the fields are {', '.join(allowed)}")
    for key in allowed:
        if key not in entry:
            raise CatalogError(f"{where}: missing field {key!r}; the fields are {', '.join(allowed)}")


def load_catalog(path: Path = CATALOG) -> dict[str, Source]:
    """Read the catalog of sources (``data/sources.toml``) into :class:`Source` records, keyed by name.

    A source table has exactly the fields :data:`SOURCE_FIELDS` and each file entry exactly :data:`FILE_FIELDS`;
    anything else is a :class:`CatalogError` naming the catalog file, the source, the file and the field.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    extra = sorted(set(doc) - {"sources"})
    if extra:
        raise CatalogError(f"{path.name}: unknown top-level field {extra[0]!r}; "
                           f"the catalog holds only [sources.<name>] tables")
    if "sources" not in doc:
        raise CatalogError(f"{path.name}: no [sources.<name>] table")
    out: dict[str, Source] = {}
    for name, entry in doc["sources"].items():
        _check_fields(entry, SOURCE_FIELDS, f"{path.name}: source {name!r}")
        files = []
        for i, f in enumerate(entry["files"], start=1):
            _check_fields(f, FILE_FIELDS, f"{path.name}: source {name!r}, file {i} ({f.get('url', 'no url')})")
            files.append(RemoteFile(url=f["url"], sha256=f["sha256"], bytes=f["bytes"]))
        out[name] = Source(name=name, description=entry["description"], license=entry["license"],
                           citation=entry["citation"], files=tuple(files))
    return out


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_path(remote: RemoteFile, cache_dir: Path = RAW_DIR) -> Path:
    """Where ``remote`` lives once fetched."""
    return Path(cache_dir) / remote.relpath


def _default_mirror() -> Path | None:
    value = os.environ.get(MIRROR_ENV)
    return Path(value) if value else None


def _copy_into(tmp: Path, remote: RemoteFile, mirror: Path | None) -> None:
    """Write the bytes of ``remote`` into ``tmp``, from the mirror when one is named, else from the network."""
    if mirror is not None:
        src = Path(mirror) / remote.relpath
        if not src.is_file():
            raise SourceError(f"{remote.relpath}: not found in mirror {mirror}")
        shutil.copyfile(src, tmp)
        return
    try:
        with urllib.request.urlopen(remote.url, timeout=60) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out, _CHUNK)
    except (urllib.error.URLError, OSError) as exc:
        raise SourceError(
            f"{remote.relpath}: download failed ({exc}); no network? "
            f"Set {MIRROR_ENV} to a mirror directory with the same layout as the URLs."
        ) from exc


def fetch_file(remote: RemoteFile, *, mirror: Path | None = None, cache_dir: Path = RAW_DIR) -> Path:
    """Provide one verified file in the cache and return its path.

    A cached file whose checksum matches is kept as it is; one that does not match (corrupted, truncated) is
    fetched again. The new bytes land in a temp file next to the target and replace it only once verified, so
    no half-written or unverified file is ever left under the final name.
    """
    target = cached_path(remote, cache_dir)
    if target.is_file() and sha256_of(target) == remote.sha256:
        return target
    with atomic.replacing(target) as tmp:
        _copy_into(tmp, remote, mirror)
        got = sha256_of(tmp)
        if got != remote.sha256:
            raise SourceError(f"{remote.relpath}: checksum mismatch (expected {remote.sha256}, got {got})")
    return target


def fetch(
    names: Iterable[str] | None = None,
    *,
    mirror: Path | str | None = None,
    cache_dir: Path = RAW_DIR,
    catalog: Path = CATALOG,
    progress: bool = True,
) -> dict[str, list[Path]]:
    """Fetch every file of the named sources (all sources when ``names`` is None); return their cached paths.

    ``mirror`` defaults to the directory named by the ``NEUNEU_MIRROR`` environment variable; without one the
    files are downloaded from their URLs. Raises :class:`SourceError` naming the file on any failure.
    """
    sources = load_catalog(catalog)
    wanted = list(sources) if names is None else list(names)
    unknown = [n for n in wanted if n not in sources]
    if unknown:
        raise SourceError(f"unknown source(s): {', '.join(unknown)}; known: {', '.join(sources)}")
    mirror_dir = Path(mirror) if mirror is not None else _default_mirror()
    todo = [(n, f) for n in wanted for f in sources[n].files]
    out: dict[str, list[Path]] = {n: [] for n in wanted}
    bar = tqdm(todo, desc="fetch", unit="file", disable=not progress, leave=False)
    for name, remote in bar:
        out[name].append(fetch_file(remote, mirror=mirror_dir, cache_dir=cache_dir))
    return out


def register_cli(sub: argparse._SubParsersAction) -> None:
    """``neuneu fetch [NAMES...] [--mirror DIR]``."""
    p = sub.add_parser("fetch", help="fetch and verify external data (all sources by default)")
    p.add_argument("names", nargs="*", help="source names from data/sources.toml (default: all)")
    p.add_argument("--mirror", default=None, help=f"local mirror directory (default: ${MIRROR_ENV})")
    p.add_argument("--list", action="store_true", help="list the sources and exit")
    p.set_defaults(func=_cli_fetch)


def _cli_fetch(args: argparse.Namespace) -> int:
    if args.list:
        for src in load_catalog().values():
            size = sum(f.bytes for f in src.files) / 1e6
            print(f"{src.name:24s} {len(src.files):4d} files {size:8.1f} MB  {src.license}")
        return 0
    got = fetch(args.names or None, mirror=args.mirror)
    for name, paths in got.items():
        print(f"{name}: {len(paths)} files verified")
    return 0
