"""From :class:`~neuneu.contract.Series` to NeuNeu's padded tensors: training samples, validation samples, and
inference inputs for (context, query) pairs.

One sample is a *context* (kept checkpoint indices of one trajectory, the last one being the context end) and one
or more *targets* after it (paper-spec §5, with §9.16's fix):

* contexts start at a single point (c = 0) and targets reach up to ``max_horizon`` checkpoints ahead, or to the
  end of the trajectory when it is None, so training covers the evaluation horizon (context_ratio 0.2, targets to
  the end) instead of the paper's 10 checkpoints;
* interior context points are dropped independently with ``drop_prob`` (the first and last are always kept), so
  the model sees irregular contexts; contexts longer than ``config.max_context`` are thinned the same way.

Normalisation, all stored in :class:`~neuneu.model.NeuNeuConfig` so prediction reproduces training exactly:

* positions: log tokens (or log FLOPs) *relative to the context end*, so a context point sits at ≤ 0 and a target
  at > 0; with ``time_axis="index"`` the paper's raw index gaps instead (ablation);
* accuracy: raw fraction y plus y − y_last;
* loss features: standardised per feature (one scalar for per-token "sample" values) with the mean and std of
  the training series *of the same loss kind* (``meta["loss_kind"]``: OLMo domain cross-entropy and LAMBADA
  log-perplexity are different units; a kind never seen in training uses the statistics pooled over all kinds,
  counted as ``unseen_loss_kind``), clipped to ±10; a missing value (NaN) becomes 0, the training mean, and is
  counted (``nan_loss_feature``) — no fill is silent. In the ``loss_given`` setting a target carries the *change* of its
  features from the context end, e.g. DiffHist = hist(target) − hist(context end). With
  ``config.relative_losses`` the context is relative too: each context point carries f_j − f_end and the soft
  prompt f_end − f_first (the loss drop seen so far), so a model tested on larger models, whose losses fall below
  every training loss, never reads an absolute level it was not trained on.

Checkpoints with no compute (step 0, tokens 0) are dropped everywhere, as in the paper: they have no position on
a log axis.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from neuneu.contract import Query, Series
from neuneu.model import POOLED_KIND, NeuNeuConfig, NeuNeuInputs
from neuneu.parametric import (
    ContextTable,
    Law,
    LawSource,
    TaskLaws,
    context_table,
    n_query_features,
)

FEATURE_CLIP = 10.0  # standardised loss features beyond ±10 σ are outliers, not signal
SCALE_FLOOR = 1e-3  # histogram bins that barely move must not be blown up into noise


class NeuNeuInputError(ValueError):
    """A context or query NeuNeu cannot read (empty, NaN accuracy, unsorted, query not after the context…)."""


@dataclass(frozen=True)
class Trajectory:
    """A Series reduced to what NeuNeu reads: its usable checkpoints, their axis positions and standardised loss
    features. ``axis`` is log tokens / log FLOPs, or the checkpoint index for the "index" ablation."""

    run: str
    task: str
    steps: np.ndarray  # (n,)
    axis: np.ndarray  # (n,) float64
    values: np.ndarray  # (n,) float32 accuracy
    features: np.ndarray | None  # (n, F) float32, or None for loss_input "none"
    task_index: int = 0  # 1 + position of the task in config.tasks; 0 = unknown (or no task identity)
    fills: Counter | None = None  # what preparation had to fill in: nan_loss_feature, unseen_loss_kind, …
    tables: Mapping[int, ContextTable] | None = None  # parametric inputs per context end (parametric models)

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class SampleSpec:
    """Which context points and which targets make one sample of trajectory ``traj`` (an index into a list)."""

    traj: int
    context: np.ndarray  # kept checkpoint indices, increasing; the last one is the context end
    target_axis: np.ndarray  # (T,) target positions on the trajectory's axis (absolute)
    target_features: np.ndarray | None = None  # (T, F) standardised loss features at the targets (loss_given)
    target_values: np.ndarray | None = None  # (T,) true accuracy (training and validation only)
    task_known: bool = True  # False: the model is told "unknown task" (task dropout while training)
    target_param: np.ndarray | None = None  # (T, P) the laws' forecasts and progress (parametric)
    target_anchor: np.ndarray | None = None  # (T,) the law forecast the median corrects (parametric)
    context_param: np.ndarray | None = None  # (m, 1) the context points' residuals from the law (parametric)


# --------------------------------------------------------------------------------------------------------------
# Validation and preparation


def _where(series: Series) -> str:
    return f"series {series.run}/{series.task}"


def check_series(series: Series) -> None:
    """Re-check what NeuNeu relies on. Series validates itself when built, but its numpy arrays stay writable,
    so a trajectory edited afterwards is caught here with a named error."""
    where = _where(series)
    if len(series.steps) == 0:
        raise NeuNeuInputError(f"empty context: {where} has no checkpoint")
    if np.any(np.diff(np.asarray(series.steps, dtype=float)) <= 0):
        raise NeuNeuInputError(f"unsorted steps: {where} steps are not strictly increasing")
    bad = int(np.sum(~np.isfinite(np.asarray(series.values, dtype=float))))
    if bad:
        raise NeuNeuInputError(f"NaN accuracy: {where} has {bad} non-finite accuracy value(s)")


def raw_loss_features(series: Series, loss_input: str) -> np.ndarray:
    """The (n, F) float64 loss features of ``series`` for ``loss_input`` ("mean" becomes one column)."""
    if loss_input not in series.losses:
        raise NeuNeuInputError(f"missing loss features: {_where(series)} has no losses[{loss_input!r}]")
    features = np.asarray(series.losses[loss_input], dtype=np.float64)
    return features.reshape(len(features), -1)


def axis_positions(steps: np.ndarray, tokens: np.ndarray, flops: np.ndarray, time_axis: str) -> np.ndarray:
    """Absolute positions on the configured axis: natural log of tokens or FLOPs; for "index" the checkpoint
    index itself (gaps are computed later). Non-positive compute gives NaN (the caller drops those points)."""
    if time_axis == "index":
        return np.arange(len(steps), dtype=np.float64)
    compute = np.asarray(tokens if time_axis == "tokens" else flops, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(compute > 0, np.log(np.where(compute > 0, compute, 1.0)), np.nan)


def loss_kind(series: Series) -> str:
    """Which quantity the series' losses measure (``meta["loss_kind"]``; "unknown" when not given)."""
    return str(series.meta.get("loss_kind", "unknown"))


