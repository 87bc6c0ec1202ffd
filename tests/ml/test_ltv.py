"""LTV: the BG/NBD + Gamma-Gamma baseline against the published CDNOW fits (Fader, Hardie & Lee 2005)
and simulated data with known parameters, the multi-start fit, the customer statistics it reads, the
guard rails, and build -> train -> evaluate -> predict on the tiny shop built by dbt (horizon, reference
date, the reference-date snapshot of marts.ml_customer_features)."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from ingestion.warehouse.paths import PROJECT_ROOT
from ingestion.warehouse.settings import dbt_env
from ml import ltv
from ml.churn.features import load_orders
from ml.core import Evaluation, InsufficientData, read_frame, replace_table
from ml.ltv.bgnbd import (
    BgNbd,
    FitError,
    GammaGamma,
    _bgnbd_terms,
    _gamma_gamma_terms,
    bgnbd_log_likelihood,
    bgnbd_starts,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    minimize_from_starts,
)
from ml.ltv.model import customer_stats, fit_baseline
from ml.ltv.truth import score_against_truth
from ml.registry import decide
from tests.ml.conftest import order_history_copy
from tests.ml.copies import copy_database

DATA = Path(__file__).parent / "data"
# Fader, Hardie & Lee (2005), BG/NBD fitted to the CDNOW sample (weeks)
CDNOW = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    summary = pd.read_csv(DATA / "cdnow_customers_summary.csv")
    spend = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    assert len(summary) == len(spend) == 2357 and (summary["frequency"] == spend["x"]).all()
    return spend


def test_bgnbd_matches_the_published_cdnow_conditional_expectation():
    # FHL 2005: a customer with x=2, t_x=30.43, T=38.86 is expected to make 1.226 purchases in 39 weeks
    assert float(CDNOW.expected_purchases(39, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=5e-4)


def test_bgnbd_fit_reproduces_the_published_cdnow_estimates(cdnow):
    fit = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert (round(fit.r, 3), round(fit.alpha, 3), round(fit.a, 3), round(fit.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert fit.fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert fit.fit.converged and fit.fit.customers == 2357
    assert fit.fit.starts == len(bgnbd_starts(cdnow["x"], cdnow["T"])) == len(fit.fit.start_log_likelihoods)
    # the reported likelihood is the winner's and no start did better (beyond numerical noise)
    assert fit.fit.log_likelihood == pytest.approx(max(fit.fit.start_log_likelihoods), abs=1e-5)
    assert fit.fit.log_likelihood == fit.fit.start_log_likelihoods[fit.fit.best_start]
    ll = bgnbd_log_likelihood([fit.r, fit.alpha, fit.a, fit.b], cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert ll == pytest.approx(fit.fit.log_likelihood, abs=1e-6)


def test_gamma_gamma_fit_reproduces_the_published_cdnow_estimates(cdnow):
    repeat = cdnow[cdnow["x"] > 0]
    assert len(repeat) == 946
    # the fit drops customers without a repeat purchase itself: all 2357 rows give the same answer
    fit = fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    assert fit.fit.customers == 946
    assert (round(fit.p, 2), round(fit.q, 2), round(fit.gamma, 2)) == (6.25, 3.74, 15.45)  # published 15.44
    assert fit.gamma == pytest.approx(15.44, abs=0.01)
    assert fit.population_mean() == pytest.approx(6.25 * 15.44 / 2.74, rel=2e-3)
    assert fit.fit.log_likelihood == pytest.approx(max(fit.fit.start_log_likelihoods), abs=1e-5)
    same = fit_gamma_gamma(repeat["x"], repeat["zbar"])
    assert (same.p, same.q, same.gamma) == pytest.approx((fit.p, fit.q, fit.gamma), rel=1e-6)


def test_analytic_gradients_match_finite_differences(cdnow):
    from scipy import optimize

    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    at = np.array([0.3, 5.0, 0.9, 2.1])
    numeric = optimize.approx_fprime(at, lambda p: bgnbd_log_likelihood(p, x, t_x, T).sum(), 1e-7)
    assert _bgnbd_terms(at, x, t_x, T, gradient=True)[1].sum(axis=1) == pytest.approx(numeric, rel=1e-4)
    repeat = cdnow[cdnow["x"] > 0]
    n, m = repeat["x"].to_numpy(float), repeat["zbar"].to_numpy(float)
    at = np.array([5.0, 3.0, 14.0])
    numeric = optimize.approx_fprime(at, lambda p: gamma_gamma_log_likelihood(p, n, m).sum(), 1e-7)
    assert _gamma_gamma_terms(at, n, m, gradient=True)[1].sum(axis=1) == pytest.approx(numeric, rel=1e-4)


def _double_well(v):
    """f(v) = (v² − 1)² + 0.3 v: a local minimum near v = 0.96 (f ≈ 0.29), the global one near
    v = −1.04 (f ≈ −0.31); L-BFGS-B from v = 1.1 ends in the local one."""
    (u,) = v
    return (u * u - 1) ** 2 + 0.3 * u, np.array([4 * u * (u * u - 1) + 0.3])


def test_restarts_find_the_better_optimum_a_single_start_misses():
    def total(v):
        return -_double_well(v)[0]

    single = minimize_from_starts(_double_well, [[1.1]], total, customers=1)
    assert single.x[0] == pytest.approx(0.96, abs=0.01) and single.info.starts == 1
    several = minimize_from_starts(_double_well, [[1.1], [-0.9], [0.5]], total, customers=1)
    assert several.x[0] == pytest.approx(-1.04, abs=0.01)
    assert several.info.best_start == 1 and several.info.starts == 3
    assert several.info.log_likelihood == pytest.approx(0.31, abs=0.01)
    assert several.info.log_likelihood > single.info.log_likelihood + 0.5
    assert several.info.start_log_likelihoods[0] == pytest.approx(single.info.log_likelihood)
    with pytest.raises(FitError):
        minimize_from_starts(lambda v: (np.inf, np.zeros(1)), [[0.0], [1.0]], total, customers=0)


def test_best_of_starts_is_at_least_every_single_start():
    true = BgNbd(r=0.5, alpha=8.0, a=0.8, b=2.5)
    x, t_x, T = _simulate_bgnbd(true, 2000, seed=3)
    starts = bgnbd_starts(x, T)
    best = fit_bgnbd(x, t_x, T)
    singles = [fit_bgnbd(x, t_x, T, starts=[s]).fit.log_likelihood for s in starts]
    assert best.fit.log_likelihood >= max(singles) - 1e-5
    assert list(best.fit.start_log_likelihoods) == pytest.approx(singles, abs=1e-6)


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
    assert fit.population_mean() == pytest.approx(population_mean, rel=0.05)
    assert fit.p == pytest.approx(p, rel=0.2) and fit.q == pytest.approx(q, rel=0.2)
    model = GammaGamma(p, q, gamma)
    # no repeat purchase -> the population mean (whatever the first order was); many -> the
    # customer's own mean; in between: shrinkage
    assert float(model.expected_spend(0, 0.0)) == pytest.approx(population_mean)
    assert float(model.expected_spend(0, 500.0)) == pytest.approx(population_mean)
    assert float(model.expected_spend(10_000, 50.0)) == pytest.approx(50.0, rel=1e-3)
    assert 50.0 > float(model.expected_spend(3, 50.0)) > population_mean


def _orders(rows: list[tuple[int, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ordered_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "net_revenue": [r[2] for r in rows],
        }
    )


def test_customer_stats_use_only_orders_before_the_snapshot():
    orders = _orders(
        [(1, "2025-01-15", 30.0), (1, "2025-01-01", 10.0), (1, "2025-03-01", 999.0), (2, "2025-02-01", 0.0),
         (3, "2025-03-02", 5.0)]
    )  # fmt: skip
    stats = customer_stats(orders, dt.date(2025, 3, 1))
    assert sorted(stats.index) == [1, 2]  # customer 3's first order is after the snapshot
    one = stats.loc[1]
    assert (one["n"], one["x"]) == (2, 1)  # the order at the snapshot instant is the future
    assert one["t_x"] == pytest.approx(2.0) and one["T"] == pytest.approx(59 / 7)
    assert one["mean_value"] == pytest.approx(20.0)
    assert one["repeat_mean_value"] == pytest.approx(30.0)  # the first order (10, listed second) left out
    assert stats.loc[2, "mean_value"] == pytest.approx(0.01)  # Gamma-Gamma needs positive spend
    assert np.isnan(stats.loc[2, "repeat_mean_value"])  # no repeat purchase


def _shop(seed: int, customers: int = 400) -> pd.DataFrame:
    """Orders of a synthetic shop: a first order, then a few repeats at customer-specific values."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        start = pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(days=int(rng.integers(0, 100)))
        level = rng.gamma(4.0, 10.0)
        rows.append((c, start, rng.gamma(6.0, level / 6)))
        for k in range(int(rng.poisson(1.2))):
            rows.append(
                (
                    c,
                    start + pd.Timedelta(days=int(10 * (k + 1) + rng.integers(0, 20))),
                    rng.gamma(6.0, level / 6),
                )
            )
    return pd.DataFrame(rows, columns=["customer_id", "ordered_at", "net_revenue"])


