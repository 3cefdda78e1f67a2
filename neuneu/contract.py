"""The contract every forecasting method and the evaluation harness share — and nothing else.

This module is the bottom of the package's method stack (the shape statsforecast and chronos-forecasting use: one
interface-only module, model families behind it). It holds:

* the data types: :class:`Series` (one (run, task) accuracy trajectory with its per-checkpoint covariates),
  :class:`Query` (where a method is asked to predict) and :class:`Prediction` (its answer: a median and the five
  quantiles :data:`QUANTILES`);
* the vocabulary of an evaluation: information :data:`SETTINGS`, :data:`MODES` and :data:`CONTEXT_RULES`;
* the :class:`Forecaster` protocol with its declared :class:`Capabilities`, and :class:`ForecasterBase` with the
  plumbing every method shares (a default ``predict_many``, counted fallbacks);
* the input checks (:func:`check_inputs`) and the two operations that decide what a method may see: the context
  cut (:func:`context_end`, :func:`cut_context`) and query building (:func:`make_query`). A query names the
  targets' positions and the run's planned final token count (a run's length is decided before it starts: it sets
  the learning-rate schedule), never a measurement after the context end except, in ``loss_given``, the targets'
  validation losses.

Why the harness, not the method, builds the context and the query: in the ``forecast`` setting ``query.losses`` is
None, so no method can read anything measured after the context end; only in ``loss_given`` does the query carry
the targets' validation losses (the paper's logistic baseline assumes them, paper-spec §9 items 14–15).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Self, Sequence, runtime_checkable

import numpy as np

QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
QUANTILE_COLUMNS: tuple[str, ...] = tuple(f"q{round(100 * q)}" for q in QUANTILES)

SETTINGS: tuple[str, ...] = ("forecast", "loss_given")
"""``forecast``: nothing measured after the context end; ``loss_given``: the targets' validation losses too."""
MODES: tuple[str, ...] = ("anchored", "sequential")
"""``anchored``: all targets from one fixed context (the paper's reported mode); ``sequential``: one step at a
time, the predicted median appended to the context."""
CONTEXT_RULES: tuple[str, ...] = ("index", "compute")
"""Where the context ends: ``index`` is the paper's rule (c = ⌊N · ratio⌋ of the checkpoint count); ``compute``
keeps every checkpoint trained on at most ``ratio`` of the run's final tokens (with log-spaced checkpoints, such as
Pythia's, the index rule keeps only near-untrained models)."""
METHOD_SETTINGS: tuple[str, ...] = (*SETTINGS, "both")
METHOD_KINDS: tuple[str, ...] = ("baseline", "neuneu", "reference")
DEFAULT_CONTEXT_RATIO = 0.2


class SeriesError(ValueError):
    """A trajectory that cannot be used as it is (unsorted steps, NaN accuracy, misaligned covariates…)."""


class ForecastInputError(ValueError):
    """A context/query pair no forecaster may be asked about (empty, NaN, unsorted, query not after context…)."""


class EvaluationError(ValueError):
    """A harness call that cannot be honoured (unknown setting, mode or rule, bad context ratio, bad answer…)."""


class TrainedOnTestError(EvaluationError):
    """A learned model asked to score series it was trained on: its numbers would not be forecasts."""


# --------------------------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Series:
    """One accuracy trajectory ``values[i]`` observed at checkpoint ``steps[i]`` of run ``run`` on task ``task``.

    ``tokens`` and ``flops`` are the training tokens and FLOPs seen at each checkpoint (compute-aware positions,
    the compute context rule, plot axes). ``losses`` maps a loss-feature name to an array whose first axis is
    aligned with ``steps``: ``"mean"`` (n,) is the mean validation loss; optional keys are ``"vector"`` (n, d)
    (e.g. OLMo's 11 domain losses), ``"hist"`` (n, B) (a p = e^-loss histogram) and ``"sample"`` (n, K) (a fixed
    subsample of per-token losses, the CNN input). ``meta`` carries source, family, size_params, recipe, seed,
    compute_multiplier and ``loss_kind`` (which quantity ``losses["mean"]`` measures, so that features are
    standardised per kind and not across units).
    """

    run: str
    task: str
    steps: np.ndarray
    tokens: np.ndarray
    flops: np.ndarray
    values: np.ndarray
    losses: Mapping[str, np.ndarray] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.steps)
        where = f"series {self.run}/{self.task}"
        if n == 0:
            raise SeriesError(f"{where}: empty trajectory")
        if np.any(np.diff(self.steps) <= 0):
            raise SeriesError(f"{where}: steps are not strictly increasing")
        for name in ("tokens", "flops", "values"):
            arr = getattr(self, name)
            if len(arr) != n:
                raise SeriesError(f"{where}: {name} has {len(arr)} entries, steps has {n}")
        if np.any(~np.isfinite(self.values)):
            raise SeriesError(f"{where}: accuracy contains NaN or inf")
        if np.any((self.values < 0) | (self.values > 1)):
            raise SeriesError(f"{where}: accuracy outside [0, 1]")
        for key, arr in self.losses.items():
            if len(arr) != n:
                raise SeriesError(f"{where}: losses[{key!r}] has {len(arr)} rows, steps has {n}")

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def key(self) -> tuple[str, str]:
        """(run, task): the identity of a trajectory in tables and predictions."""
        return (self.run, self.task)


