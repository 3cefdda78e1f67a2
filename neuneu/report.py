"""Tables as a reader wants them: formatted, pivoted to fit a page, "—" where a cell does not apply, the winner in
bold — and the paper's quoted numbers, read from their one cited data file.

The chapters call these on the summaries of :mod:`neuneu.bench`; nothing here computes a result. A table is a
pandas DataFrame of strings (so it prints in a terminal too) and :func:`markdown` turns it into a Markdown table
the book renders (bold survives; a raw DataFrame would show ``NaN`` and row numbers).
"""

from __future__ import annotations

import math
import tomllib
from typing import Any, Mapping, Sequence

import pandas as pd
from IPython.display import Markdown

from neuneu.paths import DATA_DIR

PAPER_NUMBERS = DATA_DIR / "paper_numbers.toml"
NOT_APPLICABLE = "—"
SHORT_SPLITS = {"heldout-sizes": "sizes", "heldout-multiplier": "multiplier", "unseen-family": "family",
                "unseen-recipe": "recipe", "heldout-tasks": "tasks", "miniladder-size": "ML size",
                "miniladder-recipe": "ML recipe"}
SHORT_SETTINGS = {"forecast": "fc", "loss_given": "lg"}
LOWER_IS_BETTER = {"mae": True, "rmse": True, "mae_ratio": True, "decision_accuracy": False,
                   "decision_size": False, "decision_budget": False, "decision_recipe": False}
#: Metrics whose best value is a target, not an extreme: an interval's coverage should match its nominal level.
NOMINAL = {"coverage80": 0.8, "coverage50": 0.5}


def paper_numbers() -> dict[str, dict[str, Any]]:
    """The paper's quoted numbers (``data/paper_numbers.toml``): name → {value, unit, what, source}."""
    return tomllib.loads(PAPER_NUMBERS.read_text())


def fmt(value: Any, sd: Any = None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, "± sd" when a spread is given, "—" when it does not apply."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NOT_APPLICABLE
    text = f"{value:.{digits}f}"
    if sd is not None and isinstance(sd, float) and math.isfinite(sd):
        text += f" ± {sd:.{digits}f}"
    return text


def _best(column: pd.Series, kinds: pd.Series, metric: str) -> str | None:
    """The forecaster with the best ``metric`` in ``column``: the lowest or highest (:data:`LOWER_IS_BETTER`,
    lowest by default), or the closest to the nominal level (:data:`NOMINAL`); the reference rows never win."""
    values = column[(kinds != "reference") & column.notna()]
    if values.empty:
        return None
    if metric in NOMINAL:
        return (values - NOMINAL[metric]).abs().idxmin()
    return values.idxmin() if LOWER_IS_BETTER.get(metric, True) else values.idxmax()


def results_table(summary: pd.DataFrame, metric: str = "mae", *, rule: str = "index",
                  splits: Sequence[str] | None = None, settings: Sequence[str] = ("forecast", "loss_given"),
                  digits: int = 2, spread: bool = True) -> pd.DataFrame:
    """Methods × (setting, split) of ``metric`` as strings: NeuNeu models first, the noise floor last, NeuNeu's
    mean ± sd over seeds, "—" where a method is not scored, and the best forecaster of each column in bold (for
    a coverage, the one closest to its nominal level). Methods without any value of ``metric`` (a coverage of a
    method without quantiles) are left out.

    Column labels are short ("fc sizes", "lg tasks") so that a five-split table fits the page.
    """
    rows = summary[(summary["context_rule"] == rule) & summary["setting"].isin(settings)]
    if splits is not None:
        rows = rows[rows["split"].isin(splits)]
    rows = rows[rows[metric].notna()]
    order = {"neuneu": 0, "baseline": 1, "reference": 2}
    kinds = rows.drop_duplicates("method").set_index("method")["kind"]
    methods = sorted(kinds.index, key=lambda m: (order.get(kinds[m], 3), m))
    columns = [(s, p) for s in settings for p in (splits or dict.fromkeys(rows["split"]))
               if ((rows["setting"] == s) & (rows["split"] == p)).any()]
    table = pd.DataFrame(index=methods)
    for setting, split in columns:
        cell = rows[(rows["setting"] == setting) & (rows["split"] == split)].set_index("method")
        values = cell[metric].reindex(methods)
        spreads = cell[f"{metric}_sd"].reindex(methods) if spread and f"{metric}_sd" in cell else None
        best = _best(values, kinds.reindex(methods), metric)
        label = f"{SHORT_SETTINGS.get(setting, setting)} {SHORT_SPLITS.get(split, split)}"
        texts = []
        for method in methods:
            text = fmt(values[method], None if spreads is None else spreads[method], digits)
            texts.append(f"**{text}**" if method == best else text)
        table[label] = texts
    table.index.name = "method"
    return table


def count_table(summary: pd.DataFrame, count: str = "n_pairs", *, rule: str = "index",
                splits: Sequence[str] | None = None) -> pd.DataFrame:
    """One row of a count every method of a split shares (``n_pairs``, ``n_targets``, ``n_cells``) per split."""
    rows = summary[summary["context_rule"] == rule]
    names = list(splits) if splits is not None else list(dict.fromkeys(rows["split"]))
    values = {SHORT_SPLITS.get(name, name): rows.loc[rows["split"] == name, count].max() for name in names}
    return pd.DataFrame([{k: NOT_APPLICABLE if pd.isna(v) else f"{int(v):,}" for k, v in values.items()}],
                        index=pd.Index([count], name="count"))


def markdown(table: pd.DataFrame, *, index: bool = True) -> Markdown:
    """``table`` as a Markdown table for the book (no row numbers unless the index means something)."""
    return Markdown(table.to_markdown(index=index, tablefmt="pipe"))


def records_table(rows: Sequence[Mapping[str, Any]], digits: int = 3) -> pd.DataFrame:
    """A small table from dict rows with numbers formatted and gaps as "—" (for one-off tables in chapters)."""
    frame = pd.DataFrame(rows)
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = [fmt(v, digits=digits) for v in frame[col]]
    return frame.fillna(NOT_APPLICABLE)
