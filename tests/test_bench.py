"""The benchmark's tables: who wins per split, and the loss-representation verdict, on hand-made summaries."""

from __future__ import annotations

import pandas as pd

from neuneu import bench


def summary(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["setting", "split", "method", "mae"])


def test_winners_names_the_best_of_each_side_and_the_relative_change() -> None:
    table = bench.winners(summary([
        ("forecast", "a", "neuneu-mean", 2.0), ("forecast", "a", "neuneu-none", 3.0),
        ("forecast", "a", "two-stage", 2.5), ("forecast", "a", "last-value", 4.0),
        ("forecast", "b", "two-stage", 1.0)]))  # no NeuNeu row on b: nothing to compare
    assert table.to_dict("records") == [{
        "setting": "forecast", "split": "a", "best": "neuneu-mean", "neuneu": "neuneu-mean", "neuneu_mae": 2.0,
        "best_baseline": "two-stage", "baseline_mae": 2.5, "neuneu_vs_baseline_%": -20.0}]


def test_loss_representation_verdict_compares_per_token_inputs_with_none_and_mean() -> None:
    table = bench.loss_representation_verdict(summary([
        ("forecast", "s", "neuneu-none", 7.2), ("forecast", "s", "neuneu-mean", 7.3),
        ("forecast", "s", "neuneu-hist", 7.4), ("forecast", "s", "neuneu-sample", 7.1),
        ("loss_given", "s", "neuneu-none", 7.2), ("loss_given", "s", "neuneu-mean-given", 7.0),
        ("loss_given", "s", "neuneu-hist-given", 7.5), ("loss_given", "s", "paper-logistic", 5.0)]))
    assert table[["setting", "best_per_token", "best_none_or_mean", "per_token_wins"]].to_dict("records") == [
        {"setting": "forecast", "best_per_token": "neuneu-sample", "best_none_or_mean": "neuneu-none",
         "per_token_wins": True},
        {"setting": "loss_given", "best_per_token": "neuneu-hist-given", "best_none_or_mean": "neuneu-mean-given",
         "per_token_wins": False}]
