"""Public training logs → one tidy table of downstream-accuracy trajectories, and one of validation losses.

Three public suites stand in for DataDecide (unreachable here), each read by one small loader:

* **OLMo-2 model ladder** (Bhagia et al. 2024): in-loop evaluation CSVs, one row per checkpoint.
* **Pythia** (Biderman et al. 2023): lm-eval v0 JSON files, one per (model, checkpoint).
* **BigScience 1.3B data ablations** (tr3, tr12): one ``*_agg.json`` per run, lists aligned with ``checkpoints``.

Choices (each one is also stated in the book's data chapter):

* *OLMo task and metric.* A column ``eval/downstream/<task>[_<split>]_rc_5shot_<metric>`` is the ladder's ranked
  classification (RC) 5-shot score. We keep ``len_norm`` (length-normalised accuracy) where the log has it and
  ``acc`` otherwise (BoolQ); where a task has both a ``test`` and a ``val`` split we take ``test`` (larger, the
  standard split), else ``val``. The multiple-choice-format columns (``..._mc_5shot_...``), where a log has them,
  become separate tasks named ``<task>_mc``: the model has to emit a letter, a different skill that typically
  sits at chance and then rises late — the "emergent" shape. 0-shot and other variants are not used.
* *OLMo duplicates.* ``peteish-moreeval`` is byte-identical to the paper CSVs and is not loaded. The dense logs
  (``peteish-final-new``) log the *same* training runs as the paper CSVs, so they never add a run that already
  exists: they add the 600M runs (absent from the paper CSVs) and, for runs in both, only their ``_mc`` tasks, with
  their steps re-expressed in the paper CSV's step units through the token count (the two logs of the 370M and 760M
  runs count steps of different batch sizes; rows that fall between two paper steps are dropped).
  Their ``CrossEntropyLoss`` columns read ~9.6 nats where the paper CSVs of the same runs read ~3.3 at the same
  token count (another quantity, or a logging fault), so no loss is taken from the dense logs: the 600M runs
  have accuracies but no losses, and are left out wherever a method needs losses.
  Runs with a single logged checkpoint (the 28xC and 7B/13B "final" files) are skipped. The paper CSVs of the
  7B and 13B OLMo-2 runs are split into overlapping segments; their steps are merged, the ``full`` file winning.
* *Pythia metric.* ``acc_norm`` where lm-eval reports it, ``acc`` otherwise (this is what the NeuNeu reference
  code did); MMLU subjects ``hendrycksTest-x`` become ``mmlu_x``; CrowS-Pairs (not an accuracy) is dropped.
* *Pythia model names.* A model directory is ``pythia-<size>[-<variant>...]`` (``pythia-1b-deduped``,
  ``pythia-1b-bf16``, ``pythia-1b-0.5MtokBS``); the run is named after the whole directory, the parameter count
  comes from the size part (:data:`PYTHIA_PARAMS`; an unknown size is an :class:`UnknownModelSizeError`), the
  recipe is ``pile-deduped`` when a variant is ``deduped`` and ``pile`` otherwise.
* *BigScience metric.* likewise ``acc_norm`` where present, else ``acc``; tasks without an accuracy are dropped.
* *Steps.* Step 0 is dropped everywhere (an untrained model carries no signal about the trajectory, as in the
  paper). Rows are sorted by step; exact duplicate rows are merged; a duplicated step with different values is
  an error. Empty accuracy and loss cells are dropped; a negative step is an error (:class:`NegativeStepError`),
  and so is a kept checkpoint without a token count or FLOPs (:class:`MissingComputeError`).
* *One run, one origin.* Two files that map to one run name (two copies of a Pythia model directory, two
  BigScience files of one run, two OLMo files with one stem, two seed directories read as one seed) or to one
  checkpoint of a run are a :class:`DuplicateRunError` naming both files, raised while loading. The intended
  merges are the exceptions: the 7B/13B segment files of one run, and the dense logs' ``_mc`` tasks.
* *Tokens and FLOPs.* From the log when it has them (OLMo ``throughput/total_tokens`` and
  ``total_training_Gflops``; BigScience ``tokens``). Otherwise tokens = step × batch tokens (Pythia: 1024 × 2048
  = 2·2^20, or x·2^20 for a batch-size variant named ``<x>MtokBS``, e.g. ``0.5MtokBS`` → 524,288 = 256 × 2048;
  OLMo 7B/13B: ``batch_size_in_tokens``) and FLOPs = 6·N·D with N the parameter count and D the tokens.
* *Losses.* OLMo: the 11 validation-domain cross-entropies and their mean (``mean``); Pythia and BigScience: the
  natural log of LAMBADA perplexity (``lambada_logppl``), the only loss-like quantity those logs have.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from neuneu import atomic
from neuneu.contract import Series
from neuneu.paths import CACHE_DIR, DATA_DIR
from neuneu.sources import fetch

ACC_COLUMNS = [
    "source", "family", "run", "size_params", "recipe", "seed", "compute_multiplier",
    "step", "tokens", "flops", "task", "metric", "value",
]
LOSS_COLUMNS = ["source", "family", "run", "step", "tokens", "flops", "loss_name", "value"]
MIN_CHECKPOINTS = 5
# What ``losses["mean"]`` measures, per loss table column: the loss kind NeuNeu standardises features by.
LOSS_KINDS = {"mean": "olmo-domain-ce", "lambada_logppl": "lambada-logppl"}
SCHEMA_VERSION = 1

PYTHIA_PARAMS = {  # total parameters, Pythia paper (Biderman et al. 2023), Table 1
    "70m": 70_426_624, "160m": 162_322_944, "410m": 405_334_016, "1b": 1_011_781_632,
    "1.4b": 1_414_647_808, "2.8b": 2_775_208_960, "6.9b": 6_857_302_016, "12b": 11_846_072_320,
}
PYTHIA_TOKENS_PER_STEP = 1024 * 2048  # the standard Pythia batch: 1024 sequences of 2048 tokens ("2M")
BIGSCIENCE_PARAMS = 1.3e9

_RC_COLUMN = re.compile(
    r"^eval/downstream/(?P<task>[a-z_]+?)(?:_(?P<split>val|test))?_(?P<fmt>rc|mc)_5shot_(?P<metric>len_norm|acc)$"
)
_LOSS_COLUMN = re.compile(r"^eval/(?P<domain>[a-z0-9_-]+)-validation/CrossEntropyLoss$")
_SIZE = re.compile(r"^(?P<num>[0-9.]+)(?P<unit>[MB])$")
_PYTHIA_MODEL = re.compile(r"^pythia-(?P<size>[0-9.]+[mb])(?P<variants>(?:-[A-Za-z0-9.]+)*)$")
_PYTHIA_BATCH = re.compile(r"^(?P<mtok>[0-9]+(?:\.[0-9]+)?)MtokBS$")


class TrajectoryError(ValueError):
    """Base class of the loaders' named errors; the message always names the offending file."""


