"""Churn: label windows without leakage, the time split, and build -> train -> evaluate -> predict on
the tiny shop built by dbt."""

from __future__ import annotations

import datetime as dt
import pickle
import re

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import churn
from ml.churn.features import feature_matrix, load_features, load_orders, readable
from ml.churn.labels import churn_labels, future_window, time_split
from ml.churn.model import scoring_rows
from ml.churn.truth import score_against_truth
from ml.core import read_frame, replace_table

SNAP = dt.date(2025, 3, 1)
AT = pd.Timestamp("2025-03-01T00:00:00Z")


def _orders(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ordered_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "net_revenue": [float(r[2]) for r in rows],
        }
    )


def test_label_window_is_snapshot_to_horizon_half_open():
    rows = pd.DataFrame({"customer_id": [1, 2, 3, 4], "snapshot_date": [SNAP] * 4})
    orders = _orders(
        (1, AT - pd.Timedelta(milliseconds=1), 10),  # just before the snapshot: the features' side
        (2, AT, 20),  # at the snapshot instant: the future
        (3, AT + pd.Timedelta(days=90) - pd.Timedelta(milliseconds=1), 30),  # last instant inside
        (4, AT + pd.Timedelta(days=90), 40),  # the horizon's end is excluded
    )
    window = future_window(rows, orders, 90)
    assert window["future_orders"].tolist() == [0, 1, 1, 0]
    assert window["future_revenue"].tolist() == [0, 20, 30, 0]
    assert churn_labels(rows, orders, 90).tolist() == [1, 0, 0, 1]


def test_label_never_depends_on_orders_outside_its_window():
    rng = np.random.default_rng(7)
    customers = np.arange(50)
    rows = pd.DataFrame({"customer_id": customers, "snapshot_date": [SNAP] * 50})
    inside = _orders(
        *[(int(c), AT + pd.Timedelta(days=float(rng.uniform(0, 90))), 5) for c in customers[::3]]
    )
    before = _orders(
        *[(int(c), AT - pd.Timedelta(days=float(rng.uniform(0.001, 400))), 7) for c in customers]
    )
    after = _orders(*[(int(c), AT + pd.Timedelta(days=float(rng.uniform(90, 400))), 9) for c in customers])
    alone = future_window(rows, inside, 90)
    noisy = future_window(rows, pd.concat([before, inside, after], ignore_index=True), 90)
    pd.testing.assert_frame_equal(alone, noisy)
    assert churn_labels(rows, inside, 90).sum() == 50 - len(customers[::3])


def test_labels_follow_each_rows_own_snapshot():
    rows = pd.DataFrame({"customer_id": [1, 1], "snapshot_date": [dt.date(2025, 1, 1), dt.date(2025, 4, 1)]})
    orders = _orders((1, "2025-02-15T12:00:00Z", 10))
    assert churn_labels(rows, orders, 90).tolist() == [0, 1]


def test_time_split_purges_training_labels_that_reach_the_validation_snapshot():
    dates = [dt.date(2025, m, 1) for m in range(1, 12)]
    train, valid = time_split(dates, dt.date(2025, 11, 1), 90)
    assert valid == dt.date(2025, 8, 1)  # latest with snapshot + 90 days <= as_of
    assert train == [dt.date(2025, m, 1) for m in range(1, 6)]  # 2025-05-01 + 90 days <= 2025-08-01
    assert all(d + dt.timedelta(days=90) <= valid for d in train)
    with pytest.raises(ValueError):
        time_split(dates, dt.date(2025, 2, 1), 90)


def test_readable_feature_names():
    assert readable("recency_days") == "Days since last order"
    assert readable("category_share_brewing_supplies") == "Share of spend on brewing supplies"
    assert readable("channel_paid_social") == "Acquired via paid social"


# --- on the tiny shop ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn(built_tiny, dbt_warehouse):
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as connection:
        yield connection


@pytest.fixture(scope="module")
def as_of(conn) -> dt.date:
    """The tiny shop's today: the latest snapshot (the first of the month after the last order)."""
    return read_frame(conn, "select max(snapshot_date) as d from marts.ml_customer_features")["d"].iloc[0]


@pytest.fixture(scope="module")
def fitted(conn, as_of):
    params = churn.Params(n_estimators=60)
    training_set = churn.build_training_set(conn, as_of, params)
    return params, training_set, churn.train(training_set, params)


def test_features_only_use_orders_before_their_snapshot(conn, as_of):
    features = load_features(conn, as_of)
    assert (
        pd.to_datetime(features["last_order_at"], utc=True)
        < features["snapshot_date"].map(pd.Timestamp).dt.tz_localize("UTC")
    ).all()
    known = read_frame(
        conn,
        """select f.customer_id, f.snapshot_date, f.frequency, count(o.order_id) as orders_before
           from marts.ml_customer_features f
           left join marts.fct_orders o
             on o.customer_id = f.customer_id
            and o.ordered_at < f.snapshot_date::timestamp at time zone 'UTC'
            and (o.cancelled_at is null or o.cancelled_at >= f.snapshot_date::timestamp at time zone 'UTC')
           group by 1, 2, 3""",
    )
    assert len(known) == len(features)
    assert (known["frequency"] == known["orders_before"]).all()
    x = feature_matrix(features)
    assert not {"customer_id", "snapshot_date", "first_order_at", "last_order_at"} & set(x.columns)
    assert x.filter(like="channel_").sum(axis=1).eq(1).all()  # one-hot


