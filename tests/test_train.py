"""Training: loss, schedule, optimiser groups, run split, bitwise repeatability, resume, save/load, Forecaster."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from neuneu.model import NeuNeu
from neuneu.model import config_for as model_config_for
from neuneu.samples import synthetic_series
from neuneu.series import QUANTILES, Query, Series
from neuneu.train import (NeuNeuForecaster, TrainConfig, TrainError, config_for, learning_rate, make_optimizer,
                          pinball_loss, register_cli, split_by_run, train)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def series() -> list[Series]:
    return synthetic_series(n_runs=4, n_tasks=2, n_points=16, seed=2)


def smoke(**overrides) -> TrainConfig:
    return dataclasses.replace(config_for("smoke"), progress=False, **overrides)


def model_smoke(**overrides):
    return dataclasses.replace(model_config_for("smoke"), **overrides)


def anchored_pairs(series: list[Series]) -> list[tuple[Series, Query]]:
    pairs = []
    for s in series:
        c = int(len(s) * 0.2)
        head = dataclasses.replace(s, steps=s.steps[: c + 1], tokens=s.tokens[: c + 1], flops=s.flops[: c + 1],
                                   values=s.values[: c + 1], losses={k: v[: c + 1] for k, v in s.losses.items()})
        pairs.append((head, Query(s.steps[c + 1 :], s.tokens[c + 1 :], s.flops[c + 1 :])))
    return pairs


def test_pinball_loss_values_and_padding() -> None:
    pred = torch.zeros(1, 2, 5)
    target = torch.tensor([[1.0, float("nan")]])  # second target is padding
    assert float(pinball_loss(pred, target, QUANTILES)) == pytest.approx(np.mean(QUANTILES))  # under-prediction: q·e
    below = torch.tensor([[-1.0, float("nan")]])
    assert float(pinball_loss(pred, below, QUANTILES)) == pytest.approx(np.mean([1 - q for q in QUANTILES]))
    rows = torch.tensor([[1.0, 1.0], [-1.0, float("nan")]])
    # per_row: each row's mean first, so the one-target row weighs as much as the two-target row
    assert float(pinball_loss(torch.zeros(2, 2, 5), rows, QUANTILES, per_row=True)) == pytest.approx(0.5)


def test_learning_rate_warms_up_then_decays_by_cosine() -> None:
    cfg = TrainConfig(epochs=1, samples_per_epoch=100 * 10, batch_size=10, lr=1.0, warmup_frac=0.1, min_lr_ratio=0.01)
    assert learning_rate(0, cfg) == pytest.approx(0.1)
    assert learning_rate(10, cfg) == pytest.approx(1.0)
    assert learning_rate(55, cfg) == pytest.approx(0.01 + 0.99 * 0.5)
    assert learning_rate(100, cfg) == pytest.approx(0.01)


def test_no_weight_decay_on_norms_biases_and_learned_vectors() -> None:
    model = NeuNeu(model_smoke())
    decay, no_decay = make_optimizer(model, smoke()).param_groups
    assert decay["weight_decay"] > 0 and no_decay["weight_decay"] == 0
    no_decay_ids = {id(p) for p in no_decay["params"]}
    for name in ("bos", "query_type", "final_norm.weight", "final_norm.bias", "head.bias", "blocks.0.attn.q.bias"):
        assert id(model.get_parameter(name)) in no_decay_ids, name
    assert id(model.get_parameter("blocks.0.attn.q.weight")) not in no_decay_ids


def test_validation_split_is_by_run(series: list[Series]) -> None:
    train_part, val_part = split_by_run(series, val_fraction=0.25, seed=0)
    assert len({s.run for s in val_part}) == 1
    assert not {s.run for s in train_part} & {s.run for s in val_part}
    assert split_by_run(series, 0.25, seed=0) == (train_part, val_part)


def test_training_is_bitwise_repeatable_on_cpu(series: list[Series]) -> None:
    first = train(series, model_smoke(loss_input="hist"), smoke())
    second = train(series, model_smoke(loss_input="hist"), smoke())
    assert first.history == second.history and len(first.history) == 2
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name
    third = train(series, model_smoke(loss_input="hist"), smoke(seed=1))
    assert third.history != first.history  # the seed matters


def test_training_reduces_validation_loss(series: list[Series]) -> None:
    result = train(series, model_smoke(), smoke(epochs=4))
    losses = [h["val_loss"] for h in result.history]
    assert result.best_val_loss == min(losses) < losses[0]
    assert result.val_runs and not set(result.val_runs) & set(result.train_runs)


def test_resume_equals_uninterrupted_run(series: list[Series], tmp_path: Path) -> None:
    cfg, mcfg = smoke(epochs=3), model_smoke(loss_input="mean")
    whole = train(series, mcfg, cfg, out_dir=tmp_path / "whole")
    stopped = train(series, mcfg, cfg, out_dir=tmp_path / "split", stop_after_steps=5)  # mid-epoch 2
    assert not stopped.finished
    resumed = train(series, mcfg, cfg, out_dir=tmp_path / "split", resume=True)
    assert resumed.finished and resumed.history == whole.history
    for file in ("checkpoint/state.safetensors", "model.safetensors"):
        a, b = load_file(str(tmp_path / "whole" / file)), load_file(str(tmp_path / "split" / file))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), file
    state = json.loads((tmp_path / "split" / "checkpoint" / "state.json").read_text())
    assert state["state"]["step"] == cfg.total_steps and state["state"]["epoch"] == 3


def test_resume_with_another_config_is_refused(series: list[Series], tmp_path: Path) -> None:
    train(series, model_smoke(), smoke(), out_dir=tmp_path, stop_after_steps=1)
    with pytest.raises(TrainError, match=r"^cannot resume: the checkpoint's train config has lr=0.002, this run "
                                         r"asks for 0.001$"):
        train(series, model_smoke(), smoke(lr=1e-3), out_dir=tmp_path, resume=True)


def test_forecaster_predicts_save_load_round_trip(series: list[Series], tmp_path: Path) -> None:
    forecaster = NeuNeuForecaster(model_smoke(loss_input="vector"), smoke(), out_dir=tmp_path / "run").fit(series)
    assert (forecaster.name, forecaster.setting) == ("neuneu-vector", "forecast")
    pairs = anchored_pairs(series)
    many = forecaster.predict_many(pairs)
    one = forecaster.predict(*pairs[1])
    assert many[1].quantiles.shape == (len(pairs[1][1]), 5)
    np.testing.assert_allclose(one.quantiles, many[1].quantiles, atol=1e-6)
    for p in many:
        assert np.all(np.diff(p.quantiles, axis=1) >= 0) and np.all((p.quantiles >= 0) & (p.quantiles <= 1))
        np.testing.assert_array_equal(p.median, p.quantiles[:, 2])
    forecaster.save(tmp_path / "saved")
    for directory in ("saved", "run"):  # an explicit save, and the best model written by training
        loaded = NeuNeuForecaster.load(tmp_path / directory)
        assert loaded.model.config == forecaster.model.config and loaded.name == "neuneu-vector"
        for a, b in zip(loaded.predict_many(pairs), many):
            np.testing.assert_array_equal(a.quantiles, b.quantiles)


def test_forecaster_names_settings_and_errors() -> None:
    assert NeuNeuForecaster(model_smoke()).setting == "both"
    given = NeuNeuForecaster(model_smoke(loss_input="hist", setting="loss_given"))
    assert (given.name, given.setting) == ("neuneu-hist-given", "loss_given")
    assert NeuNeuForecaster(model_smoke(time_axis="index")).name == "neuneu-none-index"
    with pytest.raises(TrainError, match=r"^neuneu-none has no model: call fit\(\) or load\(\) first$"):
        NeuNeuForecaster(model_smoke()).predict_many([])


def test_cli_registers_train() -> None:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers())
    args = parser.parse_args(["train", "--profile", "smoke", "--out", "x", "--loss-input", "mean"])
    assert args.func.__name__ == "_cli_train" and (args.loss_input, args.out) == ("mean", Path("x"))


def test_conformal_calibration_reaches_nominal_coverage_on_held_out_runs(tmp_path):
    from neuneu.evaluate import context_end_index, cut_context, make_query

    series = synthetic_series(n_runs=6, n_tasks=3, n_points=16, seed=5)
    held_out = [s for s in series if s.run in ("run4", "run5")]
    forecaster = NeuNeuForecaster(dataclasses.replace(model_config_for("smoke"), loss_input="mean"),
                                  config_for("smoke"), val_series=held_out)
    forecaster.fit([s for s in series if s not in held_out])
    inner, outer = forecaster.interval_scale
    assert inner >= 1.0 and outer >= 1.0
    inside80, inside50, total = 0, 0, 0
    for s in held_out:
        end = context_end_index(len(s))
        targets = np.arange(end + 1, len(s))
        q = forecaster.predict(cut_context(s, end), make_query(s, targets, "forecast")).quantiles
        assert np.all(np.diff(q, axis=1) >= 0)
        y = s.values[targets]
        inside80 += int(np.sum((y >= q[:, 0]) & (y <= q[:, 4])))
        inside50 += int(np.sum((y >= q[:, 1]) & (y <= q[:, 3])))
        total += len(y)
    assert inside80 / total >= 0.8 - 1e-9 and inside50 / total >= 0.5 - 1e-9
    forecaster.save(tmp_path)
    assert NeuNeuForecaster.load(tmp_path).interval_scale == (inner, outer)
