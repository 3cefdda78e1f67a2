"""NeuNeu behind the common Forecaster protocol: training, interval calibration, prediction, files — and NeuNeu
reading the paper's scaling law.

:class:`NeuNeuForecaster` wraps one model of :mod:`neuneu.model`, trained by :mod:`neuneu.train`. ``fit`` trains it
(with a split's validation side when given), records what it saw (:class:`~neuneu.contract.TrainingRecord`) and
calibrates its intervals; ``predict_many`` answers many trajectories in one forward pass; ``save``/``load`` keep
weights, config, the training record and the calibration together in one folder.

**Interval calibration per input path.** Pinball training gives intervals of the wrong width out of
distribution: too narrow for one model, and too wide for an ensemble, whose averaged median errs less than its
members' intervals allow. On runs the model was not trained on (the split's validation side, which mimics the
test's shift) we run the evaluation protocol and find, for the q25–q75 and the q10–q90 interval, the factor by
which each quantile's distance from the median must be scaled — grown or shrunk — so that 50% / 80% of the truths
fall inside (split-conformal), each (run, task) trajectory weighing the same however many targets it has: the
coverage the benchmark reports is the mean over such cells, so that is the level the calibration aims at.
The factors belong to an *input path*: the same weights fed true target losses ("direct") and fed losses
extrapolated from the context ("extrapolated-loss", :class:`LawNeuNeuForecast`) err differently, so each path is
calibrated on its own inputs and stored under its own key.

**NeuNeu reading the law** (beyond the paper, loss input "law"): the pooled per-task logistic of
:class:`~neuneu.baselines.PaperLogistic`, fitted on the model's own fit-side series only, gives each checkpoint a
feature ``[log mean loss, law accuracy]``. :class:`LawNeuNeu` is the ``loss_given`` model;
:class:`LawNeuNeuForecast` is the same weights in the ``forecast`` setting, fed the target losses that the
two-stage baseline's stage 1 extrapolates from the context (never the true ones). Every value it cannot compute
(no law for a task, a failed loss extrapolation) is counted in ``fallbacks``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from neuneu.baselines import Fallback, PaperLogistic, TwoStage
from neuneu.contract import (
    Capabilities,
    ForecasterBase,
    ForecastInputError,
    Prediction,
    Query,
    Series,
    TrainingRecord,
    anchored_question,
    context_end,
    family_of,
)
from neuneu.model import NeuNeu, NeuNeuConfig
from neuneu.model import config_for as model_config_for
from neuneu.parametric import TaskLaws, cross_fitted, laws_for
from neuneu.samples import LawSource, inference_batch, loss_kind
from neuneu.splits import replica_group, validation_by_run
from neuneu.train import TrainConfig, TrainError, TrainResult, best_step_of, load_model, save_model
from neuneu.train import config_for as train_config_for
from neuneu.train import train as train_model

DIRECT, EXTRAPOLATED = "direct", "extrapolated-loss"
CROSS_FIT_FOLDS = 5  # folds of replica groups for the out-of-sample laws of training series
PRIOR_FOLDS = 3  # the same inside each synthetic ladder
LAW_KEY = "law"
Scales = tuple[float, float]  # (q25–q75, q10–q90) scaling factors (below 1 narrows)
RawPredict = Callable[[Sequence[tuple[Series, Query]]], list[np.ndarray]]


def ladder_laws(series: Sequence[Series], family: Callable[[Series], object] = family_of) -> LawSource:
    """The laws of synthetic series (:mod:`neuneu.prior`), cross-fitted by replica group within each ladder
    (``family``), coarse fits: what the prior model trains on and a fine-tuned model rehearses with."""
    return cross_fitted(series, replica_group, folds=PRIOR_FOLDS, family=family, precise=False)


class LawNotFittedError(RuntimeError):
    """predict was called before the law was fitted (``fit`` or ``fit_law``)."""


# --------------------------------------------------------------------------------------------- calibration


def conformal_scales(predict_raw: RawPredict, held_out: Sequence[Series], setting: str,
                     context_ratio: float = 0.2) -> Scales:
    """The split-conformal scaling factors of one input path on ``held_out`` (see the module docstring): for each
    interval, the weighted quantile (each trajectory's targets share one unit of weight) of how far each truth
    lies from the median in units of the interval's half-width on its side. A factor below 1 narrows; (1, 1) when
    there is nothing to calibrate on."""
    pairs, truths = [], []
    for s in held_out:
        end = context_end(s, context_ratio)
        if end < len(s) - 1:
            pairs.append(anchored_question(s, end, setting))
            truths.append(np.asarray(s.values[end + 1:], dtype=float))
    if not pairs:
        return (1.0, 1.0)
    q = np.concatenate(predict_raw(pairs))
    y = np.concatenate(truths)
    weight = np.concatenate([np.full(len(t), 1.0 / len(t)) for t in truths])
    scales = []
    for lo, hi, nominal in ((1, 3, 0.5), (0, 4, 0.8)):
        spread = np.where(y < q[:, 2], q[:, 2] - q[:, lo], q[:, hi] - q[:, 2])
        need = np.abs(y - q[:, 2]) / np.maximum(spread, 1e-6)
        level = np.quantile(need, nominal, weights=weight, method="inverted_cdf")  # at least `nominal` inside
        scales.append(float(level * (1 + 1e-9)))
    return (scales[0], scales[1])


def widen(q: np.ndarray, scales: Scales) -> np.ndarray:
    """Quantiles (n, 5) with the inner / outer intervals scaled around the median by ``scales`` (a factor below 1
    narrows), kept ordered and in [0, 1]."""
    inner, outer = scales
    if inner == 1.0 and outer == 1.0:
        return q
    m = q[:, 2:3]
    out = q.copy()
    out[:, [1, 3]] = m + inner * (q[:, [1, 3]] - m)
    out[:, [0, 4]] = m + outer * (q[:, [0, 4]] - m)
    out[:, 0] = np.minimum(out[:, 0], out[:, 1])
    out[:, 4] = np.maximum(out[:, 4], out[:, 3])
    return np.clip(out, 0.0, 1.0)


def _predictions(raw: list[np.ndarray], scales: Scales) -> list[Prediction]:
    out = []
    for q in raw:
        q = widen(q, scales)
        out.append(Prediction(median=q[:, 2].copy(), quantiles=q))
    return out


# --------------------------------------------------------------------------------------------- NeuNeu


class NeuNeuForecaster(ForecasterBase):
    """One NeuNeu model behind the Forecaster protocol (see the module docstring).

    The setting is "both" without loss input (it reads no losses at all), "forecast" when it reads losses up to the
    context end, and "loss_given" when it also reads the targets' losses. ``seed`` is the training seed.
    """

    def __init__(self, model_config: NeuNeuConfig | None = None, train_config: TrainConfig | None = None, *,
                 profile: str = "cpu", out_dir: Path | str | None = None, name: str | None = None,
                 split: str | None = None, batch_trajectories: int = 64,
                 init_from: NeuNeuForecaster | None = None) -> None:
        super().__init__()
        self.model_config = model_config or model_config_for(profile)
        self.train_config = train_config or train_config_for(profile)
        self.profile, self.split = profile, split
        self.out_dir, self.batch_trajectories = out_dir, batch_trajectories
        self._name = name
        self.model: NeuNeu | None = None
        self.result: TrainResult | None = None
        self.trained_on: TrainingRecord | None = None
        self.interval_scales: dict[str, Scales] = {}
        self.laws: TaskLaws | None = None  # the laws a parametric model reads (fitted on its training side)
        self.validation_laws: TaskLaws | None = None  # fitted without the validation runs (for calibration)
        self.init_from = init_from  # a pretrained model to fine-tune (its weights and statistics start training)
        self.rehearsed_on: TrainingRecord | None = None  # the prior series mixed into fine-tuning
        self.best_step: int | None = None  # optimiser step of the kept weights' validation (None: none validated)

    @property
    def config(self) -> NeuNeuConfig:
        """The model's config (with data statistics once trained), else the requested one."""
        return self.model.config if self.model is not None else self.model_config

    @property
    def name(self) -> str:
        """e.g. "neuneu-none", "neuneu-hist", "neuneu-hist-given" (DiffHist), "neuneu-mean-index"."""
        if self._name:
            return self._name
        cfg = self.config
        suffix = ("-given" if cfg.setting == "loss_given" else "") + ("-index" if cfg.time_axis == "index" else "")
        return f"neuneu-{cfg.loss_input}{suffix}"

    @property
    def seed(self) -> int:
        return int(self.train_config.seed)

    @property
    def capabilities(self) -> Capabilities:
        cfg = self.config
        setting = "both" if not cfg.uses_losses else cfg.setting
        return Capabilities(setting=setting, reads_query_losses=setting == "loss_given", quantiles=True,
                            learned=True, kind="neuneu")

    def fit(self, train: Sequence[Series], validation: Sequence[Series] | None = None, *,
            law_family: Callable[[Series], object] | None = None,
            law_group: Callable[[Series], object] = replica_group,
            rehearsal: Sequence[Series] = ()) -> NeuNeuForecaster:
        """Train on ``train``; stop early and calibrate on ``validation`` (by default a fifth of the replica
        groups of ``train``, held out). A parametric model fits its laws on ``train``, each training series seeing
        a law fitted without its fold of ``law_group`` (a split's :meth:`~neuneu.splits.Split.law_group`, so a
        training law is as available as a test law); with ``law_family`` (the synthetic prior: one family per
        ladder) laws are fitted within each family only, for training and validation series alike.

        ``rehearsal`` (synthetic series of the prior, whole ladders) are mixed into the training samples of a
        fine-tuned model, so that it keeps what pretraining taught it about regimes the real training side lacks
        (log-spaced checkpoint grids, contexts at chance level); their laws are fitted within their ladder, as in
        pretraining. They never count as real training data (:attr:`trained_on`)."""
        if validation is None:
            train, validation = validation_by_run(train, seed=self.train_config.seed)
        train, validation, rehearsal = list(train), list(validation), list(rehearsal)
        self.trained_on = TrainingRecord.of([*train, *validation], split=self.split, profile=self.profile,
                                            seed=self.seed)
        self.rehearsed_on = TrainingRecord.of(rehearsal, split="prior", profile=self.profile, seed=self.seed) \
            if rehearsal else None
        train_laws = val_laws = None
        if self.model_config.parametric and law_family is None:
            self.laws = self.validation_laws = TaskLaws.fit(train)  # validation reads laws fitted without it
            train_laws = cross_fitted(train, law_group, folds=CROSS_FIT_FOLDS)
            val_laws = laws_for(self.laws)
            if rehearsal:
                real_laws, prior_laws = train_laws, ladder_laws(rehearsal)
                real = {s.key for s in train}
                train_laws = lambda s: real_laws(s) if s.key in real else prior_laws(s)  # noqa: E731
        elif self.model_config.parametric:
            train_laws, val_laws = ladder_laws(train, law_family), ladder_laws(validation, law_family)
        init = None if self.init_from is None else self.init_from._require_model()
        self.result = train_model([*train, *rehearsal], self.model_config, self.train_config, val_series=validation,
                                  out_dir=self.out_dir, record=self._record(), laws=train_laws, val_laws=val_laws,
                                  init=init)
        self.model = self.result.model
        self.best_step = self.result.best_step if self.result.best_step >= 0 else None
        self.fallbacks.update(self.result.fills)
        self.interval_scales = {}
        if law_family is None:  # a pretrained prior model is calibrated when it is fine-tuned, not before
            self.calibrate(validation)
        if self.model_config.parametric and law_family is None:
            # From now on the model reads laws fitted on the whole training side (validation too), like the
            # paper-logistic baseline: the law is a fit, not a learned weight, and the validation runs are the
            # training side's best evidence about the test's extrapolation.
            self.laws = TaskLaws.fit([*train, *validation])
        if self.out_dir is not None:  # the best weights are already there; add the record and the calibration
            self.save(self.out_dir)
        return self

    def calibrate(self, held_out: Sequence[Series]) -> Scales:
        """Fit the scaling factors of the direct path on ``held_out`` (the validation runs), the model reading the
        laws fitted without them (:attr:`validation_laws`; its inference laws when none were recorded) as during
        training; stored and returned. ``fit`` calls it; calling it on loaded weights with the same runs reproduces
        what ``fit`` stored."""
        with self.reading_validation_laws():
            scales = conformal_scales(self.raw_quantiles, held_out, self.config.setting)
        self.interval_scales[DIRECT] = scales
        return scales

    def adopt_calibration(self, selection: NeuNeuForecaster) -> None:
        """Take the interval calibration (and the fit-side laws it was computed with) of ``selection``, the model
        that chose this one's recipe: a model refit on its validation runs can no longer be calibrated on them."""
        self.interval_scales = dict(selection.interval_scales)
        self.validation_laws = selection.validation_laws

    @contextlib.contextmanager
    def reading_validation_laws(self) -> Iterator[NeuNeuForecaster]:
        """Within the block, the model reads the laws fitted without its validation runs (:attr:`validation_laws`;
        its inference laws when none were recorded), restored afterwards even after an error."""
        laws = self.laws
        self.laws = self.validation_laws if self.validation_laws is not None else laws
        try:
            yield self
        finally:
            self.laws = laws

    def raw_quantiles(self, pairs: Sequence[tuple[Series, Query]]) -> list[np.ndarray]:
        """The model's quantiles (n_targets, 5) per pair, before interval calibration, clipped to [0, 1]. Values
        the input preparation filled in are counted in ``fallbacks``."""
        model = self._require_model().eval()
        device = next(model.parameters()).device
        out: list[np.ndarray] = []
        pairs = list(pairs)
        with torch.no_grad():
            for start in range(0, len(pairs), self.batch_trajectories):
                chunk = pairs[start:start + self.batch_trajectories]
                inputs, fills = inference_batch(chunk, model.config, self.laws)
                self.fallbacks.update({k: v for k, v in fills.items() if v})
                q = model(inputs.to(device)).float().clamp(0.0, 1.0).cpu().numpy().astype(np.float64)
                out += [q[row, :len(query)] for row, (_, query) in enumerate(chunk)]
        return out

    def predict(self, context: Series, query: Query) -> Prediction:
        """Quantiles (n_targets, 5) and median for ``query`` given the observed ``context``."""
        return self.predict_many([(context, query)])[0]

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        """Predictions for many (context, query) pairs, ``batch_trajectories`` per forward pass."""
        pairs = list(pairs)
        self.calls += len(pairs)
        return _predictions(self.raw_quantiles(pairs), self.interval_scales.get(DIRECT, (1.0, 1.0)))

    def _record(self) -> dict:
        record = {"name": self.name, "profile": self.profile,
                  "interval_scales": {k: list(v) for k, v in self.interval_scales.items()}}
        if self.trained_on is not None:
            record["trained_on"] = self.trained_on.to_dict()
        if self.result is not None:
            record["fills"] = self.result.fills
        if self.laws is not None:
            record["laws"] = self.laws.to_dict()
        if self.validation_laws is not None:
            record["validation_laws"] = self.validation_laws.to_dict()
        if self.best_step is not None:
            record["best_step"] = self.best_step
        if self.rehearsed_on is not None:
            record["rehearsal"] = {"fingerprint": self.rehearsed_on.fingerprint,
                                   "n_series": self.rehearsed_on.n_series}
        if self.init_from is not None and self.init_from.trained_on is not None:
            record["pretrained_on"] = {"fingerprint": self.init_from.trained_on.fingerprint,
                                       "n_series": self.init_from.trained_on.n_series}
        return record

    def save(self, directory: Path | str) -> None:
        """Write weights, config, training record and calibration into ``directory``."""
        save_model(self._require_model(), Path(directory),
                   {**self._record(), "train": self.train_config.to_dict()})

    @classmethod
    def load(cls, directory: Path | str, device: str = "cpu") -> NeuNeuForecaster:
        """A forecaster ready to predict from a folder written by :meth:`save` (weights checked by sha256)."""
        model, meta = load_model(Path(directory), device)
        train_config = TrainConfig.from_dict(meta["train"]) if "train" in meta else None
        forecaster = cls(model.config, train_config, name=meta.get("name"), profile=meta.get("profile", "cpu"))
        forecaster.model = model
        forecaster.interval_scales = {k: tuple(v) for k, v in meta.get("interval_scales", {}).items()}
        if "laws" in meta:
            forecaster.laws = TaskLaws.from_dict(meta["laws"])
        if "validation_laws" in meta:
            forecaster.validation_laws = TaskLaws.from_dict(meta["validation_laws"])
        if "trained_on" in meta:
            forecaster.trained_on = TrainingRecord.from_dict(meta["trained_on"])
            forecaster.split = forecaster.trained_on.split
        forecaster.best_step = meta.get("best_step")
        history = Path(directory) / "history.json"
        if forecaster.best_step is None and history.is_file():  # weights saved before the step was recorded
            forecaster.best_step = best_step_of(json.loads(history.read_text()))
        return forecaster

    def _require_model(self) -> NeuNeu:
        if self.model is None:
            raise TrainError(f"{self.name} has no model: call fit() or load() first")
        return self.model


# --------------------------------------------------------------------------------------------- NeuNeu + the law


def law_features(mean_loss: np.ndarray, task: str, paper: PaperLogistic, shift: float = 0.0) -> np.ndarray:
    """(n, 2): log mean loss and the task's law accuracy at it, plus ``shift`` (NaN where no law could be fitted)."""
    loss = np.asarray(mean_loss, dtype=np.float64)
    law, _ = paper.law_for(task)
    accuracy = law(loss)[0] + shift if law is not None else np.full(len(loss), np.nan)
    with np.errstate(all="ignore"):
        return np.stack([np.log(loss), accuracy], axis=1)


def unseen_task_shift(context: Series, paper: PaperLogistic) -> float:
    """How far the law ``paper`` gives ``context``'s task must be shifted to pass through the context's last
    accuracy: 0 for a task of the training side (its own law, or the pool its failed fit fell back to, read the same
    way in training); for a task never seen, the pooled law of its format moved to the run's own level
    (:meth:`PaperLogistic.pooled_shift`), as the parametric inputs read it (:func:`neuneu.parametric.pooled_level`):
    unshifted it carries the pool's level, no task's. 0 where the shift is not finite."""
    law, reason = paper.law_for(context.task)
    if law is None or reason != "unseen_task":  # every training task is in the law's table: only inference gets here
        return 0.0
    try:
        return paper.pooled_shift(law, context)
    except Fallback:
        return 0.0


def with_law(series: Series, paper: PaperLogistic, shift: float = 0.0) -> Series:
    """``series`` with ``losses["law"]`` added (its mean loss must be present), the law moved by ``shift``."""
    return dataclasses.replace(series, losses={**series.losses, LAW_KEY: law_features(series.losses["mean"],
                                                                                      series.task, paper, shift)})


def query_with_law(query: Query, task: str, paper: PaperLogistic, shift: float = 0.0) -> Query:
    """``query`` with the law features of its targets added (loss_given queries carry the targets' mean loss)."""
    if query.losses is None or "mean" not in query.losses:
        return query  # the model raises its own named error for a query without losses
    return dataclasses.replace(query, losses={**query.losses,
                                              LAW_KEY: law_features(query.losses["mean"], task, paper, shift)})


class LawNeuNeu(ForecasterBase):
    """A NeuNeu forecaster with loss input "law" plus the law it reads (``loss_given`` only)."""

    def __init__(self, inner: NeuNeuForecaster, paper: PaperLogistic | None = None) -> None:
        super().__init__()
        self.inner, self.paper = inner, paper
        self.fallbacks = inner.fallbacks  # one tally: the inner model counts the fills

    name = property(lambda self: self.inner.name)
    seed = property(lambda self: self.inner.seed)
    capabilities = property(lambda self: self.inner.capabilities)
    trained_on = property(lambda self: self.inner.trained_on)
    result = property(lambda self: self.inner.result)
    model = property(lambda self: self.inner.model)

    def fit_law(self, train: Sequence[Series]) -> LawNeuNeu:
        """Fit only the law (for weights loaded from disk, which were trained with the law of ``train``)."""
        self.paper = PaperLogistic().fit(train)
        return self

    def fit(self, train: Sequence[Series], validation: Sequence[Series] | None = None, *,
            law_group: Callable[[Series], object] = replica_group) -> LawNeuNeu:
        """Fit the law on ``train`` (never on validation), then train NeuNeu with the law's features (as a loss
        feature: ``law_group``, which cross-fits a parametric model's laws, does not apply)."""
        if validation is None:
            train, validation = validation_by_run(train, seed=self.inner.train_config.seed)
        self.fit_law(train)
        paper = self.fitted_law()
        self.inner.fit([with_law(s, paper) for s in train], [with_law(s, paper) for s in validation])
        return self

    def fitted_law(self) -> PaperLogistic:
        """The fitted pooled law (raises :class:`LawNotFittedError` before ``fit``/``fit_law``)."""
        if self.paper is None:
            raise LawNotFittedError(f"{self.name}: call fit(train) or fit_law(train) before predict")
        return self.paper

    def with_law(self, pairs: Sequence[tuple[Series, Query]]) -> list[tuple[Series, Query]]:
        """The pairs with law features added (a task never seen reads its pooled law through the context's last
        accuracy, :func:`unseen_task_shift`); every law-less value is counted."""
        paper = self.fitted_law()
        out = []
        for context, query in pairs:
            shift = unseen_task_shift(context, paper)
            context, query = with_law(context, paper, shift), query_with_law(query, context.task, paper, shift)
            missing = int(np.isnan(context.losses[LAW_KEY][:, 1]).sum())
            if query.losses is not None and LAW_KEY in query.losses:
                missing += int(np.isnan(query.losses[LAW_KEY][:, 1]).sum())
            if missing:
                self.fallbacks["no_law_value"] += missing
            out.append((context, query))
        return out

    def raw_quantiles(self, pairs: Sequence[tuple[Series, Query]]) -> list[np.ndarray]:
        return self.inner.raw_quantiles(self.with_law(pairs))

    def calibrate(self, held_out: Sequence[Series]) -> Scales:
        """Scaling factors of the direct path on ``held_out``, fed the law features (as the inner model's ``fit``
        calibrates them); stored with the weights."""
        scales = conformal_scales(self.raw_quantiles, held_out, "loss_given")
        self.inner.interval_scales[DIRECT] = scales
        return scales

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        pairs = list(pairs)
        self.calls += len(pairs)
        return _predictions(self.raw_quantiles(pairs), self.inner.interval_scales.get(DIRECT, (1.0, 1.0)))

    def predict(self, context: Series, query: Query) -> Prediction:
        return self.predict_many([(context, query)])[0]

    def save(self, directory: Path | str) -> None:
        """The NeuNeu weights; the law is refitted from the same training series when loading."""
        self.inner.save(directory)


class LawNeuNeuForecast(ForecasterBase):
    """:class:`LawNeuNeu` as a forecaster: the targets' mean losses are extrapolated from the context (two-stage
    stage 1), never read. When the extrapolation fails, the last context loss is held (counted in ``fallbacks``).
    Its intervals are calibrated on this path (:data:`EXTRAPOLATED`), not borrowed from the loss_given model."""

    def __init__(self, given: LawNeuNeu, name: str | None = None) -> None:
        super().__init__()
        self.given = given
        self._name = name or given.name.replace("-given", "")
        self._stage1: TwoStage | None = None  # kept: it caches one loss fit per run, shared by the run's tasks

    name = property(lambda self: self._name)
    seed = property(lambda self: self.given.seed)
    trained_on = property(lambda self: self.given.trained_on)
    result = property(lambda self: None)  # trains nothing of its own: the loss_given model's training counts there
    model = property(lambda self: self.given.model)

    @property
    def capabilities(self) -> Capabilities:
        return dataclasses.replace(self.given.capabilities, setting="forecast", reads_query_losses=False)

    def fit(self, train: Sequence[Series], validation: Sequence[Series] | None = None) -> LawNeuNeuForecast:
        """Train the underlying loss_given model, then calibrate this path on the same validation series."""
        if validation is None:
            train, validation = validation_by_run(train, seed=self.given.inner.train_config.seed)
        self.given.fit(train, validation)
        self.calibrate(validation)
        return self

    def calibrate(self, held_out: Sequence[Series]) -> Scales:
        """Scaling factors of the extrapolated-loss path on ``held_out``, stored with the shared weights."""
        scales = conformal_scales(self.raw_quantiles, held_out, "forecast")
        self.given.inner.interval_scales[EXTRAPOLATED] = scales
        return scales

    @property
    def calibrated(self) -> bool:
        """Whether this path has its own interval calibration."""
        return EXTRAPOLATED in self.given.inner.interval_scales

    def future_losses(self, context: Series, query: Query) -> np.ndarray:
        """The targets' mean losses as forecast from the context alone."""
        paper = self.given.fitted_law()
        if self._stage1 is None or self._stage1.mapping is not paper:
            self._stage1 = TwoStage(mapping=paper)
        try:
            return self._stage1.forecast_loss(context, query)
        except Fallback as why:
            self.fallbacks[why.reason] += 1
            return np.full(len(query), float(np.asarray(context.losses["mean"])[-1]))

    def raw_quantiles(self, pairs: Sequence[tuple[Series, Query]]) -> list[np.ndarray]:
        blind = []
        for context, query in pairs:
            if query.losses is not None:  # the harness never does this; a caller mixing settings would leak
                raise ForecastInputError(f"{self.name} is a forecast method: its query must not carry losses")
            blind.append((context, dataclasses.replace(query, losses={"mean": self.future_losses(context, query)})))
        return self.given.raw_quantiles(blind)

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        scales = self.given.inner.interval_scales.get(EXTRAPOLATED)
        if scales is None:
            raise ForecastInputError(f"{self.name}: this path is not calibrated; call calibrate(validation) first")
        pairs = list(pairs)
        self.calls += len(pairs)
        return _predictions(self.raw_quantiles(pairs), scales)

    def predict(self, context: Series, query: Query) -> Prediction:
        return self.predict_many([(context, query)])[0]

    def save(self, directory: Path | str) -> None:
        """Save the shared weights with both calibrations."""
        self.given.save(directory)



# --------------------------------------------------------------------------------------------- ensembles


class EnsembleForecaster(ForecasterBase):
    """The average of k trained NeuNeu models (their five quantiles averaged level by level, so the result is
    monotone), with its own split-conformal interval calibration on the members' validation runs.

    ``seed`` labels the replicate (which set of member seeds); ``members`` are fitted forecasters (one setting).

    ``fallback`` (a loss_given ensemble only): the forecast ensemble of the same split. A loss_given model reads the
    targets' losses in the units it was trained on; for a series whose loss kind it never saw (BigScience's
    LAMBADA log-perplexity when only OLMo's domain losses trained it) those losses can only be standardised with
    foreign statistics, so such a series is answered by ``fallback`` instead, which does not read them (counted
    as ``unseen_loss_kind_forecast``).
    """

    def __init__(self, members: Sequence[NeuNeuForecaster], *, name: str, seed: int = 0,
                 fallback: EnsembleForecaster | None = None) -> None:
        super().__init__()
        if not members:
            raise TrainError(f"{name}: an ensemble needs at least one member")
        if fallback is not None and (members[0].config.setting, fallback.members[0].config.setting) != (
                "loss_given", "forecast"):
            raise TrainError(f"{name}: only a loss_given ensemble falls back, and only to a forecast ensemble")
        self.members, self._name, self._seed, self.fallback = list(members), name, seed, fallback
        self.interval_scales: dict[str, Scales] = {}

    name = property(lambda self: self._name)
    seed = property(lambda self: self._seed)
    result = property(lambda self: None)

    @property
    def capabilities(self) -> Capabilities:
        return self.members[0].capabilities

    @property
    def trained_on(self) -> TrainingRecord | None:
        """The union of what the members saw (runs and tasks), so the benchmark's check covers every member."""
        models = [*self.members, *(self.fallback.members if self.fallback is not None else [])]
        records = [m.trained_on for m in models if m.trained_on is not None]
        if not records:
            return None
        first = records[0]
        runs = tuple(sorted({r for rec in records for r in rec.runs}))
        tasks = tuple(sorted({t for rec in records for t in rec.tasks}))
        return TrainingRecord(first.split, first.profile, self._seed, runs, tasks,
                              max(rec.n_series for rec in records), first.fingerprint)

    def raw_quantiles(self, pairs: Sequence[tuple[Series, Query]]) -> list[np.ndarray]:
        """The members' calibrated quantiles, averaged per level."""
        pairs = list(pairs)
        answers = [member.predict_many(pairs) for member in self.members]
        out = []
        for i in range(len(pairs)):
            q = np.mean([a[i].quantiles for a in answers], axis=0)
            out.append(np.sort(q, axis=1))
        for member in self.members:
            self.fallbacks.update(member.fallbacks)
            member.fallbacks.clear()
        return out

    @contextlib.contextmanager
    def reading_validation_laws(self) -> Iterator[EnsembleForecaster]:
        """Within the block, the members read the laws fitted without their validation runs — how the ensemble
        must be scored on its own validation side (calibration, :func:`neuneu.bench.validation_benchmark`). The
        fallback's members too."""
        with contextlib.ExitStack() as stack:
            for m in [*self.members, *(self.fallback.members if self.fallback is not None else [])]:
                stack.enter_context(m.reading_validation_laws())
            yield self

    def calibrate(self, held_out: Sequence[Series]) -> Scales:
        """Scaling factors of the averaged quantiles on ``held_out`` (the members' validation side), the members
        reading the laws fitted without those runs, as in their own calibration."""
        with self.reading_validation_laws():
            scales = conformal_scales(self.raw_quantiles, held_out, self.members[0].config.setting)
        self.interval_scales = {DIRECT: scales}
        return scales

    def reads_losses_of(self, series: Series) -> bool:
        """Whether the members were trained on losses of ``series``' kind (they hold its standardisation)."""
        return self.members[0].config.feature_stats(loss_kind(series))[2]

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        pairs = list(pairs)
        self.calls += len(pairs)
        blind = set() if self.fallback is None else {i for i, (s, _) in enumerate(pairs) if not self.reads_losses_of(s)}
        own = [i for i in range(len(pairs)) if i not in blind]
        out: list[Prediction | None] = [None] * len(pairs)
        if own:
            answers = _predictions(self.raw_quantiles([pairs[i] for i in own]),
                                   self.interval_scales.get(DIRECT, (1.0, 1.0)))
            for i, answer in zip(own, answers):
                out[i] = answer
        if blind:
            order, before = sorted(blind), Counter(self.fallback.fallbacks)
            for i, answer in zip(order, self.fallback.predict_many([pairs[i] for i in order])):
                out[i] = answer
            self.fallbacks["unseen_loss_kind_forecast"] += len(order)
            self.fallbacks.update(Counter(self.fallback.fallbacks) - before)  # the twin keeps its own record
        return out

    def predict(self, context: Series, query: Query) -> Prediction:
        return self.predict_many([(context, query)])[0]
