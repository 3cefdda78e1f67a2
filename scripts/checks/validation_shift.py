"""Nested check: shift each forecast by the selection ensemble's bias on the validation runs, by how far into its
run the target lies (pre-registered in neuneu/zoo.py before it ran).

Every extrapolating method ends too low the farther ahead it forecasts (chapter 6, error by horizon), the default
less than the laws but still. The candidate learns that trend where the split allows it, on the validation runs:
per setting and context rule, the selection ensemble (trained without those runs, as its calibration is) answers
the validation questions, and in each bin of the target's fraction of its run's tokens (neuneu.evaluate.BIAS_BINS,
the bins of chapter 6's oracle bound) the weighted median of (truth − median) — each (run, task) trajectory
weighing one — is the shift. The refit ensemble's five quantiles
are moved by the shift of each target's bin. Needs the nested models (`python -m neuneu.zoo --nested`).
Run: `TQDM_DISABLE=1 .venv/bin/python scripts/checks/validation_shift.py` (a few minutes).
"""
from __future__ import annotations

from typing import Sequence

import nested
import numpy as np

from neuneu import evaluate, splits
from neuneu.contract import ForecasterBase, Prediction, Query, Series, anchored_question, context_end

def _bin(query: Query) -> np.ndarray:
    """The :data:`neuneu.evaluate.BIAS_BINS` bin of each target's fraction of the run's final tokens."""
    return evaluate.bias_bin(np.asarray(query.tokens, dtype=float) / float(query.final_tokens))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def validation_shifts(selection: ForecasterBase, validation: Sequence[Series], setting: str, rule: str
                      ) -> np.ndarray:
    """Per bin of :data:`neuneu.evaluate.BIAS_BINS`, the weighted median of (truth − median) of ``selection`` on
    the ``validation`` series' questions under ``rule`` (0 for a bin no target falls in)."""
    pairs, truths = [], []
    for s in validation:
        end = context_end(s, rule=rule)
        if end < len(s) - 1:
            pairs.append(anchored_question(s, end, setting))
            truths.append(np.asarray(s.values[end + 1:], dtype=float))
    answers = selection.predict_many(pairs)
    residual = np.concatenate([t - a.median for t, a in zip(truths, answers)])
    weight = np.concatenate([np.full(len(t), 1.0 / len(t)) for t in truths])
    where = np.concatenate([_bin(q) for _, q in pairs])
    return np.array([_weighted_median(residual[where == b], weight[where == b]) if np.any(where == b) else 0.0
                     for b in range(len(evaluate.BIAS_BINS) - 1)])


class Shifted(nested.Wrapped):
    """``inner``'s quantiles moved by ``shifts`` of each target's bin."""

    def __init__(self, inner: ForecasterBase, shifts: np.ndarray) -> None:
        super().__init__(inner)
        self.shifts = shifts

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        return [nested.answer(np.clip(a.quantiles + self.shifts[_bin(q)][:, None], 0.0, 1.0))
                for (_, q), a in zip(pairs, self.inner.predict_many(pairs))]


def main() -> None:
    rows = []
    for cell in nested.cells(splits.load_pool("public"), with_selection=True):
        shifts = validation_shifts(cell.selection, cell.split.validation_series(), cell.setting, cell.rule)
        scores = {label: nested.mae(m, cell.split.test, setting=cell.setting, split=cell.name, rule=cell.rule)
                  for label, m in (("plain", cell.refit), ("shifted", Shifted(cell.refit, shifts)))}
        rows.append(cell.row(**scores, shifts=" ".join(f"{100 * x:+.2f}" for x in shifts),
                             better=scores["shifted"] < scores["plain"]))
    nested.print_verdict(rows)


if __name__ == "__main__":
    main()
