"""Demand forecast: metrics against hand-computed values, the seasonal-naive baseline, a backtest that
never looks past its origin, and build -> train -> evaluate -> predict on the tiny shop."""

from __future__ import annotations

import datetime as dt
import json
import pickle

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import forecast
from ml.core import read_frame, replace_table
from ml.forecast.backtest import origins, run_backtest
from ml.forecast.calendar import black_friday, shop_events
from ml.forecast.data import TOTAL, TrainingSet, densify
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
    scores_clean, fc_clean = run_backtest(clean, params)
    scores_poisoned, fc_poisoned = run_backtest(poisoned, params)
    assert len(fc_clean) == 2 * 14
    pd.testing.assert_series_equal(fc_clean["yhat"], fc_poisoned["yhat"])
    pd.testing.assert_series_equal(fc_clean["naive"], fc_poisoned["naive"])
    latest = fc_clean["origin"] == dt.date(2025, 5, 18)
    assert (fc_poisoned.loc[latest, "actual"] == fc_clean.loc[latest, "actual"] * 1000).all()
    assert (fc_poisoned.loc[~latest, "actual"] == fc_clean.loc[~latest, "actual"]).all()
    # the earlier origin's scores are identical; a weekly pattern + trend beats seasonal naive here
    early = scores_clean["origin"] == dt.date(2025, 5, 4)
    assert scores_clean.loc[early, "smape"].tolist() == scores_poisoned.loc[early, "smape"].tolist()
    total = scores_clean[scores_clean["category"] == TOTAL]
    assert total["smape"].mean() < total["naive_smape"].mean()


# --- on the tiny shop ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn(built_tiny, dbt_warehouse):
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as connection:
        yield connection


@pytest.fixture(scope="module")
def as_of(tiny_world) -> dt.date:
    """The tiny shop's today (its data ends the day before)."""
    return dt.date.fromisoformat(json.loads((tiny_world / "world.json").read_text())["end_date"])


def test_end_to_end_on_tiny(conn, as_of):
    params = forecast.Params(
        horizon_days=30, backtest_origins=2, backtest_horizon_days=14, uncertainty_samples=50, recent_days=7
    )
    ts = forecast.build_training_set(conn, as_of, params)
    assert ts.daily["ds"].max() == pd.Timestamp(as_of - dt.timedelta(days=1))
    model = pickle.loads(pickle.dumps(forecast.train(ts, params)))

    evaluation = forecast.evaluate(model, ts, params)
    assert evaluation.primary_metric == "smape" and not evaluation.higher_is_better
    for key in ("smape", "mase", "smape_categories"):
        assert 0 <= evaluation.metrics[key] < 5 and 0 <= evaluation.baseline_metrics[key] < 5
    assert evaluation.split["origins"] == [
        (as_of - dt.timedelta(days=28)).isoformat(),
        (as_of - dt.timedelta(days=14)).isoformat(),
    ]
    assert "data:image/png;base64," in evaluation.extra_markdown

    out = forecast.predict(model, conn, as_of, params, model_version="v-test")
    assert list(out.columns) == list(forecast.COLUMN_TYPES)
    categories = read_frame(
        conn, "select distinct category from marts.fct_order_items where order_date < %s", (as_of,)
    )
    assert set(out["category"]) == {TOTAL, *categories["category"]}
    assert len(out) == (7 + 30) * (len(categories) + 1)  # the recent week (out of sample) + the horizon
    total = out[out["category"] == TOTAL].sort_values("forecast_date")
    assert total["forecast_date"].tolist() == [as_of + dt.timedelta(days=k) for k in range(-7, 30)]
    # the recent week comes from a model fitted before it: it differs from the full model's fit
    recent_fit = model.recent[(TOTAL, "units")].history["ds"].max()
    assert recent_fit < pd.Timestamp(as_of - dt.timedelta(days=7))
    for m in ("units", "revenue"):
        assert (out[f"{m}_lower"] >= 0).all()
        assert (out[f"{m}_lower"] <= out[f"{m}_forecast"] + 1e-9).all()
        assert (out[f"{m}_forecast"] <= out[f"{m}_upper"] + 1e-9).all()
    assert total["units_forecast"].sum() > 0 and (out["model_version"] == "v-test").all()

    written = replace_table(conn, forecast.OUTPUT_TABLE, out, forecast.COLUMN_TYPES)
    conn.commit()
    back = read_frame(
        conn, "select * from ml.demand_forecast where category = 'total' order by forecast_date"
    )
    assert written == len(out) and back["forecast_date"].iloc[0] == as_of - dt.timedelta(days=7)
    assert back["units_forecast"].to_numpy() == pytest.approx(total["units_forecast"].to_numpy())
