"""A suite of your own training runs, from one long-format table, as the :class:`~neuneu.contract.Series` the
corpus uses — so every forecaster, baseline and evaluation runs on it unchanged.

:func:`read_suite` reads the table (CSV or parquet) and checks it; :func:`write_suite` writes any list of series
(the mini-ladder's ``neuneu.collect.to_series()``, the public corpus) back in the same format.

The long format
---------------

One row per (run, task, checkpoint). Column names are exact (case-sensitive, surrounding spaces ignored); any
other column is an error, so that a misspelt optional column (``tokns``) is reported instead of ignored.

==================  ==========  =========  =====================================================================
column              type        required   meaning (unit)
==================  ==========  =========  =====================================================================
``run``             text        yes        name of the training run; one run = one model trained once
``task``            text        yes        downstream task the accuracy is measured on; a name ending in ``_mc``
                                           marks the multiple-choice format (the answer's letter), as OLMo's
                                           evaluation names it: a task never seen then reads the law pooled over
                                           the other ``_mc`` tasks (:func:`neuneu.contract.task_format`)
``step``            integer     yes        optimizer step of the checkpoint, >= 0
``accuracy``        number      yes        downstream accuracy as a fraction in [0, 1] (not a percentage)
``tokens``          number      no         training tokens seen at the checkpoint (cumulative), >= 0
``tokens_per_step`` number      no         tokens per optimizer step (one value per run), > 0; tokens = step × it
``flops``           number      no         training FLOPs spent at the checkpoint (cumulative), >= 0
``params``          number      no         parameter count N of the run's model (one value per run), > 0
``loss``            number      no         mean validation loss at the checkpoint (nats per token)
``loss_<name>``     number      no         validation loss on domain ``<name>`` (nats per token); any number of
                                           such columns, e.g. ``loss_web``, ``loss_code``
``family``          text        no         model family (one value per run); default ``user``
``recipe``          text        no         data/training recipe (one value per run); default ``default``
``seed``            text        no         seed label (one value per run); default ``default``
==================  ==========  =========  =====================================================================

Every cell of a column that is present must be filled: an empty or NaN ``tokens`` (or ``loss``, ``flops``…) is
an error, never silently dropped. Values that belong to a checkpoint (tokens, flops, losses) must agree across the
tasks of that checkpoint, and values that belong to a run (params, tokens_per_step, family, recipe, seed) across
all its rows.

How the table becomes series
----------------------------

* *Order.* Within one (run, task) the rows must appear in increasing step order: the file is **not** sorted for
  you. A step going backwards almost always means two runs share a run name (two seeds, a restart from an
  earlier checkpoint pasted under the old name), and sorting would interleave them into one meaningless
  trajectory. Rows of different (run, task) may be interleaved freely.
* *Duplicates.* A row repeated exactly (anywhere in the file) is merged; the same (run, task, step) with
  different values is an error.
* *Step 0* is dropped, as in the corpus (an untrained model says nothing about the trajectory); every (run,
  task) needs at least ``min_checkpoints`` (default 5) checkpoints after that.
* *Losses.* ``losses["mean"]`` is the ``loss`` column; without it, and with ``loss_<name>`` columns, it is the
  row mean of those (a plain, unweighted mean over domains — the corpus's choice for OLMo's domains). The
  ``loss_<name>`` columns also form ``losses["vector"]`` (n, d), in file order, their names in
  ``meta["loss_names"]``. A ``loss`` column is used as given, not checked against the domain mean. With no loss
  column the series have no losses (``losses == {}``): forecasting from accuracy alone still works, the
  loss-given setting does not.
* *Tokens.* From ``tokens``; else ``step × tokens_per_step``; else **unknown**: the ``tokens`` array then holds
  the step numbers, i.e. the compute axis is steps (``meta["tokens_from"] == "steps"``). NeuNeu places
  checkpoints by log-compute differences from the context end (:mod:`neuneu.samples`), which are the same for
  steps and tokens when the batch size is constant: exact within one run at a fixed batch size, not comparable
  across runs with different batch sizes. Giving both ``tokens`` and ``tokens_per_step`` is an error (which one
  would be right?).
* *FLOPs.* From ``flops``; else 6·N·D with N = ``params`` and D the tokens above (``meta["flops_from"] ==
  "6ND"``; when the tokens are steps this is 6·N·step, proportional to the true FLOPs at a fixed batch size);
  else unknown: NaN (``meta["flops_from"] == "unknown"``) rather than a guess — NeuNeu on the FLOPs axis then
  reports that the series has no usable checkpoint, and the baselines fall back to the tokens axis.
* *Meta.* ``source="user"``, family, ``size_params`` (``params`` or NaN), recipe, seed, ``compute_multiplier``
  (NaN: unknown), ``loss_kind`` (``"user"``; ``"none"`` without loss columns), ``tokens_from`` (``"tokens"``,
  ``"tokens_per_step"`` or ``"steps"``), ``flops_from`` (``"flops"``, ``"6ND"`` or ``"unknown"``).

Errors
------

Every problem is a :class:`SuiteError` (a ``ValueError``) subclass whose message starts with the file name and,
for a cell, its place — ``file line L (data row R)`` for CSV (R counts data rows from 1; L = R + 1 when the file
has no blank lines) and ``file data row R`` for parquet — then says what is wrong and what to do. Nothing is
returned or written when anything is wrong.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuneu import atomic
from neuneu.contract import Series
from neuneu.trajectories import MIN_CHECKPOINTS

SOURCE = "user"
REQUIRED = ("run", "task", "step", "accuracy")
OPTIONAL_NUMBERS = ("tokens", "tokens_per_step", "flops", "params", "loss")
OPTIONAL_TEXT = ("family", "recipe", "seed")
LOSS_PREFIX = "loss_"
DEFAULTS = {"family": "user", "recipe": "default", "seed": "default"}
RUN_LEVEL = ("params", "tokens_per_step", "family", "recipe", "seed")
_LOSS_NAME = re.compile(r"^loss_(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)$")
_MISSING_TEXT = frozenset({"", "nan", "NaN", "NAN", "NA"})
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class SuiteError(ValueError):
    """Base of every error about a suite table; the message names the file and, for a cell, its row."""


class SuiteFormatError(SuiteError):
    """The file cannot be read as a table: unknown file type, not UTF-8, a ragged CSV row, a repeated or
    contradictory header."""


class MissingColumnError(SuiteError):
    """A required column (run, task, step, accuracy) is absent."""


class UnknownColumnError(SuiteError):
    """A column that is not part of the format (often a misspelt optional column)."""


class NonNumericError(SuiteError):
    """A cell of a numeric column holds something that is not a finite number (or a step that is not whole)."""


class MissingValueError(SuiteError):
    """An empty or NaN cell in a column that is present (rejected, never dropped)."""


class MissingAccuracyError(MissingValueError):
    """An empty or NaN accuracy."""


class MissingTokensError(MissingValueError):
    """An empty or NaN token count while the table has a tokens column."""


class PercentAccuracyError(SuiteError):
    """An accuracy in (1, 100]: a percentage where a fraction belongs."""


class AccuracyRangeError(SuiteError):
    """An accuracy below 0 or above 100: not an accuracy at all."""


class NegativeValueError(SuiteError):
    """A negative step, token or FLOP count, or a non-positive parameter count or tokens per step."""


class StepOrderError(SuiteError):
    """Within one (run, task) a step (or the token count) goes backwards in file order."""


class ConflictingStepsError(SuiteError):
    """One (run, task, step) appears twice with different values."""


class InconsistentRunError(SuiteError):
    """A value that belongs to a run (params, family…) or to a checkpoint (tokens, loss…) differs between rows."""


class TooFewCheckpointsError(SuiteError):
    """A (run, task) with fewer than ``min_checkpoints`` checkpoints after dropping step 0."""


class SuiteWriteError(SuiteError):
    """Series that cannot be written as one table (a key twice, or columns some series have and others lack)."""


# ----------------------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class _Table:
    """A table as read, before any check: column name → raw cells, and where each row came from."""

    name: str
    columns: list[str]
    cells: dict[str, list[Any]]
    lines: list[int] | None  # file line of each data row (CSV); None for parquet

    def where(self, i: int) -> str:
        """The place of data row index ``i`` (0-based) in the messages."""
        if self.lines is None:
            return f"{self.name} data row {i + 1}"
        return f"{self.name} line {self.lines[i]} (data row {i + 1})"

    def line(self, i: int) -> str:
        """Short form of the place of row ``i``, for messages that name two rows."""
        return f"data row {i + 1}" if self.lines is None else f"line {self.lines[i]}"


def _kind(path: Path) -> str:
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise SuiteFormatError(f"{path.name}: unknown file type {path.suffix or '(none)'!r}; a suite is a .csv or "
                               f".parquet file")
    return kind


def _read_csv(path: Path) -> _Table:
    """CSV → raw text cells with the file line of each record (blank lines skipped, quoted newlines allowed)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise SuiteFormatError(f"{path.name}: empty file; the first line must be the header "
                                       f"({', '.join(REQUIRED)}, ...)")
            header = [h.strip() for h in header]
            records: list[list[str]] = []
            lines: list[int] = []
            start = reader.line_num + 1
            for record in reader:
                if not record:
                    start = reader.line_num + 1
                    continue
                if len(record) != len(header):
                    raise SuiteFormatError(f"{path.name} line {start}: {len(record)} fields, the header has "
                                           f"{len(header)}; every row needs one cell per column (leave it empty "
                                           f"between commas if it has no value)")
                records.append([c.strip() for c in record])
                lines.append(start)
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise SuiteFormatError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the table "
                               f"as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise SuiteFormatError(f"{path.name}: not a readable CSV file ({exc})") from exc
    cells = {col: [r[j] for r in records] for j, col in enumerate(header)}
    table = _Table(path.name, header, cells, lines)
    _check_header(table)
    return table


