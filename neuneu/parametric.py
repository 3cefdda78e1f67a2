"""Parametric forecasts as NeuNeu inputs: fast, vectorised, deterministic fits of the scaling laws the baselines use.

NeuNeu can read, for every target, what the classical laws predict (issue: "a NeuNeu that reads the parametric
forecasts"): the paper's loss → accuracy logistic applied to the target's loss (true in ``loss_given``, or as the
two-stage law extrapolates it from the context in ``forecast``), and a saturating power law in compute fitted to
the context's accuracies. The model then learns when to trust each law and how to correct it.

The fits here are the baselines' functional forms (:mod:`neuneu.curves`) solved by a coarse grid over the
nonlinear parameters, then a finer grid around the best cell, with the linear parameters in closed form (the
accuracy power law, only a feature, keeps its coarse fit): a fit costs well under a millisecond, so features can be
computed for every (trajectory, context end) of the training data and of the synthetic prior (:mod:`neuneu.prior`)
with the same code — the model sees the same inputs in pretraining, fine-tuning and prediction. They are close to,
but not the same numbers as, the baselines' multi-start trust-region fits, which stay the reference methods.

* :class:`Law` / :class:`TaskLaws` — the pooled per-task logistic a·σ(k(log L − L0)) + b per loss kind, and for
  tasks never seen a law pooled over the kind's tasks of the same answer format (:func:`neuneu.contract.task_format`);
  serialisable, so a trained model carries the laws it was trained with.
* :func:`cross_fitted` — laws fitted *without* a series' own fold of runs: a training series' law features must be
  out of sample, as they are for a test series (an in-sample law fits a training run too well, and a model would
  learn to trust it too much); the prior uses it inside each synthetic ladder.
* :func:`extrapolate_loss` (two-stage stage 1) and :func:`accuracy_power_law` — per-trajectory fits to a context.
* :func:`target_features` — everything above for the targets of one context: the feature matrix and the anchor
  (the law's forecast the model corrects).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy.special import expit

from neuneu.contract import Series, family_of, format_pools, task_format
from neuneu.curves import fit_loss_logistic

# Grids of the nonlinear parameters (paper-spec §6 bounds: k ∈ [−100, 100]).
LAW_SLOPES = np.concatenate([-np.geomspace(0.5, 100, 14)[::-1], np.geomspace(0.5, 100, 14)])
LAW_MIDPOINTS = 24  # quantiles of the pooled log losses
POWER_EXPONENTS = np.concatenate([[0.0], np.geomspace(0.02, 5.0, 31)])
STAGE1_FRACTION = 0.5  # stage 1 fits the most recent half of the context (see neuneu.baselines.TwoStage)
STAGE1_MIN_POINTS = 3
FEATURE_CLIP = 1.0  # features are accuracy differences; beyond ±1 a fit has gone wrong

FORECAST_FEATURES: tuple[str, ...] = ("two_stage", "power_law", "law_at_context_end")
LOSS_GIVEN_FEATURES: tuple[str, ...] = ("law_at_target", *FORECAST_FEATURES)


class ParametricError(ValueError):
    """Inputs a parametric fit cannot use (no finite loss, lengths that disagree)."""


# --------------------------------------------------------------------------------------------- the logistic law


@dataclass(frozen=True)
class Law:
    """acc = a·σ(k(log L − L0)) + b, the paper's loss → accuracy law (:func:`neuneu.curves.paper_logistic_curve`)."""

    a: float
    k: float
    l0: float
    b: float
    pooled: bool = False  # fitted over all tasks of a family and loss kind: its level is no task's level

    def __call__(self, loss: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            x = np.log(np.asarray(loss, dtype=float))
            return np.clip(self.a * expit(self.k * (x - self.l0)) + self.b, 0.0, 1.0)

    def to_list(self) -> list[float]:
        return [self.a, self.k, self.l0, self.b]


def _law_grid(x: np.ndarray, y: np.ndarray, slopes: np.ndarray, mids: np.ndarray
              ) -> tuple[float, float, float, float, float]:
    """Best (sse, a, k, L0, b) over the (k, L0) grid, with (a, b) in closed form and clipped to the bounds."""
    s = expit(slopes[:, None, None] * (x[None, None, :] - mids[None, :, None]))  # (K, M, n)
    s_mean = s.mean(axis=2, keepdims=True)
    ds = s - s_mean
    dy = y - y.mean()
    var_s = (ds**2).sum(axis=2)
    a = np.clip(np.where(var_s > 1e-12, (ds * dy).sum(axis=2) / np.maximum(var_s, 1e-12), 0.0), -2.0, 2.0)
    b = np.clip(y.mean() - a * s_mean[..., 0], 0.0, 1.0)
    sse = ((a[..., None] * s + b[..., None] - y) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    return float(sse[i, j]), float(a[i, j]), float(slopes[i]), float(mids[j]), float(b[i, j])


def fit_law(loss: np.ndarray, acc: np.ndarray, max_points: int = 600) -> Law | None:
    """The least-squares law within the paper's bounds (a ∈ [−2, 2], k ∈ [−100, 100], b ∈ [0, 1]): a coarse grid
    of (k, L0) on at most ``max_points`` evenly chosen points, then three ever finer grids around the best point
    on every point, (a, b) in closed form throughout; None with fewer than four finite points."""
    loss, acc = np.asarray(loss, dtype=float), np.asarray(acc, dtype=float)
    keep = np.isfinite(loss) & (loss > 0) & np.isfinite(acc)
    x, y = np.log(loss[keep]), acc[keep]
    if len(x) < 4:
        return None
    order = np.argsort(x, kind="stable")
    coarse = order[np.round(np.linspace(0, len(x) - 1, min(max_points, len(x)))).astype(int)]
    inner = np.quantile(x, np.linspace(0.02, 0.98, LAW_MIDPOINTS))
    width = float(x.max() - x.min()) or 0.1
    # midpoints beyond the data too: a law whose loss range sits in one tail of the logistic (large a, far L0)
    mids = np.concatenate([x.min() - width * np.array([1.5, 1.0, 0.6, 0.3]), inner, x.max() + width * np.array([0.3, 0.6])])
    _, _, k, l0, _ = _law_grid(x[coarse], y[coarse], LAW_SLOPES, mids)
    step = float(np.median(np.diff(inner))) if len(inner) > 1 else 0.1
    span = 2.0
    for _ in range(3):  # zoom in: each pass spans a narrower box around the best point
        ks = np.clip(k * np.geomspace(1 / span, span, 13), -100.0, 100.0)
        l0s = l0 + step * np.linspace(-span, span, 13)
        _, a, k, l0, b = _law_grid(x, y, ks, l0s)
        span, step = span**0.5, step / 3
    return Law(a, k, l0, b)


#: Precise laws already fitted in this process, by a digest of their (log loss, accuracy) points: every model
#: of a split reads the same laws of the same training side, and a chapter loads dozens of models (the fit is
#: deterministic, so a repeated fit would only return the same law again, a second or more later).
_PRECISE_LAWS: dict[bytes, Law | None] = {}


def _precise_law(loss: np.ndarray, acc: np.ndarray) -> Law | None:
    with np.errstate(all="ignore"):
        x, y = np.log(np.asarray(loss, dtype=float)), np.asarray(acc, dtype=float)
        key = hashlib.blake2b(x.tobytes() + y.tobytes(), digest_size=20).digest()
        if key not in _PRECISE_LAWS:
            fitted = fit_loss_logistic(x, y)
            _PRECISE_LAWS[key] = None if fitted is None else Law(*(float(v) for v in fitted.params))
    return _PRECISE_LAWS[key]


@dataclass(frozen=True)
class TaskLaws:
    """Laws per (family, loss kind) key (:func:`law_key`): one per (key, task), pooled over the training runs of
    that key, and for a task never seen one pooled over the key's tasks of the same answer format
    (:func:`~neuneu.contract.task_format`) — else over all its tasks. A series whose family and loss kind no
    training series had gets no law at all (its anchor is then the last value), and that is counted.

    Why by format: on the OLMo ladder the multiple-choice formats sit at chance at every size while the
    ranked-classification tasks rise as the loss falls; one law pooled over both predicts a rise for an unseen
    MC task that never comes, and too small a rise for an unseen RC task (on the held-out-tasks split's
    validation side the format's law is the better anchor for both formats)."""

    laws: Mapping[str, Mapping[str, Law]]  # "family|kind" → task → law
    pooled: Mapping[str, Law]  # "family|kind" → law over all its tasks
    by_format: Mapping[str, Mapping[str, Law]] = field(default_factory=dict)  # "family|kind" → format → law

    @classmethod
    def fit(cls, series: Iterable[Series], loss_key: str = "mean", *, precise: bool = True) -> TaskLaws:
        """Fit on the (loss, accuracy) pairs of ``series`` (series without ``losses[loss_key]`` are skipped).

        ``precise`` uses the paper-logistic baseline's own multi-start trust-region fit
        (:func:`neuneu.curves.fit_loss_logistic`), so the law a model reads is the baseline's law; otherwise the
        fast grid fit :func:`fit_law` (the synthetic prior fits thousands of laws)."""
        fit = _precise_law if precise else fit_law
        groups: dict[str, dict[str, list[Series]]] = {}
        for s in series:
            if loss_key in s.losses:
                groups.setdefault(law_key(s), {}).setdefault(s.task, []).append(s)

        def group_law(group: list[Series], pooled: bool = False) -> Law | None:
            law = fit(np.concatenate([s.losses[loss_key] for s in group]), np.concatenate([s.values for s in group]))
            return None if law is None else replace(law, pooled=pooled)

        laws: dict[str, dict[str, Law]] = {}
        pooled: dict[str, Law] = {}
        by_format: dict[str, dict[str, Law]] = {}
        for kind, by_task in sorted(groups.items()):
            laws[kind] = {}
            for task, group in sorted(by_task.items()):
                law = group_law(group)
                if law is not None:
                    laws[kind][task] = law
            law = group_law([s for group in by_task.values() for s in group], pooled=True)
            if law is not None:
                pooled[kind] = law
            for fmt, tasks in sorted(format_pools(by_task).items()):
                law = group_law([s for t in tasks for s in by_task[t]], pooled=True)
                if law is not None:
                    by_format.setdefault(kind, {})[fmt] = law
        return cls(laws, pooled, by_format)

    def for_series(self, series: Series, fills: Counter | None = None) -> Law | None:
        """The law of the series' family, loss kind and task (see :meth:`for_task`)."""
        return self.for_task(series.task, law_key(series), fills)

    def for_task(self, task: str, kind: str, fills: Counter | None = None) -> Law | None:
        """The (key, task) law; else the law pooled over the key's tasks of the task's format, or over all its
        tasks (either counted as ``unseen_task_law``); None for a family and loss kind no training series had
        (counted as ``no_family_law``)."""
        fills = fills if fills is not None else Counter()
        if kind not in self.laws:
            fills["no_family_law"] += 1
            return None
        if task in self.laws[kind]:
            return self.laws[kind][task]
        fills["unseen_task_law"] += 1
        return self.by_format.get(kind, {}).get(task_format(task)) or self.pooled.get(kind)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"laws": {k: {t: law.to_list() for t, law in by_task.items()} for k, by_task in self.laws.items()},
                "pooled": {k: law.to_list() for k, law in self.pooled.items()},
                "by_format": {k: {f: law.to_list() for f, law in by_fmt.items()}
                              for k, by_fmt in self.by_format.items()}}

    @classmethod
    def from_dict(cls, data: Mapping) -> TaskLaws:
        """Inverse of :meth:`to_dict` (files written before format pooling have no ``by_format``: none is used)."""
        return cls({k: {t: Law(*v) for t, v in by_task.items()} for k, by_task in data["laws"].items()},
                   {k: Law(*v, pooled=True) for k, v in data["pooled"].items()},
                   {k: {f: Law(*v, pooled=True) for f, v in by_fmt.items()}
                    for k, by_fmt in data.get("by_format", {}).items()})


def law_key(series: Series) -> str:
    """Which laws a series may read: those of its model family *and* loss kind. A loss → accuracy law holds in the
    units it was fitted in, and only for the family it was fitted on: the same LAMBADA log-perplexity maps to
    different accuracies for Pythia and for the BigScience models (the paper-logistic fitted on one family is
    off by 14–17 points on the other), so a family never seen in training reads no law at all."""
    return f"{family_of(series)}|{series.meta.get('loss_kind', 'unknown')}"


LawSource = Callable[[Series], "Law | None"]  # each series' law


def laws_for(laws: TaskLaws | Mapping[str, TaskLaws], group: Callable[[Series], str] | None = None,
             fills: Counter | None = None) -> LawSource:
    """Each series' law: from one :class:`TaskLaws`, or (cross-fitting) from the laws of its ``group``."""
    def law(series: Series) -> Law | None:
        source = laws if isinstance(laws, TaskLaws) else laws[group(series)]
        return source.for_series(series, fills)
    return law


def cross_fitted(series: Sequence[Series], group: Callable[[Series], object], *, folds: int,
                 family: Callable[[Series], object] = lambda s: "", seed: int = 0,
                 precise: bool = True) -> LawSource:
    """Each series' law fitted *without its own fold*: within each ``family`` (the real training side is one
    family; each synthetic ladder of the prior is its own), the distinct ``group`` values (runs that must stay
    together: replicas, a size × length) are dealt into ``folds`` seeded folds, and a series is shown the laws
    fitted on the other folds of its family — out of sample, as a test series is shown a law fitted without it
    (an in-sample law fits a training run too well, and a model would learn to trust it too much)."""
    by_family: dict[object, list[Series]] = {}
    for s in series:
        by_family.setdefault(family(s), []).append(s)
    laws: dict[str, TaskLaws] = {}
    fold_of: dict[tuple[str, str], str] = {}
    for name, members in by_family.items():
        groups = sorted({str(group(s)) for s in members})
        order = np.random.default_rng([seed, 13]).permutation(len(groups))
        fold = {groups[i]: rank % folds for rank, i in enumerate(order)}
        for f in sorted(set(fold.values())):
            laws[f"{name}|{f}"] = TaskLaws.fit([s for s in members if fold[str(group(s))] != f], precise=precise)
        for s in members:
            fold_of[s.key] = f"{name}|{fold[str(group(s))]}"
    return laws_for(laws, group=lambda s: fold_of[s.key])


# --------------------------------------------------------------------------------------------- per-trajectory fits


def _saturating_grid(z: np.ndarray, y: np.ndarray, lo: tuple[float, float], hi: tuple[float, float],
                     exponents: np.ndarray) -> tuple[float, float, float, float]:
    """Best (sse, E, A, α) of y ≈ E − A·exp(−α z) over ``exponents``, (E, A) in closed form, clipped to [lo, hi]."""
    basis = np.exp(-exponents[:, None] * z[None, :])  # (G, n)
    b_mean = basis.mean(axis=1, keepdims=True)
    db = basis - b_mean
    dy = y - y.mean()
    var_b = (db**2).sum(axis=1)
    slope = np.where(var_b > 1e-14, (db * dy).sum(axis=1) / np.maximum(var_b, 1e-14), 0.0)  # y ≈ c + slope·basis
    amp = np.clip(-slope, lo[1], hi[1])
    limit = np.clip(y.mean() + amp * b_mean[:, 0], lo[0], hi[0])
    for _ in range(2):  # where a bound binds, the other parameter's best value given it (block coordinate descent)
        amp = np.clip(((limit[:, None] - y) * basis).sum(axis=1) / np.maximum((basis**2).sum(axis=1), 1e-14),
                      lo[1], hi[1])
        limit = np.clip((y + amp[:, None] * basis).mean(axis=1), lo[0], hi[0])
    sse = ((limit[:, None] - amp[:, None] * basis - y) ** 2).sum(axis=1)
    g = int(np.argmin(sse))
    return float(sse[g]), float(limit[g]), float(amp[g]), float(exponents[g])


def _saturating_fit(z: np.ndarray, y: np.ndarray, lo: tuple[float, float], hi: tuple[float, float], *,
                    refine: bool = True) -> tuple[float, float, float] | None:
    """Least squares y ≈ E − A·exp(−α z): a grid of α with (E, A) in closed form and clipped to [lo, hi]; with
    ``refine`` a finer grid between the best exponent's neighbours."""
    if len(z) < 2:
        return None
    _, limit, amp, alpha = _saturating_grid(z, y, lo, hi, POWER_EXPONENTS)
    if refine:
        g = int(np.searchsorted(POWER_EXPONENTS, alpha))
        left, right = POWER_EXPONENTS[max(0, g - 1)], POWER_EXPONENTS[min(len(POWER_EXPONENTS) - 1, g + 1)]
        _, limit, amp, alpha = _saturating_grid(z, y, lo, hi, np.linspace(left, right, 17))
    return limit, amp, alpha


def extrapolate_loss(log_compute: np.ndarray, loss: np.ndarray, query_log_compute: np.ndarray,
                     cache: dict | None = None) -> np.ndarray | None:
    """Two-stage stage 1: L = E + B·(C/C0)^−α fitted to the most recent half of the context's losses (at least
    three), E ∈ [0, min loss], B ≥ 0, extrapolated to the queries. None when the losses cannot be fitted.

    ``cache`` (any dict) keeps fits by the numbers they read: every task of a run shares its losses, so one fit
    serves them all."""
    loss = np.asarray(loss, dtype=float)
    if len(loss) < STAGE1_MIN_POINTS or not np.all(np.isfinite(loss)) or np.any(loss <= 0):
        return None
    z0 = log_compute[0]
    key = np.asarray(log_compute, dtype=float).tobytes() + loss.tobytes()
    if cache is not None and key in cache:
        fit = cache[key]
    else:
        recent = slice(len(loss) - max(STAGE1_MIN_POINTS, int(np.ceil(STAGE1_FRACTION * len(loss)))), None)
        fit = _saturating_fit(log_compute[recent] - z0, loss[recent], (0.0, -50.0), (float(loss.min()), 0.0))
        if cache is not None:
            cache[key] = fit
    if fit is None:
        return None
    limit, amp, alpha = fit
    return limit - amp * np.exp(-alpha * (np.asarray(query_log_compute) - z0))


def accuracy_power_law(log_compute: np.ndarray, values: np.ndarray, query_log_compute: np.ndarray
                       ) -> np.ndarray | None:
    """acc = E − A·(C/C0)^−α fitted to the context (E ∈ [0, 1], A ∈ [−1, 1]), extrapolated to the queries; None
    with fewer than three points."""
    if len(values) < 3:
        return None
    z0 = log_compute[0]
    fit = _saturating_fit(log_compute - z0, np.asarray(values, dtype=float), (0.0, -1.0), (1.0, 1.0), refine=False)
    if fit is None:
        return None
    limit, amp, alpha = fit
    return np.clip(limit - amp * np.exp(-alpha * (np.asarray(query_log_compute) - z0)), 0.0, 1.0)


# --------------------------------------------------------------------------------------------- features


def log_compute(tokens: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """log tokens where all are positive and finite, else log steps (the laws' compute axis)."""
    tokens = np.asarray(tokens, dtype=float)
    axis = tokens if np.all(np.isfinite(tokens)) and np.all(tokens > 0) else np.asarray(steps, dtype=float)
    return np.log(np.maximum(axis, 1e-12))


def pooled_level(law: Law, context_loss: np.ndarray, last: float) -> float:
    """How far a pooled law (:attr:`Law.pooled`, a task never seen) must be shifted to pass through the context's
    last accuracy ``last`` at its last loss; 0 for a task's own law, whose level is the task's. A pooled law's level
    is no task's level (a 2-choice task lies ~0.25 above a pool of 4-choice MMLU subjects), so every input read from
    it — forecasts, the law at the context end, the context's residuals — is read from the shifted law: the model
    sees the changes it predicts and how the context bends away from it, never the gap between the task's chance
    level and the pool's."""
    if not law.pooled:
        return 0.0
    end = float(law(np.asarray(context_loss[-1:], dtype=float))[0])
    return last - end if np.isfinite(end) else 0.0


def target_features(context_x: np.ndarray, context_values: np.ndarray, context_loss: np.ndarray | None,
                    query_x: np.ndarray, query_loss: np.ndarray | None, law: Law | None, setting: str,
                    fills: Counter | None = None, cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features (T, F), anchor (T,)) for the targets of one context.

    Features are forecasts minus the last observed accuracy (so a model reads changes, whatever the level):
    ``law_at_target`` (loss_given: the law at the true target loss), ``two_stage`` (the law at the loss stage 1
    extrapolates), ``power_law`` (the accuracy power law) and ``law_at_context_end`` (the law at the last context
    loss: the run's offset from the law). The anchor is the law forecast the model corrects: the law at the true
    loss in ``loss_given``, the two-stage forecast in ``forecast``; where a fit fails, the last value (counted in
    ``fills``: ``no_law``, ``stage1_failed``, ``power_law_failed``). A pooled law (:attr:`Law.pooled`, for a task
    never seen) is shifted to pass through the last value (:func:`pooled_level`): only the change it predicts is
    used, and its ``law_at_context_end`` is the last value (offset 0, as with no law). Unshifted, that offset was
    the pool's level minus the run's, which models fine-tuned on few tasks read as "fall back to the pool"
    (chapter 7: a 2-choice task on Pythia forecast below chance).
    """
    fills = fills if fills is not None else Counter()
    last = float(context_values[-1])
    n = len(query_x)
    have_loss = context_loss is not None and np.all(np.isfinite(context_loss)) and np.all(context_loss > 0)
    level = 0.0  # a pooled law is shifted through the last value (pooled_level)
    if law is None or not have_loss:
        fills["no_law"] += 1
        end_law = np.full(n, last)
        two_stage = np.full(n, last)
    else:
        level = pooled_level(law, context_loss, last)
        end_law = np.full(n, float(law(np.asarray(context_loss[-1:]))[0]) + level)
        future = extrapolate_loss(context_x, context_loss, query_x, cache)
        if future is None:
            fills["stage1_failed"] += 1
            future = np.full(n, float(context_loss[-1]))
        two_stage = law(future) + level
    power = accuracy_power_law(context_x, context_values, query_x)
    if power is None:
        fills["power_law_failed"] += 1
        power = np.full(n, last)
    columns = {"two_stage": two_stage, "power_law": power, "law_at_context_end": end_law}
    anchor = two_stage
    if setting == "loss_given":
        if law is not None and query_loss is not None and np.all(np.isfinite(query_loss)):
            columns["law_at_target"] = law(query_loss) + level
        else:
            fills["no_law"] += 1
            columns["law_at_target"] = np.full(n, last)
        anchor = columns["law_at_target"]
    names = LOSS_GIVEN_FEATURES if setting == "loss_given" else FORECAST_FEATURES
    features = np.clip(np.stack([columns[k] - last for k in names], axis=1), -FEATURE_CLIP, FEATURE_CLIP)
    return features.astype(np.float32), np.clip(anchor, 0.0, 1.0).astype(np.float32)


def n_features(setting: str) -> int:
    """How many parametric features a query carries in ``setting``."""
    return len(LOSS_GIVEN_FEATURES if setting == "loss_given" else FORECAST_FEATURES)


# --------------------------------------------------------------------------------------------- one context


PROGRESS_FEATURES: tuple[str, ...] = ("target_to_end", "context_end_to_end")


@dataclass(frozen=True)
class ContextTable:
    """What the parametric laws say about one context: per target, the features (:func:`target_features` plus the
    two progress columns) and the anchor; per context point, its residual from the law (y − law(L), 0 where no
    law), so the model sees how the run has sat relative to the law so far."""

    features: np.ndarray  # (T, n_features(setting) + 2) float32
    anchor: np.ndarray  # (T,) float32
    residuals: np.ndarray  # (c + 1,) float32


def context_table(context_x: np.ndarray, context_values: np.ndarray, context_loss: np.ndarray | None,
                  query_x: np.ndarray, query_loss: np.ndarray | None, final_x: float, law: Law | None,
                  setting: str, fills: Counter | None = None, cache: dict | None = None) -> ContextTable:
    """The :class:`ContextTable` of one context. ``*_x`` are log-compute positions, ``final_x`` the run's planned
    final position: progress columns are ``target − final`` and ``context end − final`` (≤ 0 inside a run)."""
    features, anchor = target_features(context_x, context_values, context_loss, query_x, query_loss, law, setting,
                                       fills, cache)
    progress = np.stack([np.asarray(query_x, dtype=float) - final_x,
                         np.full(len(query_x), float(context_x[-1]) - final_x)], axis=1).astype(np.float32)
    if law is not None and context_loss is not None:
        level = pooled_level(law, context_loss, float(context_values[-1]))
        residuals = np.nan_to_num(np.asarray(context_values, dtype=float) - law(context_loss) - level, nan=0.0)
    else:
        residuals = np.zeros(len(context_values))
    return ContextTable(np.concatenate([features, progress], axis=1), anchor,
                        np.clip(residuals, -FEATURE_CLIP, FEATURE_CLIP).astype(np.float32))


def n_query_features(setting: str) -> int:
    """Width of a query's parametric input in ``setting`` (laws and progress)."""
    return n_features(setting) + len(PROGRESS_FEATURES)