def standardise(features: np.ndarray, config: NeuNeuConfig, kind: str, fills: Counter | None = None) -> np.ndarray:
    """Apply the stored centre/scale of loss kind ``kind``, clip to ±FEATURE_CLIP and replace missing values (NaN)
    by 0 = the mean. Every filled value, and a kind with no statistics of its own, is counted in ``fills``."""
    center, scale, known = config.feature_stats(kind)
    if features.shape[-1] != config.loss_dim:
        raise NeuNeuInputError(f"loss feature width {features.shape[-1]} does not match the model's {config.loss_dim}")
    z = np.clip((features - np.asarray(center)) / np.asarray(scale), -FEATURE_CLIP, FEATURE_CLIP)
    missing = int(np.isnan(z).sum())
    if fills is not None:
        fills["nan_loss_feature"] += missing
        fills["unseen_loss_kind"] += int(not known)
    return np.nan_to_num(z, nan=0.0).astype(np.float32)


ContextEnds = Callable[[int], Sequence[int]]  # the context ends to tabulate for n usable checkpoints


def prepare(series: Series, config: NeuNeuConfig, *, law: Law | None = None,
            context_ends: ContextEnds | None = None, cache: dict | None = None) -> Trajectory:
    """Validate ``series`` and keep its usable checkpoints (positive steps and compute), with their axis positions
    and standardised loss features; for a parametric model also the tables of the laws' forecasts (``law``: the
    task's law) at every context end ``context_ends(n)`` names for its n usable checkpoints, every later checkpoint
    a target and the series' last checkpoint the run's end."""
    check_series(series)
    steps = np.asarray(series.steps)
    usable = steps > 0
    if config.time_axis != "index":
        compute = series.tokens if config.time_axis == "tokens" else series.flops
        usable &= np.asarray(compute, dtype=np.float64) > 0
    if not usable.any():
        raise NeuNeuInputError(f"empty context: {_where(series)} has no checkpoint with positive step and "
                               f"{config.time_axis}")
    idx = np.flatnonzero(usable)
    axis = axis_positions(steps[idx], np.asarray(series.tokens)[idx], np.asarray(series.flops)[idx],
                          config.time_axis)
    features, fills = None, Counter()
    if config.uses_losses:
        features = standardise(raw_loss_features(series, config.loss_input)[idx], config, loss_kind(series), fills)
    task_index = config.tasks.index(series.task) + 1 if series.task in config.tasks else 0
    values = np.asarray(series.values, dtype=np.float32)[idx]
    tables = None
    if config.parametric and context_ends is not None:
        loss = _mean_loss(series)
        loss = None if loss is None else loss[idx]
        tables = {}
        for c in context_ends(len(idx)):
            if 0 <= c < len(idx) - 1:
                query_loss = None if loss is None else loss[c + 1:]
                tables[int(c)] = context_table(axis[:c + 1], values[:c + 1].astype(float),
                                               None if loss is None else loss[:c + 1], axis[c + 1:], query_loss,
                                               float(axis[-1]), law, config.setting, fills, cache)
    return Trajectory(series.run, series.task, steps[idx], axis, values, features, task_index, fills, tables)


