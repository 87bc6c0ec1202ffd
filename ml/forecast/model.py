"""Prophet per series (total and each category, units and revenue), fitted and forecast; each series
written with the forecaster its backtest chose (Prophet or weekly seasonal naive) and an interval
calibrated on the backtest's errors (ml/forecast/intervals.py).

Why one Prophet per series: categories differ in size and weekly shape; multiplicative seasonality
lets the same weekly/holiday multipliers scale with a growing shop. MAP fits (no MCMC) and a few
hundred uncertainty samples keep the 30-odd fits of a run to seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
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
from ml.forecast.intervals import (
    NAIVE,
    SeriesCalibration,
    apply,
    calibrate,
    conformal_quantile,
    fallback,
    naive_scale,
    weeks_ahead,
)
from ml.forecast.metrics import WEEK


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
    interval_width: float = 0.8  # nominal coverage of the prediction interval (calibrated, see intervals.py)
    # Prophet's simulation draws for its own interval (0 = none): not what is written (see
    # intervals.py), only reported beside it as `interval_coverage_total_uncalibrated`
    uncertainty_samples: int = 200
    seasonality_mode: str = "multiplicative"  # the shop's weekday/holiday effects scale with demand
    # trend flexibility: the shop's customer base compounds, so growth bends late in the history
    # (Prophet's 0.05 / 0.8 missed it in the backtest: sMAPE 0.88x seasonal naive vs 0.72x)
    changepoint_prior_scale: float = 0.3
    changepoint_range: float = 0.9  # share of the history where the trend may bend
    holidays_prior_scale: float = 10.0
    yearly_seasonality: str = "auto"  # 'auto' (Prophet: on from two years of history), 'on', 'off'
    shop_events: bool = True  # the shop's retail calendar (BFCM, December gifting) as holidays
    country_holidays: str = ""  # e.g. 'US' adds public holidays from the `holidays` package
    # rolling origins, the latest one `backtest_horizon_days` before as_of. The earliest only teaches
    # the later ones (which forecaster per series, interval calibration); the others are scored, each
    # with what the origins before it taught (see ml/forecast/intervals.py)
    backtest_origins: int = 4
    backtest_horizon_days: int = 28
    # also written: the `recent_days` before as_of, forecast by models fitted only on the days before
    # them (out of sample), so the Demand dashboard and the demand insights compare actuals with a
    # forecast on the very first night instead of waiting for the future to arrive
    recent_days: int = 28


@dataclass
class ForecastModel:
    """Fitted Prophets keyed by (category, measure); trained on days before `as_of`, with the backtest
    that chose each series' forecaster and calibrated its interval (ml/forecast/intervals.py)."""

    as_of: dt.date
    params: Params
    prophets: dict[tuple[str, str], Prophet] = field(default_factory=dict)
    # fitted on the days before as_of - recent_days: the out-of-sample forecast of the recent past
    recent: dict[tuple[str, str], Prophet] = field(default_factory=dict)
    backtest: pd.DataFrame | None = None  # every origin's forecasts and actuals (backtest.run_backtest)
    fingerprint: str = ""  # of the training set and params the backtest was run on
    calibration: dict[tuple[str, str], SeriesCalibration] = field(default_factory=dict)  # all origins
    # from the origins before as_of - recent_days only: the recent past is shown out of sample
    recent_calibration: dict[tuple[str, str], SeriesCalibration] = field(default_factory=dict)
    use_baseline: bool = False  # every series by seasonal naive (see as_baseline)

    @property
    def categories(self) -> list[str]:
        return sorted({c for c, _ in self.prophets})

    def methods(self) -> dict[tuple[str, str], str]:
        """The forecaster each series is written with (getattr: a model pickled before calibration)."""
        baseline, learned = getattr(self, "use_baseline", False), getattr(self, "calibration", {})
        return {key: NAIVE if baseline else learned.get(key, fallback(1.0)).method for key in self.prophets}


def as_baseline(model: ForecastModel) -> ForecastModel:
    """The same fitted model forecasting every series by seasonal naive with its calibrated interval:
    what the registry promotes when no champion exists and the candidate lost to its baseline or broke
    a guard rail. Its evaluation reports the baseline's metrics as the model's."""
    return dataclasses.replace(model, use_baseline=True)


