"""Scores for accuracy forecasts, in plain numpy so every method is judged by the same few lines.

Conventions (all functions):

* accuracies are fractions in [0, 1]; :func:`mae` and :func:`rmse` report **accuracy points** (percent), i.e. an
  error of 0.01 is 1.0 point, because that is the unit the paper quotes ("MAE 2.04%");
* aggregation follows the paper's protocol (paper-spec §6): a score is first averaged inside each (run, task)
  *cell*, then the cell scores are averaged, so a long trajectory counts as much as a short one
  (:func:`cell_mean`);
* inputs are 1-D array-likes of equal length; a length mismatch raises :class:`MetricError` instead of silently
  truncating (the reference code's ``compute_errors`` truncated, paper-spec §9 item 20);
* the noise reference (:func:`checkpoint_noise_sd`, :func:`loo_smoother`) and the pairwise decision score
  (:func:`order_agreement`) are defined here too; which pairs count as a decision is the harness's choice
  (``neuneu.evaluate``).
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


def _mean_by_horizon(horizon: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(horizons sorted ascending, mean of ``values`` at each, count at each)."""
    levels, inverse = np.unique(horizon.astype(int), return_inverse=True)
    counts = np.bincount(inverse, minlength=len(levels))
    return levels, np.bincount(inverse, weights=values, minlength=len(levels)) / counts, counts


def error_by_horizon(
    horizon: Sequence[int], y_true: Sequence[float], y_pred: Sequence[float], *, scale: float = 100.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean absolute error (times ``scale``) at each forecast horizon.

    ``horizon`` is the distance of each target from the context end (checkpoint indices in the harness).
    Returns (horizons sorted ascending, MAE at each, number of targets at each). Long horizons exist only for
    long runs, so the counts fall with the horizon; read the tail with that in mind.
    """
    h, t, p = _aligned(horizon, y_true, y_pred)
    return _mean_by_horizon(h, scale * np.abs(t - p))


def bias_by_horizon(
    horizon: Sequence[int], y_true: Sequence[float], y_pred: Sequence[float], *, scale: float = 100.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean signed error, prediction − truth (times ``scale``), at each forecast horizon: below zero a method
    forecasts too low. Same return shape as :func:`error_by_horizon`. A bias that grows with the horizon is a
    systematic miss (a trend the method does not follow), which averaging seeds or widening intervals cannot fix.
    """
    h, t, p = _aligned(horizon, y_true, y_pred)
    return _mean_by_horizon(h, scale * (p - t))


# --------------------------------------------------------------------------------------------- noise and decisions


def _interpolation_residuals(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each interior point, y_i minus the straight line through its two neighbours at x_i, and the variance
    factor 1 + w² + (1 − w)² of that residual under independent noise (w = the left neighbour's weight)."""
    left, mid, right = x[:-2], x[1:-1], x[2:]
    w = np.where(right > left, (right - mid) / np.where(right > left, right - left, 1.0), 0.5)
    resid = y[1:-1] - (w * y[:-2] + (1 - w) * y[2:])
    return resid, 1.0 + w**2 + (1 - w) ** 2


def checkpoint_noise_sd(x: Sequence[float], y: Sequence[float]) -> float:
    """Robust estimate of the checkpoint-to-checkpoint noise (standard deviation, accuracy fraction) of one
    trajectory ``y`` at positions ``x`` (e.g. log tokens).

    Each interior point is compared with the line through its two neighbours; under independent noise of sd σ the
    residual has sd σ·√(1 + w² + (1 − w)²). A smooth trend cancels to first order, so what remains is noise, and
    the median absolute residual (×1.4826, the normal consistency factor) keeps real jumps from inflating it.
    NaN for fewer than three points.
    """
    xa, ya = _aligned(x, y)
    if len(xa) < 3:
        return float("nan")
    resid, factor = _interpolation_residuals(xa, ya)
    return float(1.4826 * np.median(np.abs(resid) / np.sqrt(factor)))


def loo_smoother(x: Sequence[float], y: Sequence[float], *, neighbours: int = 3) -> np.ndarray:
    """Leave-one-out local-linear smoother: ŷ_i from a straight line fitted to the up to ``neighbours`` points on
    each side of i (i itself left out). It sees the whole trajectory, so it is not a forecaster: its error is a
    reference for the irreducible checkpoint noise (the "noise floor" row of every table), slightly above the noise
    itself because the fitted line is noisy too."""
    xa, ya = _aligned(x, y)
    n = len(xa)
    out = np.empty(n)
    for i in range(n):
        idx = np.r_[max(0, i - neighbours):i, i + 1:min(n, i + neighbours + 1)]
        if len(idx) == 0:
            out[i] = ya[i]
        elif len(idx) == 1 or np.ptp(xa[idx]) == 0:
            out[i] = float(np.mean(ya[idx]))
        else:
            slope, intercept = np.polyfit(xa[idx] - xa[i], ya[idx], deg=1)
            out[i] = intercept
    return out


def order_agreement(true_diff: Sequence[float], pred_diff: Sequence[float]) -> np.ndarray:
    """Per pair: 1 when the predicted difference has the sign of the true one, 0 when the opposite sign, ½ when the
    prediction ties exactly (a constant forecast scores ½, not 0 or 1). True differences must be non-zero."""
    t, p = _aligned(true_diff, pred_diff)
    if np.any(t == 0):
        raise MetricError("true differences must be non-zero: a tied pair carries no order")
    return np.where(p == 0, 0.5, (np.sign(p) == np.sign(t)).astype(float))
