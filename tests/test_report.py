"""Tables as the book shows them: formatting, the winner in bold by the right rule, "—" where nothing applies."""

from __future__ import annotations

import math

import pandas as pd

from neuneu import report


def summary() -> pd.DataFrame:
    rows = [  # method, kind, mae, mae_sd, coverage80, decision_accuracy, n_pairs
        ("neuneu", "neuneu", 1.5, 0.1, 0.70, 0.80, 12),
        ("power-law", "baseline", 1.4, math.nan, math.nan, 0.90, 12),
        ("ets", "baseline", 2.0, math.nan, 0.95, 0.60, 12),
        ("noise-floor", "reference", 0.5, math.nan, math.nan, math.nan, 12),
    ]
    return pd.DataFrame([{"context_rule": "index", "setting": "forecast", "split": "heldout-sizes", "method": m,
                          "kind": k, "mae": mae, "mae_sd": sd, "coverage80": c, "decision_accuracy": d, "n_pairs": n}
                         for m, k, mae, sd, c, d, n in rows])


def test_fmt_writes_a_spread_and_a_dash_for_what_does_not_apply() -> None:
    assert report.fmt(1.2345, 0.0512) == "1.23 ± 0.05"
    assert report.fmt(float("nan")) == report.fmt(None) == "—"
    assert report.fmt(3.0, float("nan"), digits=1) == "3.0"


def test_the_winner_is_bold_by_the_metric_own_rule_and_never_the_reference() -> None:
    mae = report.results_table(summary(), "mae")
    assert mae["fc sizes"].to_dict() == {"neuneu": "1.50 ± 0.10", "ets": "2.00", "noise-floor": "0.50",
                                         "power-law": "**1.40**"}  # the noise floor is lower but not a forecaster
    assert list(mae.index) == ["neuneu", "ets", "power-law", "noise-floor"]  # NeuNeu first, the reference last
    decisions = report.results_table(summary(), "decision_accuracy", spread=False)
    assert decisions.loc["power-law", "fc sizes"] == "**0.90**"  # higher is better
    coverage = report.results_table(summary(), "coverage80", spread=False)
    assert coverage["fc sizes"].to_dict() == {"neuneu": "**0.70**", "ets": "0.95"}  # closest to 0.80; no quantiles: out


def test_count_table_is_one_row_per_count_and_markdown_has_no_row_numbers() -> None:
    counts = report.count_table(summary(), "n_pairs", splits=["heldout-sizes", "unseen-family"])
    assert counts.to_dict("records") == [{"sizes": "12", "family": "—"}]
    text = report.markdown(report.records_table([{"a": 1.23456, "b": None}]), index=False).data
    assert text.splitlines()[0].replace(" ", "") == "|a|b|" and "1.235" in text and "—" in text


def test_paper_numbers_name_their_source() -> None:
    numbers = report.paper_numbers()
    assert numbers and all({"value", "source"} <= set(entry) for entry in numbers.values())
