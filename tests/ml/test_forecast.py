"""Demand forecast: metrics against hand-computed values, the seasonal-naive baseline, a backtest that
never looks past its origin, calibrated intervals that cover what they claim, the guard rails, and
build -> train -> evaluate -> predict (and the seasonal-naive fallback) on the tiny shop."""

from __future__ import annotations

import datetime as dt
import json
import pickle

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import forecast, registry
from ml.core import read_frame, replace_table
from ml.forecast.backtest import judged, origins, run_backtest, score, sequential, summarize
from ml.forecast.calendar import black_friday, shop_events
from ml.forecast.data import TOTAL, TrainingSet, densify
from ml.forecast.intervals import NAIVE, PROPHET, calibrate, conformal_quantile, growth, naive_scale
from ml.forecast.metrics import mase, seasonal_naive, smape


def test_smape_against_hand_computed_value():
    # 2*10/210, 0/0 -> 0, 2*10/90
    assert smape([100, 0, 50], [110, 0, 40]) == pytest.approx((20 / 210 + 0 + 20 / 90) / 3)
    assert smape([0, 0], [0, 5]) == pytest.approx(1.0)  # one 0/0 day (0), one total miss (2)


def test_mase_scales_by_in_sample_seasonal_naive_error():
    history = [1, 2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 8, 9]  # every weekly difference is 2
    assert mase([10, 12], [11, 10], history) == pytest.approx(1.5 / 2)
    assert np.isnan(mase([1], [1], [5] * 10))  # a flat history has no scale


def test_seasonal_naive_repeats_the_last_week():
    assert seasonal_naive(np.arange(1, 11), 9).tolist() == [4, 5, 6, 7, 8, 9, 10, 4, 5]
    with pytest.raises(ValueError):
        seasonal_naive([1, 2, 3], 5)


def test_shop_calendar_matches_the_simulated_black_friday():
    assert black_friday(2024) == dt.date(2024, 11, 29)
    assert black_friday(2025) == dt.date(2025, 11, 28)
    events = shop_events(2025, 2025)
    assert set(events.loc[events["holiday"] == "cyber_monday", "ds"].dt.date) == {dt.date(2025, 12, 1)}
    assert len(events[events["holiday"] == "bfcm_lead_in"]) == 7


def synthetic_set(as_of: dt.date, days: int, poison_from: dt.date | None = None) -> TrainingSet:
    """Two categories with a weekly shape and a trend; values from `poison_from` on x1000."""
    rng = np.random.default_rng(7)
    ds = pd.date_range(as_of - dt.timedelta(days=days), as_of - dt.timedelta(days=1), freq="D")
    week = np.array([1.2, 1.0, 1.0, 0.9, 0.8, 0.9, 1.3])[ds.day_of_week]
    rows = []
    for cat, level in (("A", 20.0), ("B", 8.0)):
        units = rng.poisson(level * week * np.linspace(1, 1.5, len(ds))).astype(float)
        rows.append(pd.DataFrame({"ds": ds, "category": cat, "units": units, "revenue": units * 12.5}))
    raw = pd.concat(rows)
    if poison_from is not None:
        late = raw["ds"] >= pd.Timestamp(poison_from)
        raw.loc[late, ["units", "revenue"]] *= 1000
    return TrainingSet(as_of=as_of, daily=densify(raw, as_of - dt.timedelta(days=1)))


def test_densify_adds_zero_days_and_a_total():
    raw = pd.DataFrame(
        {
            "ds": [dt.date(2025, 1, 1), dt.date(2025, 1, 3)],
            "category": ["A", "B"],
            "units": [2.0, 3.0],
            "revenue": [20.0, 30.0],
        }
    )
    daily = densify(raw, dt.date(2025, 1, 4))
    assert len(daily) == 3 * 4  # total, A, B x 4 days
    total = daily[daily["category"] == TOTAL].set_index("ds")["units"]
    assert total.tolist() == [2.0, 0.0, 3.0, 0.0]


