"""One evaluation harness: every method scored on the same (run, task, target) set, in two information settings.

Why one harness: the reference code scored its logistic baseline on every checkpoint with the true future loss and
NeuNeu on the last 80% without it (paper-spec §9 items 14–15), so its two numbers answer different questions. Here
the harness, not the method, builds what a method may see:

* ``context`` — the series cut at the context end c = ⌊N · context_ratio⌋ (indices 0..c, copied, so no view into
  the full trajectory leaks through ``.base``);
* ``query`` — the target checkpoints c+1..N−1 (steps, tokens, flops) and, **only** in the ``loss_given`` setting,
  their validation-loss features. In ``forecast`` ``query.losses`` is None.

Settings are kept apart in every table. ``anchored`` mode asks for all targets from the fixed context (the paper's
reported mode); ``sequential`` mode asks one step at a time and appends the predicted median to the context (in
``forecast`` the appended point repeats the last known loss features, since the true ones are in the future).

Aggregation follows paper-spec §6: each metric is computed per (run, task) cell, then averaged over cells. Splits
(:data:`SPLITS`) turn a list of series into (train, test) lists that are disjoint in the split's own sense.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from neuneu import metrics
from neuneu.baselines import Forecaster, default_baselines
from neuneu.paths import BUILD_DIR
from neuneu.series import QUANTILES, Prediction, Query, Series

SETTINGS: tuple[str, ...] = ("forecast", "loss_given")
MODES: tuple[str, ...] = ("anchored", "sequential")
QUANTILE_COLUMNS: tuple[str, ...] = tuple(f"q{round(100 * q)}" for q in QUANTILES)
PREDICTION_COLUMNS: tuple[str, ...] = (
    "setting", "split", "method", "run", "task", "target_idx", "step", "tokens", "flops", "context_end",
    "horizon", "y_true", "median", *QUANTILE_COLUMNS,
)
SUMMARY_METRICS: tuple[str, ...] = ("mae", "rmse", "coverage80", "coverage50", "ranking_accuracy", "n_targets")
DEFAULT_CONTEXT_RATIO = 0.2
BENCH_SUMMARY_PATH = BUILD_DIR / "bench" / "summary.json"


class EvaluationError(ValueError):
    """A harness call that cannot be honoured (unknown setting or mode, bad context ratio, out-of-range cut…)."""


class SplitError(ValueError):
    """A split that is unknown or cannot be formed from the given series (empty train or test side)."""


# --------------------------------------------------------------------------------------------- small checks


def check_setting(name: str) -> str:
    """Return ``name`` if it is an information setting, else raise :class:`EvaluationError`."""
    if name not in SETTINGS:
        raise EvaluationError(f"unknown setting {name!r}; expected one of {', '.join(SETTINGS)}")
    return name


def check_mode(name: str) -> str:
    """Return ``name`` if it is an evaluation mode, else raise :class:`EvaluationError`."""
    if name not in MODES:
        raise EvaluationError(f"unknown mode {name!r}; expected one of {', '.join(MODES)}")
    return name


def context_end_index(n_points: int, context_ratio: float = DEFAULT_CONTEXT_RATIO) -> int:
    """c = ⌊n · ratio⌋ (paper-spec §6): the context is indices 0..c, so it always holds at least one point."""
    if not 0.0 <= context_ratio < 1.0:
        raise EvaluationError(f"context_ratio must be in [0, 1), got {context_ratio}")
    return int(math.floor(n_points * context_ratio))


def methods_for(methods: Sequence[Forecaster], setting: str) -> list[Forecaster]:
    """The methods valid in ``setting``: those declared for it or for "both"."""
    check_setting(setting)
    return [m for m in methods if m.setting in (setting, "both")]


# --------------------------------------------------------------------------------------------- context and query


def cut_context(series: Series, end: int) -> Series:
    """The series restricted to indices 0..end (inclusive), with copied arrays and copied meta."""
    if not 0 <= end < len(series):
        raise EvaluationError(
            f"context end index {end} is out of range for series {series.run}/{series.task} with {len(series)} points"
        )
    cut = slice(0, end + 1)
    return Series(
        run=series.run, task=series.task,
        steps=np.array(series.steps[cut]), tokens=np.array(series.tokens[cut]), flops=np.array(series.flops[cut]),
        values=np.array(series.values[cut]),
        losses={k: np.array(v[cut]) for k, v in series.losses.items()}, meta=dict(series.meta),
    )


def make_query(series: Series, targets: Sequence[int], setting: str) -> Query:
    """A query for ``targets`` (indices into ``series``); loss features are attached only in ``loss_given``."""
    check_setting(setting)
    idx = np.asarray(targets, dtype=int)
    losses = {k: np.array(v[idx]) for k, v in series.losses.items()} if setting == "loss_given" else None
    return Query(steps=np.array(series.steps[idx]), tokens=np.array(series.tokens[idx]),
                 flops=np.array(series.flops[idx]), losses=losses)


def _append_point(context: Series, series: Series, target: int, value: float, setting: str) -> Series:
    """Context grown by the target checkpoint carrying a *predicted* accuracy (sequential mode).

    Loss features of the new point are the true ones in ``loss_given`` and, in ``forecast``, a copy of the last
    known row, so nothing measured after the context end is revealed.
    """
    def grow(arr: np.ndarray, item: Any) -> np.ndarray:
        return np.concatenate([arr, np.asarray(item)[None, ...]], axis=0)

    losses = {
        k: grow(v, series.losses[k][target] if setting == "loss_given" else v[-1]) for k, v in context.losses.items()
    }
    return replace(
        context, steps=grow(context.steps, series.steps[target]), tokens=grow(context.tokens, series.tokens[target]),
        flops=grow(context.flops, series.flops[target]), values=grow(context.values, float(np.clip(value, 0, 1))),
        losses=losses,
    )


def _checked_answer(method: Forecaster, pred: Prediction, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(median (n,), quantiles (n, 5), all-NaN when the method gives none), or a named error on a wrong shape."""
    median = np.asarray(pred.median, dtype=float).reshape(-1)
    if len(median) != n:
        raise EvaluationError(f"method {method.name} returned {len(median)} medians for {n} targets")
    if pred.quantiles is None:
        return median, np.full((n, len(QUANTILES)), np.nan)
    quantiles = np.asarray(pred.quantiles, dtype=float)
    if quantiles.shape != (n, len(QUANTILES)):
        raise EvaluationError(
            f"method {method.name} returned quantiles of shape {quantiles.shape} for {n} targets"
        )
    return median, quantiles


