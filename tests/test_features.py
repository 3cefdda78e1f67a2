"""Loss featurization: paper-spec §3 worked example, invariants, exact error messages, shipped DataDecide files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neuneu import features as F
from neuneu.plots_features import (
    plot_diffhist_heatmap,
    plot_histograms_over_training,
    plot_worked_example,
)

NAN = float("nan")
# Worked example of paper-spec §3 (B = 4): checkpoint A, then a later checkpoint B. Entry 6 is padding (NaN).
LOSSES_A = [0.05, 0.4, 1.2, 2.5, 4.0, 9.0, NAN, 0.9]
LOSSES_B = [0.02, 0.2, 0.6, 1.8, 3.0, 7.0, NAN, 0.3]


# --- worked example -------------------------------------------------------------------------------------------


def test_worked_example_reference_mode_matches_spec_exactly():
    h_a = F.prob_histogram(LOSSES_A, bins=4, reference=True)
    h_b = F.prob_histogram(LOSSES_B, bins=4, reference=True)
    assert h_a.tolist() == [0.375, 0.25, 0.125, 0.25]
    assert h_b.tolist() == [0.375, 0.0, 0.25, 0.375]
    assert F.diff_hist(h_b, h_a).tolist() == [0.0, -0.25, 0.125, 0.125]


def test_worked_example_probabilities_match_spec():
    p_a = F.loss_to_prob(F.sanitize_losses(LOSSES_A, reference=True), reference=True)
    expected = [0.9512, 0.6703, 0.3012, 0.0821, 0.0183, 0.0001, 1.0, 0.4066]
    np.testing.assert_allclose(p_a, expected, atol=6e-5)
    assert p_a[6] == F.REF_P_CEILING  # the NaN became a "perfectly predicted" token
    assert F.bin_index(p_a, 4).tolist() == [3, 2, 1, 0, 0, 0, 3, 1]


def test_worked_example_nan_dropped_by_default():
    # 7 real tokens. A: p = .951 .670 .301 .082 .018 .0001 .407 -> counts 3, 2, 1, 1.
    # B: p = .980 .819 .549 .165 .050 .0009 .741 -> counts 3, 0, 2, 2.
    h_a = F.prob_histogram(LOSSES_A, bins=4)
    h_b = F.prob_histogram(LOSSES_B, bins=4)
    assert h_a.tolist() == [3 / 7, 2 / 7, 1 / 7, 1 / 7]
    assert h_b.tolist() == [3 / 7, 0.0, 2 / 7, 2 / 7]
    np.testing.assert_allclose(F.diff_hist(h_b, h_a), [0.0, -2 / 7, 1 / 7, 1 / 7], atol=1e-15)


def test_valid_mask_drops_zero_padding():
    # Reference-style padding stored as loss 0 (p = 1) is removed by the valid mask, not by value.
    losses = np.array([0.0, 0.3, 2.0, 0.0])
    valid = np.array([True, True, True, False])  # the first 0.0 is a real, perfectly predicted token
    assert F.prob_histogram(losses, bins=2, valid=valid).tolist() == [1 / 3, 2 / 3]
    assert F.prob_histogram(losses, bins=2).tolist() == [0.25, 0.75]


# --- conventions and invariants -------------------------------------------------------------------------------


def test_bin_edges_are_left_closed_and_p1_goes_to_top_bin():
    assert F.bin_labels(4) == ["[0.00, 0.25)", "[0.25, 0.50)", "[0.50, 0.75)", "[0.75, 1.00]"]
    p = np.array([0.0, 0.2499999, 0.25, 0.5, 0.75, 0.9999999, 1.0])
    assert F.bin_index(p, 4).tolist() == [0, 0, 1, 2, 3, 3, 3]
    assert F.prob_histogram([math.inf, 0.0], bins=4).tolist() == [0.5, 0.0, 0.0, 0.5]


def test_reference_mode_clips_like_the_reference_code():
    clean = F.sanitize_losses([NAN, math.inf, -math.inf, 25.0, 1.0], reference=True)
    assert clean.tolist() == [0.0, 10.0, 0.0, 20.0, 1.0]


@pytest.mark.parametrize("bins", [1, 3, 4, 10, 64])
def test_histogram_rows_sum_to_one_and_diff_sums_to_zero(bins):
    rng = np.random.default_rng(0)
    early = rng.exponential(3.0, size=2_000)
    later = early * rng.uniform(0.3, 1.0, size=early.size)
    h_early, h_later = F.prob_histogram(early, bins), F.prob_histogram(later, bins)
    assert h_early.shape == (bins,) and abs(h_early.sum() - 1.0) < 1e-12
    delta = F.diff_hist(h_later, h_early)
    assert abs(delta.sum()) < 1e-12 and np.all(np.abs(delta) <= 1.0)


def test_monotone_improvement_moves_mass_up():
    # Every loss shrinks -> every p grows -> the CDF of p can only drop: cumsum(Δ) <= 0 in every bin.
    rng = np.random.default_rng(1)
    early = rng.gamma(2.0, 2.0, size=5_000)
    later = early * 0.7
    delta = F.diff_hist(F.prob_histogram(later, 64), F.prob_histogram(early, 64))
    assert np.all(np.cumsum(delta) <= 1e-12)
    assert np.cumsum(delta)[:-1].min() < -0.05  # and it really moved
    assert F.hist_summary(F.prob_histogram(later, 64))["mean_p"] > F.hist_summary(F.prob_histogram(early, 64))["mean_p"]


def test_prob_histograms_stacks_and_diff_hist_series_anchors():
    hist = F.prob_histograms([LOSSES_A, LOSSES_B], bins=4, reference=True)
    assert hist.shape == (2, 4)
    assert F.diff_hist_series(hist, anchor=0)[1].tolist() == [0.0, -0.25, 0.125, 0.125]
    assert F.diff_hist_series(hist, anchor=None)[0].tolist() == [0.0] * 4


def test_hist_summary_values():
    s = F.hist_summary(np.array([0.375, 0.25, 0.125, 0.25]))
    assert s["mean_p"] == pytest.approx(0.375 * 0.125 + 0.25 * 0.375 + 0.125 * 0.625 + 0.25 * 0.875)
    assert s["median_p"] == pytest.approx(0.25 + 0.25 * (0.125 / 0.25))  # CDF hits 1/2 halfway through bin 1
    assert (s["mass_bottom"], s["mass_top"]) == (0.375, 0.25)


def test_cnn_input_prefix_and_seeded_subsample():
    losses = np.linspace(0.0, 5.0, 1_000)
    losses[::10] = NAN  # padding is dropped before choosing positions
    prefix = F.cnn_input(losses, k=5, seed=None)
    np.testing.assert_allclose(prefix, np.exp(-losses[1:6]).astype(np.float32))
    sub = F.cnn_input(losses, k=50, seed=3)
    assert sub.dtype == np.float32 and sub.shape == (50,)
    assert np.array_equal(sub, F.cnn_input(losses, k=50, seed=3))  # same seed, same positions
    assert not np.array_equal(sub, F.cnn_input(losses, k=50, seed=4))
    assert np.all(np.diff(sub) < 0)  # corpus order kept (losses increase along the corpus here)
    # the same positions at a later checkpoint: p at each chosen position rises when every loss halves
    assert np.all(F.cnn_input(losses / 2, k=50, seed=3) >= sub)


def test_remove_padding_mass():
    h = np.array([0.5, 0.2, 0.3])
    np.testing.assert_allclose(F.remove_padding_mass(h, 0.1), [0.5 / 0.9, 0.2 / 0.9, 0.2 / 0.9])


def test_config_for_profiles():
    assert F.config_for("full").cnn_tokens == 256_000 and F.config_for("smoke").bins == 64


# --- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: F.prob_histogram([]), F.EmptyLossesError, r"^losses are empty$"),
        (lambda: F.prob_histogram([NAN, NAN]), F.EmptyLossesError, r"^no losses left after dropping NaN/padding$"),
        (lambda: F.prob_histogram([1.0], bins=0), F.BinsError, r"^bins must be an integer >= 1, got 0$"),
        (lambda: F.prob_histogram([1.0], bins=2.5), F.BinsError, r"^bins must be an integer >= 1, got 2\.5$"),
        (
            lambda: F.prob_histogram([1.0, -0.5, -math.inf]),
            F.NegativeLossError,
            r"^losses contain 2 negative value\(s\) \(min -inf\); per-token cross-entropy is >= 0$",
        ),
        (
            lambda: F.loss_to_prob([1.0, NAN]),
            F.UnsanitizedLossError,
            r"^losses contain 1 NaN value\(s\); call sanitize_losses first$",
        ),
        (
            lambda: F.prob_histogram([1.0, 2.0], valid=[True]),
            F.ShapeMismatchError,
            r"^valid mask has shape \(1,\), losses have shape \(2,\)$",
        ),
        (
            lambda: F.diff_hist(np.array([0.5, 0.5]), np.array([1.0, 0.0, 0.0])),
            F.ShapeMismatchError,
            r"^h_later has shape \(2,\) but h_earlier has shape \(3,\)$",
        ),
        (
            lambda: F.diff_hist(np.array([0.5, 0.6]), np.array([1.0, 0.0])),
            F.NotAHistogramError,
            r"^h_later row 0 sums to 1\.1, not 1$",
        ),
        (lambda: F.cnn_input([1.0, 2.0], k=3), F.CnnInputError, r"^need at least k=3 losses, got 2 after sanitizing$"),
        (lambda: F.cnn_input([1.0], k=0), F.CnnInputError, r"^k must be an integer >= 1, got 0$"),
        (lambda: F.bin_index(np.array([1.5]), 4), F.FeatureError, r"^probabilities must lie in \[0, 1\]$"),
        (lambda: F.remove_padding_mass(np.array([1.0, 0.0]), 0.1), F.FeatureError, r"^top bin holds less mass"),
    ],
)
def test_errors_have_exact_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bad_npz_file_is_rejected(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, steps=np.array([0, 10]))
    missing = r"^bad\.npz: missing array\(s\) \['histograms'\] \(found \['steps'\]\)$"
    with pytest.raises(F.HistogramFileError, match=missing):
        F.load_datadecide_histograms(path)
    np.savez(path, steps=np.array([10, 0]), histograms=np.full((2, 4), 0.25))
    with pytest.raises(F.HistogramFileError, match=r"^bad\.npz: steps are not strictly increasing$"):
        F.load_datadecide_histograms(path)


# --- the shipped DataDecide-c4-300M histograms (paper-spec §2.5) ----------------------------------------------


@pytest.fixture(scope="module")
def datadecide_invp():
    from neuneu.sources import SourceError

    try:
        path = F.datadecide_histogram_path("invp")
    except SourceError as exc:
        pytest.skip(f"datadecide-histograms not available (set NEUNEU_MIRROR or go online): {exc}")
    return F.load_datadecide_histograms(path)


def test_datadecide_histograms_match_paper_spec(datadecide_invp):
    steps, hist = datadecide_invp
    assert hist.shape == (38, 64) and steps[0] == 0 and steps[1] == 1250 and steps[-1] == 45787
    np.testing.assert_allclose(hist.sum(axis=1), 1.0, atol=1e-6)
    table = F.hist_summary_table(steps, hist).set_index("step")
    assert table.loc[0, "mean_p"] == pytest.approx(0.009, abs=1e-3)
    assert table.loc[1250, "mean_p"] == pytest.approx(0.200, abs=1e-3)
    assert table.loc[10000, "mean_p"] == pytest.approx(0.242, abs=1e-3)
    assert table.loc[45787, "mean_p"] == pytest.approx(0.266, abs=1e-3)
    assert table.loc[45787, "mass_bottom"] == pytest.approx(0.359, abs=1e-3)
    assert table.loc[45787, "mass_top"] == pytest.approx(0.0475, abs=1e-4)
    # Training past step 1250 moves mass up everywhere: the CDF of p only drops.
    assert np.all(np.cumsum(F.diff_hist(hist[-1], hist[1])) <= 1e-6)


def test_plots_write_png_and_csv(tmp_path):
    rng = np.random.default_rng(2)
    steps = np.array([100, 200, 300, 400])
    hist = F.prob_histograms([rng.exponential(scale, size=500) for scale in (6.0, 3.0, 2.0, 1.5)], bins=8)
    h_a = F.prob_histogram(LOSSES_A, bins=4, reference=True)
    h_b = F.prob_histogram(LOSSES_B, bins=4, reference=True)
    plot_worked_example(h_a, h_b, tmp_path)
    plot_histograms_over_training(steps, hist, tmp_path)
    plot_diffhist_heatmap(steps, F.diff_hist_series(hist, anchor=0), tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    stems = ("worked_example", "histograms_over_training", "diffhist_heatmap")
    assert names == sorted(f"{stem}.{ext}" for stem in stems for ext in ("png", "csv"))
    worked = pd.read_csv(tmp_path / "worked_example.csv")
    assert worked["delta"].tolist() == [0.0, -0.25, 0.125, 0.125]
    heat = pd.read_csv(tmp_path / "diffhist_heatmap.csv")
    assert len(heat) == 4 * 8 and heat.groupby("step")["delta"].sum().abs().max() < 1e-12