def test_backtest_origins_never_see_data_after_the_origin():
    as_of = dt.date(2025, 6, 1)
    params = forecast.Params(backtest_origins=2, backtest_horizon_days=14, uncertainty_samples=0)
    assert origins(as_of, params) == [dt.date(2025, 5, 4), dt.date(2025, 5, 18)]
    clean = synthetic_set(as_of, 120)
    # everything from the latest origin on is blown up: its forecasts must not move, only its actuals
    poisoned = synthetic_set(as_of, 120, poison_from=dt.date(2025, 5, 18))
    frame_clean, _ = run_backtest(clean, params)
    frame_poisoned, _ = run_backtest(poisoned, params)
    assert len(frame_clean) == 2 * 14 * 3 * 2  # origins x days x (total, A, B) x (units, revenue)
    for column in ("yhat", "naive", "scale"):
        pd.testing.assert_series_equal(frame_clean[column], frame_poisoned[column])
    latest = frame_clean["origin"] == dt.date(2025, 5, 18)
    assert (frame_poisoned.loc[latest, "actual"] == frame_clean.loc[latest, "actual"] * 1000).all()
    assert (frame_poisoned.loc[~latest, "actual"] == frame_clean.loc[~latest, "actual"]).all()
    # the latest origin is scored with the forecaster and interval the earlier one taught: the same
    rows_clean, rows_poisoned = sequential(frame_clean, 0.8), sequential(frame_poisoned, 0.8)
    assert set(rows_clean["origin"]) == {dt.date(2025, 5, 18)}  # the earliest origin only teaches
    for column in ("forecast", "lower", "upper", "method"):
        pd.testing.assert_series_equal(rows_clean[column], rows_poisoned[column])
    # Prophet beats seasonal naive on a weekly pattern + trend (over both origins)
    total = frame_clean[frame_clean["category"] == TOTAL]
    assert smape(total["actual"], total["yhat"]) < smape(total["actual"], total["naive"])


def test_conformal_quantile_and_interval_scale():
    # ceil((n + 1) * 0.8) = ceil(4.8) = 5th smallest of 4 -> the largest; of 9 -> ceil(8) = 8th
    assert conformal_quantile([0.4, 0.1, 0.3, 0.2], 0.8) == 0.4
    assert conformal_quantile(np.arange(1, 10), 0.8) == 8
    # s: mean |weekly difference| over the last 8 weeks; a flat series falls back to its mean level
    s, scores = naive_scale(np.r_[np.zeros(7), np.full(7, 2.0)])
    assert s == 2.0 and scores.tolist() == [1.0] * 7
    assert naive_scale(np.full(14, 3.0))[0] == 3.0 and naive_scale(np.zeros(14))[0] == 1.0
    # the interval widens with the weeks ahead, then as a square root beyond the calibrated weeks
    assert growth([1, 7, 8, 28]).tolist() == [1, 1, 2, 4]
    assert growth([28, 63], calibrated_weeks=4).tolist() == pytest.approx([4, 6])


def test_calibration_chooses_per_series_and_only_learns_from_earlier_origins():
    days = pd.date_range("2025-01-01", periods=14, freq="D")
    rows = []
    for origin, offset in ((dt.date(2025, 1, 1), 0), (dt.date(2025, 1, 8), 7)):
        for category, prophet_error in (("dense", 0.0), ("sparse", 3.0)):
            for k in range(7):
                rows.append(
                    {
                        "origin": origin, "category": category, "measure": "units",
                        "ds": days[offset + k], "step": k + 1.0, "scale": 1.0,
                        "actual": 2.0, "yhat": 2.0 + prophet_error + 0.1 * k, "naive": 1.0,
                    }
                )  # fmt: skip
    frame = pd.DataFrame(rows)
    learned = calibrate(frame, 0.8)
    assert learned[("dense", "units")].method == PROPHET and learned[("sparse", "units")].method == NAIVE
    # errors of Prophet on 'dense': 0.0..0.6 per origin, in units of s * 1 week: the 12th of 14 (ceil(15 * 0.8))
    assert learned[("dense", "units")].prophet_q == pytest.approx(0.5)
    assert (
        learned[("dense", "units")].naive_q == pytest.approx(1.0) and learned[("dense", "units")].days == 14
    )
    earlier = calibrate(frame, 0.8, before=dt.date(2025, 1, 8))
    assert earlier[("dense", "units")].days == 7 and calibrate(frame, 0.8, before=dt.date(2025, 1, 1)) == {}