def _mean_loss(series: Series) -> np.ndarray | None:
    return np.asarray(series.losses["mean"], dtype=np.float64) if "mean" in series.losses else None


def prepare_all(series: Sequence[Series], config: NeuNeuConfig, *, laws: LawSource | None = None,
                context_ends: ContextEnds | None = None) -> list[Trajectory]:
    """:func:`prepare` every series (see its errors); for a parametric model, ``laws`` gives each series its law
    and ``context_ends`` the context ends to tabulate (one stage-1 loss fit is shared by all tasks of a run)."""
    if not config.parametric or laws is None or context_ends is None:
        return [prepare(s, config) for s in series]
    cache: dict = {}
    return [prepare(s, config, law=laws(s), context_ends=context_ends, cache=cache) for s in series]




def training_context_ends(max_context_fraction: float, limit: int | None = None) -> ContextEnds:
    """The context ends a training sample may draw: 0 … ⌊fraction · (n − 1)⌋ (at most n − 2), or ``limit`` of
    them evenly spaced (always including the first and the last) when there are more — the synthetic prior's
    many long trajectories need not tabulate every end."""
    def ends(n: int) -> list[int]:
        last = max(0, min(n - 2, int(max_context_fraction * (n - 1))))
        if limit is None or last + 1 <= limit:
            return list(range(last + 1))
        return sorted(set(np.round(np.linspace(0, last, limit)).astype(int).tolist()))
    return ends


def anchored_context_end(context_ratio: float) -> ContextEnds:
    """The one context end of the evaluation protocol, c = ⌊n · ratio⌋ (validation samples)."""
    return lambda n: [int(np.floor(n * context_ratio))]


# --------------------------------------------------------------------------------------------------------------
# Feature statistics


def with_feature_stats(config: NeuNeuConfig, series: Sequence[Series]) -> NeuNeuConfig:
    """``config`` with ``loss_dim`` and the per-kind feature statistics computed from ``series``.

    Statistics come from every training series (not one per run: features such as the "law" accuracy differ by
    task), separately per loss kind (:func:`loss_kind`), plus :data:`~neuneu.model.POOLED_KIND` over all of them.
    Per-token "sample" values get one scalar mean and std, so the CNN sees the same transform at every position.
    With ``task_identity`` the sorted task names of ``series`` become ``tasks``.
    """
    if config.task_identity:
        config = replace(config, tasks=tuple(sorted({s.task for s in series})))
    if not config.uses_losses:
        return replace(config, loss_dim=0, feature_kinds=(), feature_center=(), feature_scale=())
    by_kind: dict[str, list[np.ndarray]] = {}
    for s in series:
        rows = raw_loss_features(s, config.loss_input)[np.asarray(s.steps) > 0]
        by_kind.setdefault(loss_kind(s), []).append(rows)
    kinds = [POOLED_KIND, *sorted(by_kind)]
    stacks = [np.concatenate([r for rows in by_kind.values() for r in rows], axis=0),
              *(np.concatenate(by_kind[k], axis=0) for k in kinds[1:])]
    centers, scales = zip(*(_center_scale(stack, config.loss_input) for stack in stacks))
    return replace(config, loss_dim=int(stacks[0].shape[1]), feature_kinds=tuple(kinds),
                   feature_center=tuple(centers), feature_scale=tuple(scales))