def test_gamma_gamma_sees_only_repeat_purchases():
    orders = _shop(seed=5)
    at = dt.date(2025, 6, 1)
    base = fit_baseline(customer_stats(orders, at), ltv.Params())
    # first orders 100 times larger: BG/NBD and Gamma-Gamma do not move (the first order is not spend
    # evidence in FHL 2005), so neither does the expected spend of customers without a repeat
    first = orders.sort_values(["customer_id", "ordered_at"]).groupby("customer_id").cumcount() == 0
    first = first.reindex(orders.index).to_numpy()
    inflated = orders.assign(net_revenue=np.where(first, orders["net_revenue"] * 100, orders["net_revenue"]))
    stats = customer_stats(inflated, at)
    other = fit_baseline(stats, ltv.Params())
    assert (other.gamma_gamma.p, other.gamma_gamma.q, other.gamma_gamma.gamma) == pytest.approx(
        (base.gamma_gamma.p, base.gamma_gamma.q, base.gamma_gamma.gamma), rel=1e-9
    )
    assert other.gamma_gamma.fit.customers == int((stats["x"] > 0).sum()) < len(stats)
    one_timers = stats["x"] == 0
    assert other.spend(stats)[one_timers.to_numpy()] == pytest.approx(other.gamma_gamma.population_mean())


