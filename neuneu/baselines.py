"""Classical forecasters of downstream accuracy, each behind the one Forecaster interface NeuNeu also uses.

The paper compares NeuNeu with a single baseline, a logistic law in mean validation loss fitted across training runs
and fed the test run's *true* future loss (paper-spec §6). That baseline answers a different question (loss →
accuracy) than NeuNeu (early accuracies → future accuracy), so, following paper-spec §9 item 14, we add forecasting
baselines that see exactly what NeuNeu sees:

============================  ============  ===============================================================
method (``name``)             ``setting``   what it does
============================  ============  ===============================================================
``paper-logistic``            loss_given    per task, acc = a·σ(k(log L̄ − L0)) + b pooled over training runs,
                                            applied to the target checkpoint's true mean loss L̄
``run-logistic``              both          per run, a bounded logistic in log compute fitted to the context
``power-law``                 both          per run, acc = E − A·(C/C0)^−α fitted to the context
``two-stage``                 both          power law in compute extrapolates the context's mean loss, then
                                            the paper's logistic maps the forecast loss to accuracy
``last-value``                both          the last observed accuracy, held flat
``linear-logcompute``         both          least-squares line of accuracy against log compute
``ets``                       both          statsmodels ETS (additive damped trend), naive when too short
============================  ============  ===============================================================

"both" means the method never reads ``query.losses``, so it is valid in the ``forecast`` setting and can be shown
beside the loss-given methods too. Every fit is bounded, starts from a fixed grid of initial values (so reruns are
identical) and keeps the start with the lowest squared error. A method never returns a silent NaN: when a fit is
impossible (too few points, optimiser failure, non-finite output, unseen task) it falls back *explicitly* to the last
observed value or a pooled fit and counts the reason in its ``fallbacks`` Counter (``calls`` counts predictions), so
the harness can report how often each fallback fired.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from typing import Mapping, Self, Sequence

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from neuneu.contract import (
    QUANTILES,
    Capabilities,
    ForecasterBase,
    ForecastInputError,
    Prediction,
    Query,
    Series,
    check_inputs,
    format_pools,
    log_compute_axis,
    task_format,
)
from neuneu.curves import (
    CurveFit,
    LossLogistic,
    bounded_logistic_curve,
    fit_curve,
    fit_loss_logistic,
    fit_saturating_power,
    saturating_power_curve,
)


ALL_FORMATS = "all"  # the key of the law pooled over every training task


class Fallback(Exception):
    """Raised inside a method's forecast to ask for the explicit, counted last-value fallback."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------- shared base


class Baseline(ForecasterBase):
    """Common plumbing: input checks, counted fallbacks, clipping to [0, 1], monotone quantiles.

    A new baseline subclasses this, sets ``name`` and ``capabilities``, and implements
    ``_forecast(context, query) -> (median, quantiles | None)``, raising :class:`Fallback` with a reason when it
    cannot answer; ``predict`` does the rest.
    """

    name: str = "baseline"
    capabilities = Capabilities(setting="both")
    needs_losses: str | None = None

    def predict(self, context: Series, query: Query) -> Prediction:
        """Forecast every target of ``query`` from ``context``; falls back to the last value (counted) on failure."""
        check_inputs(context, query, needs_losses=self.needs_losses)
        self.calls += 1
        try:
            median, quantiles = self._forecast(context, query)
        except Fallback as signal:
            return self._last_value(context, query, signal.reason)
        median = np.asarray(median, dtype=float).reshape(len(query))
        if not np.all(np.isfinite(median)):
            return self._last_value(context, query, "nonfinite")
        if quantiles is not None:
            quantiles = np.asarray(quantiles, dtype=float).reshape(len(query), len(QUANTILES))
            if not np.all(np.isfinite(quantiles)):
                self.fallbacks["nonfinite_quantiles"] += 1
                quantiles = None
            else:  # sorting keeps quantiles monotone even where a crude interval crosses the clipped median
                quantiles = np.sort(np.clip(quantiles, 0.0, 1.0), axis=1)
        return Prediction(median=np.clip(median, 0.0, 1.0), quantiles=quantiles)

    def _last_value(self, context: Series, query: Query, reason: str) -> Prediction:
        self.fallbacks[reason] += 1
        return Prediction(median=np.full(len(query), float(np.asarray(context.values)[-1])), quantiles=None)

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _axis(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray]:
        axis = log_compute_axis(context, query)
        if axis is None:
            raise Fallback("no_positive_compute_axis")
        return axis


