"""Rolling-origin backtest of the forecaster against the weekly seasonal-naive baseline.

Why rolling origins: one split says little about a forecaster; refitting at a few origins (the latest
`backtest_horizon_days` before as_of, then stepping back by the same length) and scoring each next
window shows how it does on unseen days. At every origin both Prophet and the baseline see only the
days before it; the days from the origin on are the actuals, never inputs.

The backtest also teaches the model (ml/forecast/intervals.py): which forecaster each series uses and
how wide its interval must be. So that the reported figures stay honest, each origin is scored with
what the origins *before* it taught (sequential split conformal); the earliest origin only teaches
(it is scored only when it is the only one, with the fallback: Prophet and its own interval).

Guard rails (see ml.core.GuardRail; the primary metric stays the total series' sMAPE):
* `smape_categories` may exceed seasonal naive's by at most CATEGORY_SMAPE_TOLERANCE (0.05 sMAPE,
  i.e. 2.5 % of its 0-2 range): a better total must not come from worse category forecasts;
* `interval_coverage_error` = |coverage of the total series' interval - interval_width| at most
  COVERAGE_ERROR_LIMIT (0.05): the 80 % band must cover 75-85 % of the unseen days.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.core import Evaluation, GuardRail, InsufficientData
from ml.forecast.data import MEASURES, TOTAL, TrainingSet
from ml.forecast.intervals import (
    NAIVE,
    PROPHET,
    apply,
    calibrate,
    conformal_quantile,
    fallback,
    naive_scale,
)
from ml.forecast.metrics import WEEK, seasonal_naive, smape
from ml.forecast.model import ForecastModel, Params, fingerprint, fit_series, forecast_series

CATEGORY_SMAPE_TOLERANCE = 0.05
COVERAGE_ERROR_LIMIT = 0.05


def origins(as_of: dt.date, params: Params) -> list[dt.date]:
    """Backtest origins, earliest first: as_of - k * horizon for k = n..1."""
    h = params.backtest_horizon_days
    return [as_of - dt.timedelta(days=k * h) for k in range(params.backtest_origins, 0, -1)]


def forecast_at_origin(series: pd.DataFrame, origin: dt.date, params: Params):
    """Prophet and seasonal-naive forecasts of the `backtest_horizon_days` from `origin`, beside the
    actuals, for one (ds, y) series, with what the calibration needs (intervals.py): `step` (days
    since the last observed one), seasonal naive's `scale` and in-sample `insample_q`, and MASE's
    `mase_scale` (the in-sample seasonal-naive MAE of the whole history). Returns (frame, Prophet)."""
    h = params.backtest_horizon_days
    cut = pd.Timestamp(origin)
    history = series[series["ds"] < cut]
    actual = series[(series["ds"] >= cut) & (series["ds"] < cut + pd.Timedelta(days=h))]
    model = fit_series(history, params, origin + dt.timedelta(days=h))
    fc = forecast_series(model, origin, h)
    y = history["y"].to_numpy(dtype=float)
    scale, insample = naive_scale(y)
    fc["actual"] = actual.set_index("ds")["y"].reindex(fc["ds"]).to_numpy()
    fc["naive"] = seasonal_naive(y, h)
    fc["origin"] = origin
    fc["step"] = np.arange(1, h + 1, dtype=float)
    fc["scale"] = scale
    fc["insample_q"] = conformal_quantile(insample, params.interval_width)
    fc["mase_scale"] = float(np.abs(y[WEEK:] - y[:-WEEK]).mean()) if len(y) > WEEK else float("nan")
    return fc, model


def run_backtest(
    training_set: TrainingSet, params: Params, keep_models_at: dt.date | None = None
) -> tuple[pd.DataFrame, dict]:
    """Every origin's forecasts beside the actuals, one row per (origin, category, measure, day), and
    the Prophets fitted at origin `keep_models_at` (train reuses them for the recent past)."""
    parts, kept = [], {}
    for origin in origins(training_set.as_of, params):
        for category in training_set.categories:
            for measure in MEASURES:
                series = training_set.series(category, measure)
                if (series["ds"] < pd.Timestamp(origin)).sum() < 2 * WEEK:
                    continue
                fc, model = forecast_at_origin(series, origin, params)
                parts.append(fc.assign(category=category, measure=measure))
                if origin == keep_models_at:
                    kept[(category, measure)] = model
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()), kept


def scored_origins(frame: pd.DataFrame) -> list[dt.date]:
    """Every origin but the earliest, which only teaches the others; the only one when alone."""
    found = sorted(frame["origin"].unique())
    return found[1:] if len(found) > 1 else found


def sequential(frame: pd.DataFrame, width: float) -> pd.DataFrame:
    """The scored origins' rows with the model's forecast and interval (`forecast`, `lower`, `upper`,
    `method`) and seasonal naive's calibrated interval (`naive_lower`, `naive_upper`), each origin
    chosen and calibrated on the origins before it only (`calibrated_on` backtest days, 0: fallback)."""
    out = []
    for origin in scored_origins(frame):
        learned = calibrate(frame, width, before=origin)
        for key, g in frame[frame["origin"] == origin].groupby(["category", "measure"], sort=False):
            cal = learned.get(key) or fallback(float(g["insample_q"].iloc[0]))
            model, naive = apply(g, cal), apply(g, cal, NAIVE)
            out.append(
                model.assign(naive_lower=naive["lower"], naive_upper=naive["upper"], calibrated_on=cal.days)
            )
    return pd.concat(out, ignore_index=True)


def _covered(actual, lower, upper) -> float:
    a = np.asarray(actual, dtype=float)
    return float(np.mean((a >= np.asarray(lower)) & (a <= np.asarray(upper))))


def _mase(actual, forecast, scale: float) -> float:
    if not scale or np.isnan(scale):
        return float("nan")
    return float(np.abs(np.asarray(forecast) - np.asarray(actual)).mean() / scale)


def score(rows: pd.DataFrame) -> pd.DataFrame:
    """Per scored origin, category, measure: sMAPE and MASE of the model (its chosen forecaster), of
    seasonal naive and of Prophet alone; interval coverage of the model, of seasonal naive (both
    calibrated) and of Prophet's own interval."""
    out = []
    for (origin, category, measure), g in rows.groupby(["origin", "category", "measure"], sort=False):
        a, scale = g["actual"], float(g["mase_scale"].iloc[0])
        out.append(
            {
                "origin": origin,
                "category": category,
                "measure": measure,
                "method": g["method"].iloc[0],
                "smape": smape(a, g["forecast"]),
                "mase": _mase(a, g["forecast"], scale),
                "naive_smape": smape(a, g["naive"]),
                "naive_mase": _mase(a, g["naive"], scale),
                "prophet_smape": smape(a, g["yhat"]),
                "coverage": _covered(a, g["lower"], g["upper"]),
                "naive_coverage": _covered(a, g["naive_lower"], g["naive_upper"]),
                "prophet_coverage": _covered(a, g["yhat_lower"], g["yhat_upper"]),
                "calibrated_on": int(g["calibrated_on"].iloc[0]),
            }
        )
    return pd.DataFrame(out)


