"""Training: loss, schedule, optimiser groups, bitwise repeatability, resume, weights files and their integrity."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from neuneu.contract import QUANTILES, Series
from neuneu.model import NeuNeu
from neuneu.model import config_for as model_config_for
from neuneu.samples import synthetic_series
from neuneu.train import (
    TrainConfig,
    TrainError,
    WeightsError,
    best_step_of,
    config_for,
    learning_rate,
    load_model,
    make_optimizer,
    pinball_loss,
    save_model,
    train,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def series() -> list[Series]:
    return synthetic_series(n_runs=4, n_tasks=2, n_points=16, seed=2)


def smoke(**overrides) -> TrainConfig:
    return dataclasses.replace(config_for("smoke"), progress=False, **overrides)


def model_smoke(**overrides):
    return dataclasses.replace(model_config_for("smoke"), **overrides)


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


def test_a_truncated_schedule_stops_where_the_whole_run_was_at_that_step(series: list[Series]) -> None:
    cfg, mcfg = smoke(epochs=3), model_smoke(loss_input="mean")
    whole_at_5 = train(series, mcfg, cfg, val_series=[], stop_after_steps=5)  # mid-epoch 2
    truncated = train(series, mcfg, smoke(epochs=3, max_steps=5), val_series=[])
    assert truncated.finished and truncated.history[-1]["step"] == 5 < cfg.total_steps
    assert truncated.history[-1]["lr"] == learning_rate(4, cfg)  # the whole schedule's rates, not a shorter one's
    for (name, a), b in zip(whole_at_5.model.state_dict().items(), truncated.model.state_dict().values()):
        assert torch.equal(a, b), name
    untouched = train(series, mcfg, smoke(max_steps=0), val_series=[], init=whole_at_5.model)
    assert untouched.history == [] and all(torch.equal(a, b) for a, b in zip(
        whole_at_5.model.state_dict().values(), untouched.model.state_dict().values()))


def test_the_best_step_is_the_first_lowest_validation_loss() -> None:
    rows = [{"step": 0, "val_loss": 0.3}, {"step": 5, "val_loss": 0.1}, {"step": 9, "val_loss": 0.1},
            {"step": 12, "val_loss": float("nan")}]
    assert best_step_of(rows) == 5
    assert best_step_of([{"step": 3, "val_loss": float("nan")}]) is None and best_step_of([]) is None


def test_resume_with_another_config_is_refused(series: list[Series], tmp_path: Path) -> None:
    train(series, model_smoke(), smoke(), out_dir=tmp_path, stop_after_steps=1)
    with pytest.raises(TrainError, match=r"^cannot resume: the checkpoint's train config has lr=0.002, this run "
                                         r"asks for 0.001$"):
        train(series, model_smoke(), smoke(lr=1e-3), out_dir=tmp_path, resume=True)


def test_training_records_the_caller_record_and_fills(series: list[Series], tmp_path: Path) -> None:
    result = train(series, model_smoke(loss_input="mean"), smoke(), out_dir=tmp_path, record={"trained_on": "x"})
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["trained_on"] == "x" and meta["weights_sha256"] and result.fills == {}


@pytest.fixture
def saved(series: list[Series], tmp_path: Path) -> Path:
    result = train(series, model_smoke(loss_input="mean"), smoke(epochs=1))
    save_model(result.model, tmp_path)
    return tmp_path


def test_weights_load_and_are_verified_by_sha256(saved: Path) -> None:
    model, meta = load_model(saved)
    assert meta["format"] == "neuneu-model" and model.config.loss_input == "mean"
    weights = saved / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit pattern inside the tensors
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"model\.safetensors does not match the sha256 recorded in .*config\.json "
                                           r"\(damaged or replaced\); retrain or restore it$"):
        load_model(saved)


def test_missing_or_truncated_config_and_truncated_weights_are_named(saved: Path) -> None:
    config = saved / "config.json"
    text = config.read_text()
    config.write_text(text[: len(text) // 2])
    with pytest.raises(WeightsError, match=r"config\.json is not valid JSON \(truncated or damaged\): "):
        load_model(saved)
    config.unlink()
    with pytest.raises(WeightsError, match=r"config\.json is missing: not a NeuNeu weights folder \(train one with "
                                           r"`neuneu train`\)$"):
        load_model(saved)
    config.write_text(text)
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(WeightsError, match=r"model\.safetensors does not match the sha256"):
        load_model(saved)