def _read_parquet(path: Path) -> _Table:
    """Parquet → raw cells (numbers stay numbers); rows are numbered from 1."""
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise SuiteFormatError(f"{path.name}: not a readable parquet file ({exc})") from exc
    header = [str(c).strip() for c in frame.columns]
    table = _Table(path.name, header, {h: frame.iloc[:, j].tolist() for j, h in enumerate(header)}, None)
    _check_header(table)
    return table


def _check_header(table: _Table) -> None:
    seen: dict[str, int] = {}
    for j, col in enumerate(table.columns, start=1):
        if col in seen:
            raise SuiteFormatError(f"{table.name}: column {col!r} appears twice in the header (columns {seen[col]} "
                                   f"and {j}); keep one")
        seen[col] = j
    for col in REQUIRED:
        if col not in seen:
            raise MissingColumnError(f"{table.name}: missing column {col!r}; a suite needs the columns "
                                     f"{', '.join(REQUIRED)} (found: {', '.join(table.columns) or 'none'})")
    allowed = REQUIRED + OPTIONAL_NUMBERS + OPTIONAL_TEXT
    for col in table.columns:
        if col not in allowed and not _LOSS_NAME.match(col):
            raise UnknownColumnError(
                f"{table.name}: unknown column {col!r}; the columns of a suite are {', '.join(REQUIRED)} (required) "
                f"and {', '.join(OPTIONAL_NUMBERS)}, loss_<name>, {', '.join(OPTIONAL_TEXT)} (optional): rename or "
                f"remove it")
    if "tokens" in seen and "tokens_per_step" in seen:
        raise SuiteFormatError(f"{table.name}: both tokens and tokens_per_step columns; give one of them (tokens "
                               f"if you know the count at each checkpoint)")