def test_too_few_repeat_spenders_is_insufficient_data_not_a_crash():
    orders = _shop(seed=6, customers=60)
    stats = customer_stats(orders, dt.date(2025, 6, 1))
    repeaters = int((stats["x"] > 0).sum())
    with pytest.raises(InsufficientData) as info:
        fit_baseline(stats, ltv.Params(min_buyers=repeaters + 1))
    assert (
        "too few repeat customers" in info.value.reason and info.value.facts["repeat_spenders"] == repeaters
    )
    # refunded repeat orders (net value 0) are no spend evidence either
    with pytest.raises(InsufficientData):
        fit_baseline(stats.assign(repeat_mean_value=0.0), ltv.Params(min_buyers=1))


# --- guard rails -----------------------------------------------------------------------------------


def _evaluation(bridged: bool = False, **candidate: float) -> Evaluation:
    baseline = {
        "mae": 40.0,
        "rmse": 90.0,
        "aggregate_error": 0.05,
        "spearman": 0.55,
        "top_decile_revenue_share": 0.50,
    }
    return Evaluation(
        metrics={**baseline, "mae": 35.0, **candidate},
        baseline_metrics=baseline,
        primary_metric="mae",
        higher_is_better=False,
        guard_rails=ltv.guard_rails(bridged),
        references={"zero": {"mae": 45.0, "rmse": 120.0}, "mean": {"mae": 60.0, "rmse": 95.0}},
    )


