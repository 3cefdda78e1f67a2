"""Nested check: the loss_given default fed forecast losses, corrected for the learning-rate schedule
(pre-registered in neuneu/zoo.py before it ran).

Stage 1 of the two-stage law fits a saturating power law to the context's recent losses. On a cosine schedule the
loss falls faster than that law as the learning rate decays, so the extrapolation ends too high (by about 2–4% of
the loss on the OLMo ladder) and every forecast built on it too low, more so the farther the target. The
correction here is learned from the training side alone: per model family, cut every training run at several
context ends, extrapolate, and fit a piecewise-linear curve a(f) over the fraction f of the run's tokens such that
log(true loss) − log(extrapolated) ≈ a(f_target) − a(f_context_end); a forecast loss is then multiplied by
exp(a(f_target) − a(f_context_end)). A family without training runs is not corrected.

The check: the nested loss_given refit ensemble (true losses in training), asked forecast questions with the
targets' mean losses taken from stage 1 — corrected (the candidate) and plain (for information) — against the
committed forecast refit ensemble; and the two-stage baseline with and without the correction (for information).
Needs the nested models (`python -m neuneu.zoo --nested`).
Run: `TQDM_DISABLE=1 .venv/bin/python scripts/checks/schedule_losses.py` (a few minutes).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import nested
import numpy as np

from neuneu import splits, zoo
from neuneu.baselines import Fallback, TwoStage
from neuneu.contract import (ForecasterBase, Prediction, Query, Series, anchored_question, context_end,
                             cut_context, family_of)
KNOTS = np.linspace(0.0, 1.0, 21)  # fractions of the run's tokens where a(f) is free; a(0) = 0
CUTS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)  # context ends (share of final tokens) the curve is learned from
RIDGE = 1e-3


def _hat(fractions: np.ndarray) -> np.ndarray:
    """(n, len(KNOTS)) weights of piecewise-linear interpolation on KNOTS."""
    f = np.clip(np.asarray(fractions, dtype=float), 0.0, 1.0)
    i = np.clip(np.searchsorted(KNOTS, f, side="right") - 1, 0, len(KNOTS) - 2)
    t = (f - KNOTS[i]) / (KNOTS[i + 1] - KNOTS[i])
    out = np.zeros((len(f), len(KNOTS)))
    out[np.arange(len(f)), i] = 1.0 - t
    out[np.arange(len(f)), i + 1] = t
    return out


def schedule_curves(train: Sequence[Series], stage1: TwoStage) -> dict[str, np.ndarray]:
    """Per family of ``train``, the curve a(KNOTS) (a(0) = 0) fitted by ridge least squares to the stage-1
    log-loss residuals of every training run cut at each of CUTS (one series per run: a run's tasks share it)."""
    runs: dict[str, dict[str, Series]] = {}
    for s in train:
        runs.setdefault(family_of(s), {}).setdefault(s.run, s)
    curves = {}
    for family, by_run in runs.items():
        design, residual = [], []
        for s in by_run.values():
            tokens = np.asarray(s.tokens, dtype=float)
            truth = np.asarray(s.losses.get(stage1.mapping.loss_key, ()), dtype=float)
            for cut in CUTS:
                end = context_end(s, cut, "compute")
                if end < stage1.min_points or end >= len(s) - 1 or len(truth) != len(s):
                    continue
                context, query = anchored_question(s, end, "forecast")
                try:
                    forecast = stage1.forecast_loss(context, query)
                except Fallback:
                    continue
                design.append(_hat(tokens[end + 1:] / tokens[-1]) - _hat(np.full(len(query), tokens[end] / tokens[-1])))
                residual.append(np.log(truth[end + 1:]) - np.log(forecast))
        if not design:
            continue
        a, r = np.concatenate(design)[:, 1:], np.concatenate(residual)
        ok = np.isfinite(r)
        coef = np.linalg.solve(a[ok].T @ a[ok] + RIDGE * np.eye(a.shape[1]), a[ok].T @ r[ok])
        curves[family] = np.concatenate([[0.0], coef])
    return curves


def corrected(forecast: np.ndarray, context: Series, query: Query, curves: Mapping[str, np.ndarray]) -> np.ndarray:
    """Stage-1 losses ``forecast`` times exp(a(f_target) − a(f_context_end)) for the context's family."""
    curve = curves.get(family_of(context))
    if curve is None or not query.final_tokens:
        return forecast
    f_targets = np.asarray(query.tokens, dtype=float) / query.final_tokens
    f_end = float(np.asarray(context.tokens, dtype=float)[-1]) / query.final_tokens
    return forecast * np.exp(_hat(f_targets) @ curve - _hat([f_end]) @ curve)


class ScheduledTwoStage(TwoStage):
    """The two-stage law whose stage 1 is corrected by :func:`schedule_curves` of its training side."""

    name = "two-stage-scheduled"

    def fit(self, train: Sequence[Series]) -> ScheduledTwoStage:
        super().fit(train)
        self.curves = schedule_curves(train, TwoStage(mapping=self.mapping))
        return self

    def forecast_loss(self, context: Series, query: Query) -> np.ndarray:
        return corrected(super().forecast_loss(context, query), context, query, self.curves)


class FedForecastLosses(nested.Wrapped):
    """A loss_given model asked forecast questions: each query carries the mean losses stage 1 forecasts from
    the context (``curves``: corrected by them; None: plain), the last context loss where stage 1 fails."""

    def __init__(self, given: ForecasterBase, stage1: TwoStage, curves: Mapping[str, np.ndarray] | None,
                 name: str) -> None:
        super().__init__(given, name=name, capabilities=dataclasses.replace(
            given.capabilities, setting="forecast", reads_query_losses=False))
        self.stage1, self.curves = stage1, curves

    def _losses(self, context: Series, query: Query) -> np.ndarray:
        try:
            forecast = self.stage1.forecast_loss(context, query)
        except Fallback as why:
            self.fallbacks[why.reason] += 1
            return np.full(len(query), float(np.asarray(context.losses["mean"])[-1]))
        return forecast if self.curves is None else corrected(forecast, context, query, self.curves)

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        return self.inner.predict_many([(c, dataclasses.replace(q, losses={"mean": self._losses(c, q)}))
                                        for c, q in pairs])


def main() -> None:
    series = splits.load_pool("public")
    rows = []
    for name in zoo.NESTED_SPLITS:
        split = splits.make_split(series, name)
        plain = TwoStage().fit(split.train)
        scheduled = ScheduledTwoStage(mapping=plain.mapping).fit(split.train)
        given = nested.refit_ensemble(name, "loss_given", series)
        methods = {"forecast default": nested.refit_ensemble(name, "forecast", series),
                   "given + scheduled losses": FedForecastLosses(given, plain, scheduled.curves, "fed-scheduled"),
                   "given + plain losses": FedForecastLosses(given, plain, None, "fed-plain"),
                   "two-stage": plain, "two-stage scheduled": scheduled}
        for rule in ("compute", "index"):
            scores = {label: nested.mae(m, split.test, setting="forecast", split=name, rule=rule)
                      for label, m in methods.items()}
            rows.append({"split": name, "rule": rule, **scores,
                         "better": scores["given + scheduled losses"] < scores["forecast default"]})
    nested.print_verdict(rows)

if __name__ == "__main__":
    main()
