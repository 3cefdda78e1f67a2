"""Scores for accuracy forecasts, in plain numpy so every method is judged by the same few lines.

Conventions (all functions):

* accuracies are fractions in [0, 1]; :func:`mae` and :func:`rmse` report **accuracy points** (percent), i.e. an
  error of 0.01 is 1.0 point, because that is the unit the paper quotes ("MAE 2.04%");
* aggregation follows the paper's protocol (paper-spec §6): a score is first averaged inside each (run, task)
  *cell*, then the cell scores are averaged, so a long trajectory counts as much as a short one
  (:func:`cell_mean`);
* inputs are 1-D array-likes of equal length; a length mismatch raises :class:`MetricError` instead of silently
  truncating (the reference code's ``compute_errors`` truncated, paper-spec §9 item 20).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class MetricError(ValueError):
    """Metric inputs that cannot be scored (different lengths, nothing to score)."""


def _aligned(*arrays: Sequence[float] | np.ndarray) -> list[np.ndarray]:
    """The arrays as float 1-D numpy arrays, checked to have one common, non-zero length."""
    out = [np.asarray(a, dtype=float).reshape(-1) for a in arrays]
    lengths = {len(a) for a in out}
    if len(lengths) != 1:
        raise MetricError(f"inputs have different lengths: {[len(a) for a in out]}")
    if lengths == {0}:
        raise MetricError("nothing to score: inputs are empty")
    return out


def mae(y_true: Sequence[float], y_pred: Sequence[float], *, scale: float = 100.0) -> float:
    """Mean absolute error, times ``scale`` (default 100: accuracy fractions → accuracy points)."""
    t, p = _aligned(y_true, y_pred)
    return float(scale * np.mean(np.abs(t - p)))


def rmse(y_true: Sequence[float], y_pred: Sequence[float], *, scale: float = 100.0) -> float:
    """Root mean squared error, times ``scale`` (default 100: accuracy points)."""
    t, p = _aligned(y_true, y_pred)
    return float(scale * np.sqrt(np.mean((t - p) ** 2)))


def interval_coverage(y_true: Sequence[float], lower: Sequence[float], upper: Sequence[float]) -> float:
    """Fraction of truths inside the closed interval [lower, upper].

    With ``lower``/``upper`` the q10/q90 predictions the nominal value is 0.8; with q25/q75 it is 0.5. A
    calibrated forecaster lands near the nominal value; higher means intervals too wide, lower too narrow.
    """
    t, lo, hi = _aligned(y_true, lower, upper)
    return float(np.mean((t >= lo) & (t <= hi)))


def pinball_loss(y_true: Sequence[float], quantiles: np.ndarray, levels: Sequence[float]) -> float:
    """Mean quantile (pinball) loss of ``quantiles`` (n, len(levels)) at ``levels``: the loss NeuNeu trains on.

    For one level q and error e = y − ŷ_q the loss is q·e when e ≥ 0 and (q − 1)·e otherwise; the result is the
    mean over targets and levels (in accuracy fractions, not points).
    """
    t = np.asarray(y_true, dtype=float).reshape(-1, 1)
    q = np.asarray(quantiles, dtype=float)
    lv = np.asarray(levels, dtype=float).reshape(1, -1)
    if q.shape != (t.shape[0], lv.shape[1]):
        raise MetricError(f"quantiles have shape {q.shape}, expected {(t.shape[0], lv.shape[1])}")
    err = t - q
    return float(np.mean(np.maximum(lv * err, (lv - 1.0) * err)))


def pairwise_order_accuracy(
    y_true: Sequence[float], y_pred: Sequence[float], *, tie_tol: float = 0.0
) -> tuple[float, int]:
    """Share of item pairs whose predicted order matches their true order, and the number of pairs scored.

    Every unordered pair (i, j) is considered once. Pairs whose true values tie (|Δtrue| ≤ ``tie_tol``) carry no
    order and are skipped. A scored pair counts 1 when sign(Δpred) = sign(Δtrue), 0 when the signs differ, and
    ½ when the prediction ties exactly (Δpred = 0), as in a concordance index, so a constant forecast scores
    0.5 rather than 0 or 1. Returns (nan, 0) when no pair can be scored.
    """
    t, p = _aligned(y_true, y_pred)
    i, j = np.triu_indices(len(t), k=1)
    d_true = t[i] - t[j]
    keep = np.abs(d_true) > tie_tol
    if not np.any(keep):
        return float("nan"), 0
    d_true, d_pred = d_true[keep], p[i][keep] - p[j][keep]
    score = np.where(d_pred == 0, 0.5, (np.sign(d_pred) == np.sign(d_true)).astype(float))
    return float(np.mean(score)), int(keep.sum())


def ranking_accuracy(
    groups: Sequence[object], y_true: Sequence[float], y_pred: Sequence[float], *, tie_tol: float = 0.0
) -> float:
    """Pairwise ranking accuracy averaged over groups (paper-spec §6 (i), our definition).

    In the harness one row per (run, task) holds the run's accuracy at its **final** checkpoint (truth and
    predicted median) and ``groups`` is the task: within each task, all pairs of held-out runs are compared with
    :func:`pairwise_order_accuracy` (true ties skipped, predicted ties ½), and the per-task accuracies are
    averaged with equal weight per task. Tasks with no scorable pair are left out; nan if none remains.
    """
    g = np.asarray(groups, dtype=object).reshape(-1)
    t, p = _aligned(y_true, y_pred)
    if len(g) != len(t):
        raise MetricError(f"inputs have different lengths: {[len(g), len(t), len(p)]}")
    per_group = []
    for name in dict.fromkeys(g.tolist()):  # first-seen order: deterministic
        mask = g == name
        acc, n_pairs = pairwise_order_accuracy(t[mask], p[mask], tie_tol=tie_tol)
        if n_pairs:
            per_group.append(acc)
    return float(np.mean(per_group)) if per_group else float("nan")


def cell_mean(values: Sequence[float], cells: Sequence[object]) -> float:
    """Mean over cells of the per-cell mean of ``values`` (each (run, task) cell weighs the same).

    ``cells`` holds one hashable cell label per value, e.g. a "run|task" string. Nan values are ignored inside a
    cell; a cell with only nans is left out.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    c = np.asarray(cells, dtype=object).reshape(-1)
    if len(v) != len(c):
        raise MetricError(f"inputs have different lengths: {[len(v), len(c)]}")
    if len(v) == 0:
        raise MetricError("nothing to score: inputs are empty")
    _, inverse = np.unique(c.astype(str), return_inverse=True)
    finite = np.isfinite(v)
    sums = np.bincount(inverse[finite], weights=v[finite], minlength=inverse.max() + 1)
    counts = np.bincount(inverse[finite], minlength=inverse.max() + 1)
    present = counts > 0
    return float(np.mean(sums[present] / counts[present])) if np.any(present) else float("nan")


def error_by_horizon(
    horizon: Sequence[int], y_true: Sequence[float], y_pred: Sequence[float], *, scale: float = 100.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean absolute error (times ``scale``) at each forecast horizon.

    ``horizon`` is the distance of each target from the context end (checkpoint indices in the harness).
    Returns (horizons sorted ascending, MAE at each, number of targets at each). Long horizons exist only for
    long runs, so the counts fall with the horizon; read the tail with that in mind.
    """
    h_raw, t, p = _aligned(horizon, y_true, y_pred)
    h = h_raw.astype(int)
    levels, inverse = np.unique(h, return_inverse=True)
    abs_err = np.abs(t - p)
    counts = np.bincount(inverse, minlength=len(levels))
    means = np.bincount(inverse, weights=abs_err, minlength=len(levels)) / counts
    return levels, scale * means, counts
