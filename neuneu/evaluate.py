"""One evaluation harness: every method scored on the same (run, task, target) set, and the tables read off it.

Why one harness: the reference code scored its logistic baseline on every checkpoint with the true future loss and
NeuNeu on the last 80% without it (paper-spec §9 items 14–15), so its two numbers answer different questions. Here
the harness builds what a method may see (:func:`neuneu.contract.anchored_question`): the series cut at the
context end, and a query of every later checkpoint that carries the targets' losses only in ``loss_given``.

* **Context rules** (:data:`~neuneu.contract.CONTEXT_RULES`): the paper's index rule (the first 20% of the
  checkpoints) is the headline; the compute rule (checkpoints trained on at most 20% of the final tokens) is
  reported beside it, because with log-spaced checkpoints (Pythia) the index rule keeps only untrained models.
* **Modes**: ``anchored`` asks for all targets from the fixed context (the paper's reported mode); ``sequential``
  asks one step at a time and appends the predicted median to the context (in ``forecast`` the appended point
  repeats the last known loss features, since the true ones are in the future).
* **The noise floor** (method ``noise-floor``, kind ``reference``) is not a forecaster: a leave-one-out smoother
  that sees the whole trajectory (:func:`neuneu.metrics.loo_smoother`). Its error shows how far each method is
  from the irreducible checkpoint-to-checkpoint noise; every method's MAE is also reported as a ratio to it.

Metrics (all in :func:`summarize`): ``mae`` and ``rmse`` in accuracy points, averaged first within each (run, task)
cell and then over cells (paper-spec §6); ``coverage80`` / ``coverage50``, the shares of truths inside q10–q90 /
q25–q75; and the **decision accuracy**: over pairs of test runs on one task that a user would actually compare —
same size and different training length (``decision_size``), different size at about the same final compute
(``decision_budget``, final FLOPs within a factor :data:`BUDGET_FACTOR`), same size and length on different
training corpora (``decision_recipe``, e.g. the BigScience data ablations) — and whose true final accuracies
differ by more than their checkpoint noise, the share whose predicted final accuracies are in the right order.
Near-identical replicas (reruns, seeds) are never paired. NeuNeu's numbers are means over training seeds with
their standard deviation (``<metric>_sd``).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from neuneu import metrics
from neuneu.contract import (
    DEFAULT_CONTEXT_RATIO,
    QUANTILE_COLUMNS,
    QUANTILES,
    EvaluationError,
    Forecaster,
    Prediction,
    Series,
    anchored_question,
    check_context_ratio,
    check_context_rule,
    check_mode,
    check_setting,
    context_end,
    cut_context,
    make_query,
)
from neuneu.profiles import show_progress
from neuneu.splits import corpus_of, family_of, replica_group

NOISE_FLOOR = "noise-floor"
KEY_COLUMNS: tuple[str, ...] = ("setting", "split", "context_rule", "method", "seed", "kind")
PREDICTION_COLUMNS: tuple[str, ...] = (
    *KEY_COLUMNS, "run", "task", "target_idx", "step", "tokens", "flops", "context_end", "horizon", "y_true",
    "median", *QUANTILE_COLUMNS,
)
CELL_COLUMNS: tuple[str, ...] = (
    "split", "context_rule", "run", "task", "context_end", "n_points", "size_params", "final_tokens", "final_flops",
    "corpus", "replica", "family", "noise_sd", "y_final",
)
DECISION_KINDS: tuple[str, ...] = ("size", "budget", "recipe")
DECISION_COLUMNS: tuple[str, ...] = ("decision_accuracy", *(f"decision_{k}" for k in DECISION_KINDS), "n_pairs")
SEED_METRICS: tuple[str, ...] = ("mae", "rmse", "coverage80", "coverage50", *DECISION_COLUMNS[:-1])
BUDGET_FACTOR = 1.5  # "equal budget": final training FLOPs within this factor of each other
SAME_LENGTH_TOLERANCE = 0.1  # "same training length": final tokens within 10%
NO_SEED = -1  # the seed column of deterministic methods
CHUNK = 64  # pairs per predict_many call (progress granularity)


# --------------------------------------------------------------------------------------------- the harness


@dataclass
class Evaluation:
    """What one :func:`evaluate` call produced.

    ``predictions``: the tidy table (:data:`PREDICTION_COLUMNS`), one row per (method, seed, run, task, target).
    ``method_stats``: one row per method with predict time, trajectories, calls and fallback counts.
    ``cells``: one row per scored (run, task) with what the decision pairs need (:data:`CELL_COLUMNS`).
    ``skipped``: why series were left out (the same for every method, since the target set is shared).
    """

    predictions: pd.DataFrame
    method_stats: pd.DataFrame
    cells: pd.DataFrame
    skipped: Counter = field(default_factory=Counter)


def methods_for(methods: Sequence[Forecaster], setting: str) -> list[Forecaster]:
    """The methods valid in ``setting`` (declared for it or for "both")."""
    return [m for m in methods if m.capabilities.valid_in(setting)]


def _seed(method: Forecaster) -> int:
    return NO_SEED if method.seed is None else int(method.seed)


def _usable(test: Sequence[Series], context_ratio: float, rule: str, min_points: int
            ) -> tuple[list[tuple[Series, int]], Counter]:
    """(series, context end) pairs that leave at least one target, and the count of those skipped."""
    usable, skipped = [], Counter()
    for series in test:
        end = context_end(series, context_ratio, rule)
        if len(series) < max(min_points, 2) or end >= len(series) - 1:
            skipped["too_few_points"] += 1
        else:
            usable.append((series, end))
    return usable, skipped


def _target_block(series: Series, end: int, labels: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The method-independent columns of one series' targets."""
    t = np.arange(end + 1, len(series))
    n = len(t)
    block = {key: np.full(n, value, dtype=object) for key, value in labels.items()}
    block.update({
        "run": np.full(n, series.run, dtype=object), "task": np.full(n, series.task, dtype=object),
        "target_idx": t, "step": np.asarray(series.steps)[t], "tokens": np.asarray(series.tokens, dtype=float)[t],
        "flops": np.asarray(series.flops, dtype=float)[t], "context_end": np.full(n, end), "horizon": t - end,
        "y_true": np.asarray(series.values, dtype=float)[t],
    })
    return block


