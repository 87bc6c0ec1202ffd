"""LTV: the BG/NBD + Gamma-Gamma baseline against the published CDNOW example and simulated data with
known parameters, the customer statistics it reads, and build -> train -> evaluate -> predict on the
tiny shop built by dbt."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import ltv
from ml.core import read_frame, replace_table
from ml.ltv.bgnbd import BgNbd, GammaGamma, fit_bgnbd, fit_gamma_gamma
from ml.ltv.model import customer_stats
from ml.ltv.truth import score_against_truth

# Fader, Hardie & Lee (2005), BG/NBD fitted to the CDNOW sample (weeks)
CDNOW = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_bgnbd_matches_the_published_cdnow_conditional_expectation():
    # FHL 2005: a customer with x=2, t_x=30.43, T=38.86 is expected to make 1.226 purchases in 39 weeks
    assert float(CDNOW.expected_purchases(39, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=5e-4)


def test_bgnbd_shape_properties():
    t = np.array([1.0, 10, 39, 78, 200])
    new = CDNOW.expected_purchases_new(t)
    assert np.all(np.diff(new) > 0) and np.all(np.diff(new / t) < 0)  # increasing, concave in time
    # a longer silence after the same history means fewer expected purchases and a lower P(alive)
    quiet = CDNOW.expected_purchases(39, 3, 10.0, np.array([20.0, 40.0, 60.0]))
    assert np.all(np.diff(quiet) < 0)
    alive = CDNOW.probability_alive(3, 10.0, np.array([20.0, 40.0, 60.0]))
    assert np.all(np.diff(alive) < 0) and np.all((alive > 0) & (alive < 1))
    assert CDNOW.probability_alive(0, 0.0, 30.0) == 1.0  # BG/NBD: no repeat purchase, no dropout yet


def _simulate_bgnbd(true: BgNbd, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers from the BG/NBD story: Poisson purchases at rate λ ~ Gamma(r, α), after each purchase
    drop out with probability p ~ Beta(a, b); observed for T weeks."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(true.r, 1 / true.alpha, n)
    p = rng.beta(true.a, true.b, n)
    T = rng.uniform(20, 80, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i], t_x[i] = x[i] + 1, t
            if rng.uniform() < p[i]:
                break
    return x, t_x, T


def test_bgnbd_recovers_simulated_parameters():
    true = BgNbd(r=0.5, alpha=8.0, a=0.8, b=2.5)
    x, t_x, T = _simulate_bgnbd(true, 5000, seed=0)
    fit = fit_bgnbd(x, t_x, T)
    assert fit.r == pytest.approx(true.r, rel=0.15)
    assert fit.alpha == pytest.approx(true.alpha, rel=0.2)
    # a and b trade off; their mean dropout probability a / (a + b) is well identified
    assert fit.a / (fit.a + fit.b) == pytest.approx(true.a / (true.a + true.b), rel=0.1)
    # and the fit predicts the simulated population's purchase total
    assert fit.expected_purchases_new(52).mean() == pytest.approx(true.expected_purchases_new(52), rel=0.1)


def test_gamma_gamma_recovers_simulated_parameters_and_shrinks():
    rng = np.random.default_rng(1)
    p, q, gamma = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / gamma, 4000)
    n = rng.integers(1, 15, 4000)  # enough repeat purchases per customer to separate p from q
    mean_value = np.array([rng.gamma(p, 1 / v, k).mean() for v, k in zip(nu, n, strict=True)])
    fit = fit_gamma_gamma(n, mean_value)
    population_mean = p * gamma / (q - 1)
    assert fit.p * fit.gamma / (fit.q - 1) == pytest.approx(population_mean, rel=0.05)
    assert fit.p == pytest.approx(p, rel=0.2) and fit.q == pytest.approx(q, rel=0.2)
    model = GammaGamma(p, q, gamma)
    # no purchases -> the population mean; many -> the customer's own mean; in between: shrinkage
    assert float(model.expected_spend(0, 0.0)) == pytest.approx(population_mean)
    assert float(model.expected_spend(10_000, 50.0)) == pytest.approx(50.0, rel=1e-3)
    assert 50.0 > float(model.expected_spend(3, 50.0)) > population_mean


def test_customer_stats_use_only_orders_before_the_snapshot():
    orders = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 3],
            "ordered_at": pd.to_datetime(
                ["2025-01-01", "2025-01-15", "2025-03-01", "2025-02-01", "2025-03-02"], utc=True
            ),
            "net_revenue": [10.0, 30.0, 999.0, 0.0, 5.0],
        }
    )
    stats = customer_stats(orders, dt.date(2025, 3, 1))
    assert sorted(stats.index) == [1, 2]  # customer 3's first order is after the snapshot
    one = stats.loc[1]
    assert (one["n"], one["x"]) == (2, 1)  # the order at the snapshot instant is the future
    assert one["t_x"] == pytest.approx(2.0) and one["T"] == pytest.approx(59 / 7)
    assert one["mean_value"] == pytest.approx(20.0)
    assert stats.loc[2, "mean_value"] == pytest.approx(0.01)  # Gamma-Gamma needs positive spend


# --- on the tiny shop ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn(built_tiny, dbt_warehouse):
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as connection:
        yield connection


@pytest.fixture(scope="module")
def as_of(conn) -> dt.date:
    return read_frame(conn, "select max(snapshot_date) as d from marts.ml_customer_features")["d"].iloc[0]


@pytest.fixture(scope="module")
def fitted(conn, as_of):
    params = ltv.Params(n_estimators=60)
    training_set = ltv.build_training_set(conn, as_of, params)
    return params, training_set, ltv.train(training_set, params)


def test_training_set_falls_back_to_a_horizon_the_history_covers(fitted, as_of):
    params, ts, model = fitted
    # the tiny shop holds 240 days: no snapshot has a complete 365-day future
    assert ts.train_horizon_days == params.fallback_horizon_days == model.train_horizon_days
    assert ts.validation_snapshot + dt.timedelta(days=ts.train_horizon_days) <= as_of
    assert max(ts.train_snapshots) + dt.timedelta(days=ts.train_horizon_days) <= ts.validation_snapshot
    assert (ts.y_train >= 0).all() and ts.y_train.sum() > 0
    # the baseline is calibrated on what was known at the validation snapshot only
    assert (ts.calibration["T"] > 0).all()


def test_evaluate_compares_with_bgnbd_on_the_same_rows(fitted):
    params, ts, model = fitted
    evaluation = ltv.evaluate(model, ts, params)
    assert evaluation.primary_metric == "mae" and not evaluation.higher_is_better
    assert evaluation.baseline_name == "BG/NBD + Gamma-Gamma"
    keys = {"mae", "rmse", "aggregate_error", "spearman", "top_decile_revenue_share"}
    assert set(evaluation.metrics) == keys == set(evaluation.baseline_metrics)
    assert all(np.isfinite(v) for v in [*evaluation.metrics.values(), *evaluation.baseline_metrics.values()])
    assert evaluation.split["evaluated_horizon_days"] == params.fallback_horizon_days


def test_predict_writes_one_row_per_customer(conn, fitted, as_of):
    params, _, model = fitted
    predictions = ltv.predict(model, conn, as_of, params, model_version="v-test")
    assert list(predictions.columns) == list(ltv.COLUMN_TYPES)
    customers = read_frame(
        conn, "select customer_id from marts.ml_customer_features where snapshot_date = %s", (as_of,)
    )
    assert len(predictions) == len(customers) > 0 and predictions["customer_id"].is_unique
    for column in ("predicted_ltv", "bgnbd_ltv"):
        assert np.isfinite(predictions[column]).all() and (predictions[column] >= 0).all()
    assert predictions["predicted_ltv"].sum() > 0
    again = ltv.predict(pickle.loads(pickle.dumps(model)), conn, as_of, params)
    assert np.allclose(again["predicted_ltv"], predictions["predicted_ltv"])
    assert replace_table(conn, ltv.OUTPUT_TABLE, predictions, ltv.COLUMN_TYPES) == len(predictions)
    conn.commit()


def test_score_against_truth(conn, fitted, tiny_world):
    params, _, model = fitted
    result = score_against_truth(conn, tiny_world, model, params)
    assert result["matched_truth"] == result["predicted_customers"] > 0
    assert result["actual_total"] > 0
    assert -1 <= result["spearman"] <= 1 and result["aggregate_error"] >= 0