def test_a_better_mae_with_a_much_worse_total_is_not_promoted():
    ok = decide(_evaluation(aggregate_error=0.069), None, 0.02)  # within the 0.02 tolerance
    assert ok.promoted, ok.reason
    worse = decide(_evaluation(aggregate_error=0.20), None, 0.02)
    assert not worse.promoted and "aggregate_error" in worse.reason
    assert [r.rail.metric for r in worse.rails if not r.passed] == ["aggregate_error"]
    # a bridged evaluation (a short validation window) allows 15 points, not more
    assert decide(_evaluation(bridged=True, aggregate_error=0.19), None, 0.02).promoted
    assert not decide(_evaluation(bridged=True, aggregate_error=0.21), None, 0.02).promoted
    ranking = decide(_evaluation(spearman=0.50, top_decile_revenue_share=0.45), None, 0.02)
    assert (
        not ranking.promoted and "spearman" in ranking.reason and "top_decile_revenue_share" in ranking.reason
    )
    # the naive predictors: worse MAE than predicting 0, worse RMSE than predicting the mean
    naive = decide(_evaluation(mae=35.0, rmse=96.0), None, 0.02)
    assert not naive.promoted and "rmse" in naive.reason
    assert (
        decide(
            Evaluation(**{**_evaluation().__dict__, "references": {"zero": {"mae": 30.0}, "mean": {}}}),
            None,
            0.02,
        ).promoted
        is False
    )


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


def test_training_set_bridges_a_horizon_the_history_cannot_validate(fitted, as_of):
    params, ts, model = fitted
    # the tiny shop holds 240 days: no snapshot has a complete 365-day future
    assert ts.train_horizon_days == params.fallback_horizon_days == model.train_horizon_days
    assert ts.bridged and model.bridged and ts.window()["bridged"] is True
    assert ts.validation_snapshot + dt.timedelta(days=ts.train_horizon_days) <= as_of
    assert max(ts.train_snapshots) + dt.timedelta(days=ts.train_horizon_days) <= ts.validation_snapshot
    assert (ts.y_train >= 0).all() and ts.y_train.sum() > 0
    # what scores is what was evaluated (unless refit_all_snapshots)
    assert (
        model.scoring_regressor is model.regressor and ts.x_refit is None and "refit_rows" not in ts.window()
    )
    assert model.window["scoring_regressor_max_tenure_days"] == ts.x_train["tenure_days"].max()
    assert model.window["scoring_max_tenure_days"] > model.window["scoring_regressor_max_tenure_days"] + 100


def test_refit_on_every_complete_snapshot(conn, fitted, as_of):
    params, ts, _ = fitted
    params = ltv.Params(n_estimators=20, refit_all_snapshots=True)
    refit = ltv.build_training_set(conn, as_of, params)
    assert set(refit.refit_snapshots) > {*refit.train_snapshots, refit.validation_snapshot}
    assert max(refit.refit_snapshots) + dt.timedelta(days=refit.train_horizon_days) <= as_of
    assert len(refit.y_refit) > len(refit.y_train) + len(refit.y_valid) == len(ts.y_train) + len(ts.y_valid)
    model = ltv.train(refit, params)
    assert model.scoring_regressor is not model.regressor
    assert model.window["scoring_regressor_max_tenure_days"] > refit.x_train["tenure_days"].max()
    assert ltv.evaluate(model, refit, params).split["rows"]["refit"] == len(refit.y_refit)
    predictions = ltv.predict(model, conn, as_of, params)
    assert np.isfinite(predictions["predicted_ltv"]).all() and predictions["predicted_ltv"].sum() > 0


def test_scoring_baseline_uses_all_orders_before_the_reference_date(fitted, as_of):
    _, ts, model = fitted
    evaluated, today = model.baseline, model.scoring_baseline
    assert evaluated.bgnbd.fit.customers == len(ts.calibration)
    assert today.bgnbd.fit.customers == len(ts.scoring_stats) > len(ts.calibration)
    assert today.bgnbd.params() != evaluated.bgnbd.params()
    assert ts.scoring_stats["T"].max() > ts.calibration["T"].max()
    # Gamma-Gamma saw only repeat customers with repeat spend, at each instant
    for stats, fit in (
        (ts.scoring_stats, today.gamma_gamma.fit),
        (ts.calibration, evaluated.gamma_gamma.fit),
    ):
        assert fit.customers == int(((stats["x"] > 0) & (stats["repeat_mean_value"] > 0)).sum()) > 0