def summarize(scores: pd.DataFrame, width: float) -> tuple[dict[str, float], dict[str, float]]:
    """Model and baseline metrics: `smape`/`mase` on the total series (units and revenue, all scored
    origins), `*_categories` the same over the categories; interval coverage of the total and of the
    categories and its distance to `width` (`interval_coverage_error*`)."""
    total = scores[scores["category"] == TOTAL]
    cats = scores[scores["category"] != TOTAL]

    def agg(prefix: str) -> dict[str, float]:
        out = {
            "smape": float(total[f"{prefix}smape"].mean()),
            "mase": float(total[f"{prefix}mase"].mean()),
            "smape_units": float(total.loc[total["measure"] == "units", f"{prefix}smape"].mean()),
            "smape_revenue": float(total.loc[total["measure"] == "revenue", f"{prefix}smape"].mean()),
            "interval_coverage_total": float(total[f"{prefix}coverage"].mean()),
        }
        out["interval_coverage_error"] = abs(out["interval_coverage_total"] - width)
        if len(cats):
            out["smape_categories"] = float(cats[f"{prefix}smape"].mean())
            out["mase_categories"] = float(np.nanmean(cats[f"{prefix}mase"]))
            out["interval_coverage_categories"] = float(cats[f"{prefix}coverage"].mean())
            out["interval_coverage_error_categories"] = abs(out["interval_coverage_categories"] - width)
        return out

    metrics = agg("")
    # what calibration and the per-series choice changed: Prophet alone, with its own interval
    metrics["interval_coverage_total_uncalibrated"] = float(total["prophet_coverage"].mean())
    if len(cats):
        metrics["smape_categories_prophet"] = float(cats["prophet_smape"].mean())
        metrics["prophet_share_categories"] = float((cats["method"] == PROPHET).mean())
    return metrics, agg("naive_")