def _is_missing(value: Any) -> bool:
    """An empty cell: blank or NaN-like text in a CSV; None, NaN or NA in a parquet file."""
    if isinstance(value, str):
        return value.strip() in _MISSING_TEXT
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array in a cell is not a scalar, hence not empty
        return False


def _text(table: _Table, col: str, *, required: bool) -> np.ndarray:
    """A text column: cells as str; an empty cell is an error in a required column, else the default."""
    raw = table.cells[col]
    out = []
    for i, v in enumerate(raw):
        if _is_missing(v):
            if required:
                raise MissingValueError(f"{table.where(i)}: {col} is empty; every row needs a {col}")
            out.append(DEFAULTS[col])
        else:
            out.append(str(v).strip())
    return np.asarray(out, dtype=object)


def _numbers(table: _Table, col: str, missing: type[MissingValueError] = MissingValueError,
             hint: str = "") -> np.ndarray:
    """A numeric column as float64: a non-number or infinity is a :class:`NonNumericError`, an empty/NaN cell
    ``missing`` (the column is present, so every row needs it)."""
    raw = table.cells[col]
    empty = np.fromiter((_is_missing(v) for v in raw), dtype=bool, count=len(raw))
    values = pd.to_numeric(pd.Series(raw, dtype=object).where(~empty, None), errors="coerce").to_numpy(np.float64)
    bad = ~empty & ~np.isfinite(values)
    hint = hint or f"every row needs a {col} when the column is present — fill it in or remove the column"
    for i in np.flatnonzero(bad | empty)[:1]:
        if empty[i]:
            raise missing(f"{table.where(i)}: {col} is empty or NaN; {hint}")
        raise NonNumericError(f"{table.where(i)}: {col} is {raw[i]!r}, not a finite number; write a plain "
                              f"number (e.g. 0.25, 1e9)")
    return values


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else None


