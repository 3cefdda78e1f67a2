"""The harness: same targets for every method, settings kept apart, no leaks, splits disjoint, named errors."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from neuneu import evaluate as ev
from neuneu.baselines import LastValue, LinearLogCompute, PaperLogistic, default_baselines
from neuneu.evaluate import EvaluationError, SplitError
from neuneu.series import Prediction, Series


def curve_series(run, task="hellaswag", n=12, size=1e8, mult=1.0, source="olmo-ladder", family="olmo-2-ladder",
                 recipe="dolma", seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1) * 100
    loss = 2.0 + 25.0 * (steps * size / 1e8) ** -0.5 + rng.normal(0, 0.01, n)
    values = np.clip(0.25 + 0.4 / (1 + np.exp(12 * (np.log(loss) - 1.15))) + rng.normal(0, 0.005, n), 0, 1)
    return Series(run=run, task=task, steps=steps, tokens=steps * 1e6, flops=steps * 6e6 * size, values=values,
                  losses={"mean": loss, "vector": np.stack([loss, loss + 0.1], axis=1)},
                  meta={"source": source, "family": family, "size_params": size, "compute_multiplier": mult,
                        "recipe": recipe})


class Spy:
    """A forecaster that records what the harness shows it and predicts a constant (or the last value)."""

    def __init__(self, name="spy", setting="both", constant=None):
        self.name, self.setting, self.constant = name, setting, constant
        self.seen = []

    def fit(self, train):
        return self

    def predict(self, context, query):
        self.seen.append((context, query))
        value = context.values[-1] if self.constant is None else self.constant
        return Prediction(median=np.full(len(query), value))


# --------------------------------------------------------------------------------------------- information


def test_forecast_setting_hides_future_losses():
    series = curve_series("r", n=20)
    spy = Spy()
    ev.evaluate([spy], [series], setting="forecast")
    (context, query), = spy.seen
    c = ev.context_end_index(20)  # ⌊20 · 0.2⌋ = 4 → context of 5 points
    assert c == 4 and len(context) == 5 and len(query) == 15
    assert query.losses is None  # a method that reads query.losses gets None
    assert {k: len(v) for k, v in context.losses.items()} == {"mean": 5, "vector": 5}
    assert context.values.base is None and context.losses["mean"].base is None  # copies: no view of the future


def test_loss_given_setting_reveals_target_losses_only():
    series = curve_series("r", n=20)
    spy = Spy()
    ev.evaluate([spy], [series], setting="loss_given")
    (context, query), = spy.seen
    np.testing.assert_array_equal(query.losses["mean"], series.losses["mean"][5:])
    np.testing.assert_array_equal(query.losses["vector"], series.losses["vector"][5:])
    assert len(context.values) == 5


def test_methods_are_filtered_by_setting():
    paper, spy = PaperLogistic(), Spy(setting="forecast")
    assert [m.name for m in ev.methods_for([paper, spy, LastValue()], "forecast")] == ["spy", "last-value"]
    assert [m.name for m in ev.methods_for([paper, spy], "loss_given")] == ["paper-logistic"]


def test_sequential_mode_appends_predicted_median():
    series = curve_series("r", n=10)
    spy = Spy(constant=0.9)
    result = ev.evaluate([spy], [series], setting="forecast", mode="sequential")
    assert [len(ctx) for ctx, _ in spy.seen] == list(range(3, 10))  # c = 2, then one more point per target
    last_ctx, last_query = spy.seen[-1]
    np.testing.assert_array_equal(last_ctx.values[3:], 0.9)  # predicted medians, not the truth
    np.testing.assert_array_equal(last_ctx.losses["mean"][3:], series.losses["mean"][2])  # last known loss
    assert last_query.losses is None and len(last_query) == 1
    assert result.predictions["horizon"].tolist() == list(range(1, 8))


# --------------------------------------------------------------------------------------------- same targets


def test_all_methods_scored_on_identical_targets():
    train = [curve_series(f"tr{i}", task=t, size=1e8 * (i + 1), seed=i) for i in range(2) for t in ("a", "b")]
    test = [curve_series(f"te{i}", task=t, size=1e9, seed=10 + i) for i in range(2) for t in ("a", "b")]
    test.append(curve_series("tiny", n=1))  # no target possible: skipped for everyone
    methods = default_baselines()
    for m in methods:
        m.fit(train)
    for setting in ev.SETTINGS:
        result = ev.evaluate(methods, test, setting=setting)
        targets = {name: set(g[["run", "task", "target_idx"]].itertuples(index=False, name=None))
                   for name, g in result.predictions.groupby("method")}
        assert len(targets) == (7 if setting == "loss_given" else 6)
        assert len({frozenset(t) for t in targets.values()}) == 1
        assert result.skipped == {"too_few_points": 1}
        assert np.all(np.isfinite(result.predictions["median"]))
        assert list(result.predictions.columns) == list(ev.PREDICTION_COLUMNS)


def test_benchmark_reuses_forecast_rows_for_loss_free_methods():
    series = [curve_series(f"s{i}", size=s, seed=i) for i, s in enumerate((1e8, 2e8, 1e9, 2e9))]
    bench = ev.run_benchmark([PaperLogistic(), LinearLogCompute()], series, splits=["heldout-sizes"])
    p = bench.predictions
    lin = {s: p[(p.method == "linear-logcompute") & (p.setting == s)].reset_index(drop=True) for s in ev.SETTINGS}
    pd.testing.assert_frame_equal(lin["forecast"].drop(columns="setting"), lin["loss_given"].drop(columns="setting"))
    assert set(p[p.setting == "forecast"].method) == {"linear-logcompute"}
    summary = bench.summary
    assert set(summary.method) == {"paper-logistic", "linear-logcompute"}
    assert (summary.n_targets == 2 * 9).all()  # two 1B+ runs × (12 − 3) targets


# --------------------------------------------------------------------------------------------- summaries


def _hand_predictions():
    """Two cells of method m: (r1, t) with 2 targets, (r2, t) with 1 target."""
    rows = [
        # run, target_idx, horizon, y_true, median, q10, q25, q75, q90
        ("r1", 3, 1, 0.50, 0.52, 0.45, 0.49, 0.55, 0.60),
        ("r1", 4, 2, 0.60, 0.56, 0.50, 0.55, 0.58, 0.62),
        ("r2", 4, 1, 0.40, 0.50, 0.45, 0.48, 0.52, 0.55),
    ]
    frame = pd.DataFrame(rows, columns=["run", "target_idx", "horizon", "y_true", "median", "q10", "q25", "q75",
                                        "q90"])
    frame["q50"] = frame["median"]
    return frame.assign(setting="forecast", split="s", method="m", task="t", step=frame.target_idx * 100,
                        tokens=0.0, flops=0.0, context_end=2)


def test_summary_matches_hand_computation():
    s = ev.summarize(_hand_predictions()).iloc[0]
    # cell r1: |e| = .02, .04 → 3.0 points; cell r2: .10 → 10.0 points; mean over cells 6.5 (row mean would be 5.33)
    assert s.mae == pytest.approx(6.5)
    # cell r1 rmse sqrt((.0004 + .0016)/2) = .031623 → 3.1623; r2: 10 → mean 6.5811
    assert s.rmse == pytest.approx((np.sqrt(0.001) * 100 + 10) / 2)
    # q10–q90: r1 both inside → 1; r2 0.40 < 0.45 → 0 → 0.5. q25–q75: r1 .50 in [.49,.55] yes, .60 > .58 no → .5
    assert s.coverage80 == pytest.approx(0.5) and s.coverage50 == pytest.approx(0.25)
    # final checkpoint per run: r1 truth .60 / pred .56, r2 truth .40 / pred .50 → order kept → 1.0
    assert s.ranking_accuracy == 1.0 and s.n_targets == 3 and s.n_cells == 2


def test_summary_coverage_is_nan_without_quantiles():
    frame = _hand_predictions()
    frame[list(ev.QUANTILE_COLUMNS)] = np.nan
    s = ev.summarize(frame).iloc[0]
    assert np.isnan(s.coverage80) and np.isnan(s.coverage50) and s.mae == pytest.approx(6.5)


def test_horizon_table():
    table = ev.horizon_table(_hand_predictions())
    assert table.horizon.tolist() == [1, 2]
    np.testing.assert_allclose(table.mae, [6.0, 4.0])  # h=1: (.02 + .10)/2; h=2: .04


def test_bench_summary_json_schema(tmp_path):
    summary = ev.summarize(_hand_predictions())
    path = ev.write_bench_summary(summary, tmp_path / "bench" / "summary.json", train_seconds=1.5,
                                  predict_ms_per_trajectory=float("nan"))
    data = json.loads(path.read_text())
    assert data["train_seconds"] == 1.5 and data["predict_ms_per_trajectory"] is None
    assert set(data["forecast"]["s"]["m"]) == {"mae", "rmse", "coverage80", "coverage50", "ranking_accuracy",
                                               "n_targets"}
    assert data["forecast"]["s"]["m"]["n_targets"] == 3
    assert list((tmp_path / "bench").iterdir()) == [path]  # atomic: no temp file left


def test_write_tables_roundtrip(tmp_path):
    frame = _hand_predictions()[list(ev.PREDICTION_COLUMNS)]
    paths = ev.write_tables(frame, ev.summarize(frame), tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["predictions"]), frame)
    assert pd.read_csv(paths["summary"]).mae.iloc[0] == pytest.approx(6.5)


# --------------------------------------------------------------------------------------------- splits


def _corpus():
    sizes = (190e6, 370e6, 760e6, 1e9, 3e9)
    ladder = [curve_series(f"{s:.0e}-{m}xC", size=s, mult=m, task=t) for s in sizes for m in (1.0, 10.0)
              for t in ("hellaswag", "piqa")]
    big = [curve_series("olmo-2-peteish7", family="olmo-2", size=7e9, mult=float("nan"))]  # not a ladder run
    pythia = [curve_series("pythia-70m", family="pythia", source="pythia", task="piqa")]
    bigsci = [curve_series("tr3-c4", family="bigscience", source="bigscience", recipe="c4")]
    other = [curve_series("dense-c4", source="olmo-ladder-dense", recipe="c4")]
    return ladder + big + pythia + bigsci + other


def test_heldout_sizes_split():
    train, test = ev.make_split(_corpus(), "heldout-sizes")
    assert {s.meta["size_params"] for s in train} == {190e6, 370e6, 760e6}
    assert {s.meta["size_params"] for s in test} == {1e9, 3e9}
    assert all(s.meta["source"] == "olmo-ladder" for s in train + test)


def test_other_splits_are_disjoint_in_their_sense():
    corpus = _corpus()
    train, test = ev.make_split(corpus, "heldout-multiplier")
    assert "olmo-2-peteish7" not in {s.run for s in train + test}
    assert {s.meta["compute_multiplier"] for s in test} == {10.0} and 10.0 not in {
        s.meta["compute_multiplier"] for s in train}
    train, test = ev.make_split(corpus, "unseen-family")
    assert [s.run for s in test] == ["pythia-70m"] and "pythia" not in {s.meta["family"] for s in train}
    train, test = ev.make_split(corpus, "unseen-recipe")
    assert [s.run for s in test] == ["tr3-c4"] and "c4" not in {s.meta["recipe"] for s in train}
    train, test = ev.make_split(corpus, "heldout-tasks")
    assert {s.task for s in test} == {"piqa"} and {s.task for s in train} == {"hellaswag"}


def test_batched_predict_many_is_used_in_anchored_mode():
    class Batched(Spy):
        def predict_many(self, pairs):
            self.batches = getattr(self, "batches", []) + [len(pairs)]
            return [self.predict(c, q) for c, q in pairs]

    series = [curve_series(f"r{i}", n=10 + i) for i in range(3)]
    batched, plain = Batched(name="b"), Spy(name="p")
    result = ev.evaluate([batched, plain], series, setting="forecast")
    assert batched.batches == [3]
    p = result.predictions
    np.testing.assert_array_equal(p[p.method == "b"]["median"], p[p.method == "p"]["median"])


def test_unknown_or_empty_split_raises():
    with pytest.raises(SplitError, match=r"^unknown split 'random'; expected one of heldout-sizes, "):
        ev.make_split(_corpus(), "random")
    with pytest.raises(SplitError, match=r"^split 'unseen-family' has 1 training and 0 test series; both must be"):
        ev.make_split([curve_series("only")], "unseen-family")


# --------------------------------------------------------------------------------------------- errors, CLI


def test_context_end_index():
    assert [ev.context_end_index(n) for n in (37, 5, 4, 1)] == [7, 1, 0, 0]
    with pytest.raises(EvaluationError, match=r"^context_ratio must be in \[0, 1\), got 1.0$"):
        ev.context_end_index(10, 1.0)


def test_bad_harness_inputs_raise_named_errors():
    series = curve_series("r")
    with pytest.raises(EvaluationError, match=r"^unknown setting 'future'; expected one of forecast, loss_given$"):
        ev.evaluate([Spy()], [series], setting="future")
    with pytest.raises(EvaluationError, match=r"^unknown mode 'rolling'; expected one of anchored, sequential$"):
        ev.evaluate([Spy()], [series], setting="forecast", mode="rolling")
    with pytest.raises(EvaluationError, match=r"^context end index 12 is out of range for series r/hellaswag with"):
        ev.cut_context(series, 12)
    with pytest.raises(EvaluationError, match=r"^context_ratio must be in \[0, 1\), got -0.1$"):
        ev.evaluate([Spy()], [], setting="forecast", context_ratio=-0.1)


def test_wrong_shapes_and_duplicate_names_raise_named_errors():
    series = curve_series("r", n=10)

    class Short(Spy):
        def predict(self, context, query):
            return Prediction(median=np.zeros(len(query) - 1))

    with pytest.raises(EvaluationError, match=r"^method short returned 6 medians for 7 targets$"):
        ev.evaluate([Short(name="short")], [series], setting="forecast")
    with pytest.raises(EvaluationError, match=r"^method names must be unique, got spy, spy$"):
        ev.evaluate([Spy(), Spy()], [series], setting="forecast")


def test_register_cli_adds_evaluate():
    parser = argparse.ArgumentParser()
    ev.register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", "--split", "heldout-sizes", "--split", "heldout-tasks", "--out", "x"])
    assert args.func is ev._cli_evaluate and args.split == ["heldout-sizes", "heldout-tasks"]
    assert args.weights is None and args.mode == "anchored" and args.context_ratio == 0.2


def test_miniladder_splits_hold_out_size_and_recipe():
    from neuneu.samples import synthetic_series

    series = []
    for i, s in enumerate(synthetic_series(n_runs=3, n_tasks=2, n_points=12, seed=1)):
        size = [1e5, 2e5, 4e5][int(s.run[-1]) % 3] if s.run[-1].isdigit() else 1e5
        meta = {**s.meta, "source": "miniladder", "size_params": size, "recipe": "informal" if size == 2e5 else "prose"}
        series.append(type(s)(run=s.run, task=s.task, steps=s.steps, tokens=s.tokens, flops=s.flops, values=s.values,
                              losses=s.losses, meta=meta))
    train, test = ev.make_split(series, "miniladder-size")
    assert {s.meta["size_params"] for s in test} == {max(s.meta["size_params"] for s in series)}
    assert not {s.run for s in train} & {s.run for s in test}
    train, test = ev.make_split(series, "miniladder-recipe")
    assert {s.meta["recipe"] for s in test} == {"informal"} and {s.meta["recipe"] for s in train} == {"prose"}