def forecast_series(
    method: Forecaster, series: Series, end: int, setting: str, mode: str = "anchored"
) -> tuple[np.ndarray, np.ndarray]:
    """(median (n_targets,), quantiles (n_targets, 5)) of ``method`` for targets end+1..N−1 of ``series``."""
    check_mode(mode)
    targets = np.arange(end + 1, len(series))
    context = cut_context(series, end)
    if mode == "anchored":
        return _checked_answer(method, method.predict(context, make_query(series, targets, setting)), len(targets))
    medians, quantiles = [], []
    for t in targets:
        median, quantile = _checked_answer(method, method.predict(context, make_query(series, [t], setting)), 1)
        medians.append(float(median[0]))
        quantiles.append(quantile[0])
        context = _append_point(context, series, int(t), medians[-1], setting)
    return np.asarray(medians), np.asarray(quantiles).reshape(len(targets), len(QUANTILES))


# --------------------------------------------------------------------------------------------- the harness


@dataclass
class Evaluation:
    """What one :func:`evaluate` call produced.

    ``predictions``: the tidy table (:data:`PREDICTION_COLUMNS`), one row per (method, run, task, target).
    ``method_stats``: one row per method with predict time, trajectories, calls and fallback counts.
    ``skipped``: why series were left out (same for every method, since the target set is shared).
    """

    predictions: pd.DataFrame
    method_stats: pd.DataFrame
    skipped: Counter = field(default_factory=Counter)


def _fallback_snapshot(method: Forecaster) -> tuple[Counter, int]:
    return Counter(getattr(method, "fallbacks", Counter())), int(getattr(method, "calls", 0))


def _format_counts(counts: Mapping[str, int]) -> str:
    return ",".join(f"{k}:{v}" for k, v in sorted(counts.items()) if v > 0)


