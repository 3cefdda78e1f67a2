"""The harness: same targets for every method, settings and context rules kept apart, no leaks, the noise floor,
seed aggregation, the decision accuracy on hand-made runs, and named errors."""

import numpy as np
import pandas as pd
import pytest

from neuneu import evaluate as ev
from neuneu.baselines import LastValue, PaperLogistic, default_baselines
from neuneu.contract import (
    QUANTILE_COLUMNS,
    Capabilities,
    EvaluationError,
    ForecasterBase,
    Prediction,
    Series,
    context_end,
)


def curve_series(run, task="hellaswag", n=12, size=1e8, mult=1.0, source="olmo-ladder", family="olmo-2-ladder",
                 recipe="olmo-mix", seed=0, tokens_per_step=1e6):
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1) * 100
    loss = 2.0 + 25.0 * (steps * size / 1e8) ** -0.5 + rng.normal(0, 0.01, n)
    values = np.clip(0.25 + 0.4 / (1 + np.exp(12 * (np.log(loss) - 1.15))) + rng.normal(0, 0.005, n), 0, 1)
    return Series(run=run, task=task, steps=steps, tokens=steps * tokens_per_step, flops=steps * 6e6 * size,
                  values=values, losses={"mean": loss, "vector": np.stack([loss, loss + 0.1], axis=1)},
                  meta={"source": source, "family": family, "size_params": size, "compute_multiplier": mult,
                        "recipe": recipe})


class Spy(ForecasterBase):
    """A forecaster that records what the harness shows it and predicts a constant (or the last value)."""

    def __init__(self, name="spy", setting="both", constant=None, seed=None):
        super().__init__()
        self.name, self.constant, self.seed = name, constant, seed
        self.capabilities = Capabilities(setting=setting)
        self.seen = []

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
    assert context_end(series) == 4 and len(context) == 5 and len(query) == 15  # ⌊20 · 0.2⌋ = 4
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


def test_methods_are_filtered_by_declared_setting():
    paper, spy = PaperLogistic(), Spy(setting="forecast")
    assert [m.name for m in ev.methods_for([paper, spy, LastValue()], "forecast")] == ["spy", "last-value"]
    assert [m.name for m in ev.methods_for([paper, spy], "loss_given")] == ["paper-logistic"]


def test_sequential_mode_appends_predicted_median():
    series = curve_series("r", n=10)
    spy = Spy(constant=0.9)
    result = ev.evaluate([spy], [series], setting="forecast", mode="sequential", reference=False)
    assert [len(ctx) for ctx, _ in spy.seen] == list(range(3, 10))  # c = 2, then one more point per target
    last_ctx, last_query = spy.seen[-1]
    np.testing.assert_array_equal(last_ctx.values[3:], 0.9)  # predicted medians, not the truth
    np.testing.assert_array_equal(last_ctx.losses["mean"][3:], series.losses["mean"][2])  # last known loss
    assert last_query.losses is None and len(last_query) == 1
    assert result.predictions["horizon"].tolist() == list(range(1, 8))


def test_compute_rule_ends_the_context_at_a_share_of_the_final_tokens():
    # log-spaced early checkpoints like Pythia's: 1, 2, 4, …, 512, then every 10k steps to 100k
    steps = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, *range(10_000, 100_001, 10_000)])
    s = Series("p", "piqa", steps, steps * 2e6, steps * 1e16, np.linspace(0.5, 0.7, len(steps)))
    assert s.steps[context_end(s, 0.2, "index")] == 16  # ⌊20 · 0.2⌋ = 4: step 16, an untrained model
    assert s.steps[context_end(s, 0.2, "compute")] == 20_000  # 20% of the final tokens
    spy = Spy()
    result = ev.evaluate([spy], [s], setting="forecast", context_rule="compute")
    assert len(spy.seen[0][0]) == 12 and set(result.predictions["context_rule"]) == {"compute"}


# --------------------------------------------------------------------------------------------- same targets


