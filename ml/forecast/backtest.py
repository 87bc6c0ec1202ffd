"""Rolling-origin backtest of the forecaster against the weekly seasonal-naive baseline.

Why rolling origins: one split says little about a forecaster; refitting at a few origins (the latest
`backtest_horizon_days` before as_of, then stepping back by the same length) and scoring each next
window shows how it does on unseen days. At every origin both Prophet and the baseline see only the
days before it; the days from the origin on are the actuals, never inputs.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.core import Evaluation, InsufficientData
from ml.forecast.data import MEASURES, TOTAL, TrainingSet
from ml.forecast.metrics import WEEK, mase, seasonal_naive, smape
from ml.forecast.model import ForecastModel, Params, fit_series, forecast_series


def origins(as_of: dt.date, params: Params) -> list[dt.date]:
    """Backtest origins, earliest first: as_of - k * horizon for k = n..1."""
    h = params.backtest_horizon_days
    return [as_of - dt.timedelta(days=k * h) for k in range(params.backtest_origins, 0, -1)]


def forecast_at_origin(series: pd.DataFrame, origin: dt.date, params: Params) -> pd.DataFrame:
    """Prophet and seasonal-naive forecasts of the `backtest_horizon_days` from `origin`, beside the
    actuals, for one (ds, y) series; `scale` is MASE's in-sample seasonal-naive MAE (history only)."""
    h = params.backtest_horizon_days
    cut = pd.Timestamp(origin)
    history = series[series["ds"] < cut]
    actual = series[(series["ds"] >= cut) & (series["ds"] < cut + pd.Timedelta(days=h))]
    model = fit_series(history, params, origin + dt.timedelta(days=h))
    fc = forecast_series(model, origin, h)
    fc["actual"] = actual.set_index("ds")["y"].reindex(fc["ds"]).to_numpy()
    fc["naive"] = seasonal_naive(history["y"].to_numpy(), h)
    fc["origin"] = origin
    return fc


def run_backtest(training_set: TrainingSet, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per origin, category, measure: sMAPE and MASE of Prophet and of the baseline, interval
    coverage; and the total-units forecasts of every origin (for the plot)."""
    rows, total_units = [], []
    for origin in origins(training_set.as_of, params):
        for category in training_set.categories:
            for measure in MEASURES:
                series = training_set.series(category, measure)
                history = series.loc[series["ds"] < pd.Timestamp(origin), "y"].to_numpy()
                if len(history) < 2 * WEEK:
                    continue
                fc = forecast_at_origin(series, origin, params)
                if (category, measure) == (TOTAL, "units"):
                    total_units.append(fc)
                inside = (fc["actual"] >= fc["yhat_lower"]) & (fc["actual"] <= fc["yhat_upper"])
                rows.append(
                    {
                        "origin": origin,
                        "category": category,
                        "measure": measure,
                        "smape": smape(fc["actual"], fc["yhat"]),
                        "mase": mase(fc["actual"], fc["yhat"], history),
                        "naive_smape": smape(fc["actual"], fc["naive"]),
                        "naive_mase": mase(fc["actual"], fc["naive"], history),
                        "coverage": float(inside.mean()),
                    }
                )
    return pd.DataFrame(rows), pd.concat(total_units, ignore_index=True) if total_units else pd.DataFrame()


def summarize(scores: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Model and baseline metrics: `smape`/`mase` on the total series (units and revenue, all
    origins), `*_categories` the same over the categories."""
    total = scores[scores["category"] == TOTAL]
    cats = scores[scores["category"] != TOTAL]

    def agg(prefix: str) -> dict[str, float]:
        out = {
            "smape": float(total[f"{prefix}smape"].mean()),
            "mase": float(total[f"{prefix}mase"].mean()),
            "smape_units": float(total.loc[total["measure"] == "units", f"{prefix}smape"].mean()),
            "smape_revenue": float(total.loc[total["measure"] == "revenue", f"{prefix}smape"].mean()),
        }
        if len(cats):
            out["smape_categories"] = float(cats[f"{prefix}smape"].mean())
            out["mase_categories"] = float(np.nanmean(cats[f"{prefix}mase"]))
        return out

    metrics = agg("")
    metrics["interval_coverage_total"] = float(total["coverage"].mean())
    return metrics, agg("naive_")


def evaluate(model: ForecastModel, training_set: TrainingSet, params: Params | None = None) -> Evaluation:
    """Rolling-origin backtest; primary metric sMAPE of the total series (lower is better)."""
    from ml.forecast.plot import backtest_markdown

    params = params or model.params
    scores, total_units = run_backtest(training_set, params)
    if scores.empty:  # build_training_set asks for enough history; only odd params get here
        raise InsufficientData(
            f"no backtest origin of {params.backtest_origins} has {2 * WEEK} days of history before it",
            origins_scored=0,
        )
    metrics, baseline = summarize(scores)
    metrics["smape_ratio_vs_naive"] = (
        metrics["smape"] / baseline["smape"] if baseline["smape"] else float("nan")
    )
    os = origins(training_set.as_of, params)
    return Evaluation(
        metrics=metrics,
        baseline_metrics=baseline,
        primary_metric="smape",
        higher_is_better=False,
        baseline_name="seasonal_naive_weekly",
        split={
            "origins": [o.isoformat() for o in os],
            "horizon_days": params.backtest_horizon_days,
            "history_start": training_set.daily["ds"].min().date().isoformat(),
            "history_end": (training_set.as_of - dt.timedelta(days=1)).isoformat(),
            "series": int(scores[["category", "measure"]].drop_duplicates().shape[0]),
        },
        extra_markdown=backtest_markdown(model, training_set, scores, total_units, params),
    )
