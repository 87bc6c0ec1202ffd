"""Churn: label windows without leakage, the time split, and build -> train -> evaluate -> predict on
the tiny shop built by dbt."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import re

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import churn, metrics, registry
from ml.churn.features import feature_matrix, load_features, load_orders, readable
from ml.churn.labels import churn_labels, future_window, time_split
from ml.churn.model import BRIER_TOLERANCE, chance_ece, out_of_fold, scoring_rows
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


def test_champions_are_compared_only_at_the_same_horizon_and_activity_window():
    assert churn.CHAMPION_KEYS == ("horizon_days", "active_days")
    assert all(hasattr(churn.Params(), k) for k in churn.CHAMPION_KEYS)


# a booster that overfits (deep trees, a high learning rate, no regularisation) is overconfident
OVERCONFIDENT = dict(
    n_estimators=300, max_depth=6, learning_rate=0.3, min_child_weight=1.0, subsample=1.0,
    colsample_bytree=1.0, reg_lambda=0.0, n_jobs=1,
)  # fmt: skip


def synthetic_set(seed: int = 3, rows: int = 400) -> churn.TrainingSet:
    """Three monthly training snapshots and a validation one; churn follows recency and one other
    feature (which the recency baseline cannot see), through a logistic link."""
    rng = np.random.default_rng(seed)
    snapshots = [dt.date(2025, m, 1) for m in (1, 2, 3, 4)]
    xs, ys = [], []
    for _ in snapshots:
        recency = rng.uniform(0, 365, rows)
        other = rng.normal(size=(rows, 5))
        logit = (recency - 150) / 90 + 2.0 * other[:, 0]
        ys.append((rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int))
        xs.append(pd.DataFrame(other, columns=[f"f{i}" for i in range(5)]).assign(recency_days=recency))
    x_train = pd.concat(xs[:-1], ignore_index=True)
    return churn.TrainingSet(
        as_of=dt.date(2025, 8, 1),
        train_snapshots=snapshots[:-1],
        validation_snapshot=snapshots[-1],
        x_train=x_train,
        y_train=np.concatenate(ys[:-1]),
        x_valid=xs[-1],
        y_valid=ys[-1],
        feature_names=list(x_train.columns),
        train_row_snapshots=np.repeat(np.array(snapshots[:-1], dtype=object), rows),
    )


def test_calibration_makes_an_overconfident_booster_reliable_and_keeps_its_ranking():
    ts = synthetic_set()
    params = churn.Params(calibration="sigmoid", **OVERCONFIDENT)
    model = churn.train(ts, params)
    m = churn.evaluate(model, ts, params).metrics
    # measured on the validation snapshot, which neither the booster nor the calibration saw
    assert m["ece_uncalibrated"] > 0.12 and m["ece"] < m["ece_uncalibrated"] - 0.08
    assert m["brier"] < m["brier_uncalibrated"] - 0.01
    # Platt scaling is monotone: the ranking (ROC AUC, the primary metric) is the booster's own
    raw = model.raw_probability(ts.x_valid)
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc(ts.y_valid, raw))
    assert model.calibration.snapshots == ["2025-02-01", "2025-03-01"] and model.calibration.rows == 800
    isotonic = churn.Params(calibration="isotonic", **OVERCONFIDENT)
    assert (
        churn.evaluate(churn.train(ts, isotonic), ts, isotonic).metrics["ece"] < m["ece_uncalibrated"] - 0.08
    )
    off = churn.Params(calibration="none", **OVERCONFIDENT)
    plain = churn.evaluate(churn.train(ts, off), ts, off).metrics
    assert plain["ece"] == plain["ece_uncalibrated"] == pytest.approx(m["ece_uncalibrated"])


def test_calibration_folds_predict_each_snapshot_from_earlier_ones_only():
    ts = synthetic_set()
    params = churn.Params(n_estimators=20, n_jobs=1)
    prob, y, used = out_of_fold(ts, params)
    assert used == ["2025-02-01", "2025-03-01"] and len(prob) == len(y) == 800
    # the labels of the latest training snapshot change: its out-of-fold predictions do not (its
    # booster never saw them), those of the earlier fold do not either (it predates them)
    flipped = dataclasses.replace(
        ts, y_train=np.where(ts.train_row_snapshots == dt.date(2025, 3, 1), 1 - ts.y_train, ts.y_train)
    )
    prob_flipped, y_flipped, _ = out_of_fold(flipped, params)
    assert np.array_equal(prob, prob_flipped)
    assert not np.array_equal(y, y_flipped)
    # one training snapshot: nothing to fold, no calibration, and the model says why
    one = dataclasses.replace(
        ts,
        train_snapshots=ts.train_snapshots[:1],
        x_train=ts.x_train[ts.train_row_snapshots == dt.date(2025, 1, 1)].reset_index(drop=True),
        y_train=ts.y_train[ts.train_row_snapshots == dt.date(2025, 1, 1)],
        train_row_snapshots=ts.train_row_snapshots[ts.train_row_snapshots == dt.date(2025, 1, 1)],
    )
    model = churn.train(one, params)
    assert model.calibration is None and "not calibrated" in model.calibration_note
    assert np.array_equal(model.probability(one.x_valid), model.raw_probability(one.x_valid))


def test_guard_rails_stop_a_better_ranking_with_worse_probabilities():
    """The overconfident booster ranks better than recency but its probabilities are worse than the
    baseline's beyond the rails' tolerance: not promoted; calibrated, the same booster is."""
    ts = synthetic_set()
    off = churn.Params(calibration="none", **OVERCONFIDENT)
    raw = churn.evaluate(churn.train(ts, off), ts, off)
    assert raw.beats_baseline()
    decision = registry.decide(raw, None, 0.02)
    assert not decision.promoted and "ece" in decision.reason
    assert {r.rail.metric: r.passed for r in decision.rails}["ece"] is False
    tolerance = {r.metric: r.tolerance for r in raw.guard_rails}
    assert tolerance["brier"] == BRIER_TOLERANCE
    assert tolerance["ece"] == pytest.approx(chance_ece(ts.y_valid), abs=1e-4)
    on = churn.Params(calibration="sigmoid", **OVERCONFIDENT)
    calibrated = churn.evaluate(churn.train(ts, on), ts, on)
    assert registry.decide(calibrated, None, 0.02).promoted


def test_chance_ece_shrinks_with_the_rows():
    # sqrt(2 / pi) * sqrt(0.7 * 0.3 / (rows / 10)): 300 rows -> ~0.067, 3,000 -> ~0.021
    assert chance_ece(np.array([1] * 210 + [0] * 90)) == pytest.approx(0.0669, abs=1e-3)
    assert chance_ece(np.array([1] * 2100 + [0] * 900)) == pytest.approx(0.0211, abs=1e-3)


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
    shared = {"roc_auc", "pr_auc", "brier", "ece", "lift_top_decile"}
    assert set(evaluation.baseline_metrics) == shared
    assert set(evaluation.metrics) == shared | {"brier_uncalibrated", "ece_uncalibrated"}
    for scores in (evaluation.metrics, evaluation.baseline_metrics):
        assert 0 <= scores["roc_auc"] <= 1 and 0 <= scores["brier"] <= 1 and 0 <= scores["ece"] <= 1
        assert all(isinstance(v, float) for v in scores.values())
    assert evaluation.split["validation_snapshot"] == str(ts.validation_snapshot)
    # the tiny shop has two training snapshots: the later one, predicted from the earlier, calibrates
    assert model.calibration is not None and model.calibration.snapshots == [str(ts.train_snapshots[-1])]
    assert evaluation.split["calibration"].startswith("sigmoid on ")
    assert [(r.metric, r.higher_is_better) for r in evaluation.guard_rails] == [
        ("brier", False),
        ("ece", False),
    ]
    deciles = [line for line in evaluation.extra_markdown.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(deciles) == 10  # ten calibration deciles
    assert "![churn calibration curve" in evaluation.extra_markdown  # the reliability diagram
    assert "data:image/png;base64," in evaluation.extra_markdown


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