def test_all_methods_scored_on_identical_targets_with_the_noise_floor():
    train = [curve_series(f"tr{i}", task=t, size=1e8 * (i + 1), seed=i) for i in range(2) for t in ("a", "b")]
    test = [curve_series(f"te{i}", task=t, size=1e9, seed=10 + i) for i in range(2) for t in ("a", "b")]
    test.append(curve_series("tiny", n=1))  # no target possible: skipped for everyone
    methods = default_baselines()
    for m in methods:
        m.fit(train)
    for setting in ("forecast", "loss_given"):
        result = ev.evaluate(methods, test, setting=setting)
        targets = {name: set(g[["run", "task", "target_idx"]].itertuples(index=False, name=None))
                   for name, g in result.predictions.groupby("method")}
        assert len(targets) == (8 if setting == "loss_given" else 7)  # + the noise floor
        assert len({frozenset(t) for t in targets.values()}) == 1
        assert result.skipped == {"too_few_points": 1}
        assert np.all(np.isfinite(result.predictions["median"]))
        assert list(result.predictions.columns) == list(ev.PREDICTION_COLUMNS)
        floor = result.predictions[result.predictions["method"] == ev.NOISE_FLOOR]
        assert set(floor["kind"]) == {"reference"} and floor[list(QUANTILE_COLUMNS)].isna().all().all()
        assert len(result.cells) == 4 and list(result.cells.columns) == list(ev.CELL_COLUMNS)


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


# --------------------------------------------------------------------------------------------- summaries


def _hand_predictions(method="m", seed=-1, shift=0.0, kind="baseline"):
    """Two cells: (r1, t) with 2 targets, (r2, t) with 1 target."""
    rows = [
        # run, target_idx, horizon, y_true, median, q10, q25, q75, q90
        ("r1", 3, 1, 0.50, 0.52, 0.45, 0.49, 0.55, 0.60),
        ("r1", 4, 2, 0.60, 0.56, 0.50, 0.55, 0.58, 0.62),
        ("r2", 4, 1, 0.40, 0.50, 0.45, 0.48, 0.52, 0.55),
    ]
    frame = pd.DataFrame(rows, columns=["run", "target_idx", "horizon", "y_true", "median", "q10", "q25", "q75",
                                        "q90"])
    frame["median"] += shift
    frame["q50"] = frame["median"]
    return frame.assign(setting="forecast", split="s", context_rule="index", method=method, seed=seed, kind=kind,
                        task="t", step=frame.target_idx * 100, tokens=0.0, flops=0.0, context_end=2)


def _cells(runs=("r1", "r2")):
    return pd.DataFrame([{"split": "s", "context_rule": "index", "run": r, "task": "t", "context_end": 2,
                          "n_points": 5, "size_params": 1e9, "final_tokens": 1e10, "final_flops": 1e20,
                          "corpus": "c", "replica": r, "family": "f", "noise_sd": 0.0, "y_final": 0.5}
                         for r in runs], columns=list(ev.CELL_COLUMNS))


def test_summary_matches_hand_computation():
    s = ev.summarize(_hand_predictions(), _cells()).iloc[0]
    # cell r1: |e| = .02, .04 → 3.0 points; cell r2: .10 → 10.0 points; mean over cells 6.5 (row mean would be 5.33)
    assert s.mae == pytest.approx(6.5)
    assert s.rmse == pytest.approx((np.sqrt(0.001) * 100 + 10) / 2)
    # q10–q90: r1 both inside → 1; r2 0.40 < 0.45 → 0 → 0.5. q25–q75: r1 .50 in [.49,.55] yes, .60 > .58 no → .5
    assert s.coverage80 == pytest.approx(0.5) and s.coverage50 == pytest.approx(0.25)
    assert s.n_targets == 3 and s.n_cells == 2 and s.n_seeds == 1 and np.isnan(s.mae_sd)


