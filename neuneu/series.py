"""The unit every forecaster works on: one (run, task) accuracy trajectory with its per-checkpoint covariates.

A :class:`Series` is what the loaders (``neuneu.trajectories`` for the public corpus, ``neuneu.collect`` for the
mini-ladder) hand to the model, the baselines and the evaluation harness. Keeping one small immutable type in the
middle means every method sees exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


class SeriesError(ValueError):
    """A trajectory that cannot be used as it is (unsorted steps, NaN accuracy, misaligned covariates…)."""


@dataclass(frozen=True)
class Series:
    """One accuracy trajectory ``values[i]`` observed at checkpoint ``steps[i]`` of run ``run`` on task ``task``.

    ``tokens`` and ``flops`` are the training tokens and FLOPs seen at each checkpoint (used for compute-aware
    positions and for the x-axis of plots). ``losses`` maps a loss-feature name to an array whose first axis is
    aligned with ``steps``: ``"mean"`` (n,) is the mean validation loss and is always present; optional keys are
    ``"vector"`` (n, d) (e.g. OLMo's 11 domain losses), ``"hist"`` (n, B) (a p = e^-loss histogram) and
    ``"sample"`` (n, K) (a fixed subsample of per-token losses, the CNN input). ``meta`` carries family,
    size_params, recipe, seed, compute_multiplier and source.
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


@dataclass(frozen=True)
class Prediction:
    """A forecaster's answer for the targets of one series: median (n_targets,), optional quantiles (n_targets, 5)
    at levels :data:`QUANTILES`, monotone along the last axis."""

    median: np.ndarray
    quantiles: np.ndarray | None = None


QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class Query:
    """Where a forecaster is asked to predict: the target checkpoints' positions, and — only in the ``loss_given``
    setting — their validation-loss features (same keys as :attr:`Series.losses`). In the ``forecast`` setting
    ``losses`` is None, so no method can read anything measured after the context end."""

    steps: np.ndarray
    tokens: np.ndarray
    flops: np.ndarray
    losses: Mapping[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.steps)
