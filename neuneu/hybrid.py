"""NeuNeu reading the paper's scaling law: a learned correction of the pooled loss → accuracy logistic.

Beyond the paper. The paper's logistic baseline maps each checkpoint's mean validation loss through one law per
task, fitted on the pooled training runs; on held-out sizes it is the strongest ``loss_given`` method we measured,
while NeuNeu must learn that mapping from 1,500 small batches. Here the law's accuracy at every checkpoint's loss
becomes a loss feature ("law": ``[log mean loss, law accuracy]``), so the model sees how far the run sits from the
law over its context and how much the law expects accuracy to move by each target, and learns how to correct it.

The law is fitted on exactly the training series the model sees (:class:`~neuneu.baselines.PaperLogistic`; tasks
it never saw use its law pooled over all tasks), so nothing of a test run leaks in. :class:`LawNeuNeu` needs the
target's loss (``loss_given``). :class:`LawNeuNeuForecast` is the same trained model in the ``forecast`` setting:
the targets' losses it reads are extrapolated from the context's own losses by the two-stage baseline's stage 1
(a saturating power law in compute), exactly the information the two-stage baseline uses.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from typing import Sequence

import numpy as np

from neuneu.baselines import Fallback, ForecastInputError, PaperLogistic, TwoStage
from neuneu.series import Prediction, Query, Series

LAW_KEY = "law"


class LawNotFittedError(RuntimeError):
    """predict was called before the law was fitted (``fit`` or ``fit_law``)."""


def law_features(mean_loss: np.ndarray, task: str, paper: PaperLogistic) -> np.ndarray:
    """(n, 2): log mean loss and the task's pooled law accuracy at it (NaN where no law could be fitted)."""
    loss = np.asarray(mean_loss, dtype=np.float64)
    law, _ = paper.law_for(task)
    accuracy = law(loss)[0] if law is not None else np.full(len(loss), np.nan)
    with np.errstate(all="ignore"):
        return np.stack([np.log(loss), accuracy], axis=1)


def with_law(series: Series, paper: PaperLogistic) -> Series:
    """``series`` with ``losses["law"]`` added (its mean loss must be present)."""
    return dataclasses.replace(series, losses={**series.losses,
                                               LAW_KEY: law_features(series.losses["mean"], series.task, paper)})


def query_with_law(query: Query, task: str, paper: PaperLogistic) -> Query:
    """``query`` with the law features of its targets added (loss_given queries carry the targets' mean loss)."""
    if query.losses is None or "mean" not in query.losses:
        return query  # the model raises its own named error for a query without losses
    return dataclasses.replace(query, losses={**query.losses, LAW_KEY: law_features(query.losses["mean"], task, paper)})


class LawNeuNeu:
    """A NeuNeu forecaster with loss input "law" plus the law it reads (Forecaster protocol, ``loss_given`` only)."""

    setting = "loss_given"
    reads_query_losses = True

    def __init__(self, inner, paper: PaperLogistic | None = None) -> None:
        self.inner, self.paper = inner, paper

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def result(self):
        """The inner model's training result (None when loaded from disk)."""
        return self.inner.result

    @property
    def model(self):
        return self.inner.model

    def fit_law(self, train: Sequence[Series]) -> LawNeuNeu:
        """Fit only the law (for weights loaded from disk, which were trained with the law of ``train``)."""
        self.paper = PaperLogistic().fit(train)
        return self

    def fit(self, train: Sequence[Series]) -> LawNeuNeu:
        """Fit the law on ``train``, then train NeuNeu on ``train`` with the law's features."""
        self.fit_law(train)
        self.inner.fit([with_law(s, self.paper) for s in train])
        return self

    def fitted_law(self) -> PaperLogistic:
        """The fitted pooled law (raises :class:`LawNotFittedError` before ``fit``/``fit_law``)."""
        if self.paper is None:
            raise LawNotFittedError(f"{self.name}: call fit(train) or fit_law(train) before predict")
        return self.paper

    def predict(self, context: Series, query: Query) -> Prediction:
        return self.predict_many([(context, query)])[0]

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        paper = self.fitted_law()
        return self.inner.predict_many([(with_law(c, paper), query_with_law(q, c.task, paper)) for c, q in pairs])

    def save(self, directory: str | os.PathLike) -> None:
        """The NeuNeu weights; the law is refitted from the same training series when loading."""
        self.inner.save(directory)


class LawNeuNeuForecast:
    """:class:`LawNeuNeu` as a forecaster: the targets' mean losses are extrapolated from the context (two-stage
    stage 1), never read. When the extrapolation fails, the last context loss is held (counted in ``fallbacks``)."""

    setting = "forecast"

    def __init__(self, given: LawNeuNeu, name: str | None = None) -> None:
        self.given = given
        self._name = name or given.name.replace("-given", "")
        self.fallbacks: Counter[str] = Counter()
        self.calls = 0
        self._stage1: TwoStage | None = None  # kept: it caches one loss fit per run, shared by the run's tasks

    @property
    def name(self) -> str:
        return self._name

    @property
    def result(self):
        """None: this forecaster trains nothing of its own (the loss_given model's training is counted there)."""
        return None

    @property
    def model(self):
        return self.given.model

    def fit(self, train: Sequence[Series]) -> LawNeuNeuForecast:
        """Train the underlying loss_given model (law and NeuNeu) on ``train``."""
        self.given.fit(train)
        return self

    def future_losses(self, context: Series, query: Query) -> np.ndarray:
        """The targets' mean losses as forecast from the context alone."""
        paper = self.given.fitted_law()
        if self._stage1 is None or self._stage1.mapping is not paper:
            self._stage1 = TwoStage(mapping=paper)
        stage1 = self._stage1
        try:
            return stage1.forecast_loss(context, query)
        except Fallback as why:
            self.fallbacks[why.reason] += 1
            return np.full(len(query), float(np.asarray(context.losses["mean"])[-1]))

    def predict(self, context: Series, query: Query) -> Prediction:
        return self.predict_many([(context, query)])[0]

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        self.calls += len(pairs)
        blind = []
        for context, query in pairs:
            if query.losses is not None:  # the harness never does this; a caller mixing settings would leak
                raise ForecastInputError(f"{self.name} is a forecast method: its query must not carry losses")
            blind.append((context, dataclasses.replace(query, losses={"mean": self.future_losses(context, query)})))
        return self.given.predict_many(blind)
