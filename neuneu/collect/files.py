"""Atomic and deterministic file writes for the collector.

Two properties every collector file has:

* **Atomic.** A file is written under a temporary name in its own directory and renamed into place, so a process
  killed at any moment leaves either the old file or the complete new one, never a torn one. Temporary names are
  unique per writer (``<name>.tmp-<pid>-<random>``): shards of one collection that share a work directory on a
  cluster file system may write the same shared file (the prepared text, the reference scores) at the same time,
  and each must rename its own complete copy. Those shared files are deterministic, so whichever rename lands last
  leaves the same bytes.
* **Deterministic.** The same arrays give the same bytes: ``.npz`` archives are written with a fixed zip timestamp
  (``numpy.savez`` stamps the current time), so a merged sharded collection is byte-identical to a single-process
  one, not just equal in value.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

# zip's epoch; any fixed value works, this one is what reproducible-build tools use
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def temp_name(path: Path) -> Path:
    """A unique temporary sibling of ``path`` (same directory, so the final rename stays on one file system)."""
    return path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; on success rename it to ``path``, on any error delete it."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """``data`` into ``path``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: Path | str, obj) -> None:
    """JSON with sorted keys (so equal objects give equal bytes), atomically."""
    write_bytes_atomic(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())


def write_csv_atomic(frame: pd.DataFrame, path: Path | str) -> None:
    """A table as CSV (no index, 6 significant digits), atomically."""
    write_bytes_atomic(path, frame.to_csv(index=False, float_format="%.6g", lineterminator="\n").encode())


def npz_bytes(arrays: Mapping[str, np.ndarray], *, compress: bool = False) -> bytes:
    """The ``.npz`` archive of ``arrays`` (readable by ``numpy.load``) with fixed zip metadata: same arrays, same
    bytes. Arrays of Python objects are refused, as ``numpy.load`` would refuse to read them back."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_TIMESTAMP)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)
    return buf.getvalue()


def save_npz_atomic(path: Path | str, *, compress: bool = False, **arrays: np.ndarray) -> None:
    """``arrays`` as a deterministic ``.npz`` at ``path``, atomically."""
    write_bytes_atomic(path, npz_bytes(arrays, compress=compress))


def save_npy_atomic(path: Path | str, array: np.ndarray) -> None:
    """One array as ``.npy`` at ``path``, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)


@contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Yield an empty temporary directory to fill; on success rename it to ``path`` as a whole.

    If another process renamed its own copy into place first, ours is discarded and theirs is kept (the caller's
    contents are deterministic, so both are the same). The caller checks beforehand that ``path`` is not a stale
    directory. On failure the temporary directory is removed."""
    tmp = temp_name(path)
    tmp.mkdir(parents=True)
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
