"""Checkpoint manifests and shards: one ordered list of units of work that N processes split and a merge joins.

A **unit** is one checkpoint to score: ``(model, revision)``. For the mini-ladder ``model`` is a run name and
``revision`` is ``step<N>``; for pretrained checkpoints ``model`` is anything ``from_pretrained`` accepts (a local
directory or a hub id) and ``revision`` a hub revision ("" for the default one). A **manifest** is the ordered,
duplicate-free list of units, stored as a small tab-separated file::

    model<TAB>revision
    xs-prose-s0<TAB>step37
    ...

The order is the order of the output tables, so a manifest fixes the result bytes. ``--shard k/n`` (1-based) takes
every n-th item of a list starting at the k-th: items ``k-1, k-1+n, …`` (round-robin, so each shard gets a mix of
small and large models and the shards finish at about the same time). :func:`check_complete` is the merge's gate:
it names every shard that is missing or incomplete.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

from neuneu.collect.errors import IncompleteShardsError, ManifestError, ShardError
from neuneu.collect.files import write_bytes_atomic

T = TypeVar("T")

MANIFEST_HEADER = "model\trevision"
_SHARD = re.compile(r"^\s*(-?\d+)\s*/\s*(-?\d+)\s*$")
_STEP = re.compile(r"step(\d+)")


class Unit(NamedTuple):
    """One checkpoint to score: a run name or model reference, and a revision ("" = the model's default)."""

    model: str
    revision: str

    def label(self) -> str:
        """``model@revision`` (or just ``model``), as error messages name a unit."""
        return f"{self.model}@{self.revision}" if self.revision else self.model


class Shard(NamedTuple):
    """Shard ``index`` of ``count`` (1-based), as ``--shard index/count`` names it."""

    index: int
    count: int

    def take(self, items: Sequence[T]) -> list[T]:
        """This shard's share of ``items``: every ``count``-th item starting at position ``index - 1``."""
        return list(items[self.index - 1 :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def owner(position: int, count: int) -> int:
    """The (1-based) shard of ``count`` that owns the item at 0-based ``position`` of a list."""
    return position % count + 1


def check_shard_count(count: int) -> int:
    """``count`` if it is a valid number of shards (>= 1), else :class:`ShardError`."""
    if count < 1:
        raise ShardError(f"the number of shards must be at least 1, got {count}")
    return count


def parse_shard(text: str | None) -> Shard | None:
    """``"k/n"`` -> ``Shard(k, n)``; None stays None. Shards are numbered from 1 (SLURM array task ``i`` is shard
    ``i+1``), so ``0/3`` and ``4/3`` are errors, each with its own message."""
    if text is None:
        return None
    match = _SHARD.match(text)
    if match is None:
        raise ShardError(f"shard must look like k/n (the k-th of n shards, counted from 1), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    check_shard_count(count)
    if not 1 <= index <= count:
        raise ShardError(f"shard {text.strip()} is out of range: k must be between 1 and {count} "
                         f"(shards are counted from 1)")
    return Shard(index, count)


def revision_step(revision: str | None) -> int | None:
    """The training step a revision names (``step1000``, ``step1000-unsharded-hf`` -> 1000), or None."""
    match = _STEP.search(revision or "")
    return int(match.group(1)) if match else None


def check_units(units: Sequence[Unit], where: str = "checkpoint list") -> list[Unit]:
    """``units`` as a list if it is a valid manifest (non-empty, no duplicates, no tab or newline in a field)."""
    units = [Unit(str(u[0]), str(u[1])) for u in units]
    if not units:
        raise ManifestError(f"{where} lists no checkpoints")
    seen: dict[Unit, int] = {}
    for i, unit in enumerate(units):
        if not unit.model:
            raise ManifestError(f"{where}: checkpoint {i + 1} has an empty model")
        if any(c in field for field in unit for c in "\t\r\n"):
            raise ManifestError(f"{where}: checkpoint {i + 1} ({unit.label()!r}) has a tab or line break in a field")
        if unit in seen:
            raise ManifestError(f"{where}: checkpoint {i + 1} ({unit.label()}) repeats checkpoint {seen[unit] + 1}")
        seen[unit] = i
    return units


def manifest_text(units: Sequence[Unit]) -> str:
    """The manifest file's content: the header, then one ``model<TAB>revision`` line per unit."""
    return "".join(f"{line}\n" for line in [MANIFEST_HEADER, *(f"{u.model}\t{u.revision}" for u in units)])


def manifest_digest(units: Sequence[Unit]) -> str:
    """SHA-256 of the manifest text: names a manifest's work directory and is recorded in its outputs."""
    return hashlib.sha256(manifest_text(units).encode()).hexdigest()


def write_manifest(path: Path | str, units: Sequence[Unit]) -> Path:
    """Write ``units`` as a manifest file (atomically) and return its path."""
    path = Path(path)
    units = check_units(units, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, manifest_text(units).encode())
    return path


def read_manifest(path: Path | str) -> list[Unit]:
    """The units of a manifest file written by :func:`write_manifest` (or by hand in the same format)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"checkpoint manifest {path} does not exist")
    lines = path.read_text().splitlines()
    if not lines or lines[0] != MANIFEST_HEADER:
        got = lines[0] if lines else ""
        raise ManifestError(f"{path}: the first line must be the header 'model<TAB>revision', got {got!r}")
    units = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 2:
            raise ManifestError(f"{path}:{number}: expected 2 tab-separated fields (model, revision), "
                                f"got {len(fields)}")
        units.append(Unit(*fields))
    return check_units(units, str(path))


def units_from_jsonl(path: Path | str) -> list[Unit]:
    """Units from a JSON-lines checkpoint list, one model per line with its ``revisions``.

    The model is ``model`` or, in DataDecide's lists (``datadecide-lists`` in ``data/sources.toml``),
    ``checkpoints_location``. Models keep the file's order; each model's revisions are sorted by the step they
    name (then by name), so the tables come out in training order whatever order the list gives."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"checkpoint list {path} does not exist")
    units = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{number}: not JSON ({exc.msg})") from None
        model = row.get("model", row.get("checkpoints_location")) if isinstance(row, dict) else None
        revisions = row.get("revisions") if isinstance(row, dict) else None
        if not isinstance(model, str) or not isinstance(revisions, list):
            raise ManifestError(f"{path}:{number}: needs a 'model' (or 'checkpoints_location') string and a "
                                f"'revisions' list")
        ordered = sorted(map(str, revisions), key=lambda r: (revision_step(r) is None, revision_step(r) or 0, r))
        units.extend(Unit(model, r) for r in ordered)
    return check_units(units, str(path))


def read_checkpoints(path: Path | str) -> list[Unit]:
    """A checkpoint list in either format: ``.jsonl`` (see :func:`units_from_jsonl`) or a manifest file."""
    path = Path(path)
    return units_from_jsonl(path) if path.suffix == ".jsonl" else read_manifest(path)


def check_complete(units: Sequence[Unit], is_done: Callable[[Unit], bool], count: int, *, where: Path | str,
                   also: Sequence[str] = ()) -> None:
    """Raise :class:`IncompleteShardsError` unless every unit is done; the message names each shard of ``count``
    that has done none of its units ("missing") or only some ("incomplete", with the first missing units).

    ``also`` are further problems (e.g. unfinished training) to report in the same message."""
    check_shard_count(count)
    done = [is_done(u) for u in units]
    problems = []
    for index in range(1, count + 1):
        positions = range(index - 1, len(units), count)
        todo = [units[p] for p in positions if not done[p]]
        if not todo:
            continue
        n = len(positions)
        if len(todo) == n:
            problems.append(f"shard {index}/{count} is missing (0 of {n} checkpoints scored)")
        else:
            shown = ", ".join(u.label() for u in todo[:3]) + (f" and {len(todo) - 3} more" if len(todo) > 3 else "")
            problems.append(f"shard {index}/{count} is incomplete ({n - len(todo)} of {n} checkpoints scored; "
                            f"missing {shown})")
    problems.extend(also)
    if problems:
        raise IncompleteShardsError(f"cannot merge {count} shards of {where}: {'; '.join(problems)}; "
                                    f"nothing was written")