class MissingColumnError(TrajectoryError):
    """A log lacks a column the loader needs."""


class NonNumericValueError(TrajectoryError):
    """A cell that should hold a number does not."""


class ConflictingStepsError(TrajectoryError):
    """The same checkpoint appears twice with different values."""


class AccuracyRangeError(TrajectoryError):
    """An accuracy outside [0, 1]."""


class TooFewCheckpointsError(TrajectoryError):
    """Fewer than MIN_CHECKPOINTS usable checkpoints: too short to be a trajectory."""


class NegativeStepError(TrajectoryError):
    """A checkpoint with a negative step: steps count optimizer updates from 0, so the log is malformed."""


class MissingComputeError(TrajectoryError):
    """A kept checkpoint without a token count or FLOPs: it would have no position on the compute axis."""


class UnknownModelSizeError(TrajectoryError):
    """A model name whose size part is not in the table of known parameter counts (or cannot be parsed)."""


class DuplicateRunError(TrajectoryError):
    """Two files map to one run name, or to one checkpoint of a run; the message names both files."""


@dataclass(frozen=True)
class RunInfo:
    """What is known about one training run besides its logs."""

    source: str
    family: str
    run: str
    size_params: float
    recipe: str
    seed: str
    compute_multiplier: float = float("nan")


@dataclass(frozen=True)
class Corpus:
    """The two tables every later step reads: ``accuracy`` (ACC_COLUMNS) and ``losses`` (LOSS_COLUMNS)."""

    accuracy: pd.DataFrame
    losses: pd.DataFrame

    def counts(self) -> pd.DataFrame:
        """Runs, checkpoints, tasks and (run, task) trajectories per source — the numbers the book prints."""
        acc = self.accuracy
        g = acc.groupby("source")
        out = pd.DataFrame({
            "runs": g["run"].nunique(),
            "tasks": g["task"].nunique(),
            "trajectories": g.apply(lambda d: d[["run", "task"]].drop_duplicates().shape[0], include_groups=False),
            "checkpoints": g.apply(lambda d: d[["run", "step"]].drop_duplicates().shape[0], include_groups=False),
            "points": g.size(),
        })
        out.loc["total"] = out.sum()
        return out.astype(int)