def test_evaluate_compares_with_bgnbd_and_the_naive_predictors(fitted):
    params, ts, model = fitted
    evaluation = ltv.evaluate(model, ts, params)
    assert evaluation.primary_metric == "mae" and not evaluation.higher_is_better
    assert evaluation.baseline_name == "BG/NBD + Gamma-Gamma"
    keys = {"mae", "rmse", "aggregate_error", "spearman", "top_decile_revenue_share"}
    assert set(evaluation.metrics) == keys == set(evaluation.baseline_metrics)
    assert all(np.isfinite(v) for v in [*evaluation.metrics.values(), *evaluation.baseline_metrics.values()])
    zero, mean = evaluation.references["zero"], evaluation.references["mean"]
    assert zero["mae"] == pytest.approx(ts.y_valid.mean()) and zero["aggregate_error"] == pytest.approx(1.0)
    assert mean["rmse"] == pytest.approx(np.sqrt(np.mean((ts.y_valid - ts.y_train.mean()) ** 2)))
    assert "spearman" not in zero  # a constant does not rank
    assert evaluation.guard_rails == ltv.guard_rails(bridged=True) != list(ltv.GUARD_RAILS)
    assert {r.metric: r.tolerance for r in evaluation.guard_rails}["aggregate_error"] == 0.15
    split = evaluation.split
    assert split["evaluated_horizon_days"] == params.fallback_horizon_days and split["bridged"] is True
    assert split["bgnbd"]["starts"] > 1 and split["bgnbd"]["log_likelihood"] < 0
    assert split["scoring_gamma_gamma"]["customers"] > split["gamma_gamma"]["customers"] > 0
    assert "data:image/png;base64," in evaluation.extra_markdown
    assert "| top deciles | model | BG/NBD | perfect ranking |" in evaluation.extra_markdown


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
    assert (predictions["horizon_days"] == params.horizon_days).all()
    assert (predictions["reference_date"] == as_of).all() and (predictions["snapshot_date"] == as_of).all()
    again = ltv.predict(pickle.loads(pickle.dumps(model)), conn, as_of, params)
    assert np.allclose(again["predicted_ltv"], predictions["predicted_ltv"])
    assert replace_table(conn, ltv.OUTPUT_TABLE, predictions, ltv.COLUMN_TYPES) == len(predictions)
    conn.commit()
    columns = dict(
        conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'ml' and table_name = 'ltv_predictions'"
        ).fetchall()
    )
    assert columns["horizon_days"] == "integer" and columns["reference_date"] == "date"


def test_an_artifact_from_before_the_scoring_fits_still_scores(conn, fitted, as_of):
    params, _, model = fitted
    old = pickle.loads(pickle.dumps(model))
    del old.__dict__["scoring_regressor"], old.__dict__["scoring_baseline"]  # as unpickled from then
    predictions = ltv.predict(old, conn, as_of, params)
    assert len(predictions) and np.isfinite(predictions["predicted_ltv"]).all()


def test_a_model_for_another_horizon_never_scores(conn, fitted, as_of):
    params, ts, model = fitted
    assert ltv.CHAMPION_KEYS == ("horizon_days",)
    with pytest.raises(ValueError, match="365-day revenue, but horizon_days is 273"):
        ltv.predict(model, conn, as_of, ltv.Params(horizon_days=273))
    other = ltv.build_training_set(conn, as_of, ltv.Params(horizon_days=273, n_estimators=10))
    with pytest.raises(ValueError, match="365-day horizon cannot be evaluated on a 273-day"):
        ltv.evaluate(model, other, params)


def test_a_mid_month_reference_date_uses_that_days_statistics(conn, fitted):
    params, _, model = fitted
    day = dt.date(2025, 6, 15)  # the tiny mart has no snapshot that day (no JOURNEY_AS_OF at build)
    predictions = ltv.predict(model, conn, day, params)
    assert (predictions["snapshot_date"] == dt.date(2025, 6, 1)).all()
    assert (predictions["reference_date"] == day).all()
    orders = load_orders(conn, day)
    at_day, at_first = customer_stats(orders, day), customer_stats(orders, dt.date(2025, 6, 1))
    scored = predictions[predictions["customer_id"].isin(at_first.index)]  # not all orders cancelled since
    assert len(scored) > 0.9 * len(predictions)
    ids = scored["customer_id"]
    assert (at_day.loc[ids, "T"] - at_first.loc[ids, "T"]).to_numpy() == pytest.approx(2.0)  # two weeks older
    today = model.scoring_baseline
    assert scored["bgnbd_ltv"].to_numpy() == pytest.approx(today.revenue(at_day.loc[ids], 365))
    assert not np.allclose(scored["bgnbd_ltv"], today.revenue(at_first.loc[ids], 365))


