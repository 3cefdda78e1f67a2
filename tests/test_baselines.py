"""Baselines: each recovers known parameters on synthetic curves, falls back explicitly, rejects bad inputs."""

from types import SimpleNamespace

import numpy as np
import pytest

from neuneu.baselines import (
    BASELINE_CLASSES,
    ETS,
    Baseline,
    LastValue,
    LinearLogCompute,
    PaperLogistic,
    PowerLaw,
    RunLogistic,
    TwoStage,
    default_baselines,
    periods_ahead,
)
from neuneu.contract import (
    QUANTILES,
    Forecaster,
    ForecastInputError,
    Query,
    Series,
    check_inputs,
)
from neuneu.curves import (
    bounded_logistic_curve,
    fit_loss_logistic,
    fit_saturating_power,
    paper_logistic_curve,
    saturating_power_curve,
)

TRUE_LAW = (0.5, -8.0, 1.2, 0.25)  # a, k, L0, b of the paper's loss → accuracy law
TRUE_LOSS_LAW = (2.0, -3.0, 0.3)  # loss = 2 + 3·(C/C0)^−0.3 as (limit, amp, alpha) of saturating_power_curve


def make_series(run, task="hellaswag", n=30, scale=1.0, noise=0.0, seed=0, values=None, loss=None):
    """A run whose loss follows TRUE_LOSS_LAW in compute (shifted by ``scale``) and accuracy TRUE_LAW in loss."""
    steps = np.arange(1, n + 1) * 100
    flops = steps * 1e12 * scale
    z = np.log(flops / flops[0]) + np.log(scale)
    loss = saturating_power_curve(z, *TRUE_LOSS_LAW) if loss is None else loss
    if values is None:
        values = paper_logistic_curve(np.log(loss), *TRUE_LAW)
        values = np.clip(values + np.random.default_rng(seed).normal(0.0, noise, n), 0, 1)
    return Series(run=run, task=task, steps=steps, tokens=steps * 1e6, flops=flops, values=values,
                  losses={"mean": loss}, meta={"source": "synthetic"})


def split_at(series, c, with_losses=False):
    """(context 0..c, query c+1..N−1) built by hand (the harness's job in production)."""
    idx = np.arange(c + 1, len(series))
    ctx = Series(run=series.run, task=series.task, steps=series.steps[: c + 1], tokens=series.tokens[: c + 1],
                 flops=series.flops[: c + 1], values=series.values[: c + 1],
                 losses={k: v[: c + 1] for k, v in series.losses.items()}, meta=series.meta)
    losses = {k: v[idx] for k, v in series.losses.items()} if with_losses else None
    return ctx, Query(steps=series.steps[idx], tokens=series.tokens[idx], flops=series.flops[idx], losses=losses)


def canonical(params):
    """a·σ(k u) + b equals (−a)·σ(−k u) + (a + b): report the form with a > 0."""
    a, k, l0, b = params
    return np.array([a, k, l0, b]) if a > 0 else np.array([-a, -k, l0, a + b])


# --------------------------------------------------------------------------------------------- recovery


def test_paper_logistic_recovers_known_law():
    log_loss = np.log(np.linspace(2.2, 5.0, 200))
    acc = paper_logistic_curve(log_loss, *TRUE_LAW) + np.random.default_rng(0).normal(0, 0.002, 200)
    law = fit_loss_logistic(log_loss, acc)
    np.testing.assert_allclose(canonical(law.params), TRUE_LAW, rtol=0.05, atol=0.02)
    assert np.all(np.diff(law.residual_offsets) >= 0) and law.residual_offsets[2] == 0.0


def test_paper_logistic_predicts_from_true_loss_and_needs_it():
    train = [make_series(f"r{i}", scale=s, noise=0.003, seed=i) for i, s in enumerate((0.5, 1.0, 2.0, 4.0))]
    model = PaperLogistic().fit(train)
    test = make_series("test", scale=8.0)
    ctx, query = split_at(test, 5, with_losses=True)
    pred = model.predict(ctx, query)
    np.testing.assert_allclose(pred.median, test.values[6:], atol=0.01)
    assert pred.quantiles.shape == (len(query), len(QUANTILES))
    assert np.all(np.diff(pred.quantiles, axis=1) >= 0)
    ctx, blind = split_at(test, 5, with_losses=False)
    with pytest.raises(ForecastInputError, match=r"^query.losses\['mean'\] is needed \(setting 'loss_given'\)"):
        model.predict(ctx, blind)


def test_paper_logistic_unseen_task_uses_pooled_law_counted():
    model = PaperLogistic().fit([make_series(f"r{i}", scale=s) for i, s in enumerate((0.5, 1.0, 2.0))])
    ctx, query = split_at(make_series("x", task="brand_new"), 5, with_losses=True)
    pred = model.predict(ctx, query)
    assert np.all(np.isfinite(pred.median))
    assert model.fallbacks == {"unseen_task": 1}