def test_seeds_are_averaged_with_their_spread_and_ratios_use_the_noise_floor():
    frames = [_hand_predictions("neuneu-x", seed=k, shift=0.01 * k, kind="neuneu") for k in range(3)]
    floor = _hand_predictions(ev.NOISE_FLOOR, kind="reference")
    floor["median"] = floor["y_true"] + 0.01
    summary = ev.summarize(pd.concat([*frames, floor], ignore_index=True), _cells()).set_index("method")
    per_seed = [ev.summarize(f, _cells()).mae.iloc[0] for f in frames]
    assert summary.loc["neuneu-x", "mae"] == pytest.approx(np.mean(per_seed))
    assert summary.loc["neuneu-x", "mae_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert summary.loc["neuneu-x", "n_seeds"] == 3
    assert summary.loc[ev.NOISE_FLOOR, "mae"] == pytest.approx(1.0)
    assert summary.loc["neuneu-x", "mae_ratio"] == pytest.approx(np.mean(per_seed) / 1.0)


def test_horizon_table():
    table = ev.horizon_table(_hand_predictions())
    assert table.horizon.tolist() == [1, 2]
    np.testing.assert_allclose(table.mae, [6.0, 4.0])  # h=1: (.02 + .10)/2; h=2: .04
    np.testing.assert_allclose(table.bias, [6.0, -4.0])  # h=1: (+.02 + .10)/2; h=2: .56 − .60


def test_bias_table_over_all_and_far_targets():
    table = ev.bias_table(_hand_predictions(), far_share=0.5)
    # errors +2, −4, +10 points at horizons 1, 2, 1: the median horizon is 1, so every target is "far" at 0.5
    assert table[["bias", "bias_far", "n_targets", "n_far"]].iloc[0].tolist() == pytest.approx([8 / 3, 8 / 3, 3, 3])
    table = ev.bias_table(_hand_predictions(), far_share=0.25)  # the 0.75 quantile of (1, 1, 2) is 1.5
    assert table[["bias_far", "n_far"]].iloc[0].tolist() == pytest.approx([-4.0, 1])
    with pytest.raises(EvaluationError, match=r"^far_share must lie in \(0, 1\], got 0$"):
        ev.bias_table(_hand_predictions(), far_share=0)


def test_bias_bin_puts_each_fraction_in_its_bin_and_the_ends_in_the_outer_bins():
    bins = ev.bias_bin(np.array([-0.1, 0.0, 0.35, 0.36, 0.9, 1.0, 1.2]))
    np.testing.assert_array_equal(bins, [0, 0, 0, 1, 4, 4, 4])
    with pytest.raises(EvaluationError, match=r"^bins must be at least two increasing edges, got \[1.0\]$"):
        ev.bias_bin(np.array([0.5]), bins=(1.0,))


def test_shared_bias_bound_removes_shared_then_per_run_medians():
    # steps 300, 400 (r1) and 400 (r2): fractions 0.75, 1 and 1; errors +2, −4 (r1) and +10 (r2) points
    table = ev.shared_bias_bound(_hand_predictions(), bins=(0.0, 0.9, 1.0))
    row = table.iloc[0]
    assert row["mae"] == pytest.approx((3 + 10) / 2)  # cells: r1 mean(2, 4) = 3, r2 10
    # bin [0.9, 1] holds −4 and +10: median +3 → errors −7 and +7; bin [0, 0.9) holds +2 alone → 0
    assert row["mae_shared"] == pytest.approx((3.5 + 7) / 2)
    assert row["mae_per_run"] == pytest.approx(0.0)  # every (run, bin) holds one target
    with pytest.raises(EvaluationError, match=r"^bins must be at least two increasing edges, got \[0.5, 0.5\]$"):
        ev.shared_bias_bound(_hand_predictions(), bins=(0.5, 0.5))


# --------------------------------------------------------------------------------------------- decisions


def decision_suite():
    """Four runs on one task, made by hand.

    * A-long and A-short: one size, two training lengths — a "size" decision;
    * A-long and B (three times larger, half the tokens, same final FLOPs) — a "budget" decision: B starts lower
      (its context is worse) but ends higher, so holding the last value flat gets this order wrong;
    * A-rerun: a replica of A-long (same size, length, corpus) — never paired with it;
    * C: the size and length of A-long on another corpus — a "recipe" decision, within noise of A-long, so left out.
    """
    def run(name, size, steps, values, recipe="web"):
        steps = np.asarray(steps, dtype=float)
        tokens = steps * 1e6
        return Series(name, "t", steps, tokens, 6 * size * tokens, np.asarray(values, dtype=float),
                      meta={"source": "x", "family": "f", "size_params": size, "compute_multiplier": np.nan,
                            "recipe": recipe})

    long_steps = np.arange(1, 11) * 100
    a_long = run("A-long", 1e9, long_steps, np.linspace(0.40, 0.60, 10))
    a_short = run("A-short", 1e9, long_steps[:5], np.linspace(0.40, 0.45, 5))
    b = run("B", 3e9, long_steps[:10] / 2, [0.30, 0.32, 0.36, 0.42, 0.48, 0.54, 0.58, 0.62, 0.66, 0.70])
    rerun = run("A-rerun", 1e9, long_steps, np.linspace(0.40, 0.60, 10) + 0.001)
    c = run("C", 1e9, long_steps, np.linspace(0.40, 0.60, 10) + 0.0005, recipe="books")
    return [a_long, a_short, b, rerun, c]


def test_decision_pairs_are_real_choices_whose_gap_exceeds_the_noise():
    usable = [(s, context_end(s)) for s in decision_suite()]
    pairs = ev.decision_pairs(ev.cell_table(usable, "s", "index"))
    kinds = {(a, b): k for a, b, k in pairs[["run_a", "run_b", "kind"]].itertuples(index=False)}
    assert kinds[("A-long", "A-short")] == "size" and kinds[("A-long", "B")] == "budget"
    assert ("A-long", "A-rerun") not in kinds  # replicas are no decision
    assert ("A-long", "C") not in kinds  # a recipe choice, but the gap (0.0005) is below the noise: left out


def test_decision_accuracy_rewards_the_right_final_order_where_last_value_fails():
    suite = decision_suite()

    class Oracle(Spy):  # knows each run's final accuracy
        def predict(self, context, query):
            final = {s.run: s.values[-1] for s in suite}[context.run]
            return Prediction(median=np.full(len(query), final))

    result = ev.evaluate([LastValue(), Oracle(name="oracle")], suite, setting="forecast", reference=False)
    scores = ev.decision_scores(result.predictions, ev.decision_pairs(result.cells)).set_index("method")
    assert scores.loc["oracle", "decision_accuracy"] == 1.0
    assert scores.loc["last-value", "decision_budget"] == 0.0  # B's context is below A-long's: wrong order
    assert scores.loc["last-value", "n_pairs"] == scores.loc["oracle", "n_pairs"] > 0


# --------------------------------------------------------------------------------------------- errors


def test_bad_harness_inputs_raise_named_errors():
    series = curve_series("r")
    with pytest.raises(EvaluationError, match=r"^unknown setting 'future'; expected one of forecast, loss_given$"):
        ev.evaluate([Spy()], [series], setting="future")
    with pytest.raises(EvaluationError, match=r"^unknown mode 'rolling'; expected one of anchored, sequential$"):
        ev.evaluate([Spy()], [series], setting="forecast", mode="rolling")
    with pytest.raises(EvaluationError, match=r"^unknown context rule 'flops'; expected one of index, compute$"):
        ev.evaluate([Spy()], [series], setting="forecast", context_rule="flops")
    with pytest.raises(EvaluationError, match=r"^context_ratio must be in \[0, 1\), got -0.1$"):
        ev.evaluate([Spy()], [], setting="forecast", context_ratio=-0.1)


def test_wrong_shapes_and_duplicate_names_raise_named_errors():
    series = curve_series("r", n=10)

    class Short(Spy):
        def predict(self, context, query):
            return Prediction(median=np.zeros(len(query) - 1))

    with pytest.raises(EvaluationError, match=r"^method short returned 6 medians for 7 targets$"):
        ev.evaluate([Short(name="short")], [series], setting="forecast")
    with pytest.raises(EvaluationError, match=r"^method names \(with seeds\) must be unique, got spy, spy$"):
        ev.evaluate([Spy(), Spy()], [series], setting="forecast")
    ev.evaluate([Spy(seed=0), Spy(seed=1)], [series], setting="forecast")  # replicas differ by seed: fine