def fingerprint(training_set: TrainingSet, params: Params) -> str:
    """What a backtest depends on: as_of, the daily series and every param but the written horizons."""
    relevant = {
        k: v for k, v in dataclasses.asdict(params).items() if k not in ("horizon_days", "recent_days")
    }
    digest = hashlib.sha256(f"{training_set.as_of}|{json.dumps(relevant, sort_keys=True)}|".encode())
    digest.update(pd.util.hash_pandas_object(training_set.daily, index=False).to_numpy().tobytes())
    return digest.hexdigest()


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
    """Run the rolling-origin backtest (it chooses each series' forecaster and calibrates the
    intervals), then fit every series on all history before as_of. The latest backtest origin's fits
    are the recent past's out-of-sample models when it starts the recent window; else those are fitted."""
    from ml.forecast.backtest import run_backtest

    params = params or Params()
    recent_start = training_set.as_of - dt.timedelta(days=params.recent_days)
    # an origin's fits forecast its backtest horizon (their holiday calendar ends there)
    keep = recent_start if 0 < params.recent_days <= params.backtest_horizon_days else None
    backtest, at_recent = run_backtest(training_set, params, keep_models_at=keep)
    horizon_end = training_set.as_of + dt.timedelta(days=params.horizon_days)
    fitted = ForecastModel(
        as_of=training_set.as_of,
        params=params,
        backtest=backtest,
        fingerprint=fingerprint(training_set, params),
        calibration=calibrate(backtest, params.interval_width),
        recent_calibration=calibrate(backtest, params.interval_width, before=recent_start),
    )
    for category in training_set.categories:
        for measure in MEASURES:
            frame = training_set.series(category, measure)
            fitted.prophets[(category, measure)] = fit_series(frame, params, horizon_end)
            if params.recent_days > 0:
                if (category, measure) in at_recent:
                    fitted.recent[(category, measure)] = at_recent[(category, measure)]
                    continue
                earlier = frame[frame["ds"] < pd.Timestamp(recent_start)]
                if len(earlier) >= 14:  # two weeks at least, as the backtest asks of an origin
                    fitted.recent[(category, measure)] = fit_series(earlier, params, horizon_end)
    return fitted


def forecast_frame(history: pd.DataFrame, prophet: Prophet | None, start: dt.date, days: int) -> pd.DataFrame:
    """What a calibration is applied to, for `days` days from `start`: Prophet's yhat and interval
    (NaN without a Prophet), seasonal naive from `history` (ds, y: the days before the forecast), the
    days since the last observed one (`step`) and seasonal naive's scale (intervals.naive_scale)."""
    ds = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    last = pd.Timestamp(history["ds"].max())
    step = np.asarray((ds - last).days, dtype=float)
    source = ds - pd.to_timedelta(WEEK * weeks_ahead(step), unit="D")  # the same weekday, last seen
    naive = history.set_index("ds")["y"].reindex(source).to_numpy(dtype=float)
    out = pd.DataFrame({"ds": ds, "naive": naive, "step": step, "scale": naive_scale(history["y"])[0]})
    if prophet is None:
        return out.assign(yhat=np.nan, yhat_lower=np.nan, yhat_upper=np.nan)
    fc = forecast_series(prophet, start, days)
    return out.assign(**{c: fc[c].to_numpy() for c in ("yhat", "yhat_lower", "yhat_upper")})


def series_forecast(
    model: ForecastModel, key: tuple[str, str], start: dt.date, days: int, recent: bool = False
) -> pd.DataFrame | None:
    """ds, forecast, lower, upper, method of one series: the calibrated forecast of the full model
    (or, `recent`, of the model fitted before as_of - recent_days, calibrated on earlier origins).
    Seasonal naive repeats the last week of the Prophet's own history (the days it was fitted on).
    None for a recent window the history was too short to fit. A series without a calibration (a
    model pickled before calibration existed) gets the fallback: Prophet, q from its history's
    weekly differences."""
    prophet = (model.recent if recent else model.prophets).get(key)
    if prophet is None:
        return None
    history = prophet.history[["ds", "y"]].sort_values("ds")
    calibrations = getattr(model, "recent_calibration" if recent else "calibration", {})
    cal = calibrations.get(key) or fallback(
        conformal_quantile(naive_scale(history["y"])[1], model.params.interval_width)
    )
    frame = forecast_frame(history, prophet, start, days)
    method = NAIVE if getattr(model, "use_baseline", False) else None
    out = apply(frame, cal, method, calibrated_weeks=math.ceil(model.params.backtest_horizon_days / WEEK))
    return out[["ds", "forecast", "lower", "upper", "method"]]


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
    shop no longer sells (and nothing at all when no sales are left). Each series is forecast by
    its calibrated forecaster (Prophet or seasonal naive, see ml/forecast/intervals.py); the
    as_baseline model by seasonal naive everywhere."""
    params = params or model.params
    start = to_date(as_of)
    parts = []
    recent_start = start - dt.timedelta(days=params.recent_days)
    selling = series_with_sales(conn, start)
    for category in (c for c in model.categories if c in selling):
        row = None
        for measure in MEASURES:
            fc = series_forecast(model, (category, measure), start, params.horizon_days)
            past = (
                series_forecast(model, (category, measure), recent_start, params.recent_days, recent=True)
                if params.recent_days > 0
                else None
            )
            if past is not None:  # the recent past, forecast out of sample (see Params.recent_days)
                fc = pd.concat([past, fc], ignore_index=True)
            fc = fc.drop(columns="method").rename(
                columns={
                    "ds": "forecast_date",
                    "forecast": f"{measure}_forecast",
                    "lower": f"{measure}_lower",
                    "upper": f"{measure}_upper",
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
