"""The NeuNeu forecaster: protocol, training record, save/load, calibration per input path, and the law variants."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from neuneu.baselines import PaperLogistic
from neuneu.contract import (
    Forecaster,
    ForecastInputError,
    Query,
    Series,
    anchored_question,
    context_end,
)
from neuneu.evaluate import evaluate
from neuneu.forecaster import (
    DIRECT,
    EXTRAPOLATED,
    LAW_KEY,
    LawNeuNeu,
    LawNeuNeuForecast,
    LawNotFittedError,
    NeuNeuForecaster,
    conformal_scales,
    query_with_law,
    widen,
    with_law,
)
from neuneu.model import config_for as model_config_for
from neuneu.samples import synthetic_series
from neuneu.train import TrainError
from neuneu.train import config_for as train_config_for

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def series() -> list[Series]:
    return synthetic_series(n_runs=6, n_tasks=2, n_points=16, seed=5)


def model_smoke(**overrides):
    return dataclasses.replace(model_config_for("smoke"), **overrides)


def smoke(**overrides):
    return dataclasses.replace(train_config_for("smoke"), progress=False, **overrides)


def questions(series: list[Series], setting: str = "forecast") -> list[tuple[Series, Query]]:
    return [anchored_question(s, context_end(s), setting) for s in series]


def test_forecaster_predicts_records_and_round_trips(series: list[Series], tmp_path: Path) -> None:
    train, held = series[:8], series[8:]
    forecaster = NeuNeuForecaster(model_smoke(loss_input="vector"), smoke(), out_dir=tmp_path / "run", split="custom",
                                  profile="smoke").fit(train, held)
    assert isinstance(forecaster, Forecaster)
    assert (forecaster.name, forecaster.capabilities.setting, forecaster.capabilities.kind) == \
        ("neuneu-vector", "forecast", "neuneu")
    record = forecaster.trained_on
    assert (record.split, record.seed, record.n_series) == ("custom", 0, 12)
    assert set(record.runs) == {s.run for s in series}
    pairs = questions(held)
    many = forecaster.predict_many(pairs)
    one = forecaster.predict(*pairs[1])
    np.testing.assert_allclose(one.quantiles, many[1].quantiles, atol=1e-6)
    for p in many:
        assert np.all(np.diff(p.quantiles, axis=1) >= 0) and np.all((p.quantiles >= 0) & (p.quantiles <= 1))
        np.testing.assert_array_equal(p.median, p.quantiles[:, 2])
    forecaster.save(tmp_path / "saved")
    for directory in ("saved", "run"):  # an explicit save, and the folder training wrote
        loaded = NeuNeuForecaster.load(tmp_path / directory)
        assert loaded.model.config == forecaster.model.config and loaded.name == "neuneu-vector"
        assert loaded.trained_on == record and loaded.interval_scales == forecaster.interval_scales
        for a, b in zip(loaded.predict_many(pairs), many):
            np.testing.assert_array_equal(a.quantiles, b.quantiles)
    meta = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert meta["trained_on"]["fingerprint"] == record.fingerprint and meta["profile"] == "smoke"


def test_forecaster_names_settings_and_errors() -> None:
    assert NeuNeuForecaster(model_smoke()).capabilities.setting == "both"
    given = NeuNeuForecaster(model_smoke(loss_input="hist", setting="loss_given"))
    assert (given.name, given.capabilities.setting, given.capabilities.reads_query_losses) == \
        ("neuneu-hist-given", "loss_given", True)
    assert NeuNeuForecaster(model_smoke(time_axis="index")).name == "neuneu-none-index"
    with pytest.raises(TrainError, match=r"^neuneu-none has no model: call fit\(\) or load\(\) first$"):
        NeuNeuForecaster(model_smoke()).predict_many([(series_like(), None)])


def series_like() -> Series:
    return synthetic_series(n_runs=1, n_tasks=1, n_points=6)[0]


def test_nan_loss_features_are_counted_in_fallbacks(series: list[Series]) -> None:
    forecaster = NeuNeuForecaster(model_smoke(loss_input="mean"), smoke()).fit(series[:8], series[8:])
    context, query = questions(series[8:9])[0]
    loss = context.losses["mean"].copy()
    loss[0] = np.nan
    forecaster.predict(dataclasses.replace(context, losses={**context.losses, "mean": loss}), query)
    assert forecaster.fallbacks["nan_loss_feature"] == 1


def cell_coverage(quantiles: list[np.ndarray], truths: list[np.ndarray], lo: int, hi: int) -> float:
    """Mean over trajectories of the share of targets inside [q_lo, q_hi] (the benchmark's cell coverage)."""
    return float(np.mean([np.mean((y >= q[:, lo]) & (y <= q[:, hi])) for q, y in zip(quantiles, truths)]))


def test_conformal_calibration_reaches_nominal_cell_coverage_on_the_validation_runs() -> None:
    series = synthetic_series(n_runs=6, n_tasks=3, n_points=16, seed=5)
    held_out = [s for s in series if s.run in ("run4", "run5")]
    forecaster = NeuNeuForecaster(model_smoke(loss_input="mean"), smoke())
    forecaster.fit([s for s in series if s not in held_out], held_out)
    truths = [s.values[context_end(s) + 1:] for s in held_out]
    q = [p.quantiles for p in forecaster.predict_many(questions(held_out))]
    assert cell_coverage(q, truths, 0, 4) >= 0.8 - 1e-9 and cell_coverage(q, truths, 1, 3) >= 0.5 - 1e-9
    assert forecaster.calibrate(held_out) == forecaster.interval_scales[DIRECT]  # loaded or fitted: same factors


def fixed_raw(width: float, n_targets: list[int]):
    """A raw predictor: median 0.5 and symmetric quantiles at ±width/2 (inner) and ±width (outer)."""
    def raw(pairs):
        assert len(pairs) == len(n_targets)
        return [np.tile([0.5 - width, 0.5 - width / 2, 0.5, 0.5 + width / 2, 0.5 + width], (n, 1)) for n in n_targets]
    return raw


def flat_series(errors: list[float], run: str) -> Series:
    """A series at 0.5 for 3 checkpoints (the context), then at 0.5 + each error."""
    values = np.array([0.5, 0.5, 0.5, *(0.5 + e for e in errors)])
    base = synthetic_series(n_runs=1, n_tasks=1, n_points=len(values))[0]
    return dataclasses.replace(base, run=run, values=values)


def test_conformal_scales_narrow_intervals_that_are_too_wide() -> None:
    held = [flat_series([0.01 * k for k in range(1, 11)], "a")]  # the errors 0.01…0.10, all far inside ±0.5
    end = context_end(held[0])
    inner, outer = conformal_scales(fixed_raw(0.5, [len(held[0]) - end - 1]), held, "forecast")
    # Half the errors lie within 0.05 (a quarter of the inner half-width 0.25), 80% within 0.08 (of 0.5).
    assert (inner, outer) == (pytest.approx(0.2, rel=1e-6), pytest.approx(0.16, rel=1e-6))
    q = widen(np.array([[0.0, 0.25, 0.5, 0.75, 1.0]]), (inner, outer))
    np.testing.assert_allclose(q, [[0.42, 0.45, 0.5, 0.55, 0.58]], atol=1e-6)


def test_conformal_scales_weigh_each_trajectory_equally_however_many_targets() -> None:
    # Two long trajectories on the median and a short one 0.3 off: weighting targets equally, the short one's 5
    # targets are 6% of all and an 80% interval may leave them out; weighting trajectories equally they are a
    # third, so the q10–q90 interval (half-width 0.1) must grow threefold to take them in.
    held = [flat_series([0.0] * 40, "long1"), flat_series([0.0] * 40, "long2"), flat_series([0.3] * 5, "short")]
    sizes = [len(s) - context_end(s) - 1 for s in held]
    inner, outer = conformal_scales(fixed_raw(0.1, sizes), held, "forecast")
    assert outer == pytest.approx(3.0, rel=1e-6) and inner == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------------------------- the law


def test_law_features_are_log_loss_and_the_tasks_law_accuracy(series: list[Series]) -> None:
    paper = PaperLogistic().fit(series)
    s = with_law(series[0], paper)
    mean = np.asarray(series[0].losses["mean"], dtype=float)
    law, _ = paper.law_for(series[0].task)
    assert s.losses[LAW_KEY].shape == (len(mean), 2)
    np.testing.assert_allclose(s.losses[LAW_KEY][:, 0], np.log(mean))
    np.testing.assert_allclose(s.losses[LAW_KEY][:, 1], law(mean)[0])
    assert set(series[0].losses) | {LAW_KEY} == set(s.losses)  # nothing else changes
    blind = Query(series[0].steps[-2:], series[0].tokens[-2:], series[0].flops[-2:], None)
    assert query_with_law(blind, series[0].task, paper) is blind


def test_a_task_never_seen_reads_its_pooled_law_through_the_context_level(series: list[Series]) -> None:
    tasks = sorted({s.task for s in series})
    seen = [s for s in series if s.task == tasks[0]]
    paper = PaperLogistic().fit(seen)
    model = make_law()
    model.paper = paper
    unseen = next(s for s in series if s.task == tasks[1])
    (context, query), = model.with_law([anchored_question(unseen, 8, "loss_given")])
    assert context.losses[LAW_KEY][-1, 1] == pytest.approx(context.values[-1])  # no offset at the context end
    law, reason = paper.law_for(tasks[1])
    assert reason == "unseen_task"
    shift = context.values[-1] - law(np.asarray(context.losses["mean"][-1:]))[0][0]
    np.testing.assert_allclose(query.losses[LAW_KEY][:, 1], law(np.asarray(query.losses["mean"]))[0] + shift)
    baseline = paper.predict(*anchored_question(unseen, 8, "loss_given"))  # the paper-logistic reads it the same way
    np.testing.assert_allclose(query.losses[LAW_KEY][:, 1], baseline.median)
    (own, _), = model.with_law([anchored_question(seen[0], 8, "loss_given")])  # a task of the training side: as is
    np.testing.assert_allclose(own.losses[LAW_KEY], with_law(own, paper).losses[LAW_KEY])


def make_law() -> LawNeuNeu:
    config = model_smoke(loss_input="law", setting="loss_given")
    return LawNeuNeu(NeuNeuForecaster(config, smoke(), name="neuneu-law-given"))


def test_law_model_fits_predicts_and_is_scored_in_loss_given_only(series: list[Series]) -> None:
    with pytest.raises(LawNotFittedError, match=r"^neuneu-law-given: call fit\(train\) or fit_law\(train\) "
                                                r"before predict$"):
        make_law().predict_many([])
    model = make_law().fit(series[:8], series[8:10])
    assert model.capabilities.setting == "loss_given" and model.model.config.loss_dim == 2
    scored = evaluate([model], series[10:], setting="loss_given", reference=False)
    assert set(scored.predictions["method"]) == {"neuneu-law-given"}
    assert np.isfinite(scored.predictions["median"]).all()
    assert evaluate([model], series[10:], setting="forecast", reference=False).predictions.empty


def test_law_forecast_variant_reads_extrapolated_losses_and_has_its_own_calibration(series: list[Series]) -> None:
    given = make_law().fit(series[:8], series[8:10])
    blind = LawNeuNeuForecast(given)
    assert blind.name == "neuneu-law" and blind.capabilities.setting == "forecast"
    with pytest.raises(ForecastInputError, match=r"^neuneu-law: this path is not calibrated; call "
                                                 r"calibrate\(validation\) first$"):
        blind.predict_many(questions(series[10:]))
    blind.calibrate(series[8:10])
    assert set(given.inner.interval_scales) == {DIRECT, EXTRAPOLATED}
    scored = evaluate([blind], series[10:], setting="forecast", reference=False)
    assert np.isfinite(scored.predictions["median"]).all() and blind.calls == len(series[10:])
    context, query = anchored_question(series[10], 5, "forecast")
    future = blind.future_losses(context, query)
    assert future.shape == (10,) and np.all(np.diff(future) <= 1e-12)  # a falling power law, whatever the truth
    with pytest.raises(ForecastInputError, match=r"^neuneu-law is a forecast method: its query must not carry "
                                                 r"losses$"):
        blind.predict(*anchored_question(series[10], 5, "loss_given"))