# --------------------------------------------------------------------------------------------- (a) paper logistic


def _train_fingerprint(train: Sequence[Series], loss_key: str) -> str:
    """A digest of what a pooled fit depends on, so refitting on the same training set is a no-op."""
    digest = hashlib.sha256(loss_key.encode())
    for s in train:
        digest.update(f"{s.run}\0{s.task}\0".encode())
        digest.update(np.ascontiguousarray(s.values, dtype=float).tobytes())
        digest.update(np.ascontiguousarray(s.losses[loss_key], dtype=float).tobytes())
    return digest.hexdigest()


class PaperLogistic(Baseline):
    """(a) The paper's baseline: a per-task logistic in log mean loss, pooled over every training run.

    ``fit(train)`` pools (losses[loss_key], values) of all training series of each task. ``predict`` applies the
    task's law to ``query.losses[loss_key]``, the test run's *true* loss at each target, so it is valid only in
    the ``loss_given`` setting and uses none of the test run's accuracies. Tasks missing from training (the
    held-out-task split) use one law pooled over the training tasks of their answer format
    (:func:`~neuneu.contract.task_format`: multiple-choice or ranked classification), or over all training tasks
    when the training side has a single format or too few tasks of theirs (counted as ``unseen_task``). A pooled
    law knows how accuracy moves with the loss on average, not the task's level, so it is shifted to pass through
    the context's last accuracy at its loss (:meth:`pooled_shift`): only the change it predicts is used. Both
    rules are the ones NeuNeu's law inputs follow (:class:`neuneu.parametric.TaskLaws`), so on held-out tasks the
    baseline is the law NeuNeu starts from, not a law at another task's level. Quantiles come from the training
    residuals of the law used.
    """

    name = "paper-logistic"
    capabilities = Capabilities(setting="loss_given", reads_query_losses=True, quantiles=True, learned=True)

    def __init__(self, loss_key: str = "mean") -> None:
        super().__init__()
        self.loss_key = loss_key
        self.needs_losses = loss_key
        self.laws: dict[str, LossLogistic | None] = {}
        self._pools: dict[str, list[Series]] = {}  # format (or ALL_FORMATS) → the training series pooled for it
        self._pooled_laws: dict[str, LossLogistic | None] = {}  # fitted lazily: most splits never need one
        self._fingerprint: str | None = None

    def fit(self, train: Sequence[Series]) -> Self:
        """Fit one law per task on the pooled training runs (no-op when ``train`` is unchanged since last fit)."""
        if len(train) == 0:
            raise ForecastInputError(f"{self.name}: fit needs at least one training series")
        fingerprint = _train_fingerprint(train, self.loss_key)
        if fingerprint == self._fingerprint:
            return self
        by_task: dict[str, list[Series]] = {}
        for s in train:
            by_task.setdefault(s.task, []).append(s)
        self.laws = {task: fit_loss_logistic(*self._pooled(series)) for task, series in sorted(by_task.items())}
        self._pools = {ALL_FORMATS: list(train)}
        for fmt, tasks in format_pools(by_task).items():
            self._pools[fmt] = [s for t in tasks for s in by_task[t]]
        self._pooled_laws = {}
        self._fingerprint = fingerprint
        return self

    def _pooled(self, series: Sequence[Series]) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            log_loss = np.concatenate([np.log(np.asarray(s.losses[self.loss_key], dtype=float)) for s in series])
        return log_loss, np.concatenate([np.asarray(s.values, dtype=float) for s in series])

    def law_for(self, task: str) -> tuple[LossLogistic | None, str | None]:
        """The law for ``task`` and the fallback reason when it is not the task's own (None when it is)."""
        if self._fingerprint is None:
            raise ForecastInputError(f"{self.name}: call fit(train) before predict")
        if self.laws.get(task) is not None:
            return self.laws[task], None
        reason = "unseen_task" if task not in self.laws else "task_fit_failed"
        pool = task_format(task)
        pool = pool if pool in self._pools else ALL_FORMATS
        if pool not in self._pooled_laws:
            self._pooled_laws[pool] = fit_loss_logistic(*self._pooled(self._pools[pool]))
        return self._pooled_laws[pool], reason

    def pooled_shift(self, law: LossLogistic, context: Series) -> float:
        """How far the context's last accuracy lies from a pooled ``law`` at the context's last loss: added to the
        pooled law's forecasts, so they pass through the run's own level. Raises :class:`Fallback` when the
        context's last loss or the law there is not finite."""
        loss = np.asarray(context.losses.get(self.loss_key, ()), dtype=float)[-1:]
        if len(loss) == 0 or not np.isfinite(loss[0]) or loss[0] <= 0:
            raise Fallback("nonfinite_context_loss")
        at_end = float(law(loss)[0][0])
        if not np.isfinite(at_end):
            raise Fallback("nonfinite")
        return float(np.asarray(context.values)[-1]) - at_end

    def law_forecast(self, context: Series, loss: np.ndarray, fallbacks: Counter | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(median, quantiles) of the context's task at mean loss ``loss``: its own law, or a pooled law shifted
        through the context's last accuracy (:meth:`pooled_shift`; the reason is counted in ``fallbacks``, by
        default this baseline's own)."""
        law, reason = self.law_for(context.task)
        if law is None:
            raise Fallback("no_law")
        shift = 0.0
        if reason is not None:
            shift = self.pooled_shift(law, context)
            (self.fallbacks if fallbacks is None else fallbacks)[reason] += 1
        median, quantiles = law(loss)
        return median + shift, quantiles + shift

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        assert query.losses is not None  # check_inputs guarantees it
        return self.law_forecast(context, np.asarray(query.losses[self.loss_key], dtype=float).reshape(len(query)))


# --------------------------------------------------------------------------------------------- (b) per-run logistic


class RunLogistic(Baseline):
    """(b) A logistic in log compute fitted to the run's own context: low + (high − low)·σ(k(z − z0)).

    z = log C − log C_end is log compute relative to the context end. Asymptotes may fall in either order (so
    falling curves fit too) but must lie within ``headroom`` of the observed context range (and in [0, 1]);
    k ∈ [0, 30] per e-fold of compute, z0 ∈ [−10, 10]. The headroom bound is what makes the fit usable: a context
    sitting at chance with a small uptick at its end otherwise fits a jump to 100% right after it (OLMo-ladder MC
    tasks, 1B/3B held out: 8.7 → 5.2 points MAE with the bound; 3.14 → 3.02 on the RC tasks). Fewer than
    ``min_points`` context points cannot pin four parameters: last value, counted as ``too_few_points``.
    """

    name = "run-logistic"
    min_points = 4

    def __init__(self, headroom: float = 0.25) -> None:
        super().__init__()
        self.headroom = headroom

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        if len(context) < self.min_points:
            raise Fallback("too_few_points")
        x_ctx, x_q = self._axis(context, query)
        z, zq = x_ctx - x_ctx[-1], x_q - x_ctx[-1]
        y = np.asarray(context.values, dtype=float)
        floor, ceiling = max(0.0, float(y.min()) - self.headroom), min(1.0, float(y.max()) + self.headroom)
        mid = float(np.median(z))
        starts = [
            (float(y.min()), high, k, z0)
            for high in (float(y.max()), min(ceiling, float(y.max()) + 0.2))
            for k, z0 in ((1.0, mid), (4.0, 0.0))
        ]
        lower, upper = (floor, floor, 0.0, -10.0), (ceiling, ceiling, 30.0, 10.0)
        fit = fit_curve(bounded_logistic_curve, z, y, starts, lower, upper)
        if fit is None:
            raise Fallback("fit_failed")
        return bounded_logistic_curve(zq, *fit.params), None


# --------------------------------------------------------------------------------------------- (c) power law


class PowerLaw(Baseline):
    """(c) A saturating power law in compute fitted to the context: acc = E − A·(C/C0)^−α.

    C0 is the first context checkpoint. E ∈ [0, 1], A ∈ [−1, 1] (negative A gives a falling curve),
    α ∈ [0, 5]. Needs ``min_points`` context points, else last value (``too_few_points``).
    """

    name = "power-law"
    min_points = 3

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        if len(context) < self.min_points:
            raise Fallback("too_few_points")
        x_ctx, x_q = self._axis(context, query)
        y = np.asarray(context.values, dtype=float)
        fit = fit_saturating_power(x_ctx - x_ctx[0], y, (0.0, -1.0, 0.0), (1.0, 1.0, 5.0))
        if fit is None:
            raise Fallback("fit_failed")
        return saturating_power_curve(x_q - x_ctx[0], *fit.params), None


# --------------------------------------------------------------------------------------------- (d) two-stage


class TwoStage(Baseline):
    """(d) Two-stage law: forecast the mean loss, then map it to accuracy with the paper's logistic.

    Stage 1 fits L = E + B·(C/C0)^−α (E ∈ [0, min context loss], B ≥ 0, α ∈ [0, 5]) to the most recent
    ``fit_fraction`` of the context's own mean losses (at least ``min_points``) and extrapolates it to the targets'
    compute. Dropping the oldest points matters: the first checkpoints sit in the warm-up transient (loss 8–9 nats
    at step 50 on the OLMo ladder), which no power law follows, and with them the loss forecast error triples
    (0.19 vs 0.06 nats mean absolute on the 1B/3B ladder runs). Stage 2 is :class:`PaperLogistic`'s per-task law
    (fitted on the training runs by :meth:`fit`). It reads no loss measured after the context end, so it is a
    forecasting method; it also ignores the context accuracies, exactly like the paper's law, except for a task
    never seen, whose pooled law is shifted through the context's last accuracy
    (:meth:`PaperLogistic.pooled_shift`). Without quantiles: the mapping's residuals would ignore the
    loss-extrapolation error and so overstate confidence.
    """

    name = "two-stage"
    capabilities = Capabilities(setting="both", learned=True)
    min_points = 3

    def __init__(self, mapping: PaperLogistic | None = None, fit_fraction: float = 0.5) -> None:
        super().__init__()
        self.mapping = mapping if mapping is not None else PaperLogistic()
        self.fit_fraction = fit_fraction
        # Every task of a run shares its losses, so the stage-1 fit is cached by the exact numbers it reads.
        self._loss_fits: dict[bytes, CurveFit | None] = {}

    def fit(self, train: Sequence[Series]) -> Self:
        """Fit the loss → accuracy mapping (a no-op when a shared mapping was already fitted on ``train``)."""
        self.mapping.fit(train)
        return self

    def forecast_loss(self, context: Series, query: Query) -> np.ndarray:
        """Stage 1 alone: the mean loss at each target, extrapolated from the context's own losses. Raises
        :class:`Fallback` (too few points, non-finite loss, failed fit) when it cannot."""
        loss = np.asarray(context.losses.get(self.mapping.loss_key, ()), dtype=float)
        if len(context) < self.min_points or len(loss) != len(context):
            raise Fallback("too_few_points")
        if not np.all(np.isfinite(loss)) or np.any(loss <= 0):
            raise Fallback("nonfinite_context_loss")
        x_ctx, x_q = self._axis(context, query)
        recent = slice(len(loss) - max(self.min_points, int(np.ceil(self.fit_fraction * len(loss)))), None)
        z = x_ctx - x_ctx[0]
        fit = self._loss_law(z[recent], loss[recent])
        if fit is None:
            raise Fallback("fit_failed")
        return saturating_power_curve(x_q - x_ctx[0], *fit.params)

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        median, _ = self.mapping.law_forecast(context, self.forecast_loss(context, query), self.fallbacks)
        return median, None

    def _loss_law(self, z: np.ndarray, loss: np.ndarray) -> CurveFit | None:
        key = z.astype(float).tobytes() + b"|" + loss.astype(float).tobytes()
        if key not in self._loss_fits:
            if len(self._loss_fits) > 4096:  # bound memory on long benchmarks
                self._loss_fits.clear()
            upper = (float(loss.min()), 0.0, 5.0)
            self._loss_fits[key] = fit_saturating_power(z, loss, (0.0, -50.0, 0.0), upper)
        return self._loss_fits[key]


# --------------------------------------------------------------------------------------------- (e)–(g) simple ones


class LastValue(Baseline):
    """(e) Persistence: every target gets the last observed accuracy. The floor any forecaster must beat."""

    name = "last-value"

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        return np.full(len(query), float(np.asarray(context.values)[-1])), None


class LinearLogCompute(Baseline):
    """(f) Ordinary least squares of accuracy on log compute over the context, extrapolated (clipped to [0, 1]).

    Within a run log compute and log step differ by a constant, so this is also the "linear in log-step" trend.
    One context point gives no slope: last value (``too_few_points``).
    """

    name = "linear-logcompute"
    min_points = 2

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        if len(context) < self.min_points:
            raise Fallback("too_few_points")
        x_ctx, x_q = self._axis(context, query)
        slope, intercept = np.polyfit(x_ctx - x_ctx[-1], np.asarray(context.values, dtype=float), deg=1)
        return intercept + slope * (x_q - x_ctx[-1]), None


def periods_ahead(context_steps: np.ndarray, query_steps: np.ndarray, max_periods: int) -> np.ndarray:
    """How many context spacings each query step lies beyond the context end (integers in [1, max_periods]).

    The spacing is measured in steps or in log steps, whichever spaces the context more evenly (lower coefficient
    of variation of the gaps): linear for the OLMo ladder, logarithmic for Pythia's early checkpoints, where a step
    spacing of 4 would put the final checkpoint 35,000 periods ahead.
    """
    def unevenness(gaps: np.ndarray) -> float:
        return float(np.std(gaps) / np.mean(gaps)) if len(gaps) and np.mean(gaps) > 0 else np.inf

    use_log = bool(np.all(context_steps > 0)) and unevenness(np.diff(np.log(context_steps))) < unevenness(
        np.diff(context_steps)
    )
    axis = np.log if use_log else (lambda v: v)
    spacing = float(np.median(np.diff(axis(context_steps))))
    ahead = np.rint((axis(query_steps) - axis(context_steps[-1])) / spacing)
    return np.clip(ahead, 1, max_periods).astype(int)


class ETS(Baseline):
    """(g) Exponential smoothing (statsmodels ``ETSModel``: additive error, additive damped trend).

    ETS assumes equally spaced observations, so each target's horizon is its distance from the context end in
    units of the context's median spacing (see :func:`periods_ahead`: in steps, or in log steps for log-spaced
    checkpoints such as Pythia's 1, 2, 4, … 512), at least 1 and at most ``max_periods``. Quantiles come from the
    model's 80% and 50% prediction intervals. Contexts shorter than ``min_points`` (six: the model has six free
    parameters) get the naive forecast (``too_short``); an optimiser error gives ``fit_failed``.
    """

    name = "ets"
    capabilities = Capabilities(setting="both", quantiles=True)
    min_points = 6
    max_periods = 1000

    def _forecast(self, context: Series, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        if len(context) < self.min_points:
            raise Fallback("too_short")
        ahead = periods_ahead(np.asarray(context.steps, dtype=float), np.asarray(query.steps, dtype=float),
                              self.max_periods)
        n = len(context)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                model = ETSModel(pd.Series(np.asarray(context.values, dtype=float)), error="add", trend="add",
                                 damped_trend=True)
                pred = model.fit(disp=False).get_prediction(start=n, end=n + int(ahead.max()) - 1)
                mean = np.asarray(pred.predicted_mean, dtype=float)
                band80 = np.asarray(pred.pred_int(alpha=0.2), dtype=float)
                band50 = np.asarray(pred.pred_int(alpha=0.5), dtype=float)
            except (ValueError, ArithmeticError, RuntimeError, IndexError, np.linalg.LinAlgError):
                raise Fallback("fit_failed") from None
        rows = ahead - 1
        quantiles = np.stack(
            [band80[rows, 0], band50[rows, 0], mean[rows], band50[rows, 1], band80[rows, 1]], axis=1
        )
        return mean[rows], quantiles


def default_baselines() -> list[Baseline]:
    """One fresh instance of every baseline, the two-stage law sharing the paper-logistic's fitted mapping."""
    paper = PaperLogistic()
    return [paper, RunLogistic(), PowerLaw(), TwoStage(mapping=paper), LastValue(), LinearLogCompute(), ETS()]


BASELINE_CLASSES: Mapping[str, type[Baseline]] = {
    cls.name: cls for cls in (PaperLogistic, RunLogistic, PowerLaw, TwoStage, LastValue, LinearLogCompute, ETS)
}
