"""Sample construction: what goes into a context and a target, normalisation, and the named input errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuneu.contract import Query, Series, SeriesError
from neuneu.model import NeuNeuConfig, config_for
from neuneu.samples import (
    NeuNeuInputError,
    anchored_specs,
    collate,
    draw_training_sample,
    inference_batch,
    inference_spec,
    prepare,
    prepare_all,
    synthetic_series,
    thin_context,
    trainable,
    with_feature_stats,
)


@pytest.fixture(scope="module")
def series() -> list[Series]:
    return synthetic_series(n_runs=3, n_tasks=2, n_points=20, seed=1)


def fitted(series: list[Series], **overrides) -> NeuNeuConfig:
    return with_feature_stats(dataclasses.replace(config_for("smoke"), **overrides), series)


def cut(s: Series, end: int) -> tuple[Series, Query]:
    """The context 0..end of ``s`` and a query for every later checkpoint (with their losses)."""
    head = dataclasses.replace(s, steps=s.steps[: end + 1], tokens=s.tokens[: end + 1], flops=s.flops[: end + 1],
                               values=s.values[: end + 1], losses={k: v[: end + 1] for k, v in s.losses.items()})
    tail = Query(s.steps[end + 1 :], s.tokens[end + 1 :], s.flops[end + 1 :],
                 {k: v[end + 1 :] for k, v in s.losses.items()})
    return head, tail


def test_synthetic_series_have_every_loss_feature(series: list[Series]) -> None:
    s = series[0]
    assert {k: v.shape for k, v in s.losses.items()} == {"mean": (20,), "vector": (20, 3), "hist": (20, 8),
                                                         "sample": (20, 64)}
    np.testing.assert_allclose(s.losses["hist"].sum(axis=1), 1.0)
    assert s.values[-1] > s.values[0] and s.losses["mean"][-1] < s.losses["mean"][0]


def test_feature_stats_standardise_the_training_features(series: list[Series]) -> None:
    config = fitted(series, loss_input="vector")
    assert config.loss_dim == 3 and config.feature_kinds == ("*", "synthetic")
    assert len(config.feature_center[0]) == 3
    stacked = np.concatenate([t.features for t in prepare_all(series, config)])  # every series counts
    np.testing.assert_allclose(stacked.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(stacked.std(axis=0), 1.0, atol=1e-4)
    assert len(fitted(series, loss_input="sample").feature_center[0]) == 1  # one scalar for per-token values


def _with_kind(s: Series, kind: str, shift: float = 0.0, task_scale: float = 1.0) -> Series:
    losses = {**s.losses, "mean": s.losses["mean"] * task_scale + shift}
    return dataclasses.replace(s, losses=losses, meta={**s.meta, "loss_kind": kind})


def test_feature_stats_come_from_every_series_not_the_first_task_of_a_run(series: list[Series]) -> None:
    # a task-specific feature (like the "law" accuracy): task0 barely moves, task1 moves a lot
    varied = [_with_kind(s, "synthetic", task_scale=0.01 if s.task == "task0" else 1.0) for s in series]
    config = fitted(varied, loss_input="mean")
    pooled = np.concatenate([s.losses["mean"] for s in varied])
    assert config.feature_center[1][0] == pytest.approx(pooled.mean())
    assert config.feature_scale[1][0] == pytest.approx(pooled.std())


def test_feature_stats_are_kept_per_loss_kind_and_unseen_kinds_use_the_pooled_ones(series: list[Series]) -> None:
    mixed = [_with_kind(s, "ce" if s.run == "run0" else "logppl", shift=0.0 if s.run == "run0" else 10.0)
             for s in series]
    config = fitted(mixed, loss_input="mean")
    assert config.feature_kinds == ("*", "ce", "logppl")
    ce, logppl = (np.concatenate([s.losses["mean"] for s in mixed if s.meta["loss_kind"] == k]) for k in ("ce", "logppl"))
    assert config.feature_center[1][0] == pytest.approx(ce.mean())
    assert config.feature_center[2][0] == pytest.approx(logppl.mean())
    traj = prepare(mixed[0], config)  # standardised with its own kind's statistics
    assert abs(float(traj.features.mean())) < 3 and traj.fills["unseen_loss_kind"] == 0
    unseen = prepare(_with_kind(series[0], "bits"), config)
    assert unseen.fills["unseen_loss_kind"] == 1


def test_nan_loss_features_are_filled_and_counted(series: list[Series]) -> None:
    config = fitted(series, loss_input="mean")
    loss = series[0].losses["mean"].copy()
    loss[[2, 5]] = np.nan
    traj = prepare(dataclasses.replace(series[0], losses={**series[0].losses, "mean": loss}), config)
    assert traj.fills["nan_loss_feature"] == 2 and np.all(np.isfinite(traj.features))
    context, query = cut(series[0], 9)
    query = dataclasses.replace(query, losses={"mean": np.full(len(query), np.nan)})
    _, fills = inference_batch([(context, query)], dataclasses.replace(config, setting="loss_given"))
    assert fills["nan_loss_feature"] == len(query)


def test_training_samples_cover_single_point_contexts_and_the_whole_horizon(series: list[Series]) -> None:
    config = fitted(series)
    trajs = prepare_all(series, config)
    rng = np.random.default_rng(0)
    ends, reach, kept_fraction = [], [], []
    for _ in range(400):
        spec = draw_training_sample(trajs, trainable(trajs), rng, drop_prob=0.4, max_horizon=None,
                                    targets_per_context=3, max_context=16)
        c = spec.context[-1]
        assert spec.context[0] == 0 and np.all(np.diff(spec.context) > 0) and len(spec.context) <= 16
        n = len(trajs[spec.traj])
        assert len(spec.target_axis) == min(3, n - 1 - c)
        np.testing.assert_array_equal(spec.target_axis, np.sort(spec.target_axis))
        assert np.all(spec.target_axis > trajs[spec.traj].axis[c])
        ends.append(c)
        reach.append(np.searchsorted(trajs[spec.traj].axis, spec.target_axis[-1]) - c)
        if c >= 6 and len(spec.context) < 16:
            kept_fraction.append((len(spec.context) - 2) / (c - 1))
    assert min(ends) == 0  # contexts from a single point
    assert max(reach) >= 15  # targets far beyond the paper's 10 checkpoints
    assert abs(np.mean(kept_fraction) - 0.6) < 0.08  # interior dropout 0.4


def test_max_horizon_limits_how_far_targets_go(series: list[Series]) -> None:
    trajs = prepare_all(series, fitted(series, time_axis="index"))
    rng = np.random.default_rng(1)
    for _ in range(100):
        spec = draw_training_sample(trajs, trainable(trajs), rng, drop_prob=0.0, max_horizon=2,
                                    targets_per_context=5, max_context=64)
        assert np.all(spec.target_axis - spec.context[-1] <= 2)
        np.testing.assert_array_equal(spec.context, np.arange(spec.context[-1] + 1))  # no dropout


def test_thin_context_keeps_both_ends() -> None:
    idx = np.arange(30)
    np.testing.assert_array_equal(thin_context(idx, 4), [0, 10, 19, 29])
    random = thin_context(idx, 6, np.random.default_rng(0))
    assert len(random) == 6 and random[0] == 0 and random[-1] == 29 and np.all(np.diff(random) > 0)


def test_anchored_specs_follow_the_evaluation_protocol(series: list[Series]) -> None:
    config = fitted(series)
    specs = anchored_specs(prepare_all(series, config), context_ratio=0.2, max_context=16)
    assert len(specs) == len(series)
    np.testing.assert_array_equal(specs[0].context, np.arange(5))  # ⌊20 · 0.2⌋ = 4 is the context end
    assert len(specs[0].target_axis) == 15


def test_positions_are_log_compute_relative_to_the_context_end(series: list[Series]) -> None:
    config = fitted(series, time_axis="tokens")
    context, query = cut(series[0], 4)
    inputs, _ = inference_batch([(context, query)], config)
    expected_ctx = np.log(context.tokens / context.tokens[-1])
    np.testing.assert_allclose(inputs.ctx_pos[0].numpy(), expected_ctx, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(inputs.query_pos[0].numpy(), np.log(query.tokens / context.tokens[-1]), rtol=1e-6)
    np.testing.assert_allclose(inputs.ctx_value[0, :, 1].numpy(), context.values - context.values[-1], atol=1e-7)
    assert inputs.query_loss is None  # forecast setting: nothing after the context end


def test_index_axis_gives_the_paper_gaps(series: list[Series]) -> None:
    config = fitted(series, time_axis="index")
    context, query = cut(series[0], 4)
    inputs, _ = inference_batch([(context, query)], config)
    np.testing.assert_array_equal(inputs.ctx_pos[0].numpy(), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(inputs.query_pos[0].numpy(), np.arange(1, 16))


def test_loss_given_query_carries_diffhist(series: list[Series]) -> None:
    config = fitted(series, loss_input="hist", setting="loss_given")
    context, query = cut(series[0], 4)
    inputs, _ = inference_batch([(context, query)], config)
    expected = (query.losses["hist"] - context.losses["hist"][-1]) / np.asarray(config.feature_stats("synthetic")[1])
    np.testing.assert_allclose(inputs.query_loss[0].numpy(), np.clip(expected, -10, 10), atol=1e-5)
    np.testing.assert_allclose(inputs.prompt_loss[0].numpy(), inputs.ctx_loss[0, -1].numpy())


def test_relative_losses_ignore_the_absolute_loss_level(series: list[Series]) -> None:
    config = fitted(series, loss_input="mean", setting="loss_given", relative_losses=True)
    context, query = cut(series[0], 6)
    shift = lambda losses: {k: v - 0.2 for k, v in losses.items()}  # noqa: E731  (a "bigger model": lower loss)
    lower = (dataclasses.replace(context, losses=shift(context.losses)),
             dataclasses.replace(query, losses=shift(query.losses)))
    (a, _), (b, _) = inference_batch([(context, query)], config), inference_batch([lower], config)
    for name in ("prompt_loss", "ctx_loss", "query_loss"):
        np.testing.assert_allclose(getattr(a, name).numpy(), getattr(b, name).numpy(), atol=1e-5)
    scale = config.feature_stats("synthetic")[1][0]
    mean = context.losses["mean"]
    np.testing.assert_allclose(a.ctx_loss[0, :, 0].numpy(), (mean - mean[-1]) / scale, atol=1e-5)
    np.testing.assert_allclose(a.prompt_loss[0, 0].item(), (mean[-1] - mean[0]) / scale, atol=1e-5)
    absolute, _ = inference_batch([(context, query)], dataclasses.replace(config, relative_losses=False))
    assert not np.allclose(absolute.prompt_loss.numpy(), a.prompt_loss.numpy())


def test_collate_pads_with_masks(series: list[Series]) -> None:
    config = fitted(series, loss_input="mean")
    trajs = prepare_all(series, config)
    specs = anchored_specs(trajs, 0.2, 16)[:1] + anchored_specs(trajs, 0.5, 16)[:1]
    inputs, target = collate(trajs, specs, config)
    assert inputs.ctx_mask.sum(1).tolist() == [5, 11] and inputs.query_mask.sum(1).tolist() == [15, 9]
    assert target.shape == (2, 15) and np.isnan(target[1, 9:].numpy()).all()


def test_empty_context_raises() -> None:
    with pytest.raises(SeriesError, match=r"empty trajectory"):
        Series("r", "t", np.array([]), np.array([]), np.array([]), np.array([]))
    only_step0 = Series("r", "t", np.array([0]), np.array([0.0]), np.array([0.0]), np.array([0.25]),
                        {"mean": np.array([9.0])})
    with pytest.raises(NeuNeuInputError, match=r"^empty context: series r/t has no checkpoint with positive step "
                                               r"and tokens$"):
        prepare(only_step0, config_for("smoke"))


def test_nan_accuracy_raises(series: list[Series]) -> None:
    broken = dataclasses.replace(series[0], values=series[0].values.copy())
    broken.values[3] = np.nan  # arrays stay writable after Series validated them
    with pytest.raises(NeuNeuInputError, match=r"^NaN accuracy: series run0/task0 has 1 non-finite accuracy "
                                               r"value\(s\)$"):
        prepare(broken, config_for("smoke"))


def test_unsorted_steps_raise(series: list[Series]) -> None:
    broken = dataclasses.replace(series[0], steps=series[0].steps.copy())
    broken.steps[[2, 3]] = broken.steps[[3, 2]]
    with pytest.raises(NeuNeuInputError, match=r"^unsorted steps: series run0/task0 steps are not strictly "
                                               r"increasing$"):
        prepare(broken, config_for("smoke"))


def test_query_before_context_end_raises(series: list[Series]) -> None:
    context, query = cut(series[0], 6)
    early = dataclasses.replace(query, steps=np.concatenate([[context.steps[-1]], query.steps[1:]]))
    with pytest.raises(NeuNeuInputError, match=r"^query before context end: target step 700 is not after context "
                                               r"end step 700 \(series run0/task0\)$"):
        inference_spec(context, early, config_for("smoke"))


def test_missing_losses_raise(series: list[Series]) -> None:
    config = fitted(series, loss_input="hist", setting="loss_given")
    context, query = cut(series[0], 6)
    with pytest.raises(NeuNeuInputError, match=r"^missing query losses: a loss_given model needs "
                                               r"query.losses\['hist'\] \(series run0/task0\)$"):
        inference_spec(context, dataclasses.replace(query, losses=None), config)
    no_hist = dataclasses.replace(context, losses={"mean": context.losses["mean"]})
    with pytest.raises(NeuNeuInputError, match=r"^missing loss features: series run0/task0 has no "
                                               r"losses\['hist'\]$"):
        prepare(no_hist, config)


def test_task_identity_learns_the_task_vocabulary_and_marks_unknown_tasks(series: list[Series]) -> None:
    config = fitted(series, task_identity=True)
    assert config.tasks == tuple(sorted({s.task for s in series}))
    assert fitted(series).tasks == ()  # off by default: the paper gives no task identity
    known = prepare(series[0], config)
    assert known.task_index == config.tasks.index(series[0].task) + 1
    stranger = dataclasses.replace(series[0], task="never-seen")
    assert prepare(stranger, config).task_index == 0
    inputs, _ = collate([known, prepare(stranger, config)],
                        [spec for spec in anchored_specs([known, prepare(stranger, config)], 0.2, 16)], config)
    assert inputs.task.tolist() == [known.task_index, 0]


def test_task_dropout_hides_the_task_and_leaves_other_draws_unchanged(series: list[Series]) -> None:
    config = fitted(series, task_identity=True)
    trajs = prepare_all(series, config)
    kwargs = dict(drop_prob=0.4, max_horizon=None, targets_per_context=3, max_context=16)
    hidden = [draw_training_sample(trajs, trainable(trajs), np.random.default_rng(i), task_drop_prob=1.0, **kwargs)
              for i in range(20)]
    plain = [draw_training_sample(trajs, trainable(trajs), np.random.default_rng(i), **kwargs) for i in range(20)]
    assert not any(s.task_known for s in hidden) and all(s.task_known for s in plain)
    assert all(np.array_equal(a.context, b.context) and a.traj == b.traj for a, b in zip(hidden, plain))
    inputs, _ = collate(trajs, hidden, config)
    assert inputs.task.tolist() == [0] * 20
