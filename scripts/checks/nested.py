"""What every nested check script shares: the nested refit ensembles, their MAE, and the printed verdict.

The check scripts run as files (``python scripts/checks/<check>.py``), so this module is imported from beside them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from neuneu import bench, evaluate, splits, zoo
from neuneu.contract import Capabilities, Forecaster, ForecasterBase, Prediction, Query, Series
from neuneu.splits import Split

PROFILE = "cpu"


def answer(quantiles: np.ndarray) -> Prediction:
    """A Prediction whose median is the middle of ``quantiles`` (n, 5)."""
    return Prediction(median=quantiles[:, 2].copy(), quantiles=quantiles)


class Wrapped(ForecasterBase):
    """A check's candidate that answers through ``inner``: it carries ``inner``'s name, seed, capabilities (unless
    given) and training record, so the harness scores it as ``inner``; subclasses define ``predict_many``."""

    def __init__(self, inner: Forecaster, *, name: str | None = None,
                 capabilities: Capabilities | None = None) -> None:
        super().__init__()
        self.inner, self.name, self.seed = inner, name or inner.name, inner.seed
        self.capabilities = capabilities or inner.capabilities
        self.trained_on = inner.trained_on

    def predict(self, context: Series, query: Query) -> Prediction:
        return self.predict_many([(context, query)])[0]


def refit_members(split: str | None = None, setting: str | None = None) -> list[zoo.ModelSpec]:
    """The nested checks' refit members (whole schedule) of ``split`` and ``setting`` (all when None)."""
    return [s for s in zoo.nested_specs(PROFILE, split) if s.refit and s.refit_schedule == "full"
            and setting in (None, s.setting)]


def refit_ensemble(split: str, setting: str, series: Sequence[Series], root: Path | None = None) -> Forecaster:
    """The average of the three nested refit members of ``split`` and ``setting`` (weights under ``root``, by
    default the repository's)."""
    ensemble = zoo.EnsembleSpec(split, setting, tuple(refit_members(split, setting)))
    [model], _ = bench.neuneu_models(split, series, PROFILE, (), (ensemble,), weights_root=root)
    return model


def selection_ensemble(split: str, setting: str, series: Sequence[Series]) -> Forecaster:
    """The average of the selection models of the three nested refit members (trained without the split's
    validation runs, which their calibration reads)."""
    members = tuple(m.selection for m in refit_members(split, setting))
    [model], _ = bench.neuneu_models(split, series, PROFILE, (), (zoo.EnsembleSpec(split, setting, members),))
    return model


def cell_means(method: Forecaster, test: Sequence[Series], *, setting: str, split: str, rule: str) -> pd.Series:
    """The cell-averaged scores of ``method`` on ``test`` (:func:`neuneu.evaluate.cell_scores`: mae, rmse,
    coverage80, coverage50)."""
    evaluation = evaluate.evaluate([method], test, setting=setting, split=split, context_rule=rule, reference=False)
    return evaluate.cell_scores(evaluation.predictions)[["mae", "rmse", "coverage80", "coverage50"]].mean()


def mae(method: Forecaster, test: Sequence[Series], *, setting: str, split: str, rule: str) -> float:
    """The cell-averaged MAE of ``method`` on ``test``."""
    return float(cell_means(method, test, setting=setting, split=split, rule=rule)["mae"])


def print_verdict(rows: list[dict]) -> None:
    """The table of ``rows`` (each with a boolean ``better``) and how many cells the candidate won."""
    table = pd.DataFrame(rows)
    print(table.round(3).to_string())
    print(f"cells won: {int(table['better'].sum())} of {len(table)}")


@dataclass
class Cell:
    """One nested cell: split, setting and context rule, with the split's refit ensemble and — when asked — its
    selection ensemble (``None`` otherwise)."""

    name: str
    split: Split
    setting: str
    rule: str
    refit: Forecaster
    selection: Forecaster | None

    def row(self, **scores) -> dict:
        """The cell's label columns followed by ``scores``."""
        return {"split": self.name, "setting": self.setting, "rule": self.rule, **scores}


def cells(series: Sequence[Series], *, with_selection: bool = False) -> Iterator[Cell]:
    """The 8 nested cells (2 nested splits × 2 settings × 2 context rules), each split's ensembles loaded once."""
    for name in zoo.NESTED_SPLITS:
        split = splits.make_split(series, name)
        for setting in ("forecast", "loss_given"):
            refit = refit_ensemble(name, setting, series)
            selection = selection_ensemble(name, setting, series) if with_selection else None
            for rule in ("compute", "index"):
                yield Cell(name, split, setting, rule, refit, selection)


def wrapper_check(label: str, wrap: Callable[[Forecaster], Forecaster]) -> None:
    """Print the verdict of a test-time candidate: in each nested cell, the refit ensemble's MAE plain and wrapped
    by ``wrap`` (a row is ``better`` when ``label``, the wrapped one, errs less)."""
    rows = []
    for cell in cells(splits.load_pool("public")):
        scores = {key: mae(m, cell.split.test, setting=cell.setting, split=cell.name, rule=cell.rule)
                  for key, m in (("plain", cell.refit), (label, wrap(cell.refit)))}
        rows.append(cell.row(**scores, better=scores[label] < scores["plain"]))
    print_verdict(rows)
