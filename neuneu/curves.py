"""Bounded, deterministic curve fitting: the fitting machinery under every parametric baseline.

Every fit is bounded, starts from a fixed grid of initial values (so reruns are identical), keeps the start with
the lowest squared error, and uses an analytic Jacobian where :data:`JACOBIANS` knows the curve. The curves:

* :func:`paper_logistic_curve` — the paper's loss → accuracy law, a·σ(k(log L − L0)) + b (paper-spec §6);
* :func:`bounded_logistic_curve` — a logistic between two asymptotes in log compute (per-run fits);
* :func:`saturating_power_curve` — limit − amp·(C/C0)^−α, for accuracy or (with amp < 0) for loss.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit

from neuneu.contract import QUANTILES


@dataclass(frozen=True)
class CurveFit:
    """Best parameters of a bounded least-squares fit and its cost (½ · sum of squared residuals)."""

    params: np.ndarray
    cost: float


def fit_curve(
    curve: Callable[..., np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    starts: Sequence[Sequence[float]],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    max_nfev: int = 200,
) -> CurveFit | None:
    """Fit ``y ≈ curve(x, *params)`` inside [lower, upper] from every start; keep the lowest finite cost.

    The trust-region-reflective solver is deterministic, so a fixed start grid gives identical reruns. Starts
    outside the bounds are clipped in. When :data:`JACOBIANS` knows ``curve`` its analytic Jacobian is used (about
    5× faster than finite differences). Returns None when no start produced a finite fit.
    """
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    best: CurveFit | None = None
    gradient = JACOBIANS.get(curve)

    def residual(p: np.ndarray) -> np.ndarray:
        return curve(x, *p) - y

    def jac(p: np.ndarray) -> np.ndarray:
        assert gradient is not None
        return gradient(x, *p)

    for start in starts:
        p0 = np.clip(np.asarray(start, dtype=float), lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                res = least_squares(residual, p0, jac=jac if gradient else "2-point", bounds=(lo, hi),
                                    method="trf", max_nfev=max_nfev)
            except (ValueError, FloatingPointError):
                continue
        if np.all(np.isfinite(res.x)) and np.isfinite(res.cost) and (best is None or res.cost < best.cost):
            best = CurveFit(params=res.x, cost=float(res.cost))
    return best


def paper_logistic_curve(x: np.ndarray, a: float, k: float, l0: float, b: float) -> np.ndarray:
    """The paper's law in x = log mean loss: a / (1 + exp(−k (x − L0))) + b."""
    return a * expit(k * (x - l0)) + b


def bounded_logistic_curve(z: np.ndarray, low: float, high: float, k: float, z0: float) -> np.ndarray:
    """A logistic between two asymptotes in [0, 1]: low + (high − low) σ(k (z − z0)); falls when high < low."""
    return low + (high - low) * expit(k * (z - z0))


def saturating_power_curve(z: np.ndarray, limit: float, amp: float, alpha: float) -> np.ndarray:
    """limit − amp · exp(−α z) with z = log(C / C0): the power law limit − amp·(C/C0)^−α in compute."""
    return limit - amp * np.exp(-alpha * z)


def _paper_logistic_jac(x: np.ndarray, a: float, k: float, l0: float, b: float) -> np.ndarray:
    s = expit(k * (x - l0))
    ds = s * (1.0 - s)
    return np.stack([s, a * ds * (x - l0), -a * ds * k, np.ones_like(x)], axis=1)


def _bounded_logistic_jac(z: np.ndarray, low: float, high: float, k: float, z0: float) -> np.ndarray:
    s = expit(k * (z - z0))
    ds = (high - low) * s * (1.0 - s)
    return np.stack([1.0 - s, s, ds * (z - z0), -ds * k], axis=1)


def _saturating_power_jac(z: np.ndarray, limit: float, amp: float, alpha: float) -> np.ndarray:
    decay = np.exp(-alpha * z)
    return np.stack([np.ones_like(z), -decay, amp * z * decay], axis=1)


JACOBIANS: dict[Callable[..., np.ndarray], Callable[..., np.ndarray]] = {
    paper_logistic_curve: _paper_logistic_jac,
    bounded_logistic_curve: _bounded_logistic_jac,
    saturating_power_curve: _saturating_power_jac,
}



# --------------------------------------------------------------------------------------------- the paper's law


@dataclass(frozen=True)
class LossLogistic:
    """One fitted loss → accuracy law (paper form) and the spread of its training residuals.

    ``residual_offsets`` (len(QUANTILES),) are the residual quantiles minus the residual median, so
    ``median + residual_offsets`` is a monotone interval with q50 equal to the point prediction.
    """

    params: np.ndarray
    residual_offsets: np.ndarray
    n_points: int

    def __call__(self, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(median, quantiles) of accuracy at mean loss ``loss`` (any shape (n,))."""
        with np.errstate(all="ignore"):
            median = paper_logistic_curve(np.log(np.asarray(loss, dtype=float)), *self.params)
        return median, median[:, None] + self.residual_offsets[None, :]


# Bounds of paper-spec §6: a ∈ [−2, 2], k ∈ [−100, 100], L0 ∈ [−10, 10], b ∈ [0, 1].
PAPER_LOGISTIC_LOWER = (-2.0, -100.0, -10.0, 0.0)
PAPER_LOGISTIC_UPPER = (2.0, 100.0, 10.0, 1.0)


def fit_loss_logistic(log_loss: np.ndarray, acc: np.ndarray) -> LossLogistic | None:
    """Fit acc = a·σ(k(log L − L0)) + b with the paper's bounds and start, plus a fixed grid of extra starts.

    The paper starts only at (a = max−min, k = −1, L0 = median log L, b = min); the extra slopes matter because
    log L̄ spans a narrow range (≈ 0.3 nats across a ladder), where k = −1 is nearly flat and TRF can stall.
    """
    keep = np.isfinite(log_loss) & np.isfinite(acc)
    x, y = log_loss[keep], acc[keep]
    if len(x) < 4:
        return None
    span = float(y.max() - y.min())
    starts = [
        (span, k, float(np.quantile(x, q)), float(y.min()))
        for k in (-1.0, -5.0, -20.0, -60.0)
        for q in (0.5, 0.25, 0.75)
    ]
    best = fit_curve(paper_logistic_curve, x, y, starts, PAPER_LOGISTIC_LOWER, PAPER_LOGISTIC_UPPER)
    if best is None:
        return None
    resid = y - paper_logistic_curve(x, *best.params)
    offsets = np.quantile(resid, QUANTILES) - np.quantile(resid, 0.5)
    return LossLogistic(params=best.params, residual_offsets=offsets, n_points=len(x))



def fit_saturating_power(
    z: np.ndarray, y: np.ndarray, lower: Sequence[float], upper: Sequence[float]
) -> CurveFit | None:
    """Fit y ≈ limit − amp·exp(−α z) (z = log C/C0 ≥ 0) from a fixed start grid inside the given bounds."""
    starts = [
        (limit, limit - float(y[0]), alpha)
        for limit in (float(y[-1]), float(y.max()) + 0.05 * (float(y.max()) - float(y.min()) + 1e-3))
        for alpha in (0.1, 0.5, 2.0)
    ]
    return fit_curve(saturating_power_curve, z, y, starts, lower, upper)