def ar_series(as_of: dt.date, days: int, seed: int) -> TrainingSet:
    """A shop without categories whose demand wanders: a trend and weekly shape times persistent
    (AR(1), phi 0.6) deviations. Prophet's flexible trend follows them in sample, so its own
    interval is too narrow for the days after an origin."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(as_of - dt.timedelta(days=days), as_of - dt.timedelta(days=1), freq="D")
    wander = np.zeros(len(ds))
    for i in range(1, len(ds)):
        wander[i] = 0.6 * wander[i - 1] + rng.normal(0, 0.15)
    week = np.array([1.2, 1.0, 1.0, 0.9, 0.8, 0.9, 1.3])[ds.day_of_week]
    units = rng.poisson(40 * np.linspace(1, 1.4, len(ds)) * week * np.exp(wander)).astype(float)
    raw = pd.DataFrame({"ds": ds, "category": "uncategorised", "units": units, "revenue": units * 12.5})
    daily = densify(raw, as_of - dt.timedelta(days=1))
    return TrainingSet(as_of=as_of, daily=daily[daily["category"] == TOTAL].reset_index(drop=True))


def test_calibrated_interval_covers_its_nominal_share_of_unseen_days():
    """7 scored origins x 28 days, each calibrated on the origins before it: within 5 points of 80 %,
    where Prophet's own 80 % interval covers far less. (Seeds 0-7 of this series: the calibrated
    coverage is within 5 points for 7 of 8, Prophet's own 0.50-0.76 for all.)"""
    params = forecast.Params(backtest_origins=8, uncertainty_samples=100, recent_days=0)
    frame, _ = run_backtest(ar_series(dt.date(2025, 6, 1), 400, seed=2), params)
    metrics, baseline = summarize(score(sequential(frame, params.interval_width)), params.interval_width)
    assert metrics["interval_coverage_error"] <= 0.05
    assert abs(metrics["interval_coverage_total"] - 0.8) == pytest.approx(metrics["interval_coverage_error"])
    assert metrics["interval_coverage_total_uncalibrated"] < 0.72  # Prophet's own: measurably short
    assert baseline["interval_coverage_error"] <= 0.05  # seasonal naive's interval, calibrated alike