def test_paper_logistic_unseen_task_reads_the_law_pooled_over_its_format():
    """Two MC-format tasks flat at chance beside two rising tasks: an unseen ``_mc`` task gets the flat MC law,
    an unseen plain task the rising one (as NeuNeu's law inputs, neuneu.parametric.TaskLaws)."""
    runs = [make_series(f"r{i}", task=task, scale=s, values=flat)
            for i, s in enumerate((0.5, 1.0, 2.0))
            for task, flat in (("arc_mc", np.full(30, 0.25)), ("boolq_mc", np.full(30, 0.25)),
                               ("hellaswag", None), ("piqa", None))]
    model = PaperLogistic().fit(runs)
    for task, rises in (("csqa_mc", False), ("csqa", True)):
        ctx, query = split_at(make_series("x", task=task), 5, with_losses=True)
        median = model.predict(ctx, query).median
        assert bool(np.ptp(median) > 0.05) is rises, task
    assert model.fallbacks == {"unseen_task": 2}


def test_a_pooled_law_is_shifted_through_the_context_s_last_accuracy():
    """An unseen task 0.2 above the training tasks' law: the pooled law is moved to the run's level, so only the
    change it predicts is used (as NeuNeu's law inputs do); two-stage counts the fallback as its own."""
    model = PaperLogistic().fit([make_series(f"r{i}", scale=s) for i, s in enumerate((0.5, 1.0, 2.0))])
    above = make_series("x", task="brand_new")
    above = Series(run="x", task="brand_new", steps=above.steps, tokens=above.tokens, flops=above.flops,
                   values=above.values + 0.2, losses=above.losses, meta=above.meta)
    ctx, query = split_at(above, 5, with_losses=True)
    np.testing.assert_allclose(model.predict(ctx, query).median, above.values[6:], atol=0.02)
    two_stage = TwoStage(mapping=model)
    ctx, blind = split_at(above, 20)
    pred = two_stage.predict(ctx, blind)
    assert abs(pred.median[0] - above.values[21]) < 0.03
    assert two_stage.fallbacks == {"unseen_task": 1} and model.fallbacks == {"unseen_task": 1}


def test_paper_logistic_must_be_fitted():
    ctx, query = split_at(make_series("x"), 5, with_losses=True)
    with pytest.raises(ForecastInputError, match=r"^paper-logistic: call fit\(train\) before predict$"):
        PaperLogistic().predict(ctx, query)
    with pytest.raises(ForecastInputError, match=r"^paper-logistic: fit needs at least one training series$"):
        PaperLogistic().fit([])


def test_run_logistic_recovers_curve_from_context():
    flops = np.geomspace(1e18, 1e20, 40)
    z = np.log(flops / flops[24])
    values = bounded_logistic_curve(z, 0.25, 0.70, 2.0, -0.5)
    series = Series(run="r", task="t", steps=np.arange(1, 41), tokens=flops / 1e9, flops=flops, values=values,
                    losses={"mean": np.linspace(4, 3, 40)})
    ctx, query = split_at(series, 24)  # the context holds the rise and the bend
    np.testing.assert_allclose(RunLogistic().predict(ctx, query).median, values[25:], atol=0.005)


def test_power_law_recovers_parameters():
    z = np.log(np.geomspace(1.0, 50.0, 12))
    y = saturating_power_curve(z, 0.8, 0.5, 0.5)
    fit = fit_saturating_power(z, y, (0.0, -1.0, 0.0), (1.0, 1.0, 5.0))
    np.testing.assert_allclose(fit.params, [0.8, 0.5, 0.5], atol=1e-3)
    series = make_series("r", values=np.clip(saturating_power_curve(np.log(np.arange(1, 31)), 0.8, 0.5, 0.5), 0, 1))
    ctx, query = split_at(series, 11)
    np.testing.assert_allclose(PowerLaw().predict(ctx, query).median, series.values[12:], atol=2e-3)


def test_two_stage_extrapolates_loss_then_maps_it():
    train = [make_series(f"r{i}", scale=s) for i, s in enumerate((0.5, 1.0, 2.0, 4.0))]
    model = TwoStage().fit(train)
    test = make_series("test", scale=3.0)
    ctx, query = split_at(test, 9)  # forecast setting: the model never sees the future loss
    np.testing.assert_allclose(model.predict(ctx, query).median, test.values[10:], atol=0.01)
    assert model.fallbacks == {}


def test_last_value_and_linear_trend_are_exact():
    flops = np.geomspace(1e18, 1e20, 10)
    values = 0.3 + 0.02 * np.log(flops / flops[0])
    series = Series(run="r", task="t", steps=np.arange(1, 11), tokens=flops, flops=flops, values=values,
                    losses={"mean": np.ones(10)})
    ctx, query = split_at(series, 4)
    np.testing.assert_array_equal(LastValue().predict(ctx, query).median, np.full(5, values[4]))
    np.testing.assert_allclose(LinearLogCompute().predict(ctx, query).median, values[5:], atol=1e-9)