def _target_block(series: Series, end: int, setting: str, split: str) -> dict[str, np.ndarray]:
    """The method-independent columns of one series' targets."""
    t = np.arange(end + 1, len(series))
    n = len(t)
    return {
        "setting": np.full(n, setting, dtype=object), "split": np.full(n, split, dtype=object),
        "run": np.full(n, series.run, dtype=object), "task": np.full(n, series.task, dtype=object),
        "target_idx": t, "step": np.asarray(series.steps)[t], "tokens": np.asarray(series.tokens, dtype=float)[t],
        "flops": np.asarray(series.flops, dtype=float)[t], "context_end": np.full(n, end), "horizon": t - end,
        "y_true": np.asarray(series.values, dtype=float)[t],
    }


def evaluate(
    methods: Sequence[Forecaster],
    test: Sequence[Series],
    *,
    setting: str,
    split: str = "custom",
    mode: str = "anchored",
    context_ratio: float = DEFAULT_CONTEXT_RATIO,
    min_points: int = 2,
    progress: bool = False,
) -> Evaluation:
    """Score every method valid in ``setting`` on the same targets of ``test`` (methods must be fitted already).

    A series with fewer than ``min_points`` points, or whose context end leaves no target, is skipped for all
    methods alike (counted in ``Evaluation.skipped``). Methods declared for the other setting are left out.
    """
    check_setting(setting)
    check_mode(mode)
    chosen = methods_for(methods, setting)
    names = [m.name for m in chosen]
    if len(set(names)) != len(names):
        raise EvaluationError(f"method names must be unique, got {', '.join(names)}")
    usable, skipped = _usable_series(test, context_ratio, min_points)
    before = {m.name: _fallback_snapshot(m) for m in chosen}
    shared = [_target_block(series, end, setting, split) for series, end in usable]
    blocks: list[dict[str, np.ndarray]] = []
    stats = []
    for method in chosen:
        start = time.perf_counter()
        answers = _answers(method, usable, setting, mode, progress, f"{method.name} {split}/{setting}")
        seconds = time.perf_counter() - start
        for block, (median, quantiles) in zip(shared, answers):
            block = dict(block, method=np.full(len(median), method.name, dtype=object), median=median)
            block.update({col: quantiles[:, j] for j, col in enumerate(QUANTILE_COLUMNS)})
            blocks.append(block)
        stats.append(_method_row(method, before[method.name], seconds, len(usable), setting, split))
    return Evaluation(predictions=_blocks_to_frame(blocks), method_stats=pd.DataFrame(stats), skipped=skipped)


def _usable_series(
    test: Sequence[Series], context_ratio: float, min_points: int
) -> tuple[list[tuple[Series, int]], Counter]:
    """(series, context end) pairs that leave at least one target, and the count of those skipped."""
    context_end_index(1, context_ratio)  # validates the ratio even when ``test`` is empty
    usable, skipped = [], Counter()
    for series in test:
        end = context_end_index(len(series), context_ratio)
        if len(series) < max(min_points, 2) or end >= len(series) - 1:
            skipped["too_few_points"] += 1
        else:
            usable.append((series, end))
    return usable, skipped


