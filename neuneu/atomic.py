"""The one way this package writes a file: to a temporary name in the same directory, then ``os.replace``.

An interrupted run (Ctrl-C, a killed job, a full disk) therefore never leaves a half-written output: a reader sees
either the old file or the new one, and a resumed run finds only complete files. Temporary names are unique per
writer (``mkstemp``), so processes that share a directory — shards of one collection on a cluster file system —
each rename their own complete copy. Every writer in the package goes through :func:`replacing` (or its callback
form :func:`atomic_write`, or :func:`replacing_directory` for a directory filled as a whole); the helpers below
only choose how the bytes are produced.

:func:`locked` is the companion for work worth doing once: notebooks run side by side (``make test``, ``make book``)
ask for the same baseline answers and the same build-folder models at the same time; the second waits for the
first and then reads what it wrote instead of computing it again (or racing it into the same folder).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from neuneu.paths import BUILD_DIR

FILE_MODE = 0o644  # mkstemp creates 0600; outputs are meant to be read by others


@contextmanager
def replacing(path: Path | str) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path`` to write; on success rename it over ``path``, on any error
    remove it and leave ``path`` untouched. The temporary name keeps ``path``'s suffix, so writers that pick a
    format from the name (pandas, numpy, matplotlib) behave as for the real name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: Path | str, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it over ``path`` (see
    :func:`replacing`)."""
    with replacing(path) as tmp:
        write(tmp)
    return Path(path)


@contextmanager
def replacing_directory(path: Path | str) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path`` to fill; on success rename it to ``path`` as a whole.

    If another process renamed its own copy into place first, ours is discarded and theirs kept (callers fill it
    deterministically, so both hold the same). Callers check beforehand that ``path`` is not a stale directory.
    On failure the temporary directory is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, path)
        except OSError:
            if not path.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def lock_file(target: Path | str) -> Path:
    """The lock file of ``target`` (a file or folder worth producing once): in the build folder, named by the
    target's absolute path, so no lock file lands among committed data or in a user's folder."""
    target = Path(target)
    digest = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:16]
    return BUILD_DIR / "locks" / f"{target.name}-{digest}.lock"


@contextmanager
def locked(target: Path | str) -> Iterator[None]:
    """Hold the exclusive lock of ``target`` (:func:`lock_file`) for the block: another process, or another
    thread, asking for the same target waits until it is released. POSIX advisory locks (``flock``): the kernel
    releases them when a holder dies, so a killed run never leaves a stale lock."""
    path = lock_file(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_bytes(path: Path | str, data: bytes) -> Path:
    """``data`` into ``path``, atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path | str, text: str) -> Path:
    """``text`` (UTF-8) into ``path``, atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | str, obj: Any, *, indent: int | None = 2, sort_keys: bool = True) -> Path:
    """``obj`` as JSON (with a trailing newline) into ``path``, atomically; numpy scalars become floats."""
    return write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_frame(frame: Any, path: Path | str) -> Path:
    """A pandas DataFrame as parquet (``.parquet``) or CSV (anything else, no index), atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
