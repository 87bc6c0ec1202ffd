"""Prophet per series (total and each category, units and revenue), fitted and forecast.

Why one Prophet per series: categories differ in size and weekly shape; multiplicative seasonality
lets the same weekly/holiday multipliers scale with a growing shop. MAP fits (no MCMC) and a few
hundred uncertainty samples keep the 30-odd fits of a run to seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ml.core import to_date
from ml.forecast.calendar import shop_events
from ml.forecast.data import MEASURES, TrainingSet, series_with_sales


def _quiet_logs() -> None:
    """cmdstanpy logs every optimisation at INFO and prophet complains about plotly; neither helps a
    run log. cmdstanpy configures its logger once (cached) on first use, so it is created here first
    and then turned down."""
    from cmdstanpy.utils.logging import get_logger

    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    get_logger().setLevel(logging.WARNING)


# quiet before anything imports prophet: fit_series below, or unpickling a stored champion. Prophet
# itself (2 s with matplotlib and Stan) is imported only where a model is fitted, so the code location
# and every run worker start without it.
_quiet_logs()
if TYPE_CHECKING:
    from prophet import Prophet


@dataclass(frozen=True)
class Params:
    horizon_days: int = 90  # forecast length written to ml.demand_forecast
    interval_width: float = 0.8  # width of the prediction interval
    uncertainty_samples: int = 200  # Prophet's simulation draws for the interval (0 = no interval)
    seasonality_mode: str = "multiplicative"  # the shop's weekday/holiday effects scale with demand
    # trend flexibility: the shop's customer base compounds, so growth bends late in the history
    # (Prophet's 0.05 / 0.8 missed it in the backtest: sMAPE 0.88x seasonal naive vs 0.72x)
    changepoint_prior_scale: float = 0.3
    changepoint_range: float = 0.9  # share of the history where the trend may bend
    holidays_prior_scale: float = 10.0
    yearly_seasonality: str = "auto"  # 'auto' (Prophet: on from two years of history), 'on', 'off'
    shop_events: bool = True  # the shop's retail calendar (BFCM, December gifting) as holidays
    country_holidays: str = ""  # e.g. 'US' adds public holidays from the `holidays` package
    backtest_origins: int = 3  # rolling origins, the latest one `backtest_horizon_days` before as_of
    backtest_horizon_days: int = 28
    # also written: the `recent_days` before as_of, forecast by models fitted only on the days before
    # them (out of sample), so the Demand dashboard and the demand insights compare actuals with a
    # forecast on the very first night instead of waiting for the future to arrive
    recent_days: int = 28


@dataclass
class ForecastModel:
    """Fitted Prophets keyed by (category, measure); trained on days before `as_of`."""

    as_of: dt.date
    params: Params
    prophets: dict[tuple[str, str], Prophet] = field(default_factory=dict)
    # fitted on the days before as_of - recent_days: the out-of-sample forecast of the recent past
    recent: dict[tuple[str, str], Prophet] = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        return sorted({c for c, _ in self.prophets})


def _yearly(value: str):
    return {"auto": "auto", "on": True, "off": False}[value]


def fit_series(frame: pd.DataFrame, params: Params, last_day: dt.date, uncertainty: bool = True) -> Prophet:
    """One Prophet on a (ds, y) frame; the holiday calendar spans the history and `last_day`."""
    from prophet import Prophet

    first_year = pd.Timestamp(frame["ds"].min()).year
    model = Prophet(
        growth="linear",
        seasonality_mode=params.seasonality_mode,
        changepoint_prior_scale=params.changepoint_prior_scale,
        changepoint_range=params.changepoint_range,
        holidays_prior_scale=params.holidays_prior_scale,
        weekly_seasonality=True,
        yearly_seasonality=_yearly(params.yearly_seasonality),
        daily_seasonality=False,
        interval_width=params.interval_width,
        uncertainty_samples=params.uncertainty_samples if uncertainty else 0,
        mcmc_samples=0,
        holidays=shop_events(first_year, last_day.year) if params.shop_events else None,
    )
    if params.country_holidays:
        model.add_country_holidays(country_name=params.country_holidays)
    with _prophet_warnings_off():
        model.fit(frame)
    return model


@contextmanager
def _prophet_warnings_off() -> Iterator[None]:
    """Prophet's own pandas deprecations (inplace=...) are not ours to fix; keep run logs readable."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"prophet\.")
        yield