def backtest_of(model: ForecastModel, training_set: TrainingSet, params: Params) -> pd.DataFrame:
    """The model's own backtest when it was run on this training set with these params (train ran
    it), else a fresh one (e.g. a champion re-evaluated on today's data)."""
    stored = getattr(model, "backtest", None)
    if stored is not None and getattr(model, "fingerprint", "") == fingerprint(training_set, params):
        return stored
    return run_backtest(training_set, params)[0]


def evaluate(model: ForecastModel, training_set: TrainingSet, params: Params | None = None) -> Evaluation:
    """Rolling-origin backtest; primary metric sMAPE of the total series (lower is better), guard
    rails on the categories' sMAPE and on the interval's coverage (module docstring)."""
    from ml.forecast.plot import backtest_markdown

    params = params or model.params
    frame = backtest_of(model, training_set, params)
    if frame.empty:  # build_training_set asks for enough history; only odd params get here
        raise InsufficientData(
            f"no backtest origin of {params.backtest_origins} has {2 * WEEK} days of history before it",
            origins_scored=0,
        )
    rows = sequential(frame, params.interval_width)
    if getattr(model, "use_baseline", False):  # the as_baseline model: seasonal naive everywhere
        rows = rows.assign(
            forecast=rows["naive"], lower=rows["naive_lower"], upper=rows["naive_upper"], method=NAIVE
        )
    scores = score(rows)
    metrics, baseline = summarize(scores, params.interval_width)
    metrics["smape_ratio_vs_naive"] = (
        metrics["smape"] / baseline["smape"] if baseline["smape"] else float("nan")
    )
    found = sorted(frame["origin"].unique())
    methods = model.methods() if hasattr(model, "methods") else {}
    split = {
        "origins": [o.isoformat() for o in found],
        "scored_origins": [o.isoformat() for o in scored_origins(frame)],
        "calibration": "each scored origin: forecaster and interval learned on the origins before it; "
        "the written forecast: on every origin",
        "horizon_days": params.backtest_horizon_days,
        "history_start": training_set.daily["ds"].min().date().isoformat(),
        "history_end": (training_set.as_of - dt.timedelta(days=1)).isoformat(),
        "series": int(frame[["category", "measure"]].drop_duplicates().shape[0]),
        "series_by_method": {m: sum(v == m for v in methods.values()) for m in (PROPHET, NAIVE)},
    }
    return judged(metrics, baseline, split, backtest_markdown(model, training_set, scores, rows, params))


def judged(
    metrics: dict[str, float], baseline: dict[str, float], split: dict | None = None, extra_markdown: str = ""
) -> Evaluation:
    """The forecast's Evaluation: primary sMAPE of the total series (lower is better) and the guard
    rails of the module docstring."""
    return Evaluation(
        metrics=metrics,
        baseline_metrics=baseline,
        primary_metric="smape",
        higher_is_better=False,
        baseline_name="seasonal_naive_weekly",
        split=split or {},
        extra_markdown=extra_markdown,
        guard_rails=[
            GuardRail("smape_categories", higher_is_better=False, tolerance=CATEGORY_SMAPE_TOLERANCE),
            GuardRail("interval_coverage_error", higher_is_better=False, limit=COVERAGE_ERROR_LIMIT),
        ],
    )
