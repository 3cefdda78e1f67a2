"""Every metric on a small example whose expected value was worked out by hand (in the comments)."""

import numpy as np
import pytest

from neuneu import metrics
from neuneu.metrics import MetricError


def test_mae_in_accuracy_points():
    # |errors| = 0.02, 0.03, 0.00 → mean 0.016667 → 1.6667 points
    assert metrics.mae([0.5, 0.6, 0.7], [0.52, 0.57, 0.7]) == pytest.approx(1.666667, abs=1e-5)
    assert metrics.mae([0.5, 0.6, 0.7], [0.52, 0.57, 0.7], scale=1.0) == pytest.approx(0.0166667, abs=1e-7)


def test_rmse_in_accuracy_points():
    # squares 0.0004, 0.0009, 0 → mean 0.00043333 → sqrt 0.0208167 → 2.08167 points
    assert metrics.rmse([0.5, 0.6, 0.7], [0.52, 0.57, 0.7]) == pytest.approx(2.08167, abs=1e-5)


def test_interval_coverage_counts_closed_interval():
    # 0.1 in [0, .2] yes; 0.5 in [.5, .6] yes (boundary); 0.9 in [.95, 1] no; 0.3 in [0, .25] no → 2/4
    y = [0.1, 0.5, 0.9, 0.3]
    assert metrics.interval_coverage(y, [0.0, 0.5, 0.95, 0.0], [0.2, 0.6, 1.0, 0.25]) == 0.5


def test_pinball_loss_hand_example():
    # y = 0.5; q10 = 0.4 → e = .1 → .1·.1 = .01; q50 = .5 → 0; q90 = .6 → e = −.1 → (.9−1)(−.1) = .01; mean .02/3
    assert metrics.pinball_loss([0.5], np.array([[0.4, 0.5, 0.6]]), (0.1, 0.5, 0.9)) == pytest.approx(0.02 / 3)


def test_pairwise_order_accuracy_hand_example():
    truth = [0.3, 0.5, 0.4, 0.5]
    pred = [0.35, 0.45, 0.46, 0.6]
    # pairs: (0,1) ✓, (0,2) ✓, (0,3) ✓, (1,2) ✗ (truth 1>2, pred 1<2), (1,3) truth tie → skipped, (2,3) ✓ → 4/5
    acc, n_pairs = metrics.pairwise_order_accuracy(truth, pred)
    assert (acc, n_pairs) == (pytest.approx(0.8), 5)


def test_pairwise_order_accuracy_ties():
    assert metrics.pairwise_order_accuracy([0.1, 0.2], [0.3, 0.3]) == (0.5, 1)  # predicted tie counts ½
    acc, n = metrics.pairwise_order_accuracy([0.4, 0.4], [0.1, 0.2])  # only a true tie: nothing to score
    assert np.isnan(acc) and n == 0


def test_ranking_accuracy_averages_over_tasks():
    groups = ["A"] * 4 + ["B"] * 2 + ["C"] * 2
    truth = [0.3, 0.5, 0.4, 0.5] + [0.2, 0.4] + [0.6, 0.6]
    pred = [0.35, 0.45, 0.46, 0.6] + [0.5, 0.1] + [0.1, 0.9]
    # A: 0.8 (above); B: one pair, wrong → 0; C: truth tie → task left out. Mean over A, B = 0.4
    assert metrics.ranking_accuracy(groups, truth, pred) == pytest.approx(0.4)


def test_cell_mean_weighs_cells_equally():
    # cell a: mean(1, 3) = 2; cell b: 10 → (2 + 10) / 2 = 6, not the row mean 4.667
    assert metrics.cell_mean([1.0, 3.0, 10.0], ["a", "a", "b"]) == 6.0
    assert metrics.cell_mean([1.0, np.nan, 10.0], ["a", "b", "b"]) == 5.5  # nan ignored inside cell b


def test_error_by_horizon_hand_example():
    h, err, n = metrics.error_by_horizon([1, 2, 1, 3], [0.5] * 4, [0.51, 0.47, 0.53, 0.5])
    # h=1: (.01 + .03)/2 = .02 → 2.0 points; h=2: .03 → 3.0; h=3: 0
    assert h.tolist() == [1, 2, 3]
    np.testing.assert_allclose(err, [2.0, 3.0, 0.0], atol=1e-9)
    assert n.tolist() == [2, 1, 1]


def test_length_mismatch_and_empty_raise_named_errors():
    with pytest.raises(MetricError, match=r"^inputs have different lengths: \[2, 3\]$"):
        metrics.mae([0.1, 0.2], [0.1, 0.2, 0.3])
    with pytest.raises(MetricError, match=r"^nothing to score: inputs are empty$"):
        metrics.rmse([], [])
    with pytest.raises(MetricError, match=r"^quantiles have shape \(1, 2\), expected \(1, 3\)$"):
        metrics.pinball_loss([0.5], np.zeros((1, 2)), (0.1, 0.5, 0.9))
