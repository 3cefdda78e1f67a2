"""The benchmark runner and its tables: who wins per split, reuse of loss-free answers, the summary.json schema,
the loss-representation verdict, and `neuneu evaluate` on every split it offers (refusing models that saw the
test)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuneu import bench, cli, evaluate
from neuneu.baselines import LinearLogCompute, PaperLogistic
from neuneu.contract import TrainedOnTestError
from neuneu.forecaster import NeuNeuForecaster
from neuneu.model import config_for as model_config_for
from neuneu.splits import SPLITS, Split, load_pool, make_split
from neuneu.train import config_for as train_config_for
from tests.test_evaluate import curve_series
from tests.test_parametric import format_suite


def summary(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["setting", "split", "method", "kind", "mae"])
    return frame.assign(context_rule="index", mae_ratio=frame["mae"] / 0.5)


def test_winners_names_the_best_of_each_side_and_the_relative_change() -> None:
    table = bench.winners(summary([
        ("forecast", "a", "neuneu-mean", "neuneu", 2.0), ("forecast", "a", "neuneu-none", "neuneu", 3.0),
        ("forecast", "a", "two-stage", "baseline", 2.5), ("forecast", "a", "last-value", "baseline", 4.0),
        ("forecast", "a", "noise-floor", "reference", 0.5),  # not a forecaster: never "best"
        ("forecast", "b", "two-stage", "baseline", 1.0)]))  # no NeuNeu row on b: nothing to compare
    assert table.to_dict("records") == [{
        "context_rule": "index", "setting": "forecast", "split": "a", "best": "neuneu-mean", "neuneu": "neuneu-mean",
        "neuneu_mae": 2.0, "best_baseline": "two-stage", "baseline_mae": 2.5, "neuneu_vs_baseline_%": -20.0,
        "neuneu_ratio": 4.0, "baseline_ratio": 5.0,
        "above_floor_vs_baseline_%": -25.0}]  # (2.0 - 0.5) / (2.5 - 0.5) - 1
    floorless = bench.winners(summary([("forecast", "a", "neuneu-mean", "neuneu", 2.0),
                                       ("forecast", "a", "two-stage", "baseline", 2.5)]))
    assert np.isnan(floorless["above_floor_vs_baseline_%"].iloc[0])
    below = bench.winners(summary([("forecast", "a", "neuneu-mean", "neuneu", 2.0),
                                   ("forecast", "a", "two-stage", "baseline", 0.4),
                                   ("forecast", "a", "noise-floor", "reference", 0.5)]))
    assert np.isnan(below["above_floor_vs_baseline_%"].iloc[0])  # a baseline under the floor: no share to speak of


def test_robustness_table_sets_each_ablation_beside_a_default_member_and_the_best_baseline() -> None:
    rows = summary([
        ("forecast", "unseen-family", "neuneu-param-ft", "neuneu", 6.2),
        ("forecast", "unseen-family", "neuneu-param-ft-norehearse", "neuneu", 8.6),
        ("forecast", "unseen-family", "last-value", "baseline", 6.3), ("forecast", "unseen-family", "ets", "baseline", 7.0),
        ("forecast", "unseen-family", "noise-floor", "reference", 1.7),
        ("forecast", "heldout-tasks", "neuneu-param-ft", "neuneu", 4.0)])  # no ablation row there: skipped
    table = bench.robustness_table(rows.assign(mae_sd=0.1, n_seeds=3))
    assert table[["variant", "method", "mae"]].to_dict("records") == [
        {"variant": "a default member before refitting", "method": "neuneu-param-ft", "mae": 6.2},
        {"variant": "no rehearsal of the prior while fine-tuning", "method": "neuneu-param-ft-norehearse", "mae": 8.6},
        {"variant": "best baseline (last-value)", "method": "last-value", "mae": 6.3},
        {"variant": "noise floor", "method": "noise-floor", "mae": 1.7}]


def test_loss_representation_verdict_compares_per_token_inputs_with_none_and_mean() -> None:
    table = bench.loss_representation_verdict(summary([
        ("forecast", "s", "neuneu-none", "neuneu", 7.2), ("forecast", "s", "neuneu-mean", "neuneu", 7.3),
        ("forecast", "s", "neuneu-hist", "neuneu", 7.4), ("forecast", "s", "neuneu-sample", "neuneu", 7.1),
        ("loss_given", "s", "neuneu-none", "neuneu", 7.2), ("loss_given", "s", "neuneu-mean-given", "neuneu", 7.0),
        ("loss_given", "s", "neuneu-hist-given", "neuneu", 7.5),
        ("loss_given", "s", "paper-logistic", "baseline", 5.0)]))
    assert table[["setting", "best_per_token", "best_none_or_mean", "per_token_wins"]].to_dict("records") == [
        {"setting": "forecast", "best_per_token": "neuneu-sample", "best_none_or_mean": "neuneu-none",
         "per_token_wins": True},
        {"setting": "loss_given", "best_per_token": "neuneu-hist-given", "best_none_or_mean": "neuneu-mean-given",
         "per_token_wins": False}]


def ladder() -> list:
    return [curve_series(f"s{i}", size=s, seed=i) for i, s in enumerate((1.9e8, 3.7e8, 7.6e8, 1e9, 3e9))]


def test_run_benchmark_reuses_loss_free_answers_and_writes_the_schema(tmp_path: Path) -> None:
    results = bench.run_benchmark([PaperLogistic(), LinearLogCompute()], ladder(), splits=["heldout-sizes"])
    p = results.predictions
    lin = {s: p[(p.method == "linear-logcompute") & (p.setting == s)].reset_index(drop=True)
           for s in ("forecast", "loss_given")}
    pd.testing.assert_frame_equal(lin["forecast"].drop(columns="setting"), lin["loss_given"].drop(columns="setting"))
    assert set(p[p.setting == "forecast"].method) == {"linear-logcompute", "noise-floor"}
    assert set(p.context_rule) == {"index", "compute"}
    paths = bench.write_results(results, tmp_path)
    data = json.loads(paths["summary.json"].read_text())
    cell = data["results"]["index"]["loss_given"]["heldout-sizes"]
    assert set(cell) == {"paper-logistic", "linear-logcompute", "noise-floor"}
    assert set(cell["paper-logistic"]) == set(bench.JSON_METRICS) and cell["noise-floor"]["mae_ratio"] == 1.0
    assert cell["linear-logcompute"]["mae_sd"] is None  # deterministic: no spread (NaN → null)
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted(paths[k].name for k in paths)  # no temp files


def test_run_benchmark_refuses_a_model_trained_on_the_test(tmp_path: Path) -> None:
    series = ladder()
    model = NeuNeuForecaster(dataclasses.replace(model_config_for("smoke"), loss_input="mean"),
                             dataclasses.replace(train_config_for("smoke"), progress=False))
    model.fit(series[:3], series[3:4])  # validated on the 1B run, which heldout-sizes tests
    with pytest.raises(TrainedOnTestError, match=r"^neuneu-mean \(seed 0\) was trained on 1 of the 2 test series "
                                                 r"of split 'heldout-sizes' \(e\.g\. s3/hellaswag\)"):
        bench.run_benchmark([], series, splits=["heldout-sizes"], trained={"heldout-sizes": [model]})


def test_run_benchmark_scores_a_learned_model_as_trained_and_never_refits_it(tmp_path: Path) -> None:
    series = ladder()
    model = NeuNeuForecaster(dataclasses.replace(model_config_for("smoke"), loss_input="mean"),
                             dataclasses.replace(train_config_for("smoke"), progress=False))
    model.fit(series[:2], series[2:3])
    weights = {k: v.clone() for k, v in model.model.state_dict().items()}
    model.fit = lambda *args, **kwargs: (_ for _ in ()).throw(AssertionError("the harness refitted a learned model"))
    results = bench.run_benchmark([LinearLogCompute()], series, splits=["heldout-sizes"],
                                  trained={"heldout-sizes": [model]}, rules=("index",), cache=None)
    assert all(np.array_equal(weights[k], v) for k, v in model.model.state_dict().items())
    assert "neuneu-mean" in set(results.predictions["method"])


def test_cli_registers_evaluate_and_train() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["evaluate", "--split", "heldout-sizes", "--split", "heldout-tasks", "--out", "x"])
    assert args.split == ["heldout-sizes", "heldout-tasks"] and args.weights is None and args.mode == "anchored"
    args = parser.parse_args(["train", "--split", "heldout-sizes", "--profile", "smoke", "--out", "w"])
    assert (args.split, args.out, args.seed) == ("heldout-sizes", Path("w"), 0)


@pytest.mark.parametrize("split", list(SPLITS))
def test_every_split_the_cli_offers_works(split: str, tmp_path: Path, capsys) -> None:
    status = cli.main(["evaluate", "--split", split, "--methods", "last-value", "--context-rule", "index",
                       "--setting", "forecast", "--out", str(tmp_path), "--no-progress"])
    assert status == 0
    data = json.loads((tmp_path / "summary.json").read_text())
    rows = data["results"]["index"]["forecast"][split]
    assert set(rows) == {"last-value", "noise-floor"} and rows["last-value"]["n_targets"] > 0


def test_cli_evaluate_refuses_weights_trained_on_the_test_split(tmp_path: Path, capsys) -> None:
    public = load_pool("public")
    split = make_split(public, "heldout-sizes")
    model = NeuNeuForecaster(dataclasses.replace(model_config_for("smoke"), loss_input="mean"),
                             dataclasses.replace(train_config_for("smoke"), progress=False), out_dir=tmp_path / "w")
    model.fit(split.test[:6], split.train[:6])  # what `neuneu train` without --split used to do: saw the test
    status = cli.main(["evaluate", "--weights", str(tmp_path / "w"), "--split", "heldout-sizes", "--methods",
                       "last-value", "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("neuneu evaluate: error: neuneu-mean (seed 0) was trained on ")
    assert "train it with `neuneu train --split heldout-sizes`" in err
    assert np.isfinite(len(split.test))


def test_baseline_answers_are_cached_by_code_data_and_protocol(tmp_path: Path) -> None:
    first = bench.run_benchmark([LinearLogCompute()], ladder(), splits=["heldout-sizes"], rules=("index",),
                                cache=tmp_path)
    assert len(list(tmp_path.iterdir())) == 2  # one entry per setting

    broken = LinearLogCompute()
    broken.predict = lambda context, query: (_ for _ in ()).throw(AssertionError("a cached evaluation must not "
                                                                                 "predict again"))
    second = bench.run_benchmark([broken], ladder(), splits=["heldout-sizes"], rules=("index",), cache=tmp_path)
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    third = bench.run_benchmark([LinearLogCompute()], ladder()[:4] + [curve_series("s9", size=3e9, seed=9)],
                                splits=["heldout-sizes"], rules=("index",), cache=tmp_path)
    assert len(list(tmp_path.iterdir())) == 4 and not third.predictions.equals(first.predictions)  # new data


def test_a_second_process_waits_for_a_baseline_evaluation_under_way_and_reads_it(tmp_path: Path) -> None:
    calls, results = [], []
    answer = bench.run_benchmark([LinearLogCompute()], ladder(), splits=["heldout-sizes"], rules=("index",),
                                 settings=("forecast",), cache=None)

    def compute():
        calls.append(1)
        time.sleep(0.3)  # long enough for the other thread to ask for the same key meanwhile
        return evaluate.Evaluation(answer.predictions, answer.method_stats, answer.cells, Counter())

    threads = [threading.Thread(target=lambda: results.append(bench._cached_evaluation(tmp_path, "key", compute)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 2  # computed once; the waiting thread read the cached copy
    pd.testing.assert_frame_equal(results[0].predictions, results[1].predictions, check_dtype=False)


def test_targets_say_what_the_default_needs_and_whether_it_is_met() -> None:
    def row(split, setting, method, kind, mae, coverage=None):
        return {"context_rule": "index", "setting": setting, "split": split, "method": method, "kind": kind,
                "mae": mae, "coverage80": coverage}

    summary = pd.DataFrame([
        row("heldout-sizes", "forecast", "neuneu", "neuneu", 1.40, 0.80),
        row("heldout-sizes", "forecast", "two-stage", "baseline", 1.80),
        row("heldout-sizes", "forecast", "power-law", "baseline", 2.00),
        row("heldout-sizes", "loss_given", "neuneu-given", "neuneu", 1.30, 0.70),
        row("heldout-sizes", "loss_given", "last-value", "baseline", 1.20),
        row("heldout-sizes", "loss_given", "paper-logistic", "baseline", 1.50),
        row("unseen-family", "forecast", "neuneu-mean", "neuneu", 1.00, 0.80),  # no default here: no targets
        row("unseen-family", "forecast", "last-value", "baseline", 2.00),
    ])
    goals = bench.targets(summary)
    assert goals[["split", "setting", "target", "needs", "met"]].values.tolist() == [
        ["heldout-sizes", "forecast", "below every baseline", "< 1.800 (two-stage)", True],
        ["heldout-sizes", "forecast", "20% below two-stage", "≤ 1.440", True],
        ["heldout-sizes", "forecast", "q10–q90 coverage", "0.75–0.85", True],
        ["heldout-sizes", "loss_given", "below every baseline", "< 1.200 (last-value)", False],
        ["heldout-sizes", "loss_given", "20% below paper-logistic", "≤ 1.200", False],  # the law, not the best
        ["heldout-sizes", "loss_given", "q10–q90 coverage", "0.75–0.85", False],
    ]
    assert goals["value"].tolist() == [1.40, 1.40, 0.80, 1.30, 1.30, 0.70]


def predictions_frame(answers: dict[str, list[float]], truth: list[float], *, rule: str = "index",
                      setting: str = "forecast") -> pd.DataFrame:
    """Hand-made prediction rows: two cells (run a/task x with two targets, run b/task y with one)."""
    keys = [("a", "x", 0), ("a", "x", 1), ("b", "y", 0)]
    rows = []
    for method, medians in answers.items():
        kind = "neuneu" if method.startswith("neuneu") else "baseline"
        for (run, task, idx), median, y in zip(keys, medians, truth):
            rows.append({"setting": setting, "split": "s", "context_rule": rule, "method": method, "seed": 0,
                         "kind": kind, "run": run, "task": task, "target_idx": idx, "y_true": y, "median": median,
                         **{c: median for c in bench.QUANTILE_COLUMNS}})
    return pd.DataFrame(rows)


def test_task_table_puts_the_task_where_the_first_method_loses_most_on_top() -> None:
    truth = [0.50, 0.50, 0.30]
    frame = predictions_frame({"neuneu": [0.52, 0.54, 0.30], "power-law": [0.50, 0.50, 0.32],
                               "last-value": [0.51, 0.51, 0.35]}, truth)
    table = bench.task_table(frame, split="s", setting="forecast", methods=("neuneu", "power-law", "last-value"))
    assert list(table.index) == ["x", "y"]  # neuneu is 3 points worse on x, 2 points better on y
    assert table.loc["x"].tolist() == [1, 3.0, 0.0, 1.0] and table.loc["y"].tolist() == [1, 0.0, 2.0, 5.0]
    with pytest.raises(KeyError, match=r"no predictions of ets on s/forecast/index"):
        bench.task_table(frame, split="s", setting="forecast", methods=("ets",))


def test_run_table_puts_the_run_where_the_first_method_loses_most_on_top() -> None:
    truth = [0.50, 0.50, 0.30]
    frame = predictions_frame({"neuneu": [0.50, 0.50, 0.34], "power-law": [0.52, 0.54, 0.30]}, truth)
    table = bench.run_table(frame, split="s", setting="forecast", methods=("neuneu", "power-law"))
    assert table.index.name == "run" and list(table.index) == ["b", "a"]  # 4 points worse on b, 3 better on a
    assert table.loc["b"].tolist() == [1, 4.0, 0.0] and table.loc["a"].tolist() == [1, 0.0, 3.0]
    with pytest.raises(KeyError, match=r"no predictions of ets on s/forecast/compute"):
        bench.run_table(frame, split="s", setting="forecast", methods=("ets",), rule="compute")


def test_group_table_sums_the_cells_of_each_group_of_runs() -> None:
    truth = [0.50, 0.50, 0.30]
    frame = predictions_frame({"neuneu": [0.52, 0.54, 0.30], "power-law": [0.50, 0.50, 0.32]}, truth)
    methods = ("neuneu", "power-law")
    one = bench.group_table(frame, {"a": "f", "b": "f"}, split="s", setting="forecast", methods=methods)
    assert one.index.name == "family" and list(one.index) == ["f"]
    assert one.loc["f"].tolist() == [2, 1.5, 1.0]  # the mean over the two (run, task) cells
    two = bench.group_table(frame, {"a": "f", "b": "g"}, split="s", setting="forecast", methods=methods)
    assert list(two.index) == ["f", "g"] and two.loc["g"].tolist() == [1, 0.0, 2.0]
    with pytest.raises(KeyError, match=r"no family for run\(s\) b"):
        bench.group_table(frame, {"a": "f"}, split="s", setting="forecast", methods=methods)


def test_blend_table_finds_the_validation_weight_between_neuneu_and_the_other_method() -> None:
    truth = [0.50, 0.60, 0.40]
    # NeuNeu is 4 points high everywhere, the power law 4 points low: the half-half blend is exact
    frame = predictions_frame({"neuneu": [0.54, 0.64, 0.44], "power-law": [0.46, 0.56, 0.36]}, truth)
    row = bench.blend_table(frame).iloc[0]
    assert (row["best_w"], row["mae_best_w"], row["mae_neuneu"], row["mae_power-law"]) == (0.5, 0.0, 4.0, 4.0)
    alone = predictions_frame({"neuneu": truth, "power-law": [0.46, 0.56, 0.36]}, truth)
    assert bench.blend_table(alone).iloc[0]["best_w"] == 1.0
    assert bench.blend_table(alone, other="ets").empty  # nothing to blend with


def test_coverage_table_sets_validation_coverage_beside_the_test_coverage() -> None:
    truth = [0.50, 0.60, 0.40]
    frame = predictions_frame({"neuneu": [0.50, 0.60, 0.40]}, truth)
    frame.loc[2, "q10"], frame.loc[2, "q90"] = 0.30, 0.35  # the third target falls outside q10–q90
    frame.loc[2, "q25"], frame.loc[2, "q75"] = 0.30, 0.35
    test = pd.DataFrame({"setting": ["forecast", "forecast"], "split": ["s", "s"], "context_rule": "index",
                         "method": ["neuneu", "power-law"], "coverage80": [0.7, np.nan], "coverage50": [0.4, np.nan]})
    table = bench.coverage_table(frame, test)
    assert table.to_dict("records") == [{"split": "s", "context_rule": "index", "setting": "forecast",
                                         "method": "neuneu", "coverage80_validation": 0.5, "coverage80_test": 0.7,
                                         "coverage50_validation": 0.5, "coverage50_test": 0.4}]
    assert bench.coverage_table(frame, test, rules=("compute",)).empty
    both = pd.concat([frame, frame.assign(context_rule="compute", q90=1.0, q10=0.0)], ignore_index=True)
    test = pd.concat([test, test.assign(context_rule="compute", coverage80=0.9)], ignore_index=True)
    table = bench.coverage_table(both, test, rules=("compute", "index"))
    assert table[["context_rule", "coverage80_validation", "coverage80_test"]].to_dict("records") == [
        {"context_rule": "compute", "coverage80_validation": 1.0, "coverage80_test": 0.9},
        {"context_rule": "index", "coverage80_validation": 0.5, "coverage80_test": 0.7}]
    assert bench.coverage_table(both, test, rules=("index", "compute"))["context_rule"].tolist() == [
        "index", "compute"]  # in the order asked


def test_law_pooling_table_scores_the_all_task_law_against_the_format_law_on_both_sides() -> None:
    """Two rising tasks and two MC tasks flat at chance in training; held out: one of each format. The MC task
    forecast from the law over its format (flat) beats the law over all tasks (which rises)."""
    suite = format_suite()
    renamed = {"rc_b": "new", "mc_b_mc": "new_mc"}  # the held-out pair, one task per format
    series = [dataclasses.replace(s, task=renamed.get(s.task, s.task)) for s in suite]
    train = [s for s in series if s.task not in renamed.values()]
    extra = [dataclasses.replace(s, task=s.task.replace("_a", "_c")) for s in train]  # keeps two tasks per format
    train = train + extra
    validation = frozenset(s.key for s in extra if s.run == "r0")
    split = Split("custom", train, [s for s in series if s.task in renamed.values()], validation)
    table = bench.law_pooling_table(split, rules=("index",))
    assert list(table.columns) == ["side", "context_rule", "format", "series", "law over all tasks",
                                   "law over its format"]
    test = table[table["side"] == "test"].set_index("format")
    assert test.loc["mc", "law over its format"] < test.loc["mc", "law over all tasks"]
    assert test.loc["all", "series"] == 6 and test.loc["mc", "series"] == 3
    assert set(table["side"]) == {"test", "validation"}


def test_refit_check_compares_members_and_ensembles_of_selection_and_refit_models() -> None:
    truth = np.array([0.50, 0.60])
    medians = {("neuneu-param-ft", 0): [0.52, 0.60], ("neuneu-param-ft", 1): [0.50, 0.64],  # members 1.0, 2.0
               ("neuneu-param-ft-refit", 0): [0.49, 0.61], ("neuneu-param-ft-refit", 1): [0.51, 0.59]}  # 1.0, 1.0
    predictions = pd.DataFrame([
        {"method": m, "seed": seed, "split": "nest", "context_rule": "index", "setting": "forecast", "run": "r",
         "task": "t", "target_idx": i, "y_true": truth[i], "median": med[i]}
        for (m, seed), med in medians.items() for i in range(2)])
    rows = summary([("forecast", "nest", "neuneu-param-ft", "neuneu", 1.5),
                    ("forecast", "nest", "neuneu-param-ft-refit", "neuneu", 1.0),
                    ("forecast", "nest", "two-stage", "baseline", 1.2), ("forecast", "nest", "ets", "baseline", 3.0),
                    ("loss_given", "nest", "two-stage", "baseline", 1.2)])  # no NeuNeu rows there: skipped
    results = bench.Results(predictions, pd.DataFrame(), pd.DataFrame(), rows.assign(mae_sd=0.5, n_seeds=2))
    [row] = bench.refit_check(results, split="nest").to_dict("records")
    assert row["selection member"] == 1.5 and row["refit member"] == 1.0
    # the averages: selection (0.51, 0.62) -> errors 1 and 2 points -> 1.5; refit (0.50, 0.60) -> 0
    assert row["selection ensemble"] == pytest.approx(1.5) and row["refit ensemble"] == pytest.approx(0.0)
    assert row["best baseline"] == "two-stage 1.200" and row["refit ensemble better"]
    assert "best-step refit ensemble" not in row and "best-step refit better" not in row
    # all four members: (0.505, 0.61) -> errors 0.5 and 1 point -> 0.75, above the refit ensemble's 0
    assert row["selection + refit ensemble"] == pytest.approx(0.75) and not row["selection + refit better"]
    best = predictions[predictions["method"] == "neuneu-param-ft"].assign(method="neuneu-param-ft-refit-best")
    rows = pd.concat([rows, summary([("forecast", "nest", "neuneu-param-ft-refit-best", "neuneu", 1.5)])])
    results = bench.Results(pd.concat([predictions, best]), pd.DataFrame(), pd.DataFrame(),
                            rows.assign(mae_sd=0.5, n_seeds=2))
    [row] = bench.refit_check(results, split="nest").to_dict("records")
    assert row["best-step refit ensemble"] == pytest.approx(1.5) and not row["best-step refit better"]


def test_nested_checks_say_why_a_nested_split_cannot_be_cut() -> None:
    few = [curve_series(f"r{i}", source="custom", family="custom") for i in range(2)]  # no held-out task
    table, skipped = bench.nested_checks(few, "smoke")
    assert table.empty and skipped == {
        "heldout-sizes-nested": "split 'heldout-sizes' has 0 training and 0 test series; both must be > 0",
        "heldout-tasks-nested": "split 'heldout-tasks' has 2 training and 0 test series; both must be > 0"}


def test_nested_checks_say_when_the_models_are_not_committed(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(bench.zoo, "WEIGHTS_DIR", tmp_path)  # no committed weights at all
    table, skipped = bench.nested_checks(load_pool("public"), "cpu")
    message = "its 18 models are not committed (over the data budget); python -m neuneu.zoo --nested trains them"
    assert table.empty and skipped == {"heldout-sizes-nested": message, "heldout-tasks-nested": message}