def _answers(
    method: Forecaster, usable: Sequence[tuple[Series, int]], setting: str, mode: str, progress: bool, label: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(median, quantiles) per usable series; one batched call when the method offers ``predict_many`` (NeuNeu)
    and the mode is anchored, else one :func:`forecast_series` per series."""
    from tqdm import tqdm

    batched = getattr(method, "predict_many", None)
    if mode == "anchored" and callable(batched):
        pairs = [(cut_context(s, end), make_query(s, np.arange(end + 1, len(s)), setting)) for s, end in usable]
        preds = list(batched(pairs))
        if len(preds) != len(pairs):
            raise EvaluationError(f"method {method.name} returned {len(preds)} predictions for {len(pairs)} series")
        return [_checked_answer(method, p, len(q)) for p, (_, q) in zip(preds, pairs)]
    return [forecast_series(method, s, end, setting, mode)
            for s, end in tqdm(usable, desc=label, disable=not progress)]


def _blocks_to_frame(blocks: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    if not blocks:
        return pd.DataFrame({col: pd.Series(dtype=object) for col in PREDICTION_COLUMNS})
    frame = pd.DataFrame({col: np.concatenate([b[col] for b in blocks]) for col in PREDICTION_COLUMNS})
    for col in ("setting", "split", "method", "run", "task"):
        frame[col] = frame[col].astype(str)
    return frame


def _method_row(
    method: Forecaster, before: tuple[Counter, int], seconds: float, n_trajectories: int, setting: str, split: str
) -> dict[str, Any]:
    counts, calls = _fallback_snapshot(method)
    fired = counts - before[0]
    return {
        "setting": setting, "split": split, "method": method.name, "predict_seconds": seconds,
        "n_trajectories": n_trajectories, "calls": calls - before[1], "n_fallbacks": int(sum(fired.values())),
        "fallbacks": _format_counts(fired),
    }


# --------------------------------------------------------------------------------------------- summaries


def cell_scores(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, split, method, run, task) cell: mae, rmse (accuracy points), coverage80/50, n_targets."""
    rows = []
    keys = ["setting", "split", "method", "run", "task"]
    for key, g in predictions.groupby(keys, sort=True):
        y, med = g["y_true"].to_numpy(float), g["median"].to_numpy(float)
        has_q = bool(np.all(np.isfinite(g[list(QUANTILE_COLUMNS)].to_numpy(float))))
        rows.append(dict(
            zip(keys, key), mae=metrics.mae(y, med), rmse=metrics.rmse(y, med),
            coverage80=metrics.interval_coverage(y, g["q10"], g["q90"]) if has_q else float("nan"),
            coverage50=metrics.interval_coverage(y, g["q25"], g["q75"]) if has_q else float("nan"),
            n_targets=len(g),
        ))
    return pd.DataFrame(rows, columns=[*keys, "mae", "rmse", "coverage80", "coverage50", "n_targets"])


def final_checkpoint_ranking(predictions: pd.DataFrame) -> float:
    """Ranking accuracy of one method's predictions: each run's last target per task, pairs within a task."""
    last = predictions.loc[predictions.groupby(["run", "task"])["target_idx"].idxmax()]
    return metrics.ranking_accuracy(last["task"].to_numpy(object), last["y_true"], last["median"])


def summarize(predictions: pd.DataFrame, method_stats: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (setting, split, method): cell-averaged metrics, ranking accuracy, counts, timings, fallbacks.

    mae / rmse are in accuracy points; coverage80 / coverage50 are the shares of truths inside q10–q90 / q25–q75
    (NaN for methods without quantiles); ranking_accuracy uses each run's final checkpoint (see
    :func:`neuneu.metrics.ranking_accuracy`).
    """
    cells = cell_scores(predictions)
    group = ["setting", "split", "method"]
    summary = cells.groupby(group, sort=False).agg(
        mae=("mae", "mean"), rmse=("rmse", "mean"), coverage80=("coverage80", "mean"),
        coverage50=("coverage50", "mean"), n_targets=("n_targets", "sum"), n_cells=("mae", "size"),
    ).reset_index()
    ranking = {key: final_checkpoint_ranking(g) for key, g in predictions.groupby(group, sort=False)}
    summary["ranking_accuracy"] = [ranking[tuple(r)] for r in summary[group].itertuples(index=False)]
    if method_stats is not None and len(method_stats):
        summary = summary.merge(method_stats, on=group, how="left")
        summary["predict_ms_per_trajectory"] = 1000 * summary["predict_seconds"] / summary["n_trajectories"]
    return summary


def horizon_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """MAE (accuracy points) and target count at each forecast horizon, per (setting, split, method)."""
    frames = []
    for (setting, split, method), g in predictions.groupby(["setting", "split", "method"], sort=False):
        h, err, n = metrics.error_by_horizon(g["horizon"], g["y_true"], g["median"])
        frames.append(pd.DataFrame({"setting": setting, "split": split, "method": method,
                                    "horizon": h, "mae": err, "n_targets": n}))
    columns = ["setting", "split", "method", "horizon", "mae", "n_targets"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


# --------------------------------------------------------------------------------------------- splits

# The 13 tasks the paper holds out ("randomly sampled with seed 42", paper-spec §2.1). Only those present in the
# data are used; OLMo-ladder names its MMLU by category, so there the held-out set is the 4 non-MMLU tasks.
HELDOUT_TASKS: tuple[str, ...] = (
    "csqa", "openbookqa", "piqa", "winogrande", "mmlu_college_biology", "mmlu_college_chemistry",
    "mmlu_high_school_mathematics", "mmlu_high_school_microeconomics", "mmlu_high_school_psychology",
    "mmlu_international_law", "mmlu_management", "mmlu_professional_psychology", "mmlu_world_religions",
)


def _meta_text(s: Series, key: str) -> str:
    return str(s.meta.get(key, "")).lower()


def _is_family(s: Series, family: str) -> bool:
    """True when the series' family (or, failing that, source) starts with ``family``, case-insensitively."""
    prefix = family.lower()
    return _meta_text(s, "family").startswith(prefix) or _meta_text(s, "source").startswith(prefix)


def _checked(name: str, train: list[Series], test: list[Series]) -> tuple[list[Series], list[Series]]:
    if not train or not test:
        raise SplitError(f"split {name!r} has {len(train)} training and {len(test)} test series; both must be > 0")
    return train, test


LADDER_FAMILY = "olmo-2-ladder"  # the 190M–3B × 0.5–10×C ladder runs; OLMo-2 7B/13B are family "olmo-2"


def _ladder(series: Sequence[Series], source: str, family: str | None) -> list[Series]:
    return [s for s in series if s.meta.get("source") == source and (family is None or s.meta.get("family") == family)]


def split_heldout_sizes(
    series: Sequence[Series], *, source: str = "olmo-ladder", family: str | None = LADDER_FAMILY,
    min_test_params: float = 9e8,
) -> tuple[list[Series], list[Series]]:
    """OLMo ladder by size: train on runs below ``min_test_params`` (190M–760M), test on the rest (1B, 3B)."""
    pool = _ladder(series, source, family)
    train = [s for s in pool if float(s.meta["size_params"]) < min_test_params]
    test = [s for s in pool if float(s.meta["size_params"]) >= min_test_params]
    return _checked("heldout-sizes", train, test)


def split_heldout_multiplier(
    series: Sequence[Series], *, source: str = "olmo-ladder", family: str | None = LADDER_FAMILY,
    multiplier: float = 10.0,
) -> tuple[list[Series], list[Series]]:
    """OLMo ladder by training length: test on runs at ``multiplier`` × Chinchilla compute, train on the others."""
    pool = _ladder(series, source, family)
    is_test = [math.isclose(float(s.meta["compute_multiplier"]), multiplier) for s in pool]
    train = [s for s, t in zip(pool, is_test) if not t]
    test = [s for s, t in zip(pool, is_test) if t]
    return _checked("heldout-multiplier", train, test)


def split_unseen_family(series: Sequence[Series], *, family: str = "pythia") -> tuple[list[Series], list[Series]]:
    """A model family never seen in training (Pythia by default): test = that family, train = every other one."""
    test = [s for s in series if _is_family(s, family)]
    train = [s for s in series if not _is_family(s, family)]
    return _checked("unseen-family", train, test)


def split_unseen_recipe(
    series: Sequence[Series], *, source: str = "bigscience"
) -> tuple[list[Series], list[Series]]:
    """Data recipes never seen in training: test = ``source`` runs (BigScience: OSCAR, C4, Pile…); train = the
    other sources, minus any series whose recipe also occurs in the test side."""
    test = [s for s in series if s.meta.get("source") == source]
    test_recipes = {_meta_text(s, "recipe") for s in test}
    train = [s for s in series if s.meta.get("source") != source and _meta_text(s, "recipe") not in test_recipes]
    return _checked("unseen-recipe", train, test)


def split_heldout_tasks(
    series: Sequence[Series], *, tasks: Iterable[str] = HELDOUT_TASKS
) -> tuple[list[Series], list[Series]]:
    """Tasks never seen in training: test = series of ``tasks`` (those present), train = all other tasks."""
    held = set(tasks)
    test = [s for s in series if s.task in held]
    train = [s for s in series if s.task not in held]
    return _checked("heldout-tasks", train, test)


def split_miniladder_size(series: Sequence[Series]) -> tuple[list[Series], list[Series]]:
    """Mini-ladder by size: test on the largest model size present, train on the smaller ones."""
    pool = [s for s in series if s.meta.get("source") == "miniladder"]
    largest = max((float(s.meta["size_params"]) for s in pool), default=0.0)
    train = [s for s in pool if float(s.meta["size_params"]) < largest]
    test = [s for s in pool if float(s.meta["size_params"]) == largest]
    return _checked("miniladder-size", train, test)


def split_miniladder_recipe(series: Sequence[Series], *, recipe: str = "informal") -> tuple[list[Series], list[Series]]:
    """Mini-ladder by training text: test on runs of ``recipe``, train on the other recipe(s)."""
    pool = [s for s in series if s.meta.get("source") == "miniladder"]
    train = [s for s in pool if _meta_text(s, "recipe") != recipe]
    test = [s for s in pool if _meta_text(s, "recipe") == recipe]
    return _checked("miniladder-recipe", train, test)


SPLITS: dict[str, Callable[..., tuple[list[Series], list[Series]]]] = {
    "heldout-sizes": split_heldout_sizes,
    "heldout-multiplier": split_heldout_multiplier,
    "unseen-family": split_unseen_family,
    "unseen-recipe": split_unseen_recipe,
    "heldout-tasks": split_heldout_tasks,
    "miniladder-size": split_miniladder_size,
    "miniladder-recipe": split_miniladder_recipe,
}


def make_split(series: Sequence[Series], name: str, **options: Any) -> tuple[list[Series], list[Series]]:
    """(train, test) for split ``name`` (a key of :data:`SPLITS`); ``options`` go to the split function."""
    if name not in SPLITS:
        raise SplitError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
    return SPLITS[name](series, **options)


# --------------------------------------------------------------------------------------------- benchmark


@dataclass
class Benchmark:
    """All splits × settings of one run: predictions, per-method stats (fit and predict time, fallbacks)."""

    predictions: pd.DataFrame
    method_stats: pd.DataFrame
    skipped: dict[str, Counter]

    @property
    def summary(self) -> pd.DataFrame:
        """:func:`summarize` over everything."""
        return summarize(self.predictions, self.method_stats)


def run_benchmark(
    methods: Sequence[Forecaster],
    series: Sequence[Series],
    *,
    splits: Iterable[str] = ("heldout-sizes",),
    settings: Iterable[str] = SETTINGS,
    mode: str = "anchored",
    context_ratio: float = DEFAULT_CONTEXT_RATIO,
    fit: bool = True,
    progress: bool = False,
) -> Benchmark:
    """For each split: fit every method on its train side (timed, once), then :func:`evaluate` each setting."""
    settings = [check_setting(s) for s in settings]
    predictions, stats, skipped = [], [], {}
    for split in splits:
        train, test = make_split(series, split)
        fit_seconds = {}
        for method in methods:
            start = time.perf_counter()
            if fit:
                method.fit(train)
            fit_seconds[method.name] = time.perf_counter() - start
        done: dict[str, Evaluation] = {}
        for setting in settings:
            reusable = _reusable(methods, setting, done)
            todo = [m for m in methods if m.name not in reusable]
            result = evaluate(todo, test, setting=setting, split=split, mode=mode,
                              context_ratio=context_ratio, progress=progress)
            if reusable:
                result = _with_reused(result, done["forecast"], reusable, setting)
            result.method_stats["fit_seconds"] = result.method_stats["method"].map(fit_seconds)
            done[setting] = result
            predictions.append(result.predictions)
            stats.append(result.method_stats)
            skipped[f"{split}/{setting}"] = result.skipped
    return Benchmark(
        predictions=pd.concat(predictions, ignore_index=True) if predictions else _blocks_to_frame([]),
        method_stats=pd.concat(stats, ignore_index=True) if stats else pd.DataFrame(),
        skipped=skipped,
    )


def _reusable(methods: Sequence[Forecaster], setting: str, done: Mapping[str, Evaluation]) -> set[str]:
    """Methods whose loss_given predictions equal their forecast ones: valid in both settings and declared
    (``reads_query_losses = False``) never to read ``query.losses``. Their forecast rows are copied, not recomputed."""
    if setting != "loss_given" or "forecast" not in done:
        return set()
    return {m.name for m in methods if m.setting == "both" and getattr(m, "reads_query_losses", True) is False}


def _with_reused(result: Evaluation, forecast: Evaluation, names: set[str], setting: str) -> Evaluation:
    """``result`` plus the forecast-setting rows and stats of ``names``, relabelled as ``setting``."""
    rows = forecast.predictions[forecast.predictions["method"].isin(names)].assign(setting=setting)
    stats = forecast.method_stats[forecast.method_stats["method"].isin(names)].assign(setting=setting)
    predictions = pd.concat([result.predictions, rows], ignore_index=True) if len(result.predictions) else rows
    method_stats = pd.concat([result.method_stats, stats], ignore_index=True) if len(result.method_stats) else stats
    return Evaluation(predictions=predictions.reset_index(drop=True), method_stats=method_stats.reset_index(drop=True),
                      skipped=result.skipped)


# --------------------------------------------------------------------------------------------- writers


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_frame(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tables(predictions: pd.DataFrame, summary: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Write predictions.parquet, summary.csv and horizon.csv under ``out_dir`` (atomically); return the paths."""
    out_dir = Path(out_dir)
    paths = {"predictions": out_dir / "predictions.parquet", "summary": out_dir / "summary.csv",
             "horizon": out_dir / "horizon.csv"}
    _atomic_write_frame(predictions, paths["predictions"])
    _atomic_write_frame(summary, paths["summary"])
    _atomic_write_frame(horizon_table(predictions), paths["horizon"])
    return paths


def _json_number(value: Any) -> float | int | None:
    """A JSON-safe number: NaN/inf become null (strict JSON has no NaN)."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def bench_summary_dict(
    summary: pd.DataFrame, *, train_seconds: float, predict_ms_per_trajectory: float
) -> dict[str, Any]:
    """``{setting: {split: {method: {mae, rmse, coverage80, coverage50, ranking_accuracy, n_targets}}}}`` plus the
    top-level timings ``train_seconds`` and ``predict_ms_per_trajectory``."""
    out: dict[str, Any] = {}
    for row in summary.itertuples(index=False):
        cell = out.setdefault(row.setting, {}).setdefault(row.split, {})
        cell[row.method] = {k: _json_number(getattr(row, k)) for k in SUMMARY_METRICS}
    out["train_seconds"] = _json_number(train_seconds)
    out["predict_ms_per_trajectory"] = _json_number(predict_ms_per_trajectory)
    return out


def write_bench_summary(
    summary: pd.DataFrame,
    path: Path = BENCH_SUMMARY_PATH,
    *,
    train_seconds: float,
    predict_ms_per_trajectory: float,
) -> Path:
    """Write :func:`bench_summary_dict` as JSON at ``path`` (default ``_build/bench/summary.json``), atomically."""
    data = bench_summary_dict(summary, train_seconds=train_seconds,
                              predict_ms_per_trajectory=predict_ms_per_trajectory)
    _atomic_write_bytes(Path(path), (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
    return Path(path)


def benchmark_timings(bench: Benchmark, method: str | None = None) -> tuple[float, float]:
    """(train_seconds, predict_ms_per_trajectory) of ``method``, or of all methods together when None.

    train_seconds sums fit time over splits; the predict time is averaged over every predicted trajectory.
    """
    stats = bench.method_stats
    if method is not None:
        stats = stats[stats["method"] == method]
    fit_total = float(stats.drop_duplicates(["split", "method"])["fit_seconds"].sum()) if len(stats) else 0.0
    n = float(stats["n_trajectories"].sum()) if len(stats) else 0.0
    predict_ms = 1000 * float(stats["predict_seconds"].sum()) / n if n else float("nan")
    return fit_total, predict_ms


# --------------------------------------------------------------------------------------------- loading and CLI


class Prefitted:
    """Wraps an already-trained forecaster so the harness's ``fit(train)`` does not retrain it."""

    def __init__(self, inner: Forecaster) -> None:
        self.inner = inner
        self.name, self.setting = inner.name, inner.setting

    def fit(self, train: Sequence[Series]) -> "Prefitted":
        return self

    def predict(self, context: Series, query: Query) -> Prediction:
        return self.inner.predict(context, query)

    def __getattr__(self, name: str) -> Any:  # predict_many, reads_query_losses… come from the wrapped method
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def load_series() -> list[Series]:
    """Every trajectory of the public corpus, via ``neuneu.trajectories`` (imported here: written in parallel)."""
    from neuneu.trajectories import load_corpus, to_series

    return list(to_series(load_corpus()))


def load_neuneu(weights: Path) -> Forecaster:
    """The trained NeuNeu forecaster stored in ``weights`` (``NeuNeuForecaster.load``), with ``fit`` a no-op."""
    from neuneu.train import NeuNeuForecaster

    if not Path(weights).is_dir():
        raise EvaluationError(f"weights directory {weights} does not exist")
    return Prefitted(NeuNeuForecaster.load(Path(weights)))


def build_methods(names: Sequence[str] | None = None, weights: Path | None = None) -> list[Forecaster]:
    """The default baselines (optionally only ``names``), plus NeuNeu from ``weights`` when given."""
    methods: list[Forecaster] = list(default_baselines())
    if names:
        known = {m.name for m in methods}
        unknown = sorted(set(names) - known)
        if unknown:
            raise EvaluationError(
                f"unknown method(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}"
            )
        methods = [m for m in methods if m.name in names]
        # the two-stage law reads the paper-logistic mapping, which it fits itself when the latter is not chosen
    if weights is not None:
        methods.append(load_neuneu(weights))
    return methods


def run_bench(
    out_dir: Path = BENCH_SUMMARY_PATH.parent,
    *,
    series: Sequence[Series] | None = None,
    methods: Sequence[Forecaster] | None = None,
    splits: Iterable[str] = ("heldout-sizes",),
    settings: Iterable[str] = SETTINGS,
    mode: str = "anchored",
    context_ratio: float = DEFAULT_CONTEXT_RATIO,
    timing_method: str | None = None,
    progress: bool = True,
) -> Benchmark:
    """Run the benchmark and write ``summary.json`` (+ predictions.parquet, summary.csv, horizon.csv) in ``out_dir``.

    Timings in summary.json are those of ``timing_method`` (e.g. "neuneu") or of all methods together when None.
    """
    series = load_series() if series is None else series
    methods = build_methods() if methods is None else methods
    bench = run_benchmark(methods, series, splits=splits, settings=settings, mode=mode,
                          context_ratio=context_ratio, progress=progress)
    summary = bench.summary
    write_tables(bench.predictions, summary, Path(out_dir))
    train_s, predict_ms = benchmark_timings(bench, timing_method)
    write_bench_summary(summary, Path(out_dir) / "summary.json", train_seconds=train_s,
                        predict_ms_per_trajectory=predict_ms)
    return bench


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``neuneu evaluate`` (see ``--help``)."""
    p = sub.add_parser("evaluate", help="score NeuNeu and the baselines on one or more splits")
    p.add_argument("--weights", type=Path, default=None, help="directory of trained NeuNeu weights (optional)")
    p.add_argument("--split", action="append", choices=list(SPLITS), help="split(s) to run (default heldout-sizes)")
    p.add_argument("--setting", action="append", choices=list(SETTINGS), help="setting(s) (default: both)")
    p.add_argument("--mode", choices=list(MODES), default="anchored")
    p.add_argument("--context-ratio", type=float, default=DEFAULT_CONTEXT_RATIO)
    p.add_argument("--methods", nargs="+", default=None, help="baselines to run (default: all)")
    p.add_argument("--out", type=Path, default=BUILD_DIR / "evaluate", help="output directory")
    p.add_argument("--no-progress", action="store_true", help="silence progress bars")
    p.set_defaults(func=_cli_evaluate)


def _cli_evaluate(args: argparse.Namespace) -> int:
    methods = build_methods(args.methods, args.weights)
    timing_method = methods[-1].name if args.weights is not None else None  # NeuNeu's own timings when given
    bench = run_bench(args.out, methods=methods, splits=args.split or ["heldout-sizes"],
                      settings=args.setting or list(SETTINGS), mode=args.mode, context_ratio=args.context_ratio,
                      timing_method=timing_method, progress=not args.no_progress)
    columns = ["setting", "split", "method", "mae", "rmse", "coverage80", "coverage50", "ranking_accuracy",
               "n_targets", "fallbacks"]
    print(bench.summary[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {Path(args.out) / 'summary.json'}")
    return 0