# ----------------------------------------------------------------------------------------------- helpers
def _numeric(frame: pd.DataFrame, columns: Iterable[str], path: Path) -> pd.DataFrame:
    """Convert columns to float; empty cells become NaN, anything else unparsable is an error."""
    out = frame.copy()
    for col in columns:
        raw = out[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise NonNumericValueError(f"{path.name}: non-numeric value {raw.iloc[row]!r} in column {col!r}")
        out[col] = num.astype(float)
    return out


def _dedupe_steps(frame: pd.DataFrame, value_cols: Sequence[str], path: Path) -> pd.DataFrame:
    """Sort by step and merge repeated steps; a step repeated with different values is an error."""
    frame = frame.sort_values("step", kind="stable")
    dup = frame["step"].duplicated(keep=False)
    if dup.any():
        for step, rows in frame[dup].groupby("step"):
            vals = rows[list(value_cols)]
            same = vals.apply(lambda c: c.dropna().nunique() <= 1).all()
            if not same:
                raise ConflictingStepsError(f"{path.name}: step {int(step)} appears twice with different values")
        frame = frame.groupby("step", as_index=False, sort=True).first()
    return frame.reset_index(drop=True)


def _check_steps(steps: pd.Series, path: Path, column: str) -> None:
    """Reject negative steps (they are malformed, not merely uninformative like step 0, which is dropped)."""
    bad = steps[steps < 0]
    if len(bad):
        raise NegativeStepError(f"{path.name}: negative step {int(bad.iloc[0])} (from column {column!r}); "
                                f"steps count optimizer updates from 0")


def _check_compute(wide: pd.DataFrame, value_cols: Sequence[str], path: Path) -> None:
    """Every kept checkpoint (one with any accuracy or loss) needs finite tokens and FLOPs: reject, never drop."""
    used = wide[list(value_cols)].notna().any(axis=1)
    for col, what in (("tokens", "token count"), ("flops", "FLOP count")):
        bad = used & ~np.isfinite(wide[col].astype(float))
        if bad.any():
            step = int(wide.loc[bad, "step"].iloc[0])
            raise MissingComputeError(f"{path.name}: step {step} has values but no {what}")


def _check_accuracy(values: pd.Series, path: Path) -> None:
    bad = values[(values < 0) | (values > 1)]
    if len(bad):
        raise AccuracyRangeError(f"{path.name}: accuracy {float(bad.iloc[0])!r} outside [0, 1]")


def _long(wide: pd.DataFrame, info: RunInfo, task_cols: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Wide per-checkpoint frame → long accuracy rows; ``task_cols`` maps column → (task, metric)."""
    parts = []
    for col, (task, metric) in task_cols.items():
        part = wide[["step", "tokens", "flops", col]].dropna(subset=[col]).rename(columns={col: "value"})
        parts.append(part.assign(task=task, metric=metric))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["step", "tokens", "flops", "value", "task", "metric"])
    for field in ("source", "family", "run", "size_params", "recipe", "seed", "compute_multiplier"):
        frame[field] = getattr(info, field)
    return frame[ACC_COLUMNS]


def _long_losses(wide: pd.DataFrame, info: RunInfo, loss_cols: dict[str, str]) -> pd.DataFrame:
    parts = []
    for col, name in loss_cols.items():
        part = wide[["step", "tokens", "flops", col]].dropna(subset=[col]).rename(columns={col: "value"})
        parts.append(part.assign(loss_name=name))
    frame = pd.concat(parts, ignore_index=True)
    for field in ("source", "family", "run"):
        frame[field] = getattr(info, field)
    return frame[LOSS_COLUMNS]


def _finish(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Drop step 0 and check there are enough checkpoints left."""
    frame = frame[frame["step"] > 0]
    if frame["step"].nunique() < MIN_CHECKPOINTS:
        raise TooFewCheckpointsError(
            f"{path.name}: {frame['step'].nunique()} checkpoints after dropping step 0; need {MIN_CHECKPOINTS}"
        )
    return frame.reset_index(drop=True)


def parse_size(label: str) -> float:
    """'190M' → 1.9e8, '1B' → 1e9."""
    m = _SIZE.match(label)
    if not m:
        raise TrajectoryError(f"cannot parse model size {label!r}")
    return float(m["num"]) * (1e6 if m["unit"] == "M" else 1e9)


# ----------------------------------------------------------------------------------------------- OLMo ladder
def olmo_task_columns(columns: Iterable[str], formats: tuple[str, ...] = ("rc", "mc")) -> dict[str, tuple[str, str]]:
    """Pick one column per task (see module docstring): RC and MC 5-shot, test over val, len_norm over acc."""
    best: dict[str, tuple[tuple[int, int], str, str]] = {}
    for col in columns:
        m = _RC_COLUMN.match(col)
        if not m or m["fmt"] not in formats:
            continue
        task = m["task"] + ("_mc" if m["fmt"] == "mc" else "")
        rank = ({"test": 2, "val": 1, None: 0}[m["split"]], 1 if m["metric"] == "len_norm" else 0)
        if task not in best or rank > best[task][0]:
            best[task] = (rank, col, m["metric"])
    return {col: (task, metric) for task, (_, col, metric) in sorted(best.items())}


def read_olmo_csv(path: Path, info: RunInfo, formats: tuple[str, ...] = ("rc", "mc"),
                  with_losses: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One OLMo ladder CSV → (accuracy rows, loss rows).

    The step comes from ``_step`` or, in the dense logs that have none, from tokens / ``batch_size_in_tokens``.
    ``with_losses=False`` ignores the file's loss columns (used for the dense logs, see module docstring).
    """
    path = Path(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw = raw.replace("", np.nan)
    task_cols = olmo_task_columns(raw.columns, formats)
    if not task_cols:
        raise MissingColumnError(f"{path.name}: no eval/downstream/*_rc_5shot_* accuracy column")
    loss_cols = {c: _LOSS_COLUMN.match(c)["domain"] for c in raw.columns if with_losses and _LOSS_COLUMN.match(c)}
    has_step = "_step" in raw.columns
    needed = (["_step"] if has_step else ["throughput/total_tokens", "batch_size_in_tokens"])
    for col in needed:
        if col not in raw.columns:
            raise MissingColumnError(f"{path.name}: missing column {col!r}")
    extra = [c for c in ("throughput/total_tokens", "throughput/total_training_Gflops", "batch_size_in_tokens") if c in raw.columns]
    wide = _numeric(raw, list(task_cols) + list(loss_cols) + extra + (["_step"] if has_step else []), path)
    if has_step:
        wide["step"] = wide["_step"]
    else:
        wide["step"] = np.round(wide["throughput/total_tokens"] / wide["batch_size_in_tokens"])
    if wide["step"].isna().any():
        raise NonNumericValueError(f"{path.name}: a row has no step")
    _check_steps(wide["step"], path, "_step" if has_step else "throughput/total_tokens")
    wide["step"] = wide["step"].astype(np.int64)
    wide = _dedupe_steps(wide, list(task_cols) + list(loss_cols), path)
    if "throughput/total_tokens" in wide:
        wide["tokens"] = wide["throughput/total_tokens"]
    else:
        wide["tokens"] = wide["step"] * wide.get("batch_size_in_tokens", np.nan)
    if "throughput/total_training_Gflops" in wide:
        wide["flops"] = wide["throughput/total_training_Gflops"] * 1e9
    else:
        wide["flops"] = 6.0 * info.size_params * wide["tokens"]
    for col in task_cols:
        _check_accuracy(wide[col].dropna(), path)
    if loss_cols:
        domains = wide[list(loss_cols)]
        wide["__mean"] = domains.mean(axis=1).where(domains.notna().all(axis=1))
        loss_cols = {**loss_cols, "__mean": "mean"}
    wide = _finish(wide, path)
    _check_compute(wide, list(task_cols) + list(loss_cols), path)
    acc = _long(wide, info, task_cols)
    losses = _long_losses(wide, info, loss_cols) if loss_cols else pd.DataFrame(columns=LOSS_COLUMNS)
    return acc, losses


# ----------------------------------------------------------------------------------------------- Pythia
def _pick_metric(scores: dict) -> tuple[str, float] | None:
    for metric in ("acc_norm", "acc"):
        if metric in scores:
            return metric, scores[metric]
    return None


def read_pythia_dir(paths: Sequence[Path], info: RunInfo,
                    tokens_per_step: int = PYTHIA_TOKENS_PER_STEP) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The zero-shot JSONs of one Pythia model (one file per checkpoint) → (accuracy rows, loss rows).

    ``tokens_per_step`` is the model's batch in tokens (see :func:`pythia_model`); two files naming one step are a
    :class:`DuplicateRunError`.
    """
    rows, loss_rows = [], []
    file_of_step: dict[int, Path] = {}
    for path in paths:
        path = Path(path)
        m = re.search(r"_step(\d+)\.json$", path.name)
        if not m:
            raise TrajectoryError(f"{path.name}: no step in file name")
        step = int(m[1])
        if step in file_of_step:
            raise DuplicateRunError(f"{file_of_step[step]} and {path} both hold step {step} of run {info.run!r}; "
                                    f"keep one of them")
        file_of_step[step] = path
        try:
            results = json.loads(path.read_text())["results"]
        except KeyError as exc:
            raise MissingColumnError(f"{path.name}: missing key 'results'") from exc
        for task, scores in results.items():
            if task.startswith("crows_pairs"):
                continue
            picked = _pick_metric(scores)
            if picked is None:
                continue
            name = "mmlu_" + task.split("-", 1)[1] if task.startswith("hendrycksTest-") else task
            if not isinstance(picked[1], (int, float)):
                raise NonNumericValueError(f"{path.name}: non-numeric value {picked[1]!r} for {task}")
            rows.append((step, name, picked[0], float(picked[1])))
        ppl = results.get("lambada_openai", {}).get("ppl")
        if ppl is not None:
            loss_rows.append((step, "lambada_logppl", float(np.log(ppl))))
    return _assemble(rows, loss_rows, info, paths[0] if paths else Path(info.run),
                     tokens_of=lambda s: s * float(tokens_per_step))


def _assemble(rows, loss_rows, info: RunInfo, path: Path, tokens_of) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(step, task, metric, value) tuples → checked tidy tables (shared by the JSON loaders)."""
    acc = pd.DataFrame(rows, columns=["step", "task", "metric", "value"])
    if acc.empty:
        raise MissingColumnError(f"{path.name}: no accuracy in any file")
    acc = acc.sort_values(["task", "step"], kind="stable")
    dup = acc.duplicated(["task", "step"], keep=False)
    if dup.any():
        clash = acc[dup].groupby(["task", "step"])["value"].nunique()
        if (clash > 1).any():
            task, step = clash[clash > 1].index[0]
            raise ConflictingStepsError(f"{path.name}: step {int(step)} appears twice with different values")
        acc = acc.drop_duplicates(["task", "step"])
    _check_accuracy(acc["value"], path)
    acc = _finish(acc, path)
    acc["tokens"] = tokens_of(acc["step"].to_numpy())
    acc["flops"] = 6.0 * info.size_params * acc["tokens"]
    for field in ("source", "family", "run", "size_params", "recipe", "seed", "compute_multiplier"):
        acc[field] = getattr(info, field)
    losses = pd.DataFrame(loss_rows, columns=["step", "loss_name", "value"]).drop_duplicates(["step", "loss_name"])
    losses = losses[losses["step"] > 0].sort_values("step")
    losses["tokens"] = tokens_of(losses["step"].to_numpy())
    losses["flops"] = 6.0 * info.size_params * losses["tokens"]
    for field in ("source", "family", "run"):
        losses[field] = getattr(info, field)
    return acc[ACC_COLUMNS].reset_index(drop=True), losses[LOSS_COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------- BigScience
def read_bigscience_agg(path: Path, info: RunInfo) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One BigScience ``*_agg.json`` (lists aligned with ``checkpoints`` and ``tokens``) → (accuracy, losses)."""
    path = Path(path)
    data = json.loads(path.read_text())
    for key in ("checkpoints", "tokens", "results"):
        if key not in data:
            raise MissingColumnError(f"{path.name}: missing key {key!r}")
    steps, tokens = data["checkpoints"], data["tokens"]
    if len(steps) != len(tokens):
        raise TrajectoryError(f"{path.name}: {len(steps)} checkpoints but {len(tokens)} token counts")
    for i, (step, count) in enumerate(zip(steps, tokens)):
        for key, value in (("checkpoints", step), ("tokens", count)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise NonNumericValueError(f"{path.name}: non-numeric value {value!r} in {key}[{i}]")
        if step is None:
            raise NonNumericValueError(f"{path.name}: checkpoints[{i}] is null")
        if step < 0:
            raise NegativeStepError(f"{path.name}: negative step {step} in checkpoints[{i}]; "
                                    f"steps count optimizer updates from 0")
        if count is None or not np.isfinite(count):
            raise MissingComputeError(f"{path.name}: checkpoint {step} has no token count (tokens[{i}] is {count})")
    token_of = dict(zip(steps, tokens))
    rows, loss_rows = [], []
    for task, scores in data["results"].items():
        picked = _pick_metric(scores)
        if picked is not None:
            metric, values = picked
            if len(values) != len(steps):
                raise TrajectoryError(f"{path.name}: {task} has {len(values)} values for {len(steps)} checkpoints")
            for step, value in zip(steps, values):
                if value is None:
                    continue
                if not isinstance(value, (int, float)):
                    raise NonNumericValueError(f"{path.name}: non-numeric value {value!r} for {task}")
                rows.append((int(step), task, metric, float(value)))
        if task == "lambada" and "ppl" in scores:
            loss_rows += [(int(s), "lambada_logppl", float(np.log(p))) for s, p in zip(steps, scores["ppl"]) if p]
    lookup = np.vectorize(lambda s: float(token_of[s]))
    return _assemble(rows, loss_rows, info, path, tokens_of=lambda s: lookup(s) if len(s) else np.zeros(0))


# ----------------------------------------------------------------------------------------------- the corpus
def _olmo_info(name: str, seed: str = "default") -> RunInfo:
    """RunInfo from an OLMo ladder file stem such as '190M-1xC', '1B-1xC-rerun' or 'peteish7'."""
    m = re.match(r"^(?P<size>[0-9.]+[MB])-(?P<mult>[0-9.]+)xC(?P<rerun>-rerun)?$", name)
    if m:
        return RunInfo("olmo-ladder", "olmo-2-ladder", f"olmo-{name}" + ("" if seed == "default" else f"-seed{seed}"),
                       parse_size(m["size"]), "olmo-mix", "rerun" if m["rerun"] else seed, float(m["mult"]))
    big = {"peteish7": 7e9, "peteish7_medlr": 7e9, "peteish13": 13e9}[name]
    return RunInfo("olmo-ladder", "olmo-2", f"olmo-2-{name}", big, "olmo-mix", "default")


def _combine(parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    acc = pd.concat([p[0] for p in parts], ignore_index=True)
    with_losses = [p[1] for p in parts if len(p[1])]
    losses = pd.concat(with_losses, ignore_index=True) if with_losses else pd.DataFrame(columns=LOSS_COLUMNS)
    return acc, losses


def _merge_segments(parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Overlapping segment files of one run: the first (the ``full`` file) wins at shared steps."""
    acc, losses = _combine(parts)
    return (acc.drop_duplicates(["run", "task", "step"], keep="first"),
            losses.drop_duplicates(["run", "loss_name", "step"], keep="first"))


def _claim(claimed: dict[str, Path], run: str, path: Path) -> None:
    """Record that ``path`` provides ``run``; a second file for the same run is a :class:`DuplicateRunError`."""
    if run in claimed:
        raise DuplicateRunError(f"{claimed[run]} and {path} both map to run {run!r}; "
                                f"load only one of them or give them different names")
    claimed[run] = path


def _olmo_seed(path: Path) -> str:
    """The seed label of a file in a ``peteish-seed-<label>`` directory ('1', '1-init'); '1' elsewhere (the
    catalog's two seed directories are ``peteish-seed-1`` and ``peteish-seed-1-init``)."""
    m = re.fullmatch(r"peteish-seed-(?P<seed>[0-9A-Za-z-]+)", Path(path).parent.name)
    return m["seed"] if m else "1"


def _in_paper_steps(dense: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Dense-log rows of a run the paper CSVs already provide, re-expressed in the paper CSV's step units.

    For some runs (370M, 760M) the dense logs count steps of a different batch size than the paper CSVs (524,288
    vs 786,432 tokens per step at 370M) while the token counts agree, so the same step number would name two
    checkpoints and pair ``_mc`` accuracies with the losses of another checkpoint. Tokens are the common position:
    each dense row gets the paper step with the same token count; rows between two paper steps are dropped (they
    have no loss, and no step of their own in the paper's units).
    """
    per_step = float(np.median(paper["tokens"] / paper["step"]))
    position = dense["tokens"].to_numpy(float) / per_step
    on_grid = np.abs(position - np.round(position)) < 1e-6
    out = dense[on_grid].copy()
    out["step"] = np.round(position[on_grid]).astype(np.int64)
    return out


def load_olmo(paths: dict[str, list[Path]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All OLMo sources (see module docstring for which file provides which run and task)."""
    parts = []
    paper: dict[str, Path] = {}
    for p in paths["olmo-ladder"]:
        if Path(p).stem in paper:
            raise DuplicateRunError(f"{paper[Path(p).stem]} and {p} both map to run {Path(p).stem!r}; "
                                    f"load only one of them or give them different names")
        paper[Path(p).stem] = Path(p)
    for stem, path in sorted(paper.items()):
        if not stem.startswith("peteish"):
            parts.append(read_olmo_csv(path, _olmo_info(stem)))
    for run in ("peteish7", "peteish7_medlr", "peteish13"):
        segs = sorted((s for s in paper if s.startswith(run + "_eval")), key=lambda s: (not s.endswith("_full"), s))
        segs = [s for s in segs if run != "peteish7" or "medlr" not in s]
        usable = []
        for s in segs:
            try:
                usable.append(read_olmo_csv(paper[s], _olmo_info(run)))
            except TooFewCheckpointsError:
                continue  # the one-row "anneal"/"final" snapshots
        if usable:  # absent when only part of the catalog was fetched
            parts.append(_merge_segments(usable))
    known = {p[0]["run"].iloc[0]: p[0] for p in parts}
    dense: dict[str, Path] = {}
    for path in sorted(paths["olmo-ladder-dense"]):
        if not re.match(r"^[0-9.]+[MB]-[0-9.]+xC$", path.stem) or path.stem.endswith("-28xC"):
            continue  # single-checkpoint 28xC/7B/13B snapshots and the dense 7B log of a run already loaded
        info = _olmo_info(path.stem)
        _claim(dense, info.run, path)
        formats = ("mc",) if info.run in known else ("rc", "mc")
        acc, losses = read_olmo_csv(path, info, formats, with_losses=False)
        if info.run in known:
            acc = _in_paper_steps(acc, known[info.run])
        parts.append((acc, losses))
    seeds: dict[str, Path] = {}
    for path in sorted(paths["olmo-ladder-seeds"]):
        info = _olmo_info(path.stem, _olmo_seed(path))
        _claim(seeds, info.run, path)
        if info.run in known or info.run in dense:
            raise DuplicateRunError(f"{path} maps to run {info.run!r}, which another OLMo file already provides")
        parts.append(read_olmo_csv(path, info))
    return _combine(parts)


@dataclass(frozen=True)
class PythiaModel:
    """What a Pythia model directory name says: size label, variants, parameters, recipe, batch in tokens."""

    name: str
    size: str
    variants: tuple[str, ...]
    size_params: float
    recipe: str
    tokens_per_step: int


def pythia_model(name: str) -> PythiaModel:
    """Parse a Pythia model directory name ``pythia-<size>[-<variant>...]``.

    ``pythia-1b-0.5MtokBS`` → size '1b' (1,011,781,632 parameters), variants ('0.5MtokBS',), recipe 'pile',
    524,288 tokens per step. A ``<x>MtokBS`` variant means x·2^20 tokens per step (the standard batch, 1024 × 2048
    = 2·2^20, is what "2M" denotes); without one the standard batch is assumed. ``deduped`` → recipe
    'pile-deduped'. Other variants (``bf16``) change neither. A size not in :data:`PYTHIA_PARAMS`, or a name not
    of this shape, is an :class:`UnknownModelSizeError` listing the known sizes.
    """
    known = ", ".join(PYTHIA_PARAMS)
    m = _PYTHIA_MODEL.match(name)
    if not m:
        raise UnknownModelSizeError(f"{name}: not a Pythia model name of the form pythia-<size>[-<variant>...] "
                                    f"(e.g. pythia-1b-deduped); known sizes: {known}")
    if m["size"] not in PYTHIA_PARAMS:
        raise UnknownModelSizeError(f"{name}: unknown Pythia size {m['size']!r}; known sizes: {known} "
                                    f"(add its parameter count to PYTHIA_PARAMS)")
    variants = tuple(v for v in m["variants"].split("-") if v)
    tokens_per_step = PYTHIA_TOKENS_PER_STEP
    for v in variants:
        b = _PYTHIA_BATCH.match(v)
        if b:
            tokens_per_step = round(float(b["mtok"]) * 2**20)
    recipe = "pile-deduped" if "deduped" in variants else "pile"
    return PythiaModel(name, m["size"], variants, float(PYTHIA_PARAMS[m["size"]]), recipe, tokens_per_step)


def load_pythia(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every Pythia model directory under the fetched zero-shot JSONs (``<model>/<setting>/<file>.json``).

    The run is the model directory's name; files of one run from two different directories (two copies of the
    model, or a zero-shot and a five-shot folder) are a :class:`DuplicateRunError` naming one file of each.
    """
    by_model: dict[str, list[Path]] = {}
    folder_of: dict[str, Path] = {}
    for p in map(Path, paths):
        model = p.parent.parent.name
        if model in folder_of and folder_of[model] != p.parent:
            first = by_model[model][0]
            raise DuplicateRunError(f"{first} and {p} both map to run {model!r} from different directories; "
                                    f"load only one copy of the model")
        folder_of.setdefault(model, p.parent)
        by_model.setdefault(model, []).append(p)
    parts = []
    for model, files in sorted(by_model.items()):
        spec = pythia_model(model)
        info = RunInfo("pythia", "pythia", model, spec.size_params, spec.recipe, "default")
        parts.append(read_pythia_dir(sorted(files), info, tokens_per_step=spec.tokens_per_step))
    return _combine(parts)


def load_bigscience(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The five BigScience 1.3B runs; the recipe is the dataset named in the file."""
    parts = []
    claimed: dict[str, Path] = {}
    for path in sorted(paths):
        run = Path(path).name.removesuffix("_agg.json").removesuffix("-checkpoints")
        _claim(claimed, run, Path(path))
        recipe = run.split("-1B3-", 1)[1]
        parts.append(read_bigscience_agg(path, RunInfo("bigscience", "bigscience-1b3", run, BIGSCIENCE_PARAMS, recipe, "default")))
    return _combine(parts)


CORPUS_SOURCES = ("olmo-ladder", "olmo-ladder-dense", "olmo-ladder-seeds", "pythia", "bigscience")


def build_corpus(paths: dict[str, list[Path]]) -> Corpus:
    """Run every loader over fetched files and stack the results."""
    loaded = [load_olmo(paths), load_pythia(paths["pythia"]), load_bigscience(paths["bigscience"])]
    acc, losses = _combine(loaded)
    shared = acc.groupby("run")["source"].nunique()
    if (shared > 1).any():
        run = shared[shared > 1].index[0]
        names = sorted(acc.loc[acc["run"] == run, "source"].unique())
        raise DuplicateRunError(f"run {run!r} is provided by more than one source: {', '.join(names)}")
    acc = acc.sort_values(["source", "run", "task", "step"], kind="stable").reset_index(drop=True)
    losses = losses.sort_values(["source", "run", "loss_name", "step"], kind="stable").reset_index(drop=True)
    acc["step"] = acc["step"].astype(np.int64)
    losses["step"] = losses["step"].astype(np.int64)
    return Corpus(acc, losses)


def _cache_key() -> str:
    digest = hashlib.sha256()
    digest.update((DATA_DIR / "sources.toml").read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(str(SCHEMA_VERSION).encode())
    return digest.hexdigest()[:16]


def load_corpus(*, cache_dir: Path = CACHE_DIR, progress: bool = False, refresh: bool = False) -> Corpus:
    """The public corpus, fetched (sha256-verified) and parsed once, then read from ``cache_dir`` parquet files.

    The cache is rebuilt whenever ``data/sources.toml`` or this module changes (its key hashes both).
    """
    cache_dir = Path(cache_dir)
    acc_path, loss_path, key_path = (cache_dir / n for n in ("trajectories.parquet", "losses.parquet", "corpus.key"))
    key = _cache_key()
    if not refresh and key_path.is_file() and key_path.read_text() == key and acc_path.is_file() and loss_path.is_file():
        return Corpus(pd.read_parquet(acc_path), pd.read_parquet(loss_path))
    corpus = build_corpus(fetch(CORPUS_SOURCES, progress=progress))
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_frame(corpus.accuracy, acc_path)
    atomic.write_frame(corpus.losses, loss_path)
    atomic.write_text(key_path, key)
    return corpus


# ----------------------------------------------------------------------------------------------- → Series
def run_losses(corpus: Corpus) -> dict[str, pd.DataFrame]:
    """Per run, a (step × loss_name) table of validation losses."""
    return {run: g.pivot_table(index="step", columns="loss_name", values="value", aggfunc="first")
            for run, g in corpus.losses.groupby("run")}


def to_series(corpus: Corpus, *, tasks: Sequence[str] | None = None, min_points: int = MIN_CHECKPOINTS,
              require_loss: bool = True) -> list[Series]:
    """One :class:`Series` per (run, task), with the run's losses at the same checkpoints.

    ``losses["mean"]`` is the mean OLMo domain loss or the LAMBADA log-perplexity (``meta["loss_kind"]`` says
    which: "olmo-domain-ce" or "lambada-logppl"); ``losses["vector"]`` holds the 11 OLMo domain losses (OLMo only). With ``require_loss`` the checkpoints without a loss are dropped, so every
    method sees the same points in both information settings.
    """
    loss_tables = run_losses(corpus)
    acc = corpus.accuracy if tasks is None else corpus.accuracy[corpus.accuracy["task"].isin(tasks)]
    repeated = acc.duplicated(["run", "task", "step"])
    if repeated.any():
        run, task, step = acc.loc[repeated, ["run", "task", "step"]].iloc[0]
        raise DuplicateRunError(f"run {run!r}, task {task!r}: step {int(step)} appears more than once in the "
                                f"accuracy table (were two files loaded under one run name?)")
    out: list[Series] = []
    for (run, task), g in acc.groupby(["run", "task"], sort=True):
        g = g.sort_values("step")
        table = loss_tables.get(run)
        losses: dict[str, np.ndarray] = {}
        mean_name = None
        if table is not None:
            mean_name = "mean" if "mean" in table else "lambada_logppl"
            aligned = table.reindex(g["step"].to_numpy())
            if require_loss:
                keep = aligned[mean_name].notna().to_numpy()
                g, aligned = g[keep], aligned[keep]
            losses["mean"] = aligned[mean_name].to_numpy(float)
            domains = [c for c in aligned.columns if c not in ("mean", "lambada_logppl")]
            if domains:
                losses["vector"] = aligned[domains].to_numpy(float)
        elif require_loss:
            continue
        if len(g) < min_points:
            continue
        first = g.iloc[0]
        meta = {k: first[k] for k in ("source", "family", "size_params", "recipe", "seed", "compute_multiplier")}
        meta["metric"] = first["metric"]
        meta["loss_kind"] = LOSS_KINDS.get(mean_name, mean_name) if table is not None else "none"
        out.append(Series(run=run, task=task, steps=g["step"].to_numpy(np.int64), tokens=g["tokens"].to_numpy(float),
                          flops=g["flops"].to_numpy(float), values=g["value"].to_numpy(float), losses=losses, meta=meta))
    return out