def forecast_series(model: Prophet, start: dt.date, days: int) -> pd.DataFrame:
    """ds, yhat, yhat_lower, yhat_upper for `days` days from `start`, clipped at zero (demand)."""
    future = pd.DataFrame({"ds": pd.date_range(pd.Timestamp(start), periods=days, freq="D")})
    with _prophet_warnings_off():
        out = model.predict(future)
    cols = ["yhat", "yhat_lower", "yhat_upper"]
    if "yhat_lower" not in out:  # uncertainty_samples=0
        out["yhat_lower"] = out["yhat_upper"] = np.nan
    out[cols] = out[cols].clip(lower=0.0)
    return out[["ds", *cols]]


def train(training_set: TrainingSet, params: Params | None = None) -> ForecastModel:
    """Fit every series on all history before as_of."""
    params = params or Params()
    horizon_end = training_set.as_of + dt.timedelta(days=params.horizon_days)
    fitted = ForecastModel(as_of=training_set.as_of, params=params)
    for category in training_set.categories:
        for measure in MEASURES:
            frame = training_set.series(category, measure)
            fitted.prophets[(category, measure)] = fit_series(frame, params, horizon_end)
            if params.recent_days > 0:
                cut = pd.Timestamp(training_set.as_of - dt.timedelta(days=params.recent_days))
                earlier = frame[frame["ds"] < cut]
                if len(earlier) >= 14:  # two weeks at least, as the backtest asks of an origin
                    fitted.recent[(category, measure)] = fit_series(earlier, params, horizon_end)
    return fitted


COLUMN_TYPES = {
    "forecast_date": "date",
    "category": "text",
    "units_forecast": "double precision",
    "units_lower": "double precision",
    "units_upper": "double precision",
    "revenue_forecast": "double precision",
    "revenue_lower": "double precision",
    "revenue_upper": "double precision",
    "model_version": "text",
}


def predict(
    model: ForecastModel,
    conn,
    as_of: dt.date | str,
    params: Params | None = None,
    *,
    model_version: str = "dev",
) -> pd.DataFrame:
    """Rows of ml.demand_forecast: `horizon_days` days from as_of, per category and 'total', preceded
    by the `recent_days` before as_of forecast out of sample (where history allowed the fit).

    The fitted model carries its history; `conn` only says which of its series still have sales
    before as_of, so a model fitted before a source was removed or replaced forecasts no category the
    shop no longer sells (and nothing at all when no sales are left)."""
    params = params or model.params
    start = to_date(as_of)
    parts = []
    recent_start = start - dt.timedelta(days=params.recent_days)
    selling = series_with_sales(conn, start)
    for category in (c for c in model.categories if c in selling):
        row = None
        for measure in MEASURES:
            fc = forecast_series(model.prophets[(category, measure)], start, params.horizon_days)
            past = model.recent.get((category, measure))
            if past is not None:  # the recent past, forecast out of sample (see Params.recent_days)
                fc = pd.concat(
                    [forecast_series(past, recent_start, params.recent_days), fc], ignore_index=True
                )
            fc = fc.rename(
                columns={
                    "ds": "forecast_date",
                    "yhat": f"{measure}_forecast",
                    "yhat_lower": f"{measure}_lower",
                    "yhat_upper": f"{measure}_upper",
                }
            )
            row = fc if row is None else row.merge(fc, on="forecast_date")
        parts.append(row.assign(category=category))
    if not parts:
        return pd.DataFrame(columns=list(COLUMN_TYPES))
    out = pd.concat(parts, ignore_index=True)
    out["forecast_date"] = out["forecast_date"].dt.date
    out["model_version"] = model_version
    return out[list(COLUMN_TYPES)]
