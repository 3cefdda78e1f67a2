"""Nested check of noise-aware intervals (pre-registered in neuneu/zoo.py before it ran; rejected, 5 of 8 cells).

Each side of both intervals of the nested refit ensembles is widened in quadrature by the checkpoint noise the
question's context shows (σ from the context's second differences), the median unchanged; the split-conformal
factors are then fitted, as for the defaults, on the validation side through the selection ensemble widened the
same way. The rule compares q10–q90 coverage with 80%. Needs the nested models (`python -m neuneu.zoo --nested`).
Run: `TQDM_DISABLE=1 .venv/bin/python scripts/checks/noise_intervals.py` (a few minutes).
"""
from __future__ import annotations

from typing import Sequence

import nested
import numpy as np
import pandas as pd

from neuneu import splits
from neuneu.contract import Forecaster, Prediction, Query, Series
from neuneu.forecaster import Scales, conformal_scales, widen

#: Standard-normal quantiles of the q25/q75 and q10/q90 levels: the half-widths a pure noise term needs.
Z = {1: 0.674, 3: 0.674, 0: 1.282, 4: 1.282}


def context_noise(values: np.ndarray) -> float:
    """The checkpoint noise (sd) a context shows: 1.4826 · median |second difference| / √6, robust to a smooth
    trend; 0 below three points."""
    values = np.asarray(values, dtype=float)
    if len(values) < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(values, n=2))) / np.sqrt(6.0))


def noisy(q: np.ndarray, sigma: float) -> np.ndarray:
    """Quantiles (n, 5) whose every half-width w grows to √(w² + (zσ)²), the median kept."""
    out = q.copy()
    m = q[:, 2]
    for level, z in Z.items():
        half = np.abs(q[:, level] - m)
        out[:, level] = m + np.sign(level - 2) * np.sqrt(half ** 2 + (z * sigma) ** 2)
    return out


class NoiseAware(nested.Wrapped):
    """``inner``'s averaged quantiles widened by :func:`noisy`, then scaled by ``scales``."""

    def __init__(self, inner: Forecaster, scales: Scales = (1.0, 1.0)) -> None:
        super().__init__(inner)
        self.scales = scales

    def raw_quantiles(self, pairs: Sequence[tuple[Series, Query]]) -> list[np.ndarray]:
        raw = self.inner.raw_quantiles(pairs)
        return [noisy(q, context_noise(context.values)) for q, (context, _) in zip(raw, pairs)]

    def predict_many(self, pairs: Sequence[tuple[Series, Query]]) -> list[Prediction]:
        return [nested.answer(widen(q, self.scales)) for q in self.raw_quantiles(pairs)]


def calibrated(refit: Forecaster, judge: Forecaster, validation: Sequence[Series], setting: str) -> NoiseAware:
    """:class:`NoiseAware` around ``refit``, its factors fitted on ``validation`` through ``judge`` (the selection
    ensemble, reading the laws fitted without those runs)."""
    with judge.reading_validation_laws():
        scales = conformal_scales(NoiseAware(judge).raw_quantiles, validation, setting)
    return NoiseAware(refit, scales)


def coverage(method: Forecaster, test: Sequence[Series], *, setting: str, split: str, rule: str) -> tuple[float, float]:
    """The cell-averaged q10–q90 and q25–q75 coverage of ``method`` on ``test``."""
    means = nested.cell_means(method, test, setting=setting, split=split, rule=rule)
    return float(means["coverage80"]), float(means["coverage50"])


def main() -> None:
    rows, candidates = [], {}
    for cell in nested.cells(splits.load_pool("public"), with_selection=True):
        key = (cell.name, cell.setting)
        if key not in candidates:
            candidates[key] = calibrated(cell.refit, cell.selection, cell.split.validation_series(), cell.setting)
        plain, aware = (coverage(m, cell.split.test, setting=cell.setting, split=cell.name, rule=cell.rule)
                        for m in (cell.refit, candidates[key]))
        rows.append(cell.row(plain80=plain[0], aware80=aware[0], plain50=plain[1], aware50=aware[1],
                             better=abs(aware[0] - 0.8) < abs(plain[0] - 0.8)))
    print(pd.DataFrame(rows).round(3).to_string())
    print("noise-aware factors:", [tuple(round(x, 3) for x in c.scales) for c in candidates.values()])
    print(f"cells won: {sum(r['better'] for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
