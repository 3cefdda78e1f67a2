"""Parametric inputs: the fast fits recover known laws, features are changes from the last value, laws are
cross-fitted out of sample, the untrained parametric model is its anchor, and the prior draws realistic ladders."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
import torch

from neuneu import parametric as P
from neuneu import prior
from neuneu.contract import anchored_question, context_end
from neuneu.curves import paper_logistic_curve, saturating_power_curve
from neuneu.model import NeuNeu
from neuneu.model import config_for as model_config_for
from neuneu.samples import inference_batch, synthetic_series, with_feature_stats

pytestmark = pytest.mark.usefixtures("one_thread")


def test_fit_law_recovers_a_known_law() -> None:
    rng = np.random.default_rng(0)
    loss = np.exp(rng.uniform(0.9, 1.6, 600))
    truth = (0.45, -8.0, 1.25, 0.25)
    acc = paper_logistic_curve(np.log(loss), *truth) + rng.normal(0, 0.003, 600)
    for precise in (False, True):
        laws = P.TaskLaws.fit([synthetic_like(loss, acc)], precise=precise)
        law = laws.for_task("t", "synthetic|synthetic")
        np.testing.assert_allclose(law(loss), paper_logistic_curve(np.log(loss), *truth), atol=0.006)
    assert P.fit_law(np.array([1.0, 2.0]), np.array([0.1, 0.2])) is None


def synthetic_like(loss: np.ndarray, acc: np.ndarray):
    s = synthetic_series(n_runs=1, n_tasks=1, n_points=len(loss))[0]
    return dataclasses.replace(s, task="t", values=np.clip(acc, 0, 1), losses={"mean": loss})


def test_stage1_and_power_law_recover_power_laws() -> None:
    x = np.log(np.linspace(1e9, 2e10, 30))
    loss = saturating_power_curve(x - x[0], 2.0, -1.5, 0.8)  # 2 + 1.5·(C/C0)^−0.8
    future = np.log(np.linspace(2.2e10, 1e11, 5))
    np.testing.assert_allclose(P.extrapolate_loss(x, loss, future),
                               saturating_power_curve(future - x[0], 2.0, -1.5, 0.8), atol=0.01)
    acc = saturating_power_curve(x - x[0], 0.7, 0.3, 0.6)
    np.testing.assert_allclose(P.accuracy_power_law(x, acc, future),
                               saturating_power_curve(future - x[0], 0.7, 0.3, 0.6), atol=0.01)
    assert P.extrapolate_loss(x[:2], loss[:2], future) is None  # too few points
    cache: dict = {}
    P.extrapolate_loss(x, loss, future, cache)
    assert len(cache) == 1 and P.extrapolate_loss(x, loss, future[:2], cache) is not None and len(cache) == 1


def test_target_features_are_changes_from_the_last_value_and_fallbacks_are_counted() -> None:
    s = synthetic_series(n_runs=2, n_tasks=1, n_points=20, seed=1)
    law = P.TaskLaws.fit(s).for_task("task0", "synthetic|synthetic")
    x = P.log_compute(s[0].tokens, s[0].steps)
    f, anchor = P.target_features(x[:6], s[0].values[:6], s[0].losses["mean"][:6], x[6:], s[0].losses["mean"][6:],
                                  law, "loss_given")
    assert f.shape == (14, len(P.LOSS_GIVEN_FEATURES))
    np.testing.assert_allclose(f[:, 0] + s[0].values[5], law(s[0].losses["mean"][6:]), atol=1e-6)
    np.testing.assert_allclose(anchor, law(s[0].losses["mean"][6:]), atol=1e-6)  # loss_given: the law at truth
    fills = Counter()
    f, anchor = P.target_features(x[:2], s[0].values[:2], s[0].losses["mean"][:2], x[2:], None, None, "forecast",
                                  fills)
    assert fills == {"no_law": 1, "power_law_failed": 1}
    np.testing.assert_allclose(anchor, s[0].values[1])  # no law: the anchor is the last value
    np.testing.assert_allclose(f, 0.0)


def test_cross_fitted_laws_never_see_the_series_they_serve() -> None:
    s = synthetic_series(n_runs=6, n_tasks=2, n_points=12, seed=2)
    law_of = P.cross_fitted(s, lambda x: x.run, folds=3)
    full = P.TaskLaws.fit(s).for_task("task0", "synthetic|synthetic")
    own = law_of(s[0])
    assert own is not None and own != full
    spiked = [dataclasses.replace(x, values=np.clip(x.values + (0.3 if x.run == "run0" else 0.0), 0, 1)) for x in s]
    assert P.cross_fitted(spiked, lambda x: x.run, folds=3)(spiked[0]) == own  # run0's own values do not matter


def test_an_untrained_parametric_model_predicts_its_anchor() -> None:
    s = synthetic_series(n_runs=3, n_tasks=2, n_points=16, seed=4)
    laws = P.TaskLaws.fit(s)
    for setting in ("forecast", "loss_given"):
        cfg = with_feature_stats(dataclasses.replace(model_config_for("smoke"), loss_input="mean", setting=setting,
                                                     parametric=True), s)
        model = NeuNeu(cfg).eval()
        pairs = [anchored_question(x, context_end(x), setting) for x in s]
        inputs, _ = inference_batch(pairs, cfg, laws)
        with torch.no_grad():
            q = model(inputs)
        for row, (_, query) in enumerate(pairs):
            np.testing.assert_allclose(q[row, :len(query), 2].numpy(), inputs.anchor[row, :len(query)].numpy(),
                                       atol=1e-6)


def test_the_prior_draws_ladders_in_realistic_ranges() -> None:
    ladder = prior.sample_ladder(seed=0, index=3, config=prior.PriorConfig())
    runs = {s.run for s in ladder}
    assert len(runs) >= 3 and len({s.task for s in ladder}) >= 4
    for s in ladder:
        assert np.all(np.diff(s.steps) > 0) and np.all((s.values >= 0) & (s.values <= 1))
        assert 1.0 < s.losses["mean"][-1] < s.losses["mean"][0] <= prior.MAX_LOSS + 0.1
        assert s.meta["loss_kind"] == "prior" and s.meta["shape"] in prior.TASK_KINDS
    again = prior.sample_ladder(seed=0, index=3, config=prior.PriorConfig())
    assert all(np.array_equal(a.values, b.values) for a, b in zip(ladder, again))  # seeded
    rate = prior.sampling_rate(prior.PriorConfig(n_ladders=3))
    assert rate["series_per_s"] > 100


def test_a_chance_task_of_the_prior_stays_at_chance_across_its_ladder() -> None:
    rng = np.random.default_rng(0)
    tasks = [t for t in (prior._draw_task(rng, "t", (2.5, 3.5)) for _ in range(100)) if t.kind == "chance"]
    assert len(tasks) > 5
    for task in tasks:
        loss = np.linspace(6.0, 2.5, 30)  # down to the ladder's lowest final loss
        clean = task.chance + (task.ceiling - task.chance) * prior.expit(task.slope * (task.midpoint - loss))
        assert clean.max() - task.chance < 0.02
    assert "chance" in prior.TASK_KINDS
    assert sum(prior.TASK_KINDS.values()) == pytest.approx(1.0)


def test_learning_rate_shapes() -> None:
    p = np.array([0.005, 0.5, 0.95, 1.0])
    np.testing.assert_allclose(prior.learning_rate_shape(p, "constant")[1:], 1.0)
    cosine = prior.learning_rate_shape(p, "cosine")
    assert cosine[1] == pytest.approx(0.55) and cosine[-1] == pytest.approx(0.1)
    wsd = prior.learning_rate_shape(p, "wsd", 0.1)
    assert wsd[1] == 1.0 and wsd[2] == pytest.approx(0.5) and wsd[3] == 0.0


def test_laws_are_per_family_and_loss_kind_and_a_family_never_seen_reads_none() -> None:
    s = synthetic_series(n_runs=3, n_tasks=2, n_points=20, seed=2)
    other = [dataclasses.replace(x, meta={**x.meta, "family": "elsewhere"}) for x in s]
    laws = P.TaskLaws.fit(s)
    fills = Counter()
    assert P.law_key(s[0]) == "synthetic|synthetic" and laws.for_series(s[0], fills) is not None
    assert laws.for_series(other[0], fills) is None and fills == Counter(no_family_law=1)
    unseen_task = dataclasses.replace(s[0], task="never-seen")
    assert laws.for_series(unseen_task, fills) == laws.pooled["synthetic|synthetic"]
    assert fills["unseen_task_law"] == 1


def test_a_precise_law_is_fitted_once_per_process_for_the_same_points(monkeypatch) -> None:
    s = synthetic_series(n_runs=3, n_tasks=2, n_points=20, seed=5)
    first = P.TaskLaws.fit(s)
    monkeypatch.setattr(P, "fit_loss_logistic", lambda *a: (_ for _ in ()).throw(AssertionError("fitted again")))
    assert P.TaskLaws.fit(s) == first  # every model of a split reads the same laws: fitted once
    changed = [dataclasses.replace(s[0], values=s[0].values + 0.01), *s[1:]]
    with pytest.raises(AssertionError, match="fitted again"):  # other points, another fit
        P.TaskLaws.fit(changed)


def format_suite() -> list:
    """Two rising ranked-classification tasks and two multiple-choice tasks stuck at chance, on three runs."""
    rng = np.random.default_rng(3)
    out = []
    for run in range(3):
        loss = np.exp(np.linspace(1.6, 0.9, 30) - 0.05 * run)
        for task, values in (("rc_a", 0.3 + 0.5 * (1.6 - np.log(loss))), ("rc_b", 0.2 + 0.6 * (1.6 - np.log(loss))),
                             ("mc_a_mc", np.full(30, 0.25)), ("mc_b_mc", np.full(30, 0.5))):
            s = synthetic_like(loss, values + rng.normal(0, 0.003, 30))
            out.append(dataclasses.replace(s, run=f"r{run}", task=task))
    return out


def test_an_unseen_task_reads_the_law_pooled_over_its_own_format() -> None:
    laws = P.TaskLaws.fit(format_suite(), precise=False)
    kind = "synthetic|synthetic"
    assert sorted(laws.by_format[kind]) == ["mc", "rc"]
    mc, rc = laws.for_task("new_mc", kind), laws.for_task("new", kind)
    assert mc is laws.by_format[kind]["mc"] and rc is laws.by_format[kind]["rc"] and mc.pooled and rc.pooled
    loss = np.exp(np.array([1.5, 0.9]))
    assert abs(np.diff(mc(loss))[0]) < 0.02  # the MC pool stays flat where the loss falls…
    assert np.diff(rc(loss))[0] > 0.2  # …the RC pool rises, and the pool over all four tasks sits between
    assert 0.02 < np.diff(laws.pooled[kind](loss))[0] < np.diff(rc(loss))[0]
    again = P.TaskLaws.from_dict(laws.to_dict())
    assert again.for_task("new_mc", kind) == mc and again.for_task("new_mc", kind).pooled


def test_a_single_format_or_a_lone_task_of_one_keeps_the_law_pooled_over_all_tasks() -> None:
    kind = "synthetic|synthetic"
    rc_only = P.TaskLaws.fit([s for s in format_suite() if not s.task.endswith("_mc")], precise=False)
    assert rc_only.by_format == {} and rc_only.for_task("new_mc", kind) == rc_only.pooled[kind]
    one_mc = P.TaskLaws.fit([s for s in format_suite() if s.task != "mc_b_mc"], precise=False)
    assert "mc" not in one_mc.by_format[kind] and one_mc.for_task("new_mc", kind) == one_mc.pooled[kind]
    data = one_mc.to_dict()
    del data["by_format"]  # weights saved before format pooling
    assert P.TaskLaws.from_dict(data).for_task("new", kind) == one_mc.pooled[kind]


def test_a_pooled_law_forecasts_changes_from_the_last_value() -> None:
    s = synthetic_series(n_runs=2, n_tasks=1, n_points=20, seed=1)[0]
    task_law = P.TaskLaws.fit([s]).for_task("task0", "synthetic|synthetic")
    pooled = dataclasses.replace(task_law, pooled=True)
    x = P.log_compute(s.tokens, s.steps)
    args = (x[:6], s.values[:6], s.losses["mean"][:6], x[6:], s.losses["mean"][6:])
    _, own = P.target_features(*args, task_law, "loss_given")
    _, shifted = P.target_features(*args, pooled, "loss_given")
    end = task_law(s.losses["mean"][5:6])[0]
    np.testing.assert_allclose(shifted, np.clip(own + s.values[5] - end, 0, 1), atol=1e-6)
    assert P.TaskLaws.from_dict(P.TaskLaws.fit([s]).to_dict()).pooled["synthetic|synthetic"].pooled


def test_a_pooled_law_gives_no_offset_at_the_context_end() -> None:
    """A pooled law's level is no task's level (a 2-choice task lies far above a pool of 4-choice ones): every input
    read from it is read from the law shifted through the last value, so ``law_at_context_end`` reads 0, as with no
    law, and the context's residuals end at 0; the task's own law keeps the run's offset in both."""
    s = synthetic_series(n_runs=2, n_tasks=1, n_points=20, seed=1)[0]
    task_law = P.TaskLaws.fit([s]).for_task("task0", "synthetic|synthetic")
    low = dataclasses.replace(task_law, b=task_law.b - 0.3)  # the law below the run
    pooled = dataclasses.replace(low, pooled=True)
    x = P.log_compute(s.tokens, s.steps)
    loss = s.losses["mean"]
    args = (x[:6], s.values[:6], loss[:6], x[6:], loss[6:])
    column = P.FORECAST_FEATURES.index("law_at_context_end")
    offset = low(loss[5:6])[0] - s.values[5]
    assert offset < -0.1 and P.pooled_level(low, loss[:6], s.values[5]) == 0.0
    own, _ = P.target_features(*args, low, "forecast")
    shifted, _ = P.target_features(*args, pooled, "forecast")
    none, _ = P.target_features(*args, None, "forecast")
    np.testing.assert_allclose(own[:, column], offset, atol=1e-6)
    np.testing.assert_allclose(shifted[:, column], none[:, column], atol=1e-6)
    np.testing.assert_allclose(shifted[:, column], 0.0, atol=1e-6)
    tables = {law: P.context_table(*args, float(x[-1]), law, "forecast") for law in (low, pooled)}
    np.testing.assert_allclose(tables[low].residuals, s.values[:6] - low(loss[:6]), atol=1e-6)
    np.testing.assert_allclose(tables[pooled].residuals, tables[low].residuals + offset, atol=1e-6)
    assert abs(tables[pooled].residuals[-1]) < 1e-6