def _center_scale(stacked: np.ndarray, loss_input: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if loss_input == "sample":
        center, scale = np.array([np.nanmean(stacked)]), np.array([np.nanstd(stacked)])
    else:
        center, scale = np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)
    scale = np.maximum(np.nan_to_num(scale, nan=1.0), SCALE_FLOOR)
    center = np.nan_to_num(center, nan=0.0)
    return tuple(float(c) for c in center), tuple(float(v) for v in scale)


# --------------------------------------------------------------------------------------------------------------
# Choosing samples


def thin_context(indices: np.ndarray, max_len: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """At most ``max_len`` of ``indices``, always keeping the first and last; a random interior subset when ``rng``
    is given (training), evenly spaced otherwise (validation and prediction)."""
    if len(indices) <= max_len:
        return indices
    if rng is None:
        return indices[np.round(np.linspace(0, len(indices) - 1, max_len)).astype(int)]
    chosen = np.sort(rng.choice(indices[1:-1], size=max_len - 2, replace=False))
    return np.concatenate([indices[:1], chosen, indices[-1:]])


def spec_from_indices(traj_index: int, traj: Trajectory, context: np.ndarray, targets: np.ndarray) -> SampleSpec:
    """A sample whose targets are checkpoints ``targets`` of the same trajectory (truth known); a parametric
    trajectory supplies the laws' inputs from the table of the context end."""
    features = None if traj.features is None else traj.features[targets]
    spec = SampleSpec(traj_index, context, traj.axis[targets], features, traj.values[targets])
    if traj.tables is not None:
        c = int(context[-1])
        table = traj.tables[c]
        rows = np.asarray(targets) - c - 1
        spec = replace(spec, target_param=table.features[rows], target_anchor=table.anchor[rows],
                       context_param=table.residuals[np.asarray(context)][:, None])
    return spec


def draw_training_sample(trajs: Sequence[Trajectory], eligible: np.ndarray, rng: np.random.Generator, *,
                         drop_prob: float, max_horizon: int | None, targets_per_context: int,
                         max_context: int, max_context_fraction: float = 1.0,
                         task_drop_prob: float = 0.0) -> SampleSpec:
    """One random training sample: a trajectory (uniform over ``eligible``), a context end c (uniform, from a single
    point up to ``max_context_fraction`` of the trajectory), up to ``targets_per_context`` distinct targets in
    (c, c + max_horizon], and interior context dropout. With probability ``task_drop_prob`` the task is hidden,
    so that a model with task identity also learns to forecast tasks it has never seen."""
    traj_index = int(eligible[rng.integers(len(eligible))])
    n = len(trajs[traj_index])
    c_last = max(0, min(n - 2, int(max_context_fraction * (n - 1))))
    traj = trajs[traj_index]
    if traj.tables is None:
        c = int(rng.integers(c_last + 1))
    else:  # parametric: the tabulated ends (all of 0..c_last unless the table was thinned); the same draw then
        ends = sorted(k for k in traj.tables if k <= c_last)
        c = int(ends[rng.integers(len(ends))])
    horizon_end = n - 1 if max_horizon is None else min(n - 1, c + max_horizon)
    n_targets = min(targets_per_context, horizon_end - c)
    targets = np.sort(c + 1 + rng.choice(horizon_end - c, size=n_targets, replace=False))
    interior = np.arange(1, c)
    kept = interior[rng.random(len(interior)) >= drop_prob]
    context = np.unique(np.concatenate([[0], kept, [c]]))
    spec = spec_from_indices(traj_index, trajs[traj_index], thin_context(context, max_context, rng), targets)
    if task_drop_prob > 0 and rng.random() < task_drop_prob:  # no draw otherwise: older runs stay bitwise equal
        spec = replace(spec, task_known=False)
    return spec


def trainable(trajs: Sequence[Trajectory]) -> np.ndarray:
    """Indices of trajectories with at least two usable checkpoints (one context point and one target)."""
    return np.array([i for i, t in enumerate(trajs) if len(t) >= 2], dtype=np.int64)


def anchored_specs(trajs: Sequence[Trajectory], context_ratio: float, max_context: int) -> list[SampleSpec]:
    """The evaluation protocol as samples: context end c = ⌊n·context_ratio⌋, context 0..c, every later checkpoint
    a target (paper-spec §6). Trajectories too short to have a target are skipped."""
    specs = []
    for i, traj in enumerate(trajs):
        c = int(np.floor(len(traj) * context_ratio))
        if c <= len(traj) - 2:
            context = thin_context(np.arange(c + 1), max_context)
            specs.append(spec_from_indices(i, traj, context, np.arange(c + 1, len(traj))))
    return specs


# --------------------------------------------------------------------------------------------------------------
# Tensors


def _relative_positions(traj: Trajectory, context: np.ndarray, target_axis: np.ndarray,
                        time_axis: str) -> tuple[np.ndarray, np.ndarray]:
    """Context and target positions relative to the context end. Log axes: log-compute differences. "index": the
    paper's forward gaps between kept context points (0 at the end) and the target's index gap."""
    end = traj.axis[context[-1]]
    if time_axis == "index":
        return np.append(np.diff(traj.axis[context]), 0.0), target_axis - end
    return traj.axis[context] - end, target_axis - end


def collate(trajs: Sequence[Trajectory], specs: Sequence[SampleSpec],
            config: NeuNeuConfig) -> tuple[NeuNeuInputs, torch.Tensor | None]:
    """Pad ``specs`` into one :class:`NeuNeuInputs` batch, plus the (B, T) targets (NaN on padding) when every spec
    has ``target_values``."""
    batch, n_ctx = len(specs), max(len(s.context) for s in specs)
    n_tgt = max(max(len(s.target_axis) for s in specs), 1)
    loss_dim = config.loss_dim
    arr = {"ctx_value": np.zeros((batch, n_ctx, 2), np.float32), "ctx_pos": np.zeros((batch, n_ctx), np.float32),
           "ctx_mask": np.zeros((batch, n_ctx), bool), "query_pos": np.zeros((batch, n_tgt), np.float32),
           "query_mask": np.zeros((batch, n_tgt), bool), "last_value": np.zeros(batch, np.float32),
           "task": np.zeros(batch, np.int64)}
    if config.uses_losses:
        arr["prompt_loss"] = np.zeros((batch, loss_dim), np.float32)
        if config.loss_on_context:
            arr["ctx_loss"] = np.zeros((batch, n_ctx, loss_dim), np.float32)
        if config.setting == "loss_given":
            arr["query_loss"] = np.zeros((batch, n_tgt, loss_dim), np.float32)
    if config.parametric:
        arr["query_param"] = np.zeros((batch, n_tgt, n_query_features(config.setting)), np.float32)
        arr["anchor"] = np.zeros((batch, n_tgt), np.float32)
        arr["ctx_param"] = np.zeros((batch, n_ctx, 1), np.float32)
    truth = np.full((batch, n_tgt), np.nan, np.float32)
    for row, spec in enumerate(specs):
        _fill_row(arr, truth, row, trajs[spec.traj], spec, config)
    inputs = NeuNeuInputs(**{k: torch.from_numpy(v) for k, v in arr.items()})
    has_truth = all(s.target_values is not None for s in specs)
    return inputs, torch.from_numpy(truth) if has_truth else None


def _fill_row(arr: dict[str, np.ndarray], truth: np.ndarray, row: int, traj: Trajectory, spec: SampleSpec,
              config: NeuNeuConfig) -> None:
    m, t = len(spec.context), len(spec.target_axis)
    values = traj.values[spec.context]
    ctx_pos, query_pos = _relative_positions(traj, spec.context, spec.target_axis, config.time_axis)
    arr["ctx_value"][row, :m] = np.stack([values, values - values[-1]], axis=1)
    arr["ctx_pos"][row, :m], arr["ctx_mask"][row, :m] = ctx_pos, True
    arr["query_pos"][row, :t], arr["query_mask"][row, :t] = query_pos, True
    arr["last_value"][row] = values[-1]
    arr["task"][row] = traj.task_index if spec.task_known else 0
    if config.uses_losses:
        end_features = traj.features[spec.context[-1]]
        context_features = traj.features[spec.context]
        prompt = end_features
        if config.relative_losses:  # translation-invariant: no absolute loss level the train sizes never reached
            prompt, context_features = end_features - context_features[0], context_features - end_features
        arr["prompt_loss"][row] = prompt
        if "ctx_loss" in arr:
            arr["ctx_loss"][row, :m] = context_features
        if "query_loss" in arr:
            arr["query_loss"][row, :t] = spec.target_features - end_features
    if config.parametric:
        if spec.target_param is None:
            raise NeuNeuInputError(f"a parametric model needs the laws' inputs, but the sample of "
                                   f"{traj.run}/{traj.task} has none (prepare it with a law)")
        arr["query_param"][row, :t] = spec.target_param
        arr["anchor"][row, :t] = spec.target_anchor
        arr["ctx_param"][row, :m] = spec.context_param
    if spec.target_values is not None:
        truth[row, :t] = spec.target_values


# --------------------------------------------------------------------------------------------------------------
# Inference


def inference_spec(context: Series, query: Query, config: NeuNeuConfig, traj_index: int = 0, *,
                   law: Law | None = None, cache: dict | None = None) -> tuple[Trajectory, SampleSpec]:
    """The trajectory and sample for predicting ``query`` from all of ``context`` (thinned to max_context); the
    trajectory's ``fills`` also count what the query's features needed. A parametric model also gets the laws'
    forecasts for the query (``law``: the task's law; the run's end is the query's planned final token count, or
    its last target)."""
    traj = prepare(context, config)
    steps = np.asarray(query.steps, dtype=np.float64)
    context_end = float(traj.steps[-1])
    if len(steps) and np.any(~(steps > context_end)):
        first = steps[~(steps > context_end)][0]
        raise NeuNeuInputError(f"query before context end: target step {first:g} is not after context end step "
                               f"{context_end:g} ({_where(context)})")
    target_axis = _query_axis(traj, query, config)
    features = None
    if config.uses_losses and config.setting == "loss_given":
        if query.losses is None or config.loss_input not in query.losses:
            raise NeuNeuInputError(f"missing query losses: a loss_given model needs query.losses"
                                   f"[{config.loss_input!r}] ({_where(context)})")
        raw = np.asarray(query.losses[config.loss_input], dtype=np.float64).reshape(len(steps), -1)
        query_fills = Counter()
        features = standardise(raw, config, loss_kind(context), query_fills)
        traj.fills["nan_loss_feature"] += query_fills["nan_loss_feature"]
    spec = SampleSpec(traj_index, thin_context(np.arange(len(traj)), config.max_context), target_axis, features)
    if config.parametric:
        spec = _with_parametric(spec, traj, context, query, config, law, cache)
    return traj, spec


def _with_parametric(spec: SampleSpec, traj: Trajectory, context: Series, query: Query, config: NeuNeuConfig,
                     law: Law | None, cache: dict | None) -> SampleSpec:
    loss = _mean_loss(context)
    usable = np.isin(np.asarray(context.steps), traj.steps)
    loss = None if loss is None else loss[usable]
    query_loss = None
    if config.setting == "loss_given" and query.losses is not None and "mean" in query.losses:
        query_loss = np.asarray(query.losses["mean"], dtype=np.float64)
    final_x = float(spec.target_axis[-1])
    if query.final_tokens is not None and config.time_axis == "tokens" and query.final_tokens > 0:
        final_x = max(final_x, float(np.log(query.final_tokens)))
    table = context_table(traj.axis, traj.values.astype(float), loss, spec.target_axis, query_loss, final_x, law,
                          config.setting, traj.fills, cache)
    return replace(spec, target_param=table.features, target_anchor=table.anchor,
                   context_param=table.residuals[spec.context][:, None])


def _query_axis(traj: Trajectory, query: Query, config: NeuNeuConfig) -> np.ndarray:
    """Target positions on the model's axis. For "index", the query's step distance from the context end in units
    of the context's median checkpoint spacing (exact for evenly spaced checkpoints, as the paper assumes)."""
    steps = np.asarray(query.steps, dtype=np.float64)
    if config.time_axis == "index":
        spacing = np.median(np.diff(traj.steps)) if len(traj) > 1 else float(traj.steps[-1])
        return traj.axis[-1] + (steps - float(traj.steps[-1])) / spacing
    compute = np.asarray(query.tokens if config.time_axis == "tokens" else query.flops, dtype=np.float64)
    if np.any(~(compute > 0)):
        raise NeuNeuInputError(f"query {config.time_axis} must be positive and finite")
    return np.log(compute)


def inference_batch(pairs: Iterable[tuple[Series, Query]], config: NeuNeuConfig,
                    laws: TaskLaws | None = None) -> tuple[NeuNeuInputs, Counter]:
    """One padded batch answering every (context, query) pair (B = number of pairs, T = their most targets), and
    the count of every value preparation had to fill in (see :func:`standardise`). A parametric model needs the
    ``laws`` it was trained with."""
    trajs, specs, fills, cache = [], [], Counter(), {}
    if config.parametric and laws is None:
        raise NeuNeuInputError("a parametric model needs its laws (TaskLaws) to prepare inputs")
    for i, (context, query) in enumerate(pairs):
        law = laws.for_series(context, fills) if config.parametric else None
        traj, spec = inference_spec(context, query, config, traj_index=i, law=law, cache=cache)
        trajs.append(traj)
        specs.append(spec)
        fills.update(traj.fills or {})
    return collate(trajs, specs, config)[0], fills


# --------------------------------------------------------------------------------------------------------------
# Synthetic fixtures


def synthetic_series(n_runs: int = 4, n_tasks: int = 3, n_points: int = 24, *, seed: int = 0,
                     hist_bins: int = 8, sample_size: int = 64, vector_dim: int = 3) -> list[Series]:
    """Small fake trajectories for tests, CI and demos: sigmoid-shaped accuracy in log-compute, exponentially
    decaying losses, and every loss feature ("mean", "vector", "hist", "sample") consistent with them.

    Run r trains a model of relative size 2^r; each task has its own chance level, ceiling and midpoint.
    """
    rng = np.random.default_rng(seed)
    token_difficulty = -np.log1p(-rng.random(sample_size) * 0.999)  # fixed validation tokens, reused by all runs
    out = []
    for r in range(n_runs):
        size = 2.0**r
        steps = np.arange(1, n_points + 1) * 100
        tokens = steps * 4096.0
        flops = 6.0 * size * 1e6 * tokens
        mean_loss = 2.5 + 3.0 / size**0.3 * np.exp(-tokens / (tokens[-1] / 3)) + rng.normal(0, 0.01, n_points)
        losses = _synthetic_losses(mean_loss, token_difficulty, hist_bins, vector_dim, rng)
        for k in range(n_tasks):
            chance, ceiling = 0.25 * (k % 2), 0.6 + 0.1 * k
            mid = np.log(tokens[n_points // 2]) - 0.3 * r + 0.2 * k
            acc = chance + (ceiling - chance) / (1 + np.exp(-2.0 * (np.log(tokens) - mid)))
            acc = np.clip(acc + rng.normal(0, 0.01, n_points), 0.0, 1.0)
            meta = {"family": "synthetic", "size_params": size * 1e6, "source": "synthetic", "loss_kind": "synthetic"}
            out.append(Series(f"run{r}", f"task{k}", steps, tokens, flops, acc, losses, meta))
    return out


def _synthetic_losses(mean_loss: np.ndarray, difficulty: np.ndarray, bins: int, vector_dim: int,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
    per_token = mean_loss[:, None] * difficulty[None, :] / difficulty.mean()
    p = np.exp(-per_token)
    hist = np.stack([np.histogram(row, bins=bins, range=(0.0, 1.0))[0] for row in p]) / p.shape[1]
    offsets = rng.normal(0, 0.2, vector_dim)
    vector = mean_loss[:, None] + offsets[None, :]
    return {"mean": mean_loss, "vector": vector, "hist": hist, "sample": per_token}
