"""NeuNeu reading the pooled law: the law features, the loss_given-only contract, fit/predict, named errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neuneu.baselines import ForecastInputError, PaperLogistic
from neuneu.evaluate import evaluate
from neuneu.hybrid import LAW_KEY, LawNeuNeu, LawNotFittedError, query_with_law, with_law
from neuneu.model import config_for as model_config_for
from neuneu.samples import synthetic_series
from neuneu.train import NeuNeuForecaster
from neuneu.train import config_for as train_config_for

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def series():
    return synthetic_series(n_runs=6, n_tasks=2, n_points=16, seed=5)


def test_law_features_are_log_loss_and_the_tasks_law_accuracy(series) -> None:
    paper = PaperLogistic().fit(series)
    s = with_law(series[0], paper)
    mean = np.asarray(series[0].losses["mean"], dtype=float)
    law, _ = paper.law_for(series[0].task)
    assert s.losses[LAW_KEY].shape == (len(mean), 2)
    np.testing.assert_allclose(s.losses[LAW_KEY][:, 0], np.log(mean))
    np.testing.assert_allclose(s.losses[LAW_KEY][:, 1], law(mean)[0])
    assert set(series[0].losses) | {LAW_KEY} == set(s.losses)  # nothing else changes


def test_forecast_queries_stay_without_losses(series) -> None:
    from neuneu.series import Query

    paper = PaperLogistic().fit(series)
    blind = Query(series[0].steps[-2:], series[0].tokens[-2:], series[0].flops[-2:], None)
    assert query_with_law(blind, series[0].task, paper) is blind


def make(series) -> LawNeuNeu:
    config = dataclasses.replace(model_config_for("smoke"), loss_input="law", setting="loss_given")
    return LawNeuNeu(NeuNeuForecaster(config, train_config_for("smoke"), name="neuneu-law-given"))


def test_fits_predicts_and_is_scored_in_loss_given_only(series) -> None:
    with pytest.raises(LawNotFittedError, match=r"^neuneu-law-given: call fit\(train\) or fit_law\(train\) "
                                                r"before predict$"):
        make(series).predict_many([])
    model = make(series).fit(series[:8])
    assert model.setting == "loss_given" and model.model.config.loss_dim == 2
    scored = evaluate([model], series[8:], setting="loss_given")
    assert set(scored.predictions["method"]) == {"neuneu-law-given"}
    assert np.isfinite(scored.predictions["median"]).all()
    assert evaluate([model], series[8:], setting="forecast").predictions.empty


def test_forecast_variant_reads_extrapolated_losses_never_the_true_ones(series) -> None:
    from neuneu.hybrid import LawNeuNeuForecast

    given = make(series).fit(series[:8])
    blind = LawNeuNeuForecast(given)
    assert blind.name == "neuneu-law" and blind.setting == "forecast"
    scored = evaluate([blind], series[8:], setting="forecast")
    assert np.isfinite(scored.predictions["median"]).all() and blind.calls == len(series[8:])
    # the losses it feeds the model are stage 1's extrapolation, the same whatever the true future holds
    context = dataclasses.replace(series[8], steps=series[8].steps[:6], tokens=series[8].tokens[:6],
                                  flops=series[8].flops[:6], values=series[8].values[:6],
                                  losses={k: v[:6] for k, v in series[8].losses.items()})
    from neuneu.evaluate import make_query

    query = make_query(series[8], np.arange(6, 16), "forecast")
    future = blind.future_losses(context, query)
    assert future.shape == (10,) and np.all(np.diff(future) <= 1e-12)  # a falling power law
    with pytest.raises(ForecastInputError, match=r"^neuneu-law is a forecast method: its query must not carry losses$"):
        blind.predict(context, make_query(series[8], np.arange(6, 16), "loss_given"))