def family_of(series: Series) -> str:
    """The model family of a series' run (``olmo-2-ladder``, ``pythia``, ``bigscience-1b3``, a synthetic ladder,
    a user's ``family`` column; the source when none is given), lower-cased."""
    return str(series.meta.get("family", "")).lower() or str(series.meta.get("source", "")).lower()


MC_SUFFIX = "_mc"  # OLMo's evaluation names a task's multiple-choice-format variant <task>_mc (neuneu.trajectories)
MIN_FORMAT_TASKS = 2  # training tasks of one format needed for a law pooled over that format (else: over all)


def task_format(task: str) -> str:
    """A task's answer format: ``"mc"`` for the multiple-choice format, where the model must emit the answer's
    letter (named ``<dataset>_mc``, as OLMo's evaluation names it), else ``"rc"`` (ranked classification: the
    likelihood of each answer's text). The two behave differently as models grow: an MC-format accuracy sits at
    chance until a model is large enough to emit letters, while an RC accuracy rises steadily as the loss falls."""
    return "mc" if task.lower().endswith(MC_SUFFIX) else "rc"


def format_pools(tasks: Iterable[str]) -> dict[str, list[str]]:
    """The training tasks a law for an unseen task of each format is pooled over: format → its tasks, for the
    formats with at least :data:`MIN_FORMAT_TASKS` tasks, and only when the tasks span more than one format (with
    one, the law over all tasks is that format's). A format missing here reads the law over all tasks."""
    by_format: dict[str, list[str]] = {}
    for task in sorted(set(tasks)):
        by_format.setdefault(task_format(task), []).append(task)
    if len(by_format) < 2:
        return {}
    return {fmt: members for fmt, members in by_format.items() if len(members) >= MIN_FORMAT_TASKS}


@dataclass(frozen=True)
class Query:
    """Where a forecaster is asked to predict: the target checkpoints' positions, the run's planned final token
    count (known when a run starts: it fixes the learning-rate schedule; None when unknown), and — only in the
    ``loss_given`` setting — the targets' validation-loss features (same keys as :attr:`Series.losses`)."""

    steps: np.ndarray
    tokens: np.ndarray
    flops: np.ndarray
    losses: Mapping[str, np.ndarray] | None = None
    final_tokens: float | None = None

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class Prediction:
    """A forecaster's answer for the targets of one query: median (n_targets,), optional quantiles (n_targets, 5)
    at levels :data:`QUANTILES`, monotone along the last axis."""

    median: np.ndarray
    quantiles: np.ndarray | None = None


@dataclass(frozen=True)
class TrainingRecord:
    """What a learned model was trained on — stored with its weights, so a model always knows what it saw.

    ``runs`` and ``tasks`` are every run and task of its training series (validation included); ``fingerprint``
    is a sha256 over the series' identities and numbers, so two models trained on the same data share it.
    """

    split: str | None
    profile: str | None
    seed: int | None
    runs: tuple[str, ...]
    tasks: tuple[str, ...]
    n_series: int
    fingerprint: str

    @classmethod
    def of(cls, series: Iterable[Series], *, split: str | None, profile: str | None,
           seed: int | None) -> TrainingRecord:
        """The record of training on ``series``."""
        series = sorted(series, key=lambda s: s.key)
        digest = hashlib.sha256()
        for s in series:
            digest.update(f"{s.run}\0{s.task}\0".encode())
            for arr in (s.steps, s.values, s.losses.get("mean", ())):
                digest.update(np.ascontiguousarray(arr, dtype=float).tobytes())
        return cls(split, profile, seed, tuple(sorted({s.run for s in series})),
                   tuple(sorted({s.task for s in series})), len(series), digest.hexdigest())

    def saw(self, series: Series) -> bool:
        """Whether ``series`` (its run on its task) can have been among the training series."""
        return series.run in self.runs and series.task in self.tasks

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"split": self.split, "profile": self.profile, "seed": self.seed, "runs": list(self.runs),
                "tasks": list(self.tasks), "n_series": self.n_series, "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(data.get("split"), data.get("profile"), data.get("seed"), tuple(data["runs"]),
                   tuple(data["tasks"]), int(data["n_series"]), str(data["fingerprint"]))


