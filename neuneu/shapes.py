"""Name the shape of an accuracy trajectory: steady, plateau, emergent, non-monotone, inverse or flat.

Downstream scaling is not one curve. To show that on real data (and to count how often each shape occurs) we
classify each trajectory with a few transparent rules on a lightly smoothed copy, with log-tokens as the time
axis. The rules are heuristics for illustration, not a statistical test; thresholds are in accuracy points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuneu.contract import Series

SHAPES = ("steady", "plateau", "emergent", "non-monotone", "inverse", "flat")


@dataclass(frozen=True)
class ShapeThresholds:
    """Accuracy-point thresholds of the rules (see :func:`classify_shape`)."""

    flat: float = 0.02        # |overall change| below this: flat
    bump: float = 0.04        # a rise-then-fall (or fall-then-rise) of at least this: non-monotone
    early_share: float = 0.75  # plateau: this share of the gain is reached in the first 30% of log-compute
    late_share: float = 0.25   # emergent: less than this share of the gain is reached in the first 60%


def smooth(values: np.ndarray, window: int = 5) -> np.ndarray:
    """Centred running median: robust to single noisy evaluations, keeps the length."""
    half = max(window // 2, 0)
    padded = np.pad(values, half, mode="edge")
    return np.array([np.median(padded[i : i + 2 * half + 1]) for i in range(len(values))])


def _share_reached(y: np.ndarray, x: np.ndarray, at: float, gain: float) -> float:
    """Fraction of the total gain already reached at relative log-compute position ``at``."""
    idx = int(np.searchsorted(x, x[0] + at * (x[-1] - x[0]), side="right")) - 1
    return (y[idx] - y[0]) / gain


def _window(series: Series) -> tuple[np.ndarray, np.ndarray]:
    """Log-tokens and values from 1% of the final token count on: Pythia's log-spaced first checkpoints (a few
    million tokens) would otherwise make every curve look flat-then-rising on a log axis."""
    tokens = np.asarray(series.tokens, float)
    keep = tokens >= 0.01 * tokens[-1]
    return np.log(np.maximum(tokens[keep], 1.0)), np.asarray(series.values, float)[keep]


def classify_shape(series: Series, th: ShapeThresholds = ShapeThresholds()) -> str:
    """One of :data:`SHAPES` for a trajectory, from its smoothed values against log-tokens (see :func:`_window`)."""
    x, values = _window(series)
    y = smooth(values)
    gain = y[-1] - y[0]
    rise_then_fall = y.max() - y[-1]
    fall_then_rise = y[-1] - y.min() if gain < 0 else y[0] - y.min()
    if gain < -th.flat:
        return "inverse"
    if max(rise_then_fall, fall_then_rise) >= th.bump and max(rise_then_fall, fall_then_rise) >= 0.5 * abs(gain):
        return "non-monotone"
    if abs(gain) < th.flat:
        return "flat"
    if _share_reached(y, x, 0.3, gain) >= th.early_share:
        return "plateau"
    if _share_reached(y, x, 0.6, gain) < th.late_share:
        return "emergent"
    return "steady"


def shape_strength(series: Series) -> float:
    """How clearly a trajectory shows its shape: range of the smoothed curve over its evaluation noise (the spread
    of values around the smoothed curve), so that a clean 10-point rise beats a noisy 30-point jitter."""
    _, values = _window(series)
    if len(np.unique(values)) < 5:  # two-level tasks (e.g. WSC flipping between majority classes) show no shape
        return 0.0
    y = smooth(values)
    noise = float(np.std(values - y))
    return float(y.max() - y.min()) / (noise + 0.005)


def pick_examples(series: list[Series], shapes: tuple[str, ...] = SHAPES[:5]) -> dict[str, Series]:
    """For each shape, the trajectory that shows it most clearly (largest smoothed range; ties by name)."""
    best: dict[str, tuple[float, tuple[str, str], Series]] = {}
    for s in series:
        shape = classify_shape(s)
        if shape not in shapes:
            continue
        score = (shape_strength(s), s.key)
        if shape not in best or score > best[shape][:2]:
            best[shape] = (*score, s)
    return {shape: best[shape][2] for shape in shapes if shape in best}