def test_ets_follows_linear_trend_with_ordered_quantiles():
    values = 0.3 + 0.01 * np.arange(20)
    series = make_series("r", n=20, values=values + np.random.default_rng(1).normal(0, 0.001, 20))
    ctx, query = split_at(series, 14)
    pred = ETS().predict(ctx, query)
    np.testing.assert_allclose(pred.median[:3], values[15:18], atol=0.01)
    assert np.all(np.diff(pred.quantiles, axis=1) >= 0)
    np.testing.assert_allclose(pred.quantiles[:, 2], pred.median)


def test_ets_periods_follow_linear_or_log_spacing():
    linear = periods_ahead(np.array([100.0, 200, 300, 400]), np.array([500.0, 800]), 1000)
    assert linear.tolist() == [1, 4]
    doubling = periods_ahead(np.array([1.0, 2, 4, 8, 16]), np.array([32.0, 1024, 143000]), 1000)
    assert doubling.tolist() == [1, 6, 13]  # log2(143000 / 16) ≈ 13.1, not (143000 − 16) / 4 ≈ 35,700
    assert periods_ahead(np.array([1.0, 2, 3]), np.array([10.0**6]), 50).tolist() == [50]


# --------------------------------------------------------------------------------------------- fallbacks


def test_short_contexts_fall_back_to_last_value_and_are_counted():
    ctx, query = split_at(make_series("r", n=10), 1)  # two context points
    for method, reason in ((RunLogistic(), "too_few_points"), (PowerLaw(), "too_few_points"),
                           (ETS(), "too_short"), (TwoStage(), "too_few_points")):
        pred = method.predict(ctx, query)
        np.testing.assert_array_equal(pred.median, np.full(len(query), ctx.values[-1]))
        assert pred.quantiles is None
        assert method.fallbacks == {reason: 1} and method.calls == 1


def test_nan_output_is_never_silent():
    class Broken(Baseline):
        name = "broken"

        def _forecast(self, context, query):
            return np.full(len(query), np.nan), None

    ctx, query = split_at(make_series("r"), 5)
    method = Broken()
    pred = method.predict(ctx, query)
    assert np.all(pred.median == ctx.values[-1])
    assert method.fallbacks == {"nonfinite": 1}


# --------------------------------------------------------------------------------------------- inputs, contracts


def _ns(steps, values=None):
    steps = np.asarray(steps, dtype=float)
    return SimpleNamespace(steps=steps, values=np.zeros(len(steps)) if values is None else np.asarray(values))


@pytest.mark.parametrize(
    ("context", "query", "message"),
    [
        (_ns([]), _ns([5]), r"^context is empty$"),
        (_ns([1, 2], [0.1, np.nan]), _ns([5]), r"^context accuracy contains NaN or inf$"),
        (_ns([2, 1]), _ns([5]), r"^context steps are not strictly increasing$"),
        (_ns([1, 30]), _ns([30, 40]), r"^query step 30.0 is not after the context end step 30.0$"),
        (_ns([1, 2]), _ns([5, 4]), r"^query steps are not strictly increasing$"),
        (_ns([1, 2]), _ns([]), r"^query is empty$"),
    ],
)
def test_bad_inputs_raise_named_errors(context, query, message):
    with pytest.raises(ForecastInputError, match=message):
        check_inputs(context, query)


def test_predict_checks_inputs():
    series = make_series("r")
    ctx, _ = split_at(series, 5)
    early = Query(steps=series.steps[3:6], tokens=series.tokens[3:6], flops=series.flops[3:6])
    with pytest.raises(ForecastInputError, match=r"^query step 400 is not after the context end step 600$"):
        LastValue().predict(ctx, early)


def test_fits_are_deterministic():
    series = make_series("r", noise=0.01, seed=3)
    ctx, query = split_at(series, 9)
    for cls in (RunLogistic, PowerLaw, ETS):
        first, second = cls().predict(ctx, query), cls().predict(ctx, query)
        np.testing.assert_array_equal(first.median, second.median)


def test_registry_names_and_protocol():
    methods = default_baselines()
    names = [m.name for m in methods]
    assert names == ["paper-logistic", "run-logistic", "power-law", "two-stage", "last-value",
                     "linear-logcompute", "ets"]
    assert set(BASELINE_CLASSES) == set(names)
    assert all(isinstance(m, Forecaster) for m in methods)
    assert {m.name for m in methods if "logistic" in m.name} == {"paper-logistic", "run-logistic"}
    assert [m.capabilities.setting for m in methods].count("loss_given") == 1
    assert methods[3].mapping is methods[0]  # two-stage shares the paper law: fitted once