def _scores(total_model: float, category_model: float, coverage: float = 0.8) -> pd.DataFrame:
    """backtest.score-shaped rows: one origin, the total and two categories; naive sMAPE 0.3 / 0.6."""
    rows = []
    for category, model, naive in (
        (TOTAL, total_model, 0.3),
        ("A", category_model, 0.6),
        ("B", category_model, 0.6),
    ):
        for measure in ("units", "revenue"):
            rows.append(
                {
                    "origin": dt.date(2025, 5, 1), "category": category, "measure": measure,
                    "method": PROPHET, "smape": model, "mase": 1.0, "naive_smape": naive, "naive_mase": 1.2,
                    "prophet_smape": model, "coverage": coverage, "naive_coverage": 0.8,
                    "prophet_coverage": 0.7, "calibrated_on": 28,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_guard_rails_keep_a_better_total_from_hiding_worse_categories_or_intervals():
    def decide(scores: pd.DataFrame) -> registry.Decision:
        return registry.decide(judged(*summarize(scores, 0.8)), None, 0.02)

    assert decide(_scores(0.2, 0.63)).promoted  # categories 0.03 worse than naive: within 0.05
    worse = decide(_scores(0.2, 0.7))  # better on the total, 0.1 worse per category
    assert not worse.promoted and "smape_categories 0.7000 fails" in worse.reason
    narrow = decide(_scores(0.2, 0.5, coverage=0.7))  # better everywhere, but a 70 % "80 %" interval
    assert not narrow.promoted and "interval_coverage_error 0.1000 fails" in narrow.reason
    assert not decide(_scores(0.35, 0.5)).promoted  # the primary metric still decides first
    # a shop without categories: the category rail does not apply (n/a passes)
    total_only = _scores(0.2, 0.7).query("category == 'total'")
    decision = decide(total_only)
    assert decision.promoted and any("n/a" in r.text for r in decision.rails)


# --- on the tiny shop ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn(built_tiny, dbt_warehouse):
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as connection:
        yield connection


@pytest.fixture(scope="module")
def as_of(tiny_world) -> dt.date:
    """The tiny shop's today (its data ends the day before)."""
    return dt.date.fromisoformat(json.loads((tiny_world / "world.json").read_text())["end_date"])


PARAMS = forecast.Params(
    horizon_days=30, backtest_origins=3, backtest_horizon_days=14, uncertainty_samples=50, recent_days=14
)


@pytest.fixture(scope="module")
def fitted(conn, as_of):
    ts = forecast.build_training_set(conn, as_of, PARAMS)
    return ts, pickle.loads(pickle.dumps(forecast.train(ts, PARAMS)))


def test_end_to_end_on_tiny(conn, as_of, fitted):
    params = PARAMS
    ts, model = fitted
    assert ts.daily["ds"].max() == pd.Timestamp(as_of - dt.timedelta(days=1))

    evaluation = forecast.evaluate(model, ts, params)
    assert evaluation.primary_metric == "smape" and not evaluation.higher_is_better
    for key in ("smape", "mase", "smape_categories"):
        assert 0 <= evaluation.metrics[key] < 5 and 0 <= evaluation.baseline_metrics[key] < 5
    for key in (
        "interval_coverage_total",
        "interval_coverage_categories",
        "interval_coverage_total_uncalibrated",
    ):
        assert 0 <= evaluation.metrics[key] <= 1
    assert all(isinstance(v, float) for v in evaluation.metrics.values())
    assert evaluation.split["origins"] == [(as_of - dt.timedelta(days=k)).isoformat() for k in (42, 28, 14)]
    assert evaluation.split["scored_origins"] == evaluation.split["origins"][1:]
    rails = {r.metric: r for r in evaluation.guard_rails}
    assert rails["smape_categories"].tolerance == 0.05 and rails["interval_coverage_error"].limit == 0.05
    # Prophet alone loses to seasonal naive on the sparse categories; the per-series choice does not
    assert evaluation.metrics["smape_categories_prophet"] > evaluation.baseline_metrics["smape_categories"]
    assert evaluation.metrics["smape_categories"] < evaluation.metrics["smape_categories_prophet"]
    assert (
        "data:image/png;base64," in evaluation.extra_markdown and "| Drinkware |" in evaluation.extra_markdown
    )
    # the backtest train ran is reused: evaluating again fits nothing and gives the same numbers
    assert forecast.evaluate(model, ts, params).metrics == evaluation.metrics

    out = forecast.predict(model, conn, as_of, params, model_version="v-test")
    assert list(out.columns) == list(forecast.COLUMN_TYPES)
    categories = read_frame(
        conn, "select distinct category from marts.fct_order_items where order_date < %s", (as_of,)
    )
    assert set(out["category"]) == {TOTAL, *categories["category"]}
    assert len(out) == (14 + 30) * (len(categories) + 1)  # the recent two weeks (out of sample) + the horizon
    total = out[out["category"] == TOTAL].sort_values("forecast_date")
    assert total["forecast_date"].tolist() == [as_of + dt.timedelta(days=k) for k in range(-14, 30)]
    # the recent weeks come from the latest backtest origin's fit (before them), not the full model
    recent_fit = model.recent[(TOTAL, "units")].history["ds"].max()
    assert recent_fit == pd.Timestamp(as_of - dt.timedelta(days=15))
    for m in ("units", "revenue"):
        assert (out[f"{m}_lower"] >= 0).all()
        assert (out[f"{m}_lower"] <= out[f"{m}_forecast"] + 1e-9).all()
        assert (out[f"{m}_forecast"] <= out[f"{m}_upper"] + 1e-9).all()
    assert total["units_forecast"].sum() > 0 and (out["model_version"] == "v-test").all()
    # a series the backtest gave to seasonal naive repeats its last week
    naive = [k for k, method in model.methods().items() if method == NAIVE and k[1] == "units"]
    assert naive, model.methods()
    category = naive[0][0]
    last_week = ts.series(category, "units").tail(7)["y"].to_numpy()
    ahead = out[(out["category"] == category) & (out["forecast_date"] >= as_of)].sort_values("forecast_date")
    assert ahead["units_forecast"].to_numpy()[:14] == pytest.approx(np.tile(last_week, 2))

    written = replace_table(conn, forecast.OUTPUT_TABLE, out, forecast.COLUMN_TYPES)
    conn.commit()
    back = read_frame(
        conn, "select * from ml.demand_forecast where category = 'total' order by forecast_date"
    )
    assert written == len(out) and back["forecast_date"].iloc[0] == as_of - dt.timedelta(days=14)
    assert back["units_forecast"].to_numpy() == pytest.approx(total["units_forecast"].to_numpy())


def test_baseline_fallback_is_seasonal_naive_with_calibrated_intervals(conn, as_of, fitted):
    """What the asset promotes when the first candidate fails: the same columns and rows, every series
    by seasonal naive, and an evaluation that reports the baseline's metrics as the model's."""
    ts, model = fitted
    fallback = forecast.as_baseline(model)
    evaluation = forecast.evaluate(fallback, ts, PARAMS)
    assert {k: evaluation.metrics[k] for k in evaluation.baseline_metrics} == evaluation.baseline_metrics
    assert set(fallback.methods().values()) == {NAIVE}
    out = forecast.predict(fallback, conn, as_of, PARAMS, model_version="v-baseline")
    candidate = forecast.predict(model, conn, as_of, PARAMS)
    assert list(out.columns) == list(forecast.COLUMN_TYPES) and len(out) == len(candidate)
    total = out[(out["category"] == TOTAL) & (out["forecast_date"] >= as_of)].sort_values("forecast_date")
    last_week = ts.series(TOTAL, "units").tail(7)["y"].to_numpy()
    assert total["units_forecast"].to_numpy()[:7] == pytest.approx(last_week)
    assert (total["units_lower"] <= total["units_forecast"]).all() and (
        total["units_upper"] > total["units_forecast"]
    ).all()
    # the band widens with the weeks ahead
    width = (total["units_upper"] - total["units_lower"]).to_numpy()
    assert width[20] > width[0]
    assert replace_table(conn, forecast.OUTPUT_TABLE, out, forecast.COLUMN_TYPES) == len(out)
    conn.rollback()
