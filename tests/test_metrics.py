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


def test_order_agreement_scores_sign_and_ties():
    np.testing.assert_array_equal(metrics.order_agreement([0.1, -0.2, 0.3], [0.05, 0.1, 0.0]), [1.0, 0.0, 0.5])
    with pytest.raises(MetricError, match=r"^true differences must be non-zero: a tied pair carries no order$"):
        metrics.order_agreement([0.0], [0.1])


def test_checkpoint_noise_sd_recovers_the_noise_and_ignores_a_smooth_trend():
    rng = np.random.default_rng(0)
    x = np.log(np.arange(1, 401) * 1e9)
    trend = 0.3 + 0.2 * np.tanh(x - x.mean())
    assert metrics.checkpoint_noise_sd(x, trend) == pytest.approx(0.0, abs=1e-4)
    noisy = trend + rng.normal(0, 0.01, len(x))
    assert metrics.checkpoint_noise_sd(x, noisy) == pytest.approx(0.01, rel=0.1)
    assert np.isnan(metrics.checkpoint_noise_sd([1.0, 2.0], [0.1, 0.2]))


def test_loo_smoother_never_reads_the_point_it_predicts():
    x = np.arange(10.0)
    y = 0.5 + 0.01 * x
    np.testing.assert_allclose(metrics.loo_smoother(x, y), y, atol=1e-12)  # a line is predicted exactly
    spiked = y.copy()
    spiked[4] += 0.3
    smooth = metrics.loo_smoother(x, spiked)
    assert smooth[4] == pytest.approx(y[4], abs=1e-12)  # the spike is left out of its own prediction


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


def test_bias_by_horizon_keeps_the_sign():
    h, bias, n = metrics.bias_by_horizon([1, 2, 1, 3], [0.5] * 4, [0.51, 0.47, 0.53, 0.5])
    # h=1: (+.01 + .03)/2 = +.02 → +2.0 points; h=2: −.03 → −3.0 (too low); h=3: 0
    assert h.tolist() == [1, 2, 3]
    np.testing.assert_allclose(bias, [2.0, -3.0, 0.0], atol=1e-9)
    assert n.tolist() == [2, 1, 1]


def test_length_mismatch_and_empty_raise_named_errors():
    with pytest.raises(MetricError, match=r"^inputs have different lengths: \[2, 3\]$"):
        metrics.mae([0.1, 0.2], [0.1, 0.2, 0.3])
    with pytest.raises(MetricError, match=r"^nothing to score: inputs are empty$"):
        metrics.rmse([], [])
    with pytest.raises(MetricError, match=r"^quantiles have shape \(1, 2\), expected \(1, 3\)$"):
        metrics.pinball_loss([0.5], np.zeros((1, 2)), (0.1, 0.5, 0.9))
