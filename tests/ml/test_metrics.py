"""Every shared metric against values computed by hand."""

from __future__ import annotations

import math

import pytest

from ml import metrics


def test_roc_auc_counts_correctly_ordered_pairs():
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: pairs ordered right = (0.35>0.1), (0.8>0.1), (0.8>0.4) = 3/4
    assert metrics.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_pr_auc_is_average_precision():
    # by score: 0.8 (pos, precision 1/1), 0.4 (neg), 0.35 (pos, precision 2/3), 0.1 (neg)
    # AP = 0.5 * 1 + 0.5 * 2/3
    assert metrics.pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 + 1 / 3)


def test_brier_is_mean_squared_probability_error():
    assert metrics.brier([0, 1, 1], [0.1, 0.9, 0.6]) == pytest.approx((0.01 + 0.01 + 0.16) / 3)


def test_lift_top_decile():
    # 20 rows, 4 positives (base rate 0.2); the top decile is the 2 highest scores: 1 positive -> 0.5 / 0.2
    y = [0, 1, 1, 0, 1, 0, 0, 0, 0, 1] + [0] * 10
    score = [0.99, 0.98, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1] + [0.0] * 10
    assert metrics.lift_top_decile(y, score) == pytest.approx(2.5)
    # 25 rows -> the top decile is ceil(2.5) = 3 rows
    y25 = [1, 1, 1] + [0] * 22
    assert metrics.lift_top_decile(y25, list(range(25, 0, -1))) == pytest.approx(1 / (3 / 25))


def test_lift_without_positives_is_an_error():
    with pytest.raises(ValueError):
        metrics.lift_top_decile([0, 0, 0], [0.1, 0.2, 0.3])


def test_calibration_table_bins_by_predicted_probability():
    table = metrics.calibration_table([1, 0, 1, 1], [0.9, 0.1, 0.3, 0.7], bins=2)
    assert table["rows"].tolist() == [2, 2]
    assert table["mean_predicted"].tolist() == pytest.approx([0.2, 0.8])
    assert table["observed_rate"].tolist() == pytest.approx([0.5, 1.0])


def test_expected_calibration_error_by_hand():
    # 2 equal-count bins by predicted probability: {0.1 (y=0), 0.3 (y=1)}: mean 0.2 vs rate 0.5 -> 0.3;
    # {0.7 (1), 0.9 (1)}: 0.8 vs 1.0 -> 0.2; weighted by rows: (2 * 0.3 + 2 * 0.2) / 4
    assert metrics.expected_calibration_error([1, 0, 1, 1], [0.9, 0.1, 0.3, 0.7], bins=2) == pytest.approx(
        0.25
    )
    # 5 rows in 2 bins: 3 + 2 rows; (0.1, 0.2, 0.3) with one positive: |0.2 - 1/3|; (0.8, 0.9) both: |0.85 - 1|
    ece = metrics.expected_calibration_error([0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], bins=2)
    assert ece == pytest.approx((3 * (1 / 3 - 0.2) + 2 * 0.15) / 5)
    # every bin's mean probability came true: 0
    assert metrics.expected_calibration_error([0, 1, 0, 1], [0.5] * 4, bins=2) == pytest.approx(0.0)
    # a confident model that is always wrong: |1 - 0| everywhere
    assert metrics.expected_calibration_error([0, 0, 1, 1], [1.0, 1.0, 0.0, 0.0], bins=2) == pytest.approx(
        1.0
    )


def test_mae_and_rmse():
    assert metrics.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert metrics.rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))


def test_aggregate_error():
    assert metrics.aggregate_error([10, 20, 70], [20, 20, 50]) == pytest.approx(0.1)
    assert metrics.aggregate_error([10, 20, 70], [30, 20, 70]) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        metrics.aggregate_error([0, 0], [1, 2])


def test_spearman():
    # ranks of the predictions 1,3,2,4 vs 1,2,3,4: d^2 sums to 2 -> 1 - 6*2 / (4*(16-1)) = 0.8
    assert metrics.spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)


def test_top_decile_revenue_share():
    # 10 rows -> the single highest prediction; that customer brought 50 of 100
    actual = [50, 10, 10, 10, 10, 10, 0, 0, 0, 0]
    predicted = [9, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert metrics.top_decile_revenue_share(actual, predicted) == pytest.approx(0.5)
    assert metrics.top_decile_revenue_share(actual, predicted[::-1]) == pytest.approx(0.0)


def test_inputs_must_match_in_length():
    with pytest.raises(ValueError):
        metrics.mae([1, 2], [1])


def test_reports_hold_every_metric():
    assert set(metrics.classification_report([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.1])) == {
        "roc_auc",
        "pr_auc",
        "brier",
        "ece",
        "lift_top_decile",
    }
    assert set(metrics.regression_report([1, 2, 3], [1, 2, 4])) == {
        "mae",
        "rmse",
        "aggregate_error",
        "spearman",
        "top_decile_revenue_share",
    }