def test_load_orders_excludes_cancelled_and_future_orders(conn, as_of):
    orders = load_orders(conn, as_of)
    expected = read_frame(
        conn,
        "select count(*) as n from marts.fct_orders where not is_cancelled and customer_id is not null "
        "and ordered_at < %s",
        (dt.datetime.combine(as_of, dt.time(), dt.UTC),),
    )["n"].iloc[0]
    assert len(orders) == expected > 0
    early = load_orders(conn, as_of - dt.timedelta(days=60))
    assert early["ordered_at"].max() < pd.Timestamp(as_of - dt.timedelta(days=60)).tz_localize("UTC")


def test_training_set_is_a_time_split(fitted, as_of):
    params, ts, _ = fitted
    assert ts.validation_snapshot + dt.timedelta(days=params.horizon_days) <= as_of
    assert max(ts.train_snapshots) + dt.timedelta(days=params.horizon_days) <= ts.validation_snapshot
    assert len(ts.y_train) > 0 and len(ts.y_valid) > 0
    assert set(np.unique(ts.y_train)) == {0, 1}
    assert list(ts.x_train.columns) == ts.feature_names == list(ts.x_valid.columns)


def test_evaluate_reports_model_and_baseline(fitted):
    params, ts, model = fitted
    evaluation = churn.evaluate(model, ts, params)
    assert evaluation.primary_metric == "roc_auc" and evaluation.higher_is_better
    for scores in (evaluation.metrics, evaluation.baseline_metrics):
        assert set(scores) == {"roc_auc", "pr_auc", "brier", "lift_top_decile"}
        assert 0 <= scores["roc_auc"] <= 1 and 0 <= scores["brier"] <= 1
    assert evaluation.split["validation_snapshot"] == str(ts.validation_snapshot)
    deciles = [line for line in evaluation.extra_markdown.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(deciles) == 10  # ten calibration deciles


def test_predict_scores_every_active_customer(conn, fitted, as_of):
    params, _, model = fitted
    scores = churn.predict(model, conn, as_of, params, model_version="v-test")
    assert list(scores.columns) == list(churn.COLUMN_TYPES)
    active = read_frame(
        conn,
        "select customer_id from marts.ml_customer_features where snapshot_date = %s and recency_days <= %s",
        (as_of, params.active_days),
    )
    assert len(scores) == len(active) > 0
    assert scores["customer_id"].is_unique
    assert set(scores["customer_id"]) == set(active["customer_id"].astype(int))
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["snapshot_date"] == as_of).all() and (scores["model_version"] == "v-test").all()
    high = scores["churn_probability"] >= params.high_risk_threshold
    assert (scores.loc[high, "risk_band"] == "high").all()
    assert set(scores["risk_band"]) <= {"high", "medium", "low"}
    drivers = scores[["driver_1", "driver_2", "driver_3"]]
    assert drivers.notna().all().all()
    assert drivers.apply(lambda r: len(set(r)) == 3, axis=1).all()  # three different features
    assert drivers.stack().str.contains(r"\((?:raises|lowers) risk\)").all()
    # the model survives the model store's pickling and scores identically
    again = churn.predict(pickle.loads(pickle.dumps(model)), conn, as_of, params)
    assert np.allclose(again["churn_probability"], scores["churn_probability"])
    assert replace_table(conn, churn.OUTPUT_TABLE, scores, churn.COLUMN_TYPES) == len(scores)
    conn.commit()
    assert read_frame(conn, "select count(*) as n from ml.churn_scores")["n"].iloc[0] == len(scores)


def test_score_against_truth(conn, fitted, tiny_world):
    params, _, model = fitted
    result = score_against_truth(conn, tiny_world, model, params)
    assert result["matched_truth"] == result["scored_customers"] > 0
    for key in ("roc_auc", "baseline_roc_auc", "no_order_12m_roc_auc"):
        assert 0 <= result[key] <= 1
    assert 0 < result["churn_rate"] < 1


def test_baseline_fallback_scores_with_recency_alone(conn, fitted, as_of):
    """What the registry promotes when the first candidate loses to its baseline: its evaluation is
    the baseline's, and its scores depend on recency only, with recency as the one driver."""
    params, ts, model = fitted
    fallback = churn.as_baseline(model)
    evaluation = churn.evaluate(fallback, ts, params)
    assert evaluation.metrics == evaluation.baseline_metrics
    scores = churn.predict(fallback, conn, as_of, params, model_version="v-baseline")
    assert scores["driver_1"].str.startswith("Days since last order").all()
    assert scores["driver_2"].isna().all() and scores["driver_3"].isna().all()
    x = feature_matrix(scoring_rows(conn, as_of, params), model.feature_names)
    assert scores["churn_probability"].to_numpy() == pytest.approx(model.baseline_probability(x))