def test_score_against_truth(conn, fitted, tiny_world):
    params, _, model = fitted
    result = score_against_truth(conn, tiny_world, model, params)
    assert result["matched_truth"] == result["predicted_customers"] > 0
    assert result["actual_total"] > 0 and result["bridged"] is True
    assert -1 <= result["spearman"] <= 1 and result["aggregate_error"] >= 0


@pytest.fixture(scope="module")
def order_history(built_tiny, dbt_warehouse):
    """The `order_history_only` shop (tests/ml/conftest.py), in a copy of its own: other modules empty
    that fixture's tables after their runs."""
    return order_history_copy(dbt_warehouse, "journey_ml_ltv_orders")


def test_an_order_history_without_journeys_trains(order_history, tiny_as_of):
    """The shop that once crashed the LTV fit (too few repeat customers, a failed convergence)."""
    with psycopg.connect(order_history.role_url("transformer")) as connection:
        params = ltv.Params(n_estimators=30)
        ts = ltv.build_training_set(connection, tiny_as_of, params)
        model = ltv.train(ts, params)
        evaluation = ltv.evaluate(model, ts, params)
        assert all(np.isfinite(v) for v in evaluation.metrics.values())
        assert model.scoring_baseline.bgnbd.fit.converged and model.baseline.gamma_gamma.fit.converged
        predictions = ltv.predict(model, connection, tiny_as_of, params)
        assert len(predictions) and (predictions["bgnbd_ltv"] >= 0).all()


# --- the reference date's snapshot in marts.ml_customer_features ---------------------------------------


def _dbt(settings, *args: str, env: dict[str, str], work: Path) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args],
        cwd=PROJECT_ROOT / "dbt_project",
        env={
            **{k: v for k, v in os.environ.items() if k != "JOURNEY_AS_OF"},
            **dbt_env(settings),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "dbt_project"),
            "DBT_TARGET_PATH": str(work / "target"),
            "DBT_LOG_PATH": str(work / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_the_features_mart_holds_a_snapshot_at_the_reference_date(
    built_tiny, dbt_warehouse, fitted, tmp_path
):
    params, _, model = fitted
    settings = copy_database(dbt_warehouse, "journey_ml_ltv_reference", schema_only=False)
    build = ("build", "--select", "ml_customer_features")
    # JOURNEY_AS_OF as an ISO timestamp: its date is the reference date
    _dbt(settings, *build, env={"JOURNEY_AS_OF": "2025-06-15T09:30:00+00:00"}, work=tmp_path)
    with psycopg.connect(settings.role_url("transformer")) as connection:
        dates = [
            r[0] for r in connection.execute("select distinct snapshot_date from marts.ml_customer_features")
        ]
        assert {d for d in dates if d.day != 1} == {dt.date(2025, 6, 15)}
        assert {d.day for d in dates} == {1, 15} and len(dates) > 5
        # point in time at 2025-06-15 00:00 UTC: tenures two weeks longer than on the 1st
        tenure = dict(
            connection.execute(
                "select snapshot_date, max(tenure_days) from marts.ml_customer_features "
                "where snapshot_date in ('2025-06-01', '2025-06-15') group by 1"
            ).fetchall()
        )
        assert tenure[dt.date(2025, 6, 15)] - tenure[dt.date(2025, 6, 1)] == pytest.approx(14, abs=1e-6)
        predictions = ltv.predict(model, connection, dt.date(2025, 6, 15), params)
        assert (predictions["snapshot_date"] == predictions["reference_date"]).all()
        assert (predictions["reference_date"] == dt.date(2025, 6, 15)).all()
    # a reference date that is a 1st already adds nothing (the var wins over JOURNEY_AS_OF)
    _dbt(
        settings, *build, "--vars", "{ml_reference_date: '2025-06-01'}",
        env={"JOURNEY_AS_OF": "2025-06-15"}, work=tmp_path,
    )  # fmt: skip
    with psycopg.connect(settings.role_url("transformer")) as connection:
        days = {
            r[0].day
            for r in connection.execute("select distinct snapshot_date from marts.ml_customer_features")
        }
    assert days == {1}
