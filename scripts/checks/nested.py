"""What every nested check script shares: the nested refit ensembles, their MAE, and the printed verdict.

The check scripts run as files (``python scripts/checks/<check>.py``), so this module is imported from beside them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from neuneu import bench, evaluate, splits, zoo
from neuneu.contract import Capabilities, Forecaster, ForecasterBase, Prediction, Query, Series

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


def mae(method: Forecaster, test: Sequence[Series], *, setting: str, split: str, rule: str) -> float:
    """The cell-averaged MAE of ``method`` on ``test`` (:func:`neuneu.evaluate.cell_scores`)."""
    evaluation = evaluate.evaluate([method], test, setting=setting, split=split, context_rule=rule, reference=False)
    return float(evaluate.cell_scores(evaluation.predictions)["mae"].mean())


def print_verdict(rows: list[dict]) -> None:
    """The table of ``rows`` (each with a boolean ``better``) and how many cells the candidate won."""
    table = pd.DataFrame(rows)
    print(table.round(3).to_string())
    print(f"cells won: {int(table['better'].sum())} of {len(table)}")


def wrapper_check(label: str, wrap: Callable[[Forecaster], Forecaster]) -> None:
    """Print the verdict of a test-time candidate: on each nested split, setting and context rule, the refit
    ensemble's MAE plain and wrapped by ``wrap`` (a row is ``better`` when ``label``, the wrapped one, errs less)."""
    series = splits.load_pool("public")
    rows = []
    for name in zoo.NESTED_SPLITS:
        test = splits.make_split(series, name).test
        for setting in ("forecast", "loss_given"):
            model = refit_ensemble(name, setting, series)
            for rule in ("compute", "index"):
                scores = {key: mae(m, test, setting=setting, split=name, rule=rule)
                          for key, m in (("plain", model), (label, wrap(model)))}
                rows.append({"split": name, "setting": setting, "rule": rule, **scores,
                             "better": scores[label] < scores["plain"]})
    print_verdict(rows)