# --------------------------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class Capabilities:
    """What a method declares about itself, so the harness never has to probe it.

    * ``setting`` — "forecast" (reads losses only up to the context end), "loss_given" (needs the targets'
      losses) or "both" (reads no query losses at all, valid in either setting);
    * ``reads_query_losses`` — False promises that answers never depend on ``query.losses``: the harness then
      reuses a "both" method's forecast answers for the loss_given table instead of recomputing them;
    * ``quantiles`` — whether predictions carry the five quantiles (coverage is reported only then);
    * ``learned`` — whether ``fit`` learns from training series (False: ``fit`` is a no-op);
    * ``kind`` — "baseline", "neuneu" (a learned NeuNeu model) or "reference" (not a forecaster: e.g. the noise
      floor, which sees the whole trajectory); tables group and label methods by it.
    """

    setting: str
    reads_query_losses: bool = False
    quantiles: bool = False
    learned: bool = False
    kind: str = "baseline"

    def __post_init__(self) -> None:
        if self.setting not in METHOD_SETTINGS:
            raise EvaluationError(f"unknown method setting {self.setting!r}; expected one of "
                                  f"{', '.join(METHOD_SETTINGS)}")
        if self.kind not in METHOD_KINDS:
            raise EvaluationError(f"unknown method kind {self.kind!r}; expected one of {', '.join(METHOD_KINDS)}")

    def valid_in(self, setting: str) -> bool:
        """Whether the method may be scored in ``setting``."""
        return self.setting in (check_setting(setting), "both")


@runtime_checkable
class Forecaster(Protocol):
    """What the harness needs from a method (NeuNeu and every baseline).

    ``name`` and ``seed`` identify it in tables (``seed`` is None for deterministic methods; replicas of one
    learned method share a name and differ in seed); ``fallbacks`` counts, by reason, every answer that is not
    the method's own (e.g. a failed curve fit answered by the last value); ``calls`` counts answered queries.
    ``trained_on`` is the :class:`TrainingRecord` of a model trained before the harness got it (None for methods
    the harness fits itself on a split's training side), so :func:`check_unseen` can refuse a test it has seen.
    """

    name: str
    seed: int | None
    capabilities: Capabilities
    fallbacks: Counter
    calls: int
    trained_on: TrainingRecord | None

    def fit(self, train: Sequence[Series]) -> Self: ...

    def predict(self, context: Series, query: Query) -> Prediction: ...

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]: ...


class ForecasterBase:
    """Shared plumbing: counters, a ``predict_many`` that answers one pair at a time, a no-op ``fit``.

    Subclasses set ``name`` and ``capabilities`` and implement ``predict``; batched methods override
    ``predict_many``.
    """

    name: str = "forecaster"
    seed: int | None = None
    capabilities: Capabilities = Capabilities(setting="both")
    trained_on: TrainingRecord | None = None

    def __init__(self) -> None:
        self.fallbacks: Counter[str] = Counter()
        self.calls = 0

    def fit(self, train: Sequence[Series]) -> Self:
        """Methods that learn nothing across runs: a no-op."""
        return self

    def predict(self, context: Series, query: Query) -> Prediction:
        raise NotImplementedError

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        """One :meth:`predict` per pair."""
        return [self.predict(context, query) for context, query in pairs]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, setting={self.capabilities.setting!r})"


def check_unseen(method: Forecaster, test: Sequence[Series], split: str) -> None:
    """Raise :class:`TrainedOnTestError` when ``method`` was trained on any series of ``test``."""
    record = method.trained_on
    if record is None:
        return
    seen = [s for s in test if record.saw(s)]
    if seen:
        example = f"{seen[0].run}/{seen[0].task}"
        trained = f"split {record.split!r}" if record.split else "a custom series list"
        raise TrainedOnTestError(
            f"{method.name} (seed {method.seed}) was trained on {len(seen)} of the {len(test)} test series of split "
            f"{split!r} (e.g. {example}); it was trained on {trained}: train it with `neuneu train --split {split}`")


# --------------------------------------------------------------------------------------------- checks


def _check_choice(what: str, name: str, choices: tuple[str, ...]) -> str:
    if name not in choices:
        raise EvaluationError(f"unknown {what} {name!r}; expected one of {', '.join(choices)}")
    return name


def check_setting(name: str) -> str:
    """Return ``name`` if it is an information setting, else raise :class:`EvaluationError`."""
    return _check_choice("setting", name, SETTINGS)


def check_mode(name: str) -> str:
    """Return ``name`` if it is an evaluation mode, else raise :class:`EvaluationError`."""
    return _check_choice("mode", name, MODES)