def _checked_answer(method: Forecaster, pred: Prediction, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(median (n,), quantiles (n, 5), all-NaN when the method gives none), or a named error on a wrong shape."""
    median = np.asarray(pred.median, dtype=float).reshape(-1)
    if len(median) != n:
        raise EvaluationError(f"method {method.name} returned {len(median)} medians for {n} targets")
    if pred.quantiles is None:
        return median, np.full((n, len(QUANTILES)), np.nan)
    quantiles = np.asarray(pred.quantiles, dtype=float)
    if quantiles.shape != (n, len(QUANTILES)):
        raise EvaluationError(f"method {method.name} returned quantiles of shape {quantiles.shape} for {n} targets")
    return median, quantiles


def _append_point(context: Series, series: Series, target: int, value: float, setting: str) -> Series:
    """Context grown by the target checkpoint carrying a *predicted* accuracy (sequential mode).

    Loss features of the new point are the true ones in ``loss_given`` and, in ``forecast``, a copy of the last
    known row, so nothing measured after the context end is revealed.
    """
    def grow(arr: np.ndarray, item: Any) -> np.ndarray:
        return np.concatenate([arr, np.asarray(item)[None, ...]], axis=0)

    losses = {k: grow(v, series.losses[k][target] if setting == "loss_given" else v[-1])
              for k, v in context.losses.items()}
    return replace(context, steps=grow(context.steps, series.steps[target]),
                   tokens=grow(context.tokens, series.tokens[target]), flops=grow(context.flops, series.flops[target]),
                   values=grow(context.values, float(np.clip(value, 0, 1))), losses=losses)


def forecast_series(method: Forecaster, series: Series, end: int, setting: str, mode: str = "anchored"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(median (n_targets,), quantiles (n_targets, 5)) of ``method`` for targets end+1..N−1 of ``series``."""
    check_mode(mode)
    if mode == "anchored":
        context, query = anchored_question(series, end, setting)
        return _checked_answer(method, method.predict(context, query), len(query))
    context = cut_context(series, end)
    medians, quantiles = [], []
    for t in range(end + 1, len(series)):
        median, quantile = _checked_answer(method, method.predict(context, make_query(series, [t], setting)), 1)
        medians.append(float(median[0]))
        quantiles.append(quantile[0])
        context = _append_point(context, series, t, medians[-1], setting)
    return np.asarray(medians), np.asarray(quantiles).reshape(-1, len(QUANTILES))


def _answers(method: Forecaster, usable: Sequence[tuple[Series, int]], setting: str, mode: str, label: str,
             progress: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(median, quantiles) per usable series: anchored questions go to ``predict_many`` in chunks (NeuNeu batches
    them in one forward pass), sequential ones one step at a time."""
    bar = tqdm(total=len(usable), desc=label, disable=not show_progress(progress), leave=False)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    try:
        for start in range(0, len(usable), CHUNK):
            chunk = usable[start:start + CHUNK]
            if mode == "anchored":
                pairs = [anchored_question(s, end, setting) for s, end in chunk]
                preds = list(method.predict_many(pairs))
                if len(preds) != len(pairs):
                    raise EvaluationError(f"method {method.name} returned {len(preds)} predictions for "
                                          f"{len(pairs)} series")
                out += [_checked_answer(method, p, len(q)) for p, (_, q) in zip(preds, pairs)]
            else:
                out += [forecast_series(method, s, end, setting, mode) for s, end in chunk]
            bar.update(len(chunk))
    finally:
        bar.close()
    return out


def _positions(series: Series) -> np.ndarray:
    """log tokens where every checkpoint has tokens, else log steps: the axis of the noise reference."""
    tokens = np.asarray(series.tokens, dtype=float)
    axis = tokens if np.all(np.isfinite(tokens)) and np.all(tokens > 0) else np.asarray(series.steps, dtype=float)
    return np.log(np.maximum(axis, 1e-12))


def noise_floor_answers(usable: Sequence[tuple[Series, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The noise-floor reference's medians at every target (no quantiles)."""
    out = []
    for series, end in usable:
        smooth = metrics.loo_smoother(_positions(series), series.values)[end + 1:]
        out.append((smooth, np.full((len(smooth), len(QUANTILES)), np.nan)))
    return out


def cell_table(usable: Sequence[tuple[Series, int]], split: str, rule: str) -> pd.DataFrame:
    """One row per scored (run, task): its context end, run identity (size, final compute, corpus, replica group,
    family), checkpoint noise sd and final accuracy — what :func:`decision_pairs` reads."""
    rows = [{
        "split": split, "context_rule": rule, "run": s.run, "task": s.task, "context_end": end, "n_points": len(s),
        "size_params": float(s.meta.get("size_params", np.nan)), "final_tokens": float(np.asarray(s.tokens)[-1]),
        "final_flops": float(np.asarray(s.flops)[-1]), "corpus": corpus_of(s), "replica": replica_group(s),
        "family": family_of(s), "noise_sd": metrics.checkpoint_noise_sd(_positions(s), s.values),
        "y_final": float(np.asarray(s.values)[-1]),
    } for s, end in usable]
    return pd.DataFrame(rows, columns=list(CELL_COLUMNS))


def evaluate(methods: Sequence[Forecaster], test: Sequence[Series], *, setting: str, split: str = "custom",
             mode: str = "anchored", context_ratio: float = DEFAULT_CONTEXT_RATIO, context_rule: str = "index",
             reference: bool = True, min_points: int = 2, progress: bool = False) -> Evaluation:
    """Score every method valid in ``setting`` on the same targets of ``test`` (methods must be fitted already).

    A series with fewer than ``min_points`` points, or whose context end leaves no target, is skipped for all
    methods alike (counted in ``Evaluation.skipped``). With ``reference`` the noise-floor rows are added.
    """
    check_setting(setting)
    check_mode(mode)
    check_context_rule(context_rule)
    chosen = methods_for(methods, setting)
    ids = [(m.name, _seed(m)) for m in chosen]
    if len(set(ids)) != len(ids):
        raise EvaluationError(f"method names (with seeds) must be unique, got {', '.join(m.name for m in chosen)}")
    check_context_ratio(context_ratio)
    usable, skipped = _usable(test, context_ratio, context_rule, min_points)
    blocks, stats = [], []
    for method in chosen:
        before_fallbacks, before_calls = Counter(method.fallbacks), method.calls
        start = time.perf_counter()
        answers = _answers(method, usable, setting, mode, f"{method.name} {split}/{setting}", progress)
        seconds = time.perf_counter() - start
        labels = {"setting": setting, "split": split, "context_rule": context_rule, "method": method.name,
                  "seed": _seed(method), "kind": method.capabilities.kind}
        blocks += _answer_blocks(usable, answers, labels)
        fired = Counter(method.fallbacks) - before_fallbacks
        stats.append({**labels, "predict_seconds": seconds, "n_trajectories": len(usable),
                      "calls": method.calls - before_calls, "n_fallbacks": int(sum(fired.values())),
                      "fallbacks": ",".join(f"{k}:{v}" for k, v in sorted(fired.items()) if v > 0)})
    if reference and usable:
        labels = {"setting": setting, "split": split, "context_rule": context_rule, "method": NOISE_FLOOR,
                  "seed": NO_SEED, "kind": "reference"}
        blocks += _answer_blocks(usable, noise_floor_answers(usable), labels)
    columns = [*KEY_COLUMNS, "predict_seconds", "n_trajectories", "calls", "n_fallbacks", "fallbacks"]
    return Evaluation(predictions=blocks_to_frame(blocks), method_stats=pd.DataFrame(stats, columns=columns),
                      cells=cell_table(usable, split, context_rule), skipped=skipped)


def _answer_blocks(usable: Sequence[tuple[Series, int]], answers: Sequence[tuple[np.ndarray, np.ndarray]],
                   labels: Mapping[str, Any]) -> list[dict[str, np.ndarray]]:
    blocks = []
    for (series, end), (median, quantiles) in zip(usable, answers):
        block = _target_block(series, end, labels)
        block["median"] = median
        block.update({col: quantiles[:, j] for j, col in enumerate(QUANTILE_COLUMNS)})
        blocks.append(block)
    return blocks


def blocks_to_frame(blocks: Sequence[Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """The predictions table from column blocks (an empty, typed table when there are none)."""
    if not blocks:
        return pd.DataFrame({col: pd.Series(dtype=object) for col in PREDICTION_COLUMNS})
    frame = pd.DataFrame({col: np.concatenate([b[col] for b in blocks]) for col in PREDICTION_COLUMNS})
    for col in ("setting", "split", "context_rule", "method", "kind", "run", "task"):
        frame[col] = frame[col].astype(str)
    frame["seed"] = frame["seed"].astype(np.int64)
    return frame


# --------------------------------------------------------------------------------------------- decisions


def _pair_kind(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """Which decision a pair of runs is (see the module docstring), or None when it is no decision."""
    if a["replica"] == b["replica"]:
        return None  # near-identical replicas: not a choice anyone makes
    same_size = np.isclose(a["size_params"], b["size_params"], rtol=1e-3)
    same_length = abs(a["final_tokens"] - b["final_tokens"]) <= SAME_LENGTH_TOLERANCE * max(a["final_tokens"],
                                                                                           b["final_tokens"])
    if same_size and not same_length:
        return "size"
    if same_size and same_length:
        return "recipe" if a["corpus"] != b["corpus"] else None
    ratio = max(a["final_flops"], b["final_flops"]) / max(min(a["final_flops"], b["final_flops"]), 1e-30)
    return "budget" if ratio <= BUDGET_FACTOR else None


def decision_pairs(cells: pd.DataFrame) -> pd.DataFrame:
    """Every decision pair of test runs per (split, context rule, task) whose true final accuracies differ by more
    than their combined checkpoint noise √(σ_a² + σ_b²): columns split, context_rule, task, run_a, run_b, kind,
    true_diff (a − b)."""
    rows = []
    for (split, rule, task), g in cells.groupby(["split", "context_rule", "task"], sort=True):
        records = g.sort_values("run").to_dict("records")
        for a, b in itertools.combinations(records, 2):
            kind = _pair_kind(a, b)
            diff = a["y_final"] - b["y_final"]
            noise = float(np.hypot(np.nan_to_num(a["noise_sd"]), np.nan_to_num(b["noise_sd"])))
            if kind is not None and abs(diff) > noise and diff != 0:
                rows.append({"split": split, "context_rule": rule, "task": task, "run_a": a["run"],
                             "run_b": b["run"], "kind": kind, "true_diff": diff})
    return pd.DataFrame(rows, columns=["split", "context_rule", "task", "run_a", "run_b", "kind", "true_diff"])


def decision_scores(predictions: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, split, rule, method, seed): the share of decision pairs ordered right by the predicted final
    accuracy, pooled and per kind, and the number of pairs."""
    last = predictions.loc[predictions.groupby([*KEY_COLUMNS, "run", "task"])["target_idx"].idxmax()]
    final = last.set_index([*KEY_COLUMNS, "task", "run"])["median"]
    rows = []
    for key, g in last.groupby(list(KEY_COLUMNS), sort=False):
        labels = dict(zip(KEY_COLUMNS, key))
        p = pairs[(pairs["split"] == labels["split"]) & (pairs["context_rule"] == labels["context_rule"])]
        row: dict[str, Any] = {**labels, "n_pairs": 0}
        if len(p):
            idx = tuple(labels[k] for k in KEY_COLUMNS)
            pred_a = final.reindex([(*idx, t, r) for t, r in zip(p["task"], p["run_a"])]).to_numpy(float)
            pred_b = final.reindex([(*idx, t, r) for t, r in zip(p["task"], p["run_b"])]).to_numpy(float)
            ok = np.isfinite(pred_a) & np.isfinite(pred_b)
            scores = metrics.order_agreement(p["true_diff"].to_numpy(float)[ok], (pred_a - pred_b)[ok]) \
                if ok.any() else np.array([])
            kinds = p["kind"].to_numpy()[ok]
            row["n_pairs"] = int(ok.sum())
            row["decision_accuracy"] = float(scores.mean()) if len(scores) else np.nan
            for kind in DECISION_KINDS:
                row[f"decision_{kind}"] = float(scores[kinds == kind].mean()) if (kinds == kind).any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=[*KEY_COLUMNS, *DECISION_COLUMNS])


# --------------------------------------------------------------------------------------------- summaries


def cell_scores(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, split, rule, method, seed, run, task) cell: mae, rmse (accuracy points), coverage80/50 (NaN
    where a cell has a target without quantiles), n_targets — one vectorised group-by over every target row."""
    keys = [*KEY_COLUMNS, "run", "task"]
    y = predictions["y_true"].to_numpy(float)
    error = y - predictions["median"].to_numpy(float)
    q = predictions[list(QUANTILE_COLUMNS)].to_numpy(float)
    rows = predictions[keys].assign(
        _abs=np.abs(error), _sq=error**2, _finite=np.all(np.isfinite(q), axis=1),
        _in80=(y >= q[:, 0]) & (y <= q[:, 4]), _in50=(y >= q[:, 1]) & (y <= q[:, 3]))
    cells = rows.groupby(keys, sort=True).agg(
        mae=("_abs", "mean"), _msq=("_sq", "mean"), _finite=("_finite", "all"), coverage80=("_in80", "mean"),
        coverage50=("_in50", "mean"), n_targets=("_abs", "size")).reset_index()
    cells["mae"] *= 100.0
    cells["rmse"] = 100.0 * np.sqrt(cells["_msq"])
    for column in ("coverage80", "coverage50"):
        cells[column] = cells[column].astype(float).where(cells["_finite"])
    return cells[[*keys, "mae", "rmse", "coverage80", "coverage50", "n_targets"]]


def summarize_seeds(predictions: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, split, rule, method, seed): cell-averaged metrics, decision accuracies, counts."""
    scores = cell_scores(predictions)
    per_seed = scores.groupby(list(KEY_COLUMNS), sort=False).agg(
        mae=("mae", "mean"), rmse=("rmse", "mean"), coverage80=("coverage80", "mean"),
        coverage50=("coverage50", "mean"), n_targets=("n_targets", "sum"), n_cells=("mae", "size"),
    ).reset_index()
    decisions = decision_scores(predictions, decision_pairs(cells))
    return per_seed.merge(decisions, on=list(KEY_COLUMNS), how="left")


def summarize(predictions: pd.DataFrame, cells: pd.DataFrame, method_stats: pd.DataFrame | None = None
              ) -> pd.DataFrame:
    """One row per (setting, split, context rule, method): every metric averaged over the method's seeds (with
    ``<metric>_sd``, the standard deviation over seeds, and ``n_seeds``), ``mae_ratio`` = MAE / the noise floor's
    MAE on the same targets, and, when ``method_stats`` is given, prediction time and fallbacks."""
    per_seed = summarize_seeds(predictions, cells)
    group = ["setting", "split", "context_rule", "method", "kind"]
    agg: dict[str, tuple[str, str]] = {}
    for m in SEED_METRICS:
        agg[m] = (m, "mean")
        agg[f"{m}_sd"] = (m, "std")
    agg.update(n_targets=("n_targets", "first"), n_cells=("n_cells", "first"), n_pairs=("n_pairs", "first"),
               n_seeds=("seed", "nunique"))
    summary = per_seed.groupby(group, sort=False).agg(**agg).reset_index()
    deterministic = summary["n_seeds"] < 2
    summary.loc[deterministic, [f"{m}_sd" for m in SEED_METRICS]] = np.nan
    floor = summary[summary["method"] == NOISE_FLOOR].set_index(["setting", "split", "context_rule"])["mae"]
    summary["mae_ratio"] = summary["mae"] / [floor.get((r.setting, r.split, r.context_rule), np.nan)
                                             for r in summary.itertuples(index=False)]
    if method_stats is not None and len(method_stats):
        stats = method_stats.groupby(group, sort=False).agg(
            predict_seconds=("predict_seconds", "sum"), n_trajectories=("n_trajectories", "sum"),
            n_fallbacks=("n_fallbacks", "sum"),
            fallbacks=("fallbacks", lambda v: ";".join(x for x in v if x))).reset_index()
        summary = summary.merge(stats, on=group, how="left")
        summary["predict_ms_per_trajectory"] = 1000 * summary["predict_seconds"] / summary["n_trajectories"]
    return summary


def horizon_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """MAE and mean signed error (``bias``, prediction − truth; accuracy points) and target count at each forecast
    horizon, per (setting, split, rule, method); the seeds of a method are pooled."""
    frames = []
    for (setting, split, rule, method), g in predictions.groupby(["setting", "split", "context_rule", "method"],
                                                                sort=False):
        h, err, n = metrics.error_by_horizon(g["horizon"], g["y_true"], g["median"])
        _, bias, _ = metrics.bias_by_horizon(g["horizon"], g["y_true"], g["median"])
        frames.append(pd.DataFrame({"setting": setting, "split": split, "context_rule": rule, "method": method,
                                    "horizon": h, "mae": err, "bias": bias, "n_targets": n}))
    columns = ["setting", "split", "context_rule", "method", "horizon", "mae", "bias", "n_targets"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def bias_table(predictions: pd.DataFrame, far_share: float = 0.25) -> pd.DataFrame:
    """Mean signed error (prediction − truth, accuracy points) per (setting, method), over every target and over
    the farthest ``far_share`` of them (the targets whose horizon is at least the (1 − far_share) quantile of the
    group's horizons); the seeds of a method are pooled. A far bias well beyond the overall one is a trend the
    method misses (:func:`neuneu.metrics.bias_by_horizon`)."""
    if not 0.0 < far_share <= 1.0:
        raise EvaluationError(f"far_share must lie in (0, 1], got {far_share}")
    rows = []
    for (setting, method), g in predictions.groupby(["setting", "method"], sort=False):
        err = 100.0 * (g["median"].to_numpy(float) - g["y_true"].to_numpy(float))
        horizons = g["horizon"].to_numpy(float)
        far = horizons >= np.quantile(horizons, 1.0 - far_share)
        rows.append({"setting": setting, "method": method, "bias": float(err.mean()),
                     "bias_far": float(err[far].mean()), "n_targets": len(g), "n_far": int(far.sum())})
    return pd.DataFrame(rows, columns=["setting", "method", "bias", "bias_far", "n_targets", "n_far"])


BIAS_BINS: tuple[float, ...] = (0.0, 0.36, 0.52, 0.68, 0.84, 1.0)  # fractions of a run's final position


def bias_bin(fraction: np.ndarray, bins: Sequence[float] = BIAS_BINS) -> np.ndarray:
    """The bin of ``bins`` (increasing edges) each fraction of its run falls in; fractions outside the edges go to
    the first or last bin, so the run's final target (fraction 1) is in the last."""
    edges = np.asarray(bins, dtype=float)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise EvaluationError(f"bins must be at least two increasing edges, got {list(bins)}")
    return np.clip(np.searchsorted(edges, np.asarray(fraction, dtype=float), side="right") - 1, 0, len(edges) - 2)


def shared_bias_bound(predictions: pd.DataFrame, bins: Sequence[float] = BIAS_BINS) -> pd.DataFrame:
    """How much of each method's error a bias correction could remove *at best* — an oracle that reads the test
    truths, so a bound for reading, never a method. Per (setting, method), the cell-averaged MAE (points) as scored
    (``mae``), after removing the median error of each bin of the target's fraction of its run (position over the
    run's last target; tokens, or steps where tokens are missing) shared by every run (``mae_shared``), and after
    removing it per run and bin (``mae_per_run``). If ``mae_shared`` stays far above a target, no correction by
    horizon alone can reach it: what is left differs from run to run and task to task."""
    rows = []
    for (setting, method), g in predictions.groupby(["setting", "method"], sort=False):
        tokens = g["tokens"].to_numpy(float)
        position = pd.Series(tokens if np.all(tokens > 0) else g["step"].to_numpy(float), index=g.index)
        fraction = position / position.groupby(g["run"]).transform("max")
        where = bias_bin(fraction.to_numpy(), bins)
        err = g["median"] - g["y_true"]
        shared = err.groupby(where).transform("median")
        per_run = err.groupby([g["run"], where]).transform("median")
        cells = (g["run"].astype(str) + "\x1f" + g["task"].astype(str)).to_numpy()
        maes = {name: metrics.cell_mean(100.0 * np.abs(e.to_numpy(float)), cells)
                for name, e in (("mae", err), ("mae_shared", err - shared), ("mae_per_run", err - per_run))}
        rows.append({"setting": setting, "method": method, **maes})
    return pd.DataFrame(rows, columns=["setting", "method", "mae", "mae_shared", "mae_per_run"])
