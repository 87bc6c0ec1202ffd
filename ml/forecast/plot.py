"""The backtest as markdown for asset metadata: the total series per origin and the categories as
tables, text sparklines, and a PNG (ml.plots) of total units: the actuals, each scored backtest
window's forecast with its calibrated interval beside seasonal naive, and the next horizon's forecast
with its interval.

Why both: the PNG is what a person wants to see; the tables and sparklines survive renderers that drop
images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.forecast.data import TOTAL, TrainingSet
from ml.forecast.model import ForecastModel, Params, series_forecast

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    v = np.asarray(values, dtype=float)
    if not len(v):
        return ""
    lo, hi = np.nanmin(v), np.nanmax(v)
    idx = (
        np.zeros(len(v), dtype=int)
        if hi == lo
        else np.round((v - lo) / (hi - lo) * (len(BARS) - 1)).astype(int)
    )
    return "".join(BARS[i] for i in idx)


def _png(history: pd.DataFrame, backtest: pd.DataFrame, future: pd.DataFrame | None, width: float) -> str:
    from ml.plots import figure, png_markdown

    fig, ax = figure(7.5, 3.0)
    ax.plot(history["ds"], history["y"], color="0.25", lw=0.9, label="actual")
    for _, part in backtest.groupby("origin"):
        ax.fill_between(part["ds"], part["lower"], part["upper"], color="tab:blue", alpha=0.18, lw=0)
        ax.plot(part["ds"], part["forecast"], color="tab:blue", lw=1.2)
        ax.plot(part["ds"], part["naive"], color="tab:orange", lw=0.8, ls="--")
        ax.axvline(part["ds"].min(), color="0.7", lw=0.6, ls=":")
    if future is not None:
        ax.fill_between(future["ds"], future["lower"], future["upper"], color="tab:green", alpha=0.2, lw=0)
        ax.plot(future["ds"], future["forecast"], color="tab:green", lw=1.2, label="forecast")
    ax.plot([], [], color="tab:blue", label=f"backtest, {width:.0%} interval")
    ax.plot([], [], color="tab:orange", ls="--", label="seasonal naive")
    ax.set_title("total net units per day: backtest windows (out of sample) and the forecast", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, ncol=4, loc="upper left")
    return png_markdown(fig, "total units: actuals, backtest forecasts with intervals, and the forecast")


def backtest_markdown(
    model: ForecastModel,
    training_set: TrainingSet,
    scores: pd.DataFrame,
    rows: pd.DataFrame,
    params: Params,
) -> str:
    """`scores` per scored origin and series (backtest.score), `rows` their daily forecasts."""
    w = f"{params.interval_width:.0%}"
    lines = [
        f"Total series per scored origin (forecaster and {w} interval learned on the earlier origins)",
        "",
        f"| origin | measure | forecaster | sMAPE | naive sMAPE | MASE | naive MASE | {w} coverage "
        "| naive coverage | Prophet's own interval |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in scores[scores["category"] == TOTAL].itertuples():
        lines.append(
            f"| {r.origin} | {r.measure} | {r.method} | {r.smape:.3f} | {r.naive_smape:.3f} | {r.mase:.2f} | "
            f"{r.naive_mase:.2f} | {r.coverage:.0%} | {r.naive_coverage:.0%} | {r.prophet_coverage:.0%} |"
        )
    cats = scores[scores["category"] != TOTAL]
    if len(cats):
        methods = model.methods() if hasattr(model, "methods") else {}
        per = cats.groupby("category")[["smape", "naive_smape", "prophet_smape", "coverage"]].mean()
        lines += [
            "",
            "Categories (mean over the scored origins, units and revenue; forecaster written now)",
            "",
            f"| category | forecaster (units / revenue) | sMAPE | naive sMAPE | Prophet sMAPE | {w} coverage |",
            "|---|---|---|---|---|---|",
        ]
        for category, r in per.iterrows():
            chosen = " / ".join(methods.get((category, m), "?") for m in ("units", "revenue"))
            lines.append(
                f"| {category} | {chosen} | {r.smape:.3f} | {r.naive_smape:.3f} | {r.prophet_smape:.3f} | "
                f"{r.coverage:.0%} |"
            )
    history = training_set.series(TOTAL, "units")
    history = history.tail(params.backtest_origins * params.backtest_horizon_days + 28)
    future = series_forecast(model, (TOTAL, "units"), training_set.as_of, params.horizon_days)
    lines += ["", f"total units, last {len(history)} days: `{sparkline(history['y'])}`"]
    if future is not None:
        lines.append(f"forecast, next {len(future)} days: `{sparkline(future['forecast'])}`")
    backtest = rows[(rows["category"] == TOTAL) & (rows["measure"] == "units")]
    if len(backtest):
        lines += ["", _png(history, backtest, future, params.interval_width)]
    return "\n".join(lines)