def check_context_rule(name: str) -> str:
    """Return ``name`` if it is a context rule, else raise :class:`EvaluationError`."""
    return _check_choice("context rule", name, CONTEXT_RULES)


def check_inputs(context: Series, query: Query, *, needs_losses: str | None = None) -> None:
    """Raise :class:`ForecastInputError` unless ``context``/``query`` form a valid forecasting question.

    ``needs_losses`` names a loss key the method reads from ``query.losses`` (loss_given methods only). Works on
    duck-typed objects too, because :class:`Series` already refuses most of these at construction time.
    """
    steps = np.asarray(context.steps)
    values = np.asarray(context.values, dtype=float)
    if len(steps) == 0:
        raise ForecastInputError("context is empty")
    if not np.all(np.isfinite(values)):
        raise ForecastInputError("context accuracy contains NaN or inf")
    if np.any(np.diff(steps) <= 0):
        raise ForecastInputError("context steps are not strictly increasing")
    q_steps = np.asarray(query.steps)
    if len(q_steps) == 0:
        raise ForecastInputError("query is empty")
    if np.any(np.diff(q_steps) <= 0):
        raise ForecastInputError("query steps are not strictly increasing")
    if q_steps[0] <= steps[-1]:
        raise ForecastInputError(f"query step {q_steps[0]} is not after the context end step {steps[-1]}")
    if needs_losses is not None and (query.losses is None or needs_losses not in query.losses):
        raise ForecastInputError(
            f"query.losses[{needs_losses!r}] is needed (setting 'loss_given') but the query has none"
        )


def log_compute_axis(context: Series, query: Query) -> tuple[np.ndarray, np.ndarray] | None:
    """log of the first of flops / tokens / steps that is finite and positive at every context and query point.

    Within one run the three differ only by a constant factor (fixed batch size), so any of them gives the same
    fits in *log* units; flops is preferred because that is the axis the paper plots. None when none works.
    """
    for name in ("flops", "tokens", "steps"):
        c = np.asarray(getattr(context, name), dtype=float)
        q = np.asarray(getattr(query, name), dtype=float)
        if np.all(np.isfinite(c)) and np.all(np.isfinite(q)) and np.all(c > 0) and np.all(q > 0):
            return np.log(c), np.log(q)
    return None


# --------------------------------------------------------------------------------------------- context and query


def check_context_ratio(context_ratio: float) -> float:
    """Return ``context_ratio`` if it is in [0, 1), else raise :class:`EvaluationError`."""
    if not 0.0 <= context_ratio < 1.0:
        raise EvaluationError(f"context_ratio must be in [0, 1), got {context_ratio}")
    return context_ratio


def context_end_index(n_points: int, context_ratio: float = DEFAULT_CONTEXT_RATIO) -> int:
    """The paper's index rule c = ⌊n · ratio⌋ (paper-spec §6): the context is indices 0..c (at least one point)."""
    check_context_ratio(context_ratio)
    return int(math.floor(n_points * context_ratio))


def compute_context_end(tokens: np.ndarray, context_ratio: float = DEFAULT_CONTEXT_RATIO) -> int:
    """The compute rule: the last checkpoint trained on at most ``ratio`` of the final checkpoint's tokens (0 when
    even the first checkpoint is past that share, so the context always holds at least one point)."""
    check_context_ratio(context_ratio)
    tokens = np.asarray(tokens, dtype=float)
    inside = np.flatnonzero(tokens <= context_ratio * tokens[-1])
    return int(inside[-1]) if len(inside) else 0


def context_end(series: Series, context_ratio: float = DEFAULT_CONTEXT_RATIO, rule: str = "index") -> int:
    """The context-end index of ``series`` under ``rule`` (see :data:`CONTEXT_RULES`).

    The compute rule reads training tokens, falling back to steps where tokens are not all positive and finite
    (a user's suite without token counts).
    """
    if check_context_rule(rule) == "index":
        return context_end_index(len(series), context_ratio)
    tokens = np.asarray(series.tokens, dtype=float)
    axis = tokens if np.all(np.isfinite(tokens)) and np.all(tokens > 0) else np.asarray(series.steps, dtype=float)
    return compute_context_end(axis, context_ratio)


def cut_context(series: Series, end: int) -> Series:
    """The series restricted to indices 0..end (inclusive), with copied arrays and copied meta, so no view into
    the full trajectory leaks through ``.base``."""
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
                 flops=np.array(series.flops[idx]), losses=losses, final_tokens=float(np.asarray(series.tokens)[-1]))


def anchored_question(series: Series, end: int, setting: str) -> tuple[Series, Query]:
    """(context 0..end, query of every later checkpoint): the anchored evaluation question for one series."""
    return cut_context(series, end), make_query(series, np.arange(end + 1, len(series)), setting)
