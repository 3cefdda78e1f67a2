"""The mini-ladder's committed outputs and their loader.

Files in ``data/miniladder/`` (all small, all written atomically):

* ``accuracy.csv`` — tidy, corpus schema: source="miniladder", family, run, size_params, recipe, seed,
  compute_multiplier (NaN), step, tokens, flops (6 N D), task ("blimp_<paradigm>"), metric ("acc"), value.
* ``margins.csv`` — run, step, tokens, flops, task, value = mean over pairs of log p(good) - log p(bad).
* ``losses.csv`` — run, step, tokens, flops, loss_name ("mean": mean per-token validation loss), value.
* ``features.npz`` — per checkpoint (rows ordered like ``losses.csv``): ``run``, ``step``, ``hist`` (M, 64)
  histogram of p = e^-loss over all scored validation tokens, ``sample`` (M, K) the losses at K fixed token
  positions (same positions for every checkpoint), ``sample_index`` (K,) those positions.
* ``references.csv`` — recipe, model (unigram | bigram), task ("val_loss" or "blimp_<paradigm>"), value.
* ``manifest.json`` — profile, config, runs (params, tokens, checkpoints), package versions, the devices and
  thread counts the checkpoints were scored with (``scored_on``), and the ``loss_at_equal_tokens`` check.

Every file is a deterministic function of the per-checkpoint scores (no timestamps, no timings: those go to
``<work>/timings.json``, see :func:`collection_timings`), so the same numbers always give the same bytes -- which
is what lets a merged sharded collection be checked byte for byte against a single-process one.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from neuneu.collect.config import CollectConfig
from neuneu.collect.files import save_npz_atomic, write_csv_atomic, write_json_atomic
from neuneu.collect.references import CountLM, blimp_accuracy
from neuneu.collect.text import Prepared
from neuneu.contract import Series
from neuneu.features import prob_histogram
from neuneu.paths import DATA_DIR

SOURCE = "miniladder"
FAMILY = "miniladder"


class MiniLadderError(ValueError):
    """A mini-ladder directory that is missing files or does not hang together."""


class MiniLadderColumnError(MiniLadderError):
    """A mini-ladder table lacks a column of its documented schema."""


class MiniLadderValueError(MiniLadderError):
    """A mini-ladder table holds a value that cannot be a checkpoint's position: a negative or missing step, a
    missing token or FLOP count, or a non-number where a number belongs. Rejected, never dropped."""


ACCURACY_COLUMNS = ("source", "family", "run", "size_params", "recipe", "seed", "compute_multiplier",
                    "step", "tokens", "flops", "task", "metric", "value")
LOSS_COLUMNS = ("run", "step", "tokens", "flops", "loss_name", "value")


def reference_scores(cfg, prep, work: Path) -> pd.DataFrame:
    """Unigram and bigram validation loss and BLiMP accuracy per recipe (cached in the work directory).

    Always returned as read back from the cache file, so a collection that computes them and one that finds them
    cached (a resumed run, a merge) write the same values, to the digit."""
    path = work / "references.csv"
    if path.exists():
        return pd.read_csv(path)
    rows = []
    for recipe, stream in sorted(prep.streams.items()):
        for order, name in ((1, "unigram"), (2, "bigram")):
            model = CountLM(stream, len(prep.tokenizer), order)
            losses = model.token_losses(prep.val_tokens, prep.val_offsets)
            rows.append({"recipe": recipe, "model": name, "task": "val_loss", "value": float(np.nanmean(losses))})
            for task, acc in blimp_accuracy(model, prep.tokenizer, prep.blimp).items():
                rows.append({"recipe": recipe, "model": name, "task": task, "value": acc})
    write_csv_atomic(pd.DataFrame(rows), path)
    return pd.read_csv(path)


def _checkpoint_rows(info: dict, work: Path, prep, cfg):
    """Yield (step, tokens, flops, eval arrays) for each checkpoint of a finished run."""
    n = info["size_params"]
    for step in info["checkpoints"]:
        ev = np.load(work / "runs" / info["run"] / f"eval_{step:08d}.npz")
        tokens = step * cfg.batch_size * cfg.seq_len
        yield step, tokens, 6.0 * n * tokens, ev


def build_tables(cfg, prep, work: Path, infos: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """The accuracy, margin and loss tables and the feature arrays from the per-checkpoint eval files."""
    acc_rows, margin_rows, loss_rows = [], [], []
    runs, steps, hists, samples = [], [], [], []
    for info in infos:
        base = {"source": SOURCE, "family": FAMILY, "run": info["run"], "size_params": info["size_params"],
                "recipe": info["recipe"], "seed": info["seed"], "compute_multiplier": np.nan}
        for step, tokens, flops, ev in _checkpoint_rows(info, work, prep, cfg):
            pos = {"step": step, "tokens": tokens, "flops": flops}
            for task, a, m in zip(ev["tasks"], ev["acc"], ev["margin"]):
                acc_rows.append({**base, **pos, "task": str(task), "metric": "acc", "value": float(a)})
                margin_rows.append({"run": info["run"], **pos, "task": str(task), "value": float(m)})
            losses = ev["losses"]
            loss_rows.append({"run": info["run"], **pos, "loss_name": "mean", "value": float(np.nanmean(losses))})
            runs.append(info["run"])
            steps.append(step)
            hists.append(prob_histogram(losses, bins=cfg.hist_bins))
            samples.append(losses[prep.sample_index])
    features = {"run": np.asarray(runs), "step": np.asarray(steps, dtype=np.int64),
                "hist": np.asarray(hists, dtype=np.float32), "sample": np.asarray(samples, dtype=np.float32),
                "sample_index": prep.sample_index.astype(np.int64)}
    return pd.DataFrame(acc_rows), pd.DataFrame(margin_rows), pd.DataFrame(loss_rows), features


def loss_at_equal_tokens(losses: pd.DataFrame, infos: list[dict]) -> dict:
    """Mean validation loss of every size at the same token count, per (recipe, seed): the check that the
    per-size learning rates make loss fall with size.

    The common token count is the smallest final token count among the group's runs; each run's loss is
    interpolated linearly in log-tokens between its checkpoints. ``falls_with_size`` is True when the losses are
    strictly decreasing in parameter count."""
    out = {}
    groups: dict[str, list[dict]] = {}
    for info in infos:
        groups.setdefault(f"{info['recipe']}-s{info['seed']}", []).append(info)
    for key, group in sorted(groups.items()):
        if len(group) < 2:
            continue
        tokens = min(i["tokens"] for i in group)
        by_size = {}
        for info in sorted(group, key=lambda i: i["size_params"]):
            run = losses[losses["run"] == info["run"]].sort_values("tokens")
            by_size[info["size"]] = float(np.interp(np.log(tokens), np.log(run["tokens"]), run["value"]))
        values = list(by_size.values())
        out[key] = {"tokens": int(tokens), "loss_by_size": by_size,
                    "falls_with_size": bool(all(a > b for a, b in zip(values, values[1:])))}
    return out


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "tokenizers", "lm_eval", "numpy", "pandas", "datasets"):
        try:
            out[pkg] = md.version(pkg.replace("_", "-") if pkg == "lm_eval" else pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


# what a run's info records about the run itself (older done.json files also hold timings, which are dropped)
RUN_INFO_KEYS = ("run", "size", "recipe", "seed", "size_params", "total_steps", "checkpoints", "tokens", "lr")


def _eval_file(work: Path, info: dict, step: int) -> Path:
    return work / "runs" / info["run"] / f"eval_{step:08d}.npz"


def scored_on(work: Path, infos: list[dict]) -> list[dict]:
    """The distinct (device, torch threads) the checkpoints of ``infos`` were scored with, sorted; eval files
    written before the collector recorded them count as ``None``."""
    seen = set()
    for info in infos:
        for step in info["checkpoints"]:
            with np.load(_eval_file(work, info, step)) as ev:
                device = str(ev["device"]) if "device" in ev.files else None
                threads = int(ev["torch_threads"]) if "torch_threads" in ev.files else None
            seen.add((device, threads))
    return [{"device": d, "torch_threads": t} for d, t in sorted(seen, key=lambda x: (str(x[0]), x[1] or 0))]


def collection_timings(cfg: CollectConfig, work: Path, infos: list[dict]) -> dict:
    """Training and scoring seconds per run, summed over its checkpoints' eval files (they differ on every run,
    so they are kept out of the outputs and written to ``<work>/timings.json``)."""
    runs = {}
    for info in infos:
        train_s = eval_s = 0.0
        for step in info["checkpoints"]:
            with np.load(_eval_file(work, info, step)) as ev:
                train_s += float(ev["train_seconds"])
                eval_s += float(ev["eval_seconds"])
        tokens = info["total_steps"] * cfg.batch_size * cfg.seq_len
        runs[info["run"]] = {"train_seconds": train_s, "eval_seconds": eval_s,
                             "train_tokens_per_second": tokens / max(train_s, 1e-9)}
    return {"runs": runs}


def write_outputs(cfg: CollectConfig, prep: Prepared, work: Path, out: Path, infos: list[dict], refs: pd.DataFrame,
                  *, planned: list[str] | None = None) -> None:
    """Write every table, the features and the manifest into ``out`` (each file atomically and deterministically)."""
    out.mkdir(parents=True, exist_ok=True)
    acc, margins, losses, features = build_tables(cfg, prep, work, infos)
    write_csv_atomic(acc, out / "accuracy.csv")
    write_csv_atomic(margins, out / "margins.csv")
    write_csv_atomic(losses, out / "losses.csv")
    write_csv_atomic(refs, out / "references.csv")
    save_npz_atomic(out / "features.npz", compress=True, **features)
    manifest = {
        "profile": cfg.profile, "config": asdict(cfg), "runs": [{k: i[k] for k in RUN_INFO_KEYS} for i in infos],
        "runs_planned": planned if planned is not None else [i["run"] for i in infos],
        "complete": planned is None or len(infos) == len(planned), "versions": _versions(),
        "scored_on": scored_on(work, infos), "platform": platform.platform(),
        "val_tokens": int(len(prep.val_tokens)), "val_docs": int(len(prep.val_offsets) - 1),
        "val_scored_tokens": int(len(prep.val_tokens) - (len(prep.val_offsets) - 1)),
        "train_stream_tokens": {r: int(len(s)) for r, s in prep.streams.items()},
        "loss_at_equal_tokens": loss_at_equal_tokens(losses, infos),
        "references": {f"{r.recipe}/{r.model}": float(r.value) for r in refs[refs["task"] == "val_loss"].itertuples()},
        "bos_eos": "validation documents are <= seq_len-token pieces of held-out blocks, scored without a prefix; "
                   "the loss at position j scores token j given tokens < j; each document's first token has no "
                   "loss (NaN, never counted); training stream is block EOS block EOS ...; BLiMP sentences are "
                   "scored after the EOS token (lm-eval's empty-context prefix).",
    }
    write_json_atomic(out / "manifest.json", manifest)


class MiniLadder(NamedTuple):
    """What :func:`load_miniladder` returns (unpacks as ``accuracy, losses, features``)."""

    accuracy: pd.DataFrame
    losses: pd.DataFrame
    features: dict[str, np.ndarray]


_FILES = ("accuracy.csv", "losses.csv", "features.npz")


def _read_table(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """Read one mini-ladder CSV and check it: every schema column present (:class:`MiniLadderColumnError`);
    ``step`` a whole number >= 0, ``tokens`` and ``flops`` finite numbers >= 0 in every row — or unknown (empty)
    in every row, as in the tables of a pretrained model's checkpoints (:mod:`.pretrained`)
    (:class:`MiniLadderValueError`, naming the file line: data row i is line i + 2, after the header)."""
    frame = pd.read_csv(path)
    for col in columns:
        if col not in frame.columns:
            raise MiniLadderColumnError(f"{path}: missing column {col!r}; a mini-ladder {path.name} has the "
                                        f"columns {', '.join(columns)}")
    for col in ("step", "tokens", "flops"):
        num = pd.to_numeric(frame[col], errors="coerce")
        bad = num.isna() & frame[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise MiniLadderValueError(f"{path} line {i + 2}: {col} {frame[col].iloc[i]!r} is not a number")
        missing = ~np.isfinite(num.to_numpy(float))
        if col != "step" and missing.all():
            continue  # a pretrained checkpoint's tables: its training compute is unknown at every checkpoint
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise MiniLadderValueError(f"{path} line {i + 2}: {col} is empty or NaN (run {frame['run'].iloc[i]!r}); "
                                       f"every checkpoint needs a {col} value")
        negative = num.to_numpy(float) < 0
        if negative.any():
            i = int(np.flatnonzero(negative)[0])
            raise MiniLadderValueError(f"{path} line {i + 2}: negative {col} {num.iloc[i]:g} "
                                       f"(run {frame['run'].iloc[i]!r})")
        if col == "step" and (num != np.round(num)).any():
            i = int(np.flatnonzero((num != np.round(num)).to_numpy())[0])
            raise MiniLadderValueError(f"{path} line {i + 2}: step {num.iloc[i]:g} is not a whole number")
    return frame


def load_miniladder(directory: Path | str | None = None) -> MiniLadder:
    """Read a mini-ladder directory (default ``data/miniladder``) into (accuracy_df, loss_df, features).

    Both tables are checked against their schema (:data:`ACCURACY_COLUMNS`, :data:`LOSS_COLUMNS`) and their
    positions (step, tokens, flops) row by row: a bad cell is an error naming the file and line, never dropped.
    """
    directory = Path(directory) if directory is not None else DATA_DIR / "miniladder"
    missing = [f for f in _FILES if not (directory / f).exists()]
    if missing:
        raise MiniLadderError(f"{directory} is not a mini-ladder directory: missing {', '.join(missing)}")
    accuracy = _read_table(directory / "accuracy.csv", ACCURACY_COLUMNS)
    losses = _read_table(directory / "losses.csv", LOSS_COLUMNS)
    with np.load(directory / "features.npz") as fh:
        features = {k: fh[k] for k in fh.files}
    if len(features["run"]) != len(losses):
        raise MiniLadderError(f"features.npz has {len(features['run'])} checkpoints, losses.csv has {len(losses)}")
    return MiniLadder(accuracy, losses, features)


def to_series(data: MiniLadder | Path | str | None = None, *, tasks: Sequence[str] | None = None,
              metric: str = "acc") -> list[Series]:
    """One :class:`Series` per (run, task) with losses "mean", "hist" (n, 64) and "sample" (n, K) aligned to steps."""
    ml = data if isinstance(data, MiniLadder) else load_miniladder(data)
    acc = ml.accuracy[ml.accuracy["metric"] == metric]
    if tasks is not None:
        unknown = sorted(set(tasks) - set(acc["task"]))
        if unknown:
            raise MiniLadderError(f"unknown task(s): {', '.join(unknown)}")
        acc = acc[acc["task"].isin(list(tasks))]
    feat_row = {(str(r), int(s)): i for i, (r, s) in enumerate(zip(ml.features["run"], ml.features["step"]))}
    mean_loss = {(r, int(s)): v for r, s, v in ml.losses[["run", "step", "value"]].itertuples(index=False)}
    out = []
    for (run, task), g in acc.sort_values("step").groupby(["run", "task"], sort=True):
        steps = g["step"].to_numpy(np.int64)
        rows = [feat_row[(run, int(s))] for s in steps]
        first = g.iloc[0]
        meta = {"source": SOURCE, "family": first["family"], "size_params": int(first["size_params"]),
                "recipe": first["recipe"], "seed": int(first["seed"]), "compute_multiplier": float("nan"),
                "loss_kind": "miniladder-token-ce"}
        out.append(Series(
            run=run, task=task, steps=steps, tokens=g["tokens"].to_numpy(np.float64),
            flops=g["flops"].to_numpy(np.float64), values=g["value"].to_numpy(np.float64),
            losses={"mean": np.asarray([mean_loss[(run, int(s))] for s in steps]),
                    "hist": ml.features["hist"][rows], "sample": ml.features["sample"][rows]},
            meta=meta))
    return out
