"""Per-token validation losses → the loss features NeuNeu reads: p = e^-loss, p-histograms, DiffHist, CNN input.

One module, pure functions, shared by training, evaluation, probes and notebooks, so every consumer sees the
same transform (the reference code applied exp(-x) in one path and not in another: paper-spec §9.5).

The data flow is ``losses → sanitize_losses → loss_to_prob → {prob_histogram, cnn_input}`` and
``histograms → diff_hist / hist_summary``.

**Padding and NaN** (paper-spec §9.8). The reference pipeline turned NaN (documents cut at the scoring length) and
zeroed padding into loss 0, i.e. p = 1: about 0.16% of its inputs are fake "perfectly predicted" tokens. By default
we *drop* NaN entries, and the entries a ``valid`` mask marks as padding. ``reference=True`` reproduces the
reference behaviour instead (NaN → 0, +inf → 10, -inf → 0, clip to [0, 20], p clipped to [0, 1 - 1e-6]) so its
numbers, e.g. the worked example of paper-spec §3, come out exactly.

**Bin convention.** Bin ``b`` (0-based) of ``B`` holds ``b/B <= p < (b+1)/B``; the top bin also holds p = 1.
In code: ``b = min(floor(p * B), B - 1)`` in float64. This is the reference code's left-closed convention
(``[lo, hi)``, with p = 1 falling in the top bin) and numpy's ``histogram`` convention, so our histograms are
comparable with the shipped DataDecide files. Paper appendix A writes right-closed bins ``((b-1)/B, b/B]``; the two
differ only for a p lying exactly on an interior edge b/B, which a float ``exp(-loss)`` practically never does.
Histograms are normalised by the number N of kept values (the reference divides by N + 1e-8, a guard we do not
need because N >= 1 is enforced).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from neuneu import profiles
from neuneu.sources import fetch

# Reference-mode constants (paper-spec §3, per-element transform).
REF_POSINF_LOSS = 10.0
REF_MAX_LOSS = 20.0
REF_P_CEILING = 1.0 - 1e-6
# Tolerance for "a histogram row sums to 1": the shipped float32 files sum to 1 ± 1.2e-7.
HIST_SUM_ATOL = 1e-5

DATADECIDE_HIST_SOURCE = "datadecide-histograms"
DATADECIDE_HIST_FILES = {"invp": "histograms_by_step_invp.npz", "nats": "histograms_by_step.npz"}


class FeatureError(ValueError):
    """Base class: an input the loss featurization cannot use."""


class EmptyLossesError(FeatureError):
    """No loss values to featurize (empty input, or nothing left after dropping NaN/padding)."""


class NegativeLossError(FeatureError):
    """A negative (or -inf) loss: per-token cross-entropy is >= 0, so the input is not a loss."""


class UnsanitizedLossError(FeatureError):
    """NaN reached a function that needs sanitized losses (call :func:`sanitize_losses` first)."""


class BinsError(FeatureError):
    """A bin count that is not an integer >= 1."""


class ShapeMismatchError(FeatureError):
    """Two arrays that must have the same shape do not."""


class NotAHistogramError(FeatureError):
    """An array that is not a normalised histogram (negative mass, or a row that does not sum to 1)."""


class CnnInputError(FeatureError):
    """A CNN input that cannot be built (k < 1, or fewer losses than k)."""


class HistogramFileError(FeatureError):
    """A histogram ``.npz`` file without the expected arrays, shapes or normalisation."""


@dataclass(frozen=True)
class FeatureConfig:
    """Sizes of the loss features. ``bins``: p-histogram bins on [0, 1] (the paper's 64). ``cnn_tokens``: K, the
    number of per-token p values fed to the CNN soft prompt (the paper's 256,000 word losses at ``full``).
    ``cnn_seed``: which fixed subsample of K positions (None = the first K, as the reference code does)."""

    bins: int
    cnn_tokens: int
    cnn_seed: int | None


def config_for(profile: str) -> FeatureConfig:
    """The feature sizes of a run profile (``smoke``, ``cpu`` or ``full``)."""
    return FeatureConfig(**profiles.profile(profile).features)


# ---------------------------------------------------------------------------------------------------------------
# Per-element transform


def sanitize_losses(
    losses: np.ndarray | Sequence[float], *, valid: np.ndarray | None = None, reference: bool = False
) -> np.ndarray:
    """Return the losses to featurize as a flat float64 array.

    Default: drop NaN entries (padding / positions without a target) and entries where ``valid`` is False, keep
    +inf (a real prediction with p = 0), and reject negative values and -inf with :class:`NegativeLossError`.
    With ``reference=True`` nothing is dropped: NaN → 0, +inf → 10, -inf → 0, then clip to [0, 20], as the
    reference pipeline did (``valid`` is still honoured). Raises :class:`EmptyLossesError` when nothing is left.
    """
    arr = np.asarray(losses, dtype=np.float64)
    if arr.size == 0:
        raise EmptyLossesError("losses are empty")
    if valid is not None:
        mask = np.asarray(valid, dtype=bool)
        if mask.shape != arr.shape:
            raise ShapeMismatchError(f"valid mask has shape {mask.shape}, losses have shape {arr.shape}")
        arr = arr[mask]
    arr = arr.ravel()
    if reference:
        arr = np.nan_to_num(arr, nan=0.0, posinf=REF_POSINF_LOSS, neginf=0.0)
        arr = np.clip(arr, 0.0, REF_MAX_LOSS)
    else:
        arr = arr[~np.isnan(arr)]
        _check_non_negative(arr)
    if arr.size == 0:
        raise EmptyLossesError("no losses left after dropping NaN/padding")
    return arr


def _check_non_negative(arr: np.ndarray) -> None:
    negative = arr < 0  # NaN compares False, so this counts only real negatives and -inf
    if negative.any():
        raise NegativeLossError(
            f"losses contain {int(negative.sum())} negative value(s) (min {arr[negative].min():.6g}); "
            "per-token cross-entropy is >= 0"
        )


def loss_to_prob(losses: np.ndarray | Sequence[float], *, reference: bool = False) -> np.ndarray:
    """Map sanitized losses to p = exp(-loss) in [0, 1] (float64, same shape).

    p is the probability the model gave the observed token (for a word loss, the word). Raises
    :class:`UnsanitizedLossError` on NaN and :class:`NegativeLossError` on negative values rather than guessing.
    ``reference=True`` additionally clips p to [0, 1 - 1e-6] as the reference code did (this only moves values
    inside the top bin).
    """
    arr = np.asarray(losses, dtype=np.float64)
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        raise UnsanitizedLossError(f"losses contain {n_nan} NaN value(s); call sanitize_losses first")
    _check_non_negative(arr)
    p = np.exp(-arr)
    return np.minimum(p, REF_P_CEILING) if reference else p


# ---------------------------------------------------------------------------------------------------------------
# Histograms and DiffHist


def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise BinsError(f"bins must be an integer >= 1, got {bins!r}")
    return int(bins)


def bin_edges(bins: int = 64) -> np.ndarray:
    """The ``bins + 1`` equally spaced edges of the p-histogram on [0, 1]."""
    return np.linspace(0.0, 1.0, _check_bins(bins) + 1)


def bin_centres(bins: int = 64) -> np.ndarray:
    """The centre (b + 0.5) / B of each p-histogram bin: the value a histogram summary gives to the bin's mass."""
    b = _check_bins(bins)
    return (np.arange(b) + 0.5) / b


def bin_labels(bins: int = 64) -> list[str]:
    """Human-readable bin intervals: ``[lo, hi)`` for every bin but the top one, which is ``[lo, 1.00]``."""
    edges = bin_edges(bins)
    closers = [")"] * (len(edges) - 2) + ["]"]
    return [f"[{lo:.2f}, {hi:.2f}{close}" for lo, hi, close in zip(edges[:-1], edges[1:], closers)]


def bin_index(p: np.ndarray, bins: int = 64) -> np.ndarray:
    """The 0-based bin of each probability: ``min(floor(p * B), B - 1)`` (left-closed bins, p = 1 in the top bin)."""
    b = _check_bins(bins)
    p = np.asarray(p, dtype=np.float64)
    if p.size and (np.isnan(p).any() or p.min() < 0.0 or p.max() > 1.0):
        raise FeatureError("probabilities must lie in [0, 1]")
    return np.minimum(np.floor(p * b).astype(np.int64), b - 1)


def prob_histogram(
    losses: np.ndarray | Sequence[float],
    bins: int = 64,
    *,
    valid: np.ndarray | None = None,
    reference: bool = False,
) -> np.ndarray:
    """The B-bin histogram of p = exp(-loss) on [0, 1], as fractions of the kept values (sums to 1).

    ``h[b] = #{i : b/B <= p_i < (b+1)/B} / N`` (p = 1 counts in the top bin), after :func:`sanitize_losses`
    (``valid`` and ``reference`` are passed on). This keeps the shape of the loss distribution, which a mean loss
    throws away (paper appendix A).
    """
    n_bins = _check_bins(bins)
    p = loss_to_prob(sanitize_losses(losses, valid=valid, reference=reference), reference=reference)
    counts = np.bincount(bin_index(p, n_bins), minlength=n_bins)
    return counts / p.size


def prob_histograms(loss_arrays: Sequence[np.ndarray], bins: int = 64, *, reference: bool = False) -> np.ndarray:
    """One :func:`prob_histogram` per checkpoint, stacked into an (n_checkpoints, bins) array."""
    if len(loss_arrays) == 0:
        raise EmptyLossesError("no loss arrays given")
    return np.stack([prob_histogram(losses, bins, reference=reference) for losses in loss_arrays])


def check_histogram(hist: np.ndarray, *, name: str = "histogram") -> np.ndarray:
    """Return ``hist`` as float64 if it is a 1-D or 2-D array of non-negative rows that sum to 1, else raise
    :class:`NotAHistogramError`."""
    h = np.asarray(hist, dtype=np.float64)
    if h.ndim not in (1, 2) or h.shape[-1] == 0:
        raise NotAHistogramError(f"{name} must be a 1-D or 2-D array with at least one bin, got shape {h.shape}")
    if not np.isfinite(h).all() or (h < 0).any():
        raise NotAHistogramError(f"{name} has negative or non-finite mass")
    sums = np.atleast_1d(h.sum(axis=-1))
    bad = np.flatnonzero(np.abs(sums - 1.0) > HIST_SUM_ATOL)
    if bad.size:
        raise NotAHistogramError(f"{name} row {int(bad[0])} sums to {sums[bad[0]]:.6g}, not 1")
    return h


def diff_hist(h_later: np.ndarray, h_earlier: np.ndarray) -> np.ndarray:
    """DiffHist: Δ = h_later − h_earlier, the change of the p-histogram between two checkpoints.

    Each row of Δ lies in [-1, 1]^B and sums to 0; mass moving to higher bins means the model got more tokens
    right. In NeuNeu the later histogram is the *target* checkpoint's (paper-spec §3), so this feature needs
    future validation losses: it belongs to the ``loss_given`` setting, not to forecasting (§9.15).
    Works row-wise on (n, B) arrays of the same shape.
    """
    later = np.asarray(h_later, dtype=np.float64)
    earlier = np.asarray(h_earlier, dtype=np.float64)
    if later.shape != earlier.shape:
        raise ShapeMismatchError(f"h_later has shape {later.shape} but h_earlier has shape {earlier.shape}")
    return check_histogram(later, name="h_later") - check_histogram(earlier, name="h_earlier")


def diff_hist_series(hist: np.ndarray, *, anchor: int | None = 0) -> np.ndarray:
    """DiffHist of every checkpoint of an (n, B) histogram sequence.

    ``anchor=i``: row t is h_t − h_i (the change since checkpoint i; row i is zero). ``anchor=None``: row t is
    h_t − h_{t-1} (consecutive changes; row 0 is zero).
    """
    h = check_histogram(hist)
    if h.ndim != 2:
        raise NotAHistogramError(f"histogram sequence must be 2-D (checkpoints, bins), got shape {h.shape}")
    if anchor is None:
        return np.vstack([np.zeros_like(h[:1]), np.diff(h, axis=0)])
    if not -h.shape[0] <= anchor < h.shape[0]:
        raise FeatureError(f"anchor {anchor} is out of range for {h.shape[0]} checkpoints")
    return h - h[anchor]


def hist_summary(hist: np.ndarray) -> dict[str, float]:
    """Scalar summaries of one p-histogram, each computed from bin masses and bin centres.

    ``mean_p`` (bin-centre mean of p), ``median_p`` (linear interpolation inside the bin where the CDF crosses
    1/2), ``mass_bottom`` (p < 1/B: tokens the model nearly ruled out), ``mass_top`` (p >= 1 - 1/B: tokens it got
    almost surely right) and ``entropy_nats`` of the bin masses.
    """
    h = check_histogram(hist)
    if h.ndim != 1:
        raise NotAHistogramError(f"hist_summary takes one histogram (1-D), got shape {h.shape}")
    n_bins = h.size
    cdf = np.cumsum(h)
    b = min(int(np.searchsorted(cdf, 0.5)), n_bins - 1)
    below = cdf[b - 1] if b > 0 else 0.0
    inside = (0.5 - below) / h[b] if h[b] > 0 else 0.0
    nonzero = h[h > 0]
    return {
        "mean_p": float(h @ bin_centres(n_bins)),
        "median_p": float((b + inside) / n_bins),
        "mass_bottom": float(h[0]),
        "mass_top": float(h[-1]),
        "entropy_nats": float(-(nonzero * np.log(nonzero)).sum()),
    }


def hist_summary_table(steps: np.ndarray, hist: np.ndarray) -> pd.DataFrame:
    """:func:`hist_summary` of every row of an (n, B) histogram sequence, one table row per step."""
    h = check_histogram(hist)
    steps = np.asarray(steps)
    if h.ndim != 2 or steps.shape != (h.shape[0],):
        raise ShapeMismatchError(f"steps has shape {steps.shape} but hist has shape {h.shape}")
    rows = [{"step": int(s), **hist_summary(row)} for s, row in zip(steps, h)]
    return pd.DataFrame(rows)


def remove_padding_mass(hist: np.ndarray, fraction: float) -> np.ndarray:
    """Undo the reference pipeline's fake p = 1 items in a histogram built with NaN/padding → loss 0.

    Removes ``fraction`` of the total mass from the top bin and renormalises. Padding entries sit at fixed
    positions of the fixed validation corpus, so their share is the same at every checkpoint; at step 0 a random
    model puts essentially no real mass at p ≈ 1, so the step-0 top bin estimates ``fraction`` (0.163% for the
    DataDecide c4-300M files).
    """
    h = check_histogram(hist)
    if not 0.0 <= fraction < 1.0:
        raise FeatureError(f"fraction must be in [0, 1), got {fraction!r}")
    top = h[..., -1]
    if (top < fraction - HIST_SUM_ATOL).any():
        raise FeatureError(f"top bin holds less mass than the padding fraction {fraction!r}")
    out = h.copy()
    out[..., -1] = np.maximum(top - fraction, 0.0)
    return out / out.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------------
# CNN input


def cnn_input(
    losses: np.ndarray | Sequence[float],
    k: int,
    seed: int | None = 0,
    *,
    valid: np.ndarray | None = None,
    reference: bool = False,
) -> np.ndarray:
    """The K probabilities p = exp(-loss) the CNN soft prompt reads, as a float32 array of shape (k,).

    ``seed=None``: the first K kept values (the reference code's prefix of the validation stream).
    ``seed=s``: K positions drawn uniformly without replacement from the kept values with
    ``numpy.random.default_rng(s)``, returned in corpus order. The positions depend only on (N, k, seed), so
    every checkpoint of a run (same corpus, same padding layout, hence same N) sees the same tokens and the
    CNN compares like with like, while covering the whole corpus instead of its first ~5% (paper-spec §9.10).
    """
    p = loss_to_prob(sanitize_losses(losses, valid=valid, reference=reference), reference=reference)
    return p[cnn_positions(p.size, k, seed)].astype(np.float32)


def cnn_positions(n: int, k: int, seed: int | None = 0) -> np.ndarray:
    """The sorted indices (into the N sanitized values) that :func:`cnn_input` keeps: ``0..k-1`` when ``seed`` is
    None, else ``k`` distinct indices drawn with ``numpy.random.default_rng(seed)``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise CnnInputError(f"k must be an integer >= 1, got {k!r}")
    if n < k:
        raise CnnInputError(f"need at least k={k} losses, got {n} after sanitizing")
    if seed is None:
        return np.arange(k)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


# ---------------------------------------------------------------------------------------------------------------
# Shipped DataDecide histograms


def load_datadecide_histograms(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Read a reference ``histograms_by_step*.npz``: (steps int64 (n,), histograms float64 (n, B)).

    Checks that both arrays exist, that steps strictly increase and align with the histogram rows, and that every
    row sums to 1. Loaded with ``allow_pickle=False`` (the files hold plain arrays only).
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as npz:
        missing = [key for key in ("steps", "histograms") if key not in npz.files]
        if missing:
            raise HistogramFileError(f"{path.name}: missing array(s) {missing} (found {sorted(npz.files)})")
        steps = np.asarray(npz["steps"], dtype=np.int64)
        hist = np.asarray(npz["histograms"], dtype=np.float64)
    if hist.ndim != 2 or steps.shape != (hist.shape[0],):
        raise HistogramFileError(f"{path.name}: steps has shape {steps.shape} but histograms has shape {hist.shape}")
    if np.any(np.diff(steps) <= 0):
        raise HistogramFileError(f"{path.name}: steps are not strictly increasing")
    try:
        check_histogram(hist, name=path.name)
    except NotAHistogramError as exc:
        raise HistogramFileError(str(exc)) from exc
    return steps, hist


def datadecide_histogram_path(kind: str = "invp") -> Path:
    """Fetch (sha256-verified, from the cache, the mirror or the URL) one shipped DataDecide-c4-300M histogram
    file and return its path. ``kind``: ``"invp"`` (64 bins of p on [0, 1)) or ``"nats"`` (32 bins of loss on
    [0, 15)). Raises ``neuneu.sources.SourceError`` when the file cannot be provided."""
    if kind not in DATADECIDE_HIST_FILES:
        raise FeatureError(f"kind must be one of {sorted(DATADECIDE_HIST_FILES)}, got {kind!r}")
    paths = fetch([DATADECIDE_HIST_SOURCE], progress=False)[DATADECIDE_HIST_SOURCE]
    return next(p for p in paths if p.name == DATADECIDE_HIST_FILES[kind])