@dataclass
class _Rows:
    """The checked columns of a table, one entry per data row (before duplicates are merged)."""

    run: np.ndarray
    task: np.ndarray
    step: np.ndarray
    accuracy: np.ndarray
    numbers: dict[str, np.ndarray]  # optional numeric columns present, incl. loss and loss_<name>
    text: dict[str, np.ndarray]  # family, recipe, seed (defaults filled in)
    loss_names: list[str]


def _parse(table: _Table) -> _Rows:
    """Cell-level checks, column by column in a fixed order (each reports its first bad row)."""
    run = _text(table, "run", required=True)
    task = _text(table, "task", required=True)
    step = _numbers(table, "step", hint="every row needs the step of its checkpoint")
    i = _first(step != np.round(step))
    if i is not None:
        raise NonNumericError(f"{table.where(i)}: step {_fmt(step[i])} is not a whole number; steps count optimizer "
                              f"updates")
    i = _first(step < 0)
    if i is not None:
        raise NegativeValueError(f"{table.where(i)}: step {_fmt(step[i])} is negative; steps count optimizer updates "
                                 f"from 0")
    accuracy = _numbers(table, "accuracy", MissingAccuracyError,
                        hint="every row needs an accuracy — remove the row if that checkpoint was not evaluated")
    i = _first((accuracy > 1) & (accuracy <= 100))
    if i is not None:
        raise PercentAccuracyError(f"{table.where(i)}: accuracy {_fmt(accuracy[i])} is above 1 and looks like a "
                                   f"percentage; accuracies are fractions in [0, 1] — divide the column by 100")
    i = _first((accuracy < 0) | (accuracy > 100))
    if i is not None:
        raise AccuracyRangeError(f"{table.where(i)}: accuracy {_fmt(accuracy[i])} is outside [0, 1]; accuracies are "
                                 f"fractions of correct answers")
    numbers: dict[str, np.ndarray] = {}
    for col in OPTIONAL_NUMBERS:
        if col not in table.cells:
            continue
        if col == "tokens":
            values = _numbers(table, col, MissingTokensError,
                              hint="every row needs a token count when the tokens column is present — fill it in, "
                                   "or remove the column to use steps as the compute axis")
        else:
            values = _numbers(table, col)
        if col in ("params", "tokens_per_step"):
            i = _first(values <= 0)
            if i is not None:
                raise NegativeValueError(f"{table.where(i)}: {col} {_fmt(values[i])} is not positive")
        elif col in ("tokens", "flops"):
            i = _first(values < 0)
            if i is not None:
                raise NegativeValueError(f"{table.where(i)}: {col} {_fmt(values[i])} is negative")
        numbers[col] = values
    loss_names = []
    for col in table.columns:
        m = _LOSS_NAME.match(col)
        if m:
            numbers[col] = _numbers(table, col)
            loss_names.append(m["name"])
    text = {col: _text(table, col, required=False) if col in table.cells
            else np.full(len(run), DEFAULTS[col], dtype=object) for col in OPTIONAL_TEXT}
    return _Rows(run, task, step.astype(np.int64), accuracy, numbers, text, loss_names)


