"""Deterministic file formats for the collector, written through the package's one atomic writer.

Two properties every collector file has:

* **Atomic** (:mod:`neuneu.atomic`). A file is written under a temporary name in its own directory and renamed
  into place, so a process killed at any moment leaves either the old file or the complete new one, never a torn
  one. Temporary names are unique per writer: shards of one collection that share a work directory on a cluster
  file system may write the same shared file (the prepared text, the reference scores) at the same time, and each
  renames its own complete copy. Those shared files are deterministic, so whichever rename lands last leaves the
  same bytes.
* **Deterministic.** The same arrays give the same bytes: ``.npz`` archives are written with a fixed zip timestamp
  (``numpy.savez`` stamps the current time), so a merged sharded collection is byte-identical to a single-process
  one, not just equal in value.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from neuneu import atomic

# zip's epoch; any fixed value works, this one is what reproducible-build tools use
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """``data`` into ``path``, atomically."""
    atomic.write_bytes(path, data)


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
    with atomic.replacing(path) as tmp, open(tmp, "wb") as fh:
        np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)


atomic_path = atomic.replacing  # the collector's name for the package's one atomic writer
atomic_directory = atomic.replacing_directory