def _fmt(value: Any) -> str:
    """A cell value for a message: whole numbers without '.0', other floats in full (shortest round-trip) form,
    text quoted — so two values that differ never print alike."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return repr(value)


def _check_order_and_duplicates(table: _Table, rows: _Rows) -> np.ndarray:
    """Walk each (run, task) in file order: a step seen before is a repeat (merged when every value is the same,
    else a :class:`ConflictingStepsError`); a new step below the largest so far is a :class:`StepOrderError`.
    Returns the indices of the rows kept, in file order."""
    n = len(rows.run)
    columns = {"accuracy": rows.accuracy, **rows.numbers, **rows.text}
    drop = np.zeros(n, dtype=bool)
    seen: dict[tuple[str, str], dict[int, int]] = {}
    top: dict[tuple[str, str], int] = {}  # row holding the largest step so far
    for b in range(n):
        key, step = (rows.run[b], rows.task[b]), int(rows.step[b])
        steps = seen.setdefault(key, {})
        if step in steps:
            a = steps[step]
            for col, values in columns.items():
                if values[a] != values[b]:
                    raise ConflictingStepsError(
                        f"{table.name}: run {key[0]!r}, task {key[1]!r}, step {step} appears twice with different "
                        f"{col}: {_fmt(values[a])} ({table.line(a)}) and {_fmt(values[b])} ({table.line(b)}); keep "
                        f"one row per checkpoint, or give the rows different run names if they are two runs")
            drop[b] = True
            continue
        a = top.get(key)
        if a is not None and step < rows.step[a]:
            raise StepOrderError(
                f"{table.where(b)}: run {key[0]!r}, task {key[1]!r}: step {step} comes after step {rows.step[a]} "
                f"({table.line(a)}); the rows of one (run, task) must be in increasing step order. A step going "
                f"backwards usually means two runs share one run name (give each its own run, e.g. with the seed in "
                f"it); sort the rows by step only if they really are one run")
        steps[step] = b
        top[key] = b
    return np.flatnonzero(~drop)


def _check_consistency(table: _Table, rows: _Rows, keep: np.ndarray) -> None:
    """Run-level values agree across a run's rows; checkpoint-level values (tokens, flops, losses) across the
    tasks of one (run, step)."""
    for col in RUN_LEVEL:
        values = rows.numbers.get(col, rows.text.get(col))
        if values is None:
            continue
        _first_disagreement(table, rows, keep, col, values, by_step=False)
    for col in [c for c in rows.numbers if c not in RUN_LEVEL]:
        _first_disagreement(table, rows, keep, col, rows.numbers[col], by_step=True)


def _first_disagreement(table: _Table, rows: _Rows, keep: np.ndarray, col: str, values: np.ndarray, *,
                        by_step: bool) -> None:
    frame = pd.DataFrame({"run": rows.run[keep], "step": rows.step[keep], "v": values[keep], "row": keep})
    keys = ["run", "step"] if by_step else ["run"]
    first = frame.groupby(keys, sort=False)["v"].transform("first")
    differs = (frame["v"] != first).to_numpy()
    if not differs.any():
        return
    b = int(frame["row"].to_numpy()[differs].min())
    group = frame[(frame["run"] == rows.run[b]) & ((frame["step"] == rows.step[b]) if by_step else True)]
    a = int(group["row"].iloc[0])
    if by_step:
        raise InconsistentRunError(
            f"{table.name}: run {rows.run[b]!r}, step {rows.step[b]}: {col} is {_fmt(values[a])} for task "
            f"{rows.task[a]!r} ({table.line(a)}) but {_fmt(values[b])} for task {rows.task[b]!r} ({table.line(b)}); "
            f"{col} belongs to the checkpoint, so every task of one checkpoint must have the same value")
    raise InconsistentRunError(
        f"{table.name}: run {rows.run[b]!r}: {col} is {_fmt(values[a])} ({table.line(a)}) but {_fmt(values[b])} "
        f"({table.line(b)}); a run has one {col} — if these are different runs, give them different run names")


def _check_tokens_order(table: _Table, rows: _Rows, keep: np.ndarray) -> None:
    if "tokens" not in rows.numbers:
        return
    tokens = rows.numbers["tokens"]
    frame = pd.DataFrame({"run": rows.run[keep], "task": rows.task[keep], "step": rows.step[keep],
                          "tokens": tokens[keep], "row": keep}).sort_values(["run", "task", "step"], kind="stable")
    same = (frame["run"].to_numpy()[1:] == frame["run"].to_numpy()[:-1]) & \
           (frame["task"].to_numpy()[1:] == frame["task"].to_numpy()[:-1])
    t, order = frame["tokens"].to_numpy(), frame["row"].to_numpy()
    down = same & (t[1:] < t[:-1])
    if down.any():
        k = int(np.flatnonzero(down)[0])
        a, b = order[k], order[k + 1]
        raise StepOrderError(
            f"{table.where(b)}: run {rows.run[b]!r}, task {rows.task[b]!r}: tokens go down from {_fmt(t[k])} at step "
            f"{rows.step[a]} ({table.line(a)}) to {_fmt(t[k + 1])} at step {rows.step[b]}; the token count is "
            f"cumulative, so it cannot decrease as the step grows")


def _series(table: _Table, rows: _Rows, keep: np.ndarray, min_checkpoints: int) -> list[Series]:
    frame = pd.DataFrame({"run": rows.run[keep], "task": rows.task[keep], "row": keep})
    vector_cols = [LOSS_PREFIX + n for n in rows.loss_names]
    out: list[Series] = []
    for (run, task), group in frame.groupby(["run", "task"], sort=True):
        idx = group["row"].to_numpy()
        idx = idx[np.argsort(rows.step[idx], kind="stable")]
        idx = idx[rows.step[idx] > 0]
        if len(idx) < min_checkpoints:
            raise TooFewCheckpointsError(
                f"{table.name}: run {run!r}, task {task!r} has {len(idx)} checkpoints after dropping step 0; "
                f"need at least {min_checkpoints} — add checkpoints or remove this (run, task)")
        steps = rows.step[idx]
        num = {col: values[idx] for col, values in rows.numbers.items()}
        if "tokens" in num:
            tokens, tokens_from = num["tokens"], "tokens"
        elif "tokens_per_step" in num:
            tokens, tokens_from = steps * num["tokens_per_step"], "tokens_per_step"
        else:
            tokens, tokens_from = steps.astype(np.float64), "steps"
        params = float(num["params"][0]) if "params" in num else float("nan")
        if "flops" in num:
            flops, flops_from = num["flops"], "flops"
        elif "params" in num:
            flops, flops_from = 6.0 * num["params"] * tokens, "6ND"
        else:
            flops, flops_from = np.full(len(idx), np.nan), "unknown"
        losses: dict[str, np.ndarray] = {}
        if vector_cols:
            losses["vector"] = np.column_stack([num[c] for c in vector_cols])
        if "loss" in num:
            losses["mean"] = num["loss"]
        elif vector_cols:
            losses["mean"] = losses["vector"].mean(axis=1)
        first = idx[0]
        meta: dict[str, Any] = {
            "source": SOURCE, "family": rows.text["family"][first], "size_params": params,
            "recipe": rows.text["recipe"][first], "seed": rows.text["seed"][first],
            "compute_multiplier": float("nan"), "loss_kind": "user" if losses else "none",
            "tokens_from": tokens_from, "flops_from": flops_from,
        }
        if vector_cols:
            meta["loss_names"] = tuple(rows.loss_names)
        out.append(Series(run=str(run), task=str(task), steps=steps, tokens=np.asarray(tokens, np.float64),
                          flops=np.asarray(flops, np.float64), values=rows.accuracy[idx], losses=losses, meta=meta))
    return out


def _check_table(table: _Table, min_checkpoints: int) -> list[Series]:
    """Every check, in order: cells, step order and duplicates, run/checkpoint consistency, token order, length."""
    rows = _parse(table)
    if len(rows.run) == 0:
        raise SuiteFormatError(f"{table.name}: no data rows under the header")
    keep = _check_order_and_duplicates(table, rows)
    _check_consistency(table, rows, keep)
    _check_tokens_order(table, rows, keep)
    return _series(table, rows, keep, min_checkpoints)


def read_suite(path: str | os.PathLike[str], *, min_checkpoints: int = MIN_CHECKPOINTS) -> list[Series]:
    """Read a long-format suite table (CSV or parquet; format in the module docstring) into one :class:`Series`
    per (run, task), sorted by (run, task).

    Raises a :class:`SuiteError` subclass naming the file, the row and the fix for any bad input (nothing is
    returned in part), and :class:`FileNotFoundError` when there is no file at ``path``.
    """
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such suite file")
    table = _read_csv(path) if kind == "csv" else _read_parquet(path)
    return _check_table(table, min_checkpoints)


# ----------------------------------------------------------------------------------------------- writing
def _same_for_all(series: Sequence[Series], what: str, has: Callable[[Series], bool]) -> bool:
    """True when every series has ``what``, False when none has; a mix cannot be one table."""
    flags = [has(s) for s in series]
    if any(flags) and not all(flags):
        with_, without = (next(s for s, f in zip(series, flags) if f is v) for v in (True, False))
        raise SuiteWriteError(f"{what}: series {with_.run}/{with_.task} has it but {without.run}/{without.task} "
                              f"does not; one table needs it for every series or for none")
    return bool(flags) and all(flags)


def suite_frame(series: Iterable[Series]) -> pd.DataFrame:
    """The long-format table of ``series`` (one row per checkpoint), checked by the same rules as
    :func:`read_suite` (with ``min_checkpoints=1``).

    Written: run, task, step, accuracy; tokens (unless the series' tokens are steps, ``meta["tokens_from"] ==
    "steps"``); flops (unless unknown, all NaN); params from ``meta["size_params"]`` (when finite); loss from
    ``losses["mean"]``; ``loss_<name>`` from ``losses["vector"]`` (names from ``meta["loss_names"]``, else
    ``loss_0``, ``loss_1``…); family, recipe, seed from meta. ``losses["hist"]`` and ``losses["sample"]`` (the
    mini-ladder's per-token features) have no place in the format and are not written.
    """
    series = sorted(series, key=lambda s: s.key)
    if not series:
        raise SuiteWriteError("no series to write")
    keys = [s.key for s in series]
    for a, b in itertools.pairwise(keys):
        if a == b:
            raise SuiteWriteError(f"series {a[0]}/{a[1]} appears twice; one table holds each (run, task) once")
    with_tokens = _same_for_all(series, "tokens", lambda s: s.meta.get("tokens_from") != "steps")
    with_flops = _same_for_all(series, "flops", lambda s: bool(np.all(np.isfinite(s.flops))))
    with_params = _same_for_all(series, "params", lambda s: _finite(s.meta.get("size_params")))
    with_loss = _same_for_all(series, "losses['mean']", lambda s: "mean" in s.losses)
    with_vector = _same_for_all(series, "losses['vector']", lambda s: "vector" in s.losses)
    names: list[str] = []
    if with_vector:
        widths = {s.losses["vector"].shape[1] for s in series}
        if len(widths) > 1:
            raise SuiteWriteError(f"losses['vector'] has {sorted(widths)} columns across series; one table needs "
                                  f"one set of loss_<name> columns")
        named = {tuple(s.meta.get("loss_names") or ()) for s in series}
        if len(named) > 1:
            raise SuiteWriteError("the series name their loss_<name> columns differently (meta['loss_names']); "
                                  "one table needs one set of names")
        names = list(named.pop() or [str(k) for k in range(widths.pop())])
    parts = []
    for s in series:
        n = len(s)
        part: dict[str, Any] = {"run": [s.run] * n, "task": [s.task] * n, "step": np.asarray(s.steps, np.int64),
                                "accuracy": np.asarray(s.values, np.float64)}
        if with_tokens:
            part["tokens"] = np.asarray(s.tokens, np.float64)
        if with_flops:
            part["flops"] = np.asarray(s.flops, np.float64)
        if with_params:
            part["params"] = np.full(n, float(s.meta["size_params"]))
        if with_loss:
            part["loss"] = np.asarray(s.losses["mean"], np.float64)
        for k, name in enumerate(names):
            part[LOSS_PREFIX + name] = np.asarray(s.losses["vector"], np.float64)[:, k]
        for col in OPTIONAL_TEXT:
            part[col] = [str(s.meta.get(col, DEFAULTS[col]))] * n
        parts.append(pd.DataFrame(part))
    frame = pd.concat(parts, ignore_index=True)
    table = _Table("(series to write)", list(frame.columns), {c: frame[c].tolist() for c in frame.columns}, None)
    _check_header(table)
    _check_table(table, min_checkpoints=1)
    return frame


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def write_suite(series: Iterable[Series], path: str | os.PathLike[str]) -> Path:
    """Write ``series`` as a long-format suite table (CSV or parquet by the file's suffix) that :func:`read_suite`
    reads back to the same numbers. Atomic: the table goes to a temp file beside ``path`` and is renamed over it
    only once complete, and nothing is written when the series do not form a valid table (:func:`suite_frame`).
    """
    path = Path(path)
    kind = _kind(path)
    frame = suite_frame(series)
    with atomic.replacing(path) as tmp:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return path
