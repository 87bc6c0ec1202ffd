"""The backtest as markdown for asset metadata: a metrics table per origin, a text sparkline and a
small PNG (embedded as a data URI) of total units: history, backtest forecasts, the next horizon.

Why both: the PNG is what a person wants to see; the table and sparkline survive renderers that drop
images.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from ml.forecast.data import TOTAL, TrainingSet
from ml.forecast.model import ForecastModel, Params, forecast_series

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


def _png(history: pd.DataFrame, backtest: pd.DataFrame, future: pd.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=72)
    ax.plot(history["ds"], history["y"], color="0.3", lw=0.8, label="actual")
    for _, part in backtest.groupby("origin"):
        ax.plot(part["ds"], part["yhat"], color="tab:blue", lw=1.2)
        ax.plot(part["ds"], part["naive"], color="tab:orange", lw=0.8, ls="--")
    ax.plot(future["ds"], future["yhat"], color="tab:green", lw=1.2, label="forecast")
    ax.fill_between(future["ds"], future["yhat_lower"], future["yhat_upper"], color="tab:green", alpha=0.2)
    ax.plot([], [], color="tab:blue", label="backtest")
    ax.plot([], [], color="tab:orange", ls="--", label="seasonal naive")
    ax.set_title("total net units per day", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, ncol=4, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def backtest_markdown(
    model: ForecastModel,
    training_set: TrainingSet,
    scores: pd.DataFrame,
    total_units: pd.DataFrame,
    params: Params,
) -> str:
    total = scores[scores["category"] == TOTAL]
    lines = [
        "| origin | measure | sMAPE | naive sMAPE | MASE | naive MASE | 80 % coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in total.itertuples():
        lines.append(
            f"| {r.origin} | {r.measure} | {r.smape:.3f} | {r.naive_smape:.3f} | {r.mase:.2f} | "
            f"{r.naive_mase:.2f} | {r.coverage:.0%} |"
        )
    history = training_set.series(TOTAL, "units")
    window = params.backtest_origins * params.backtest_horizon_days + 28
    history = history.tail(window)
    future = forecast_series(model.prophets[(TOTAL, "units")], training_set.as_of, params.horizon_days)
    lines += [
        "",
        f"total units, last {len(history)} days: `{sparkline(history['y'])}`",
        f"forecast, next {len(future)} days: `{sparkline(future['yhat'])}`",
    ]
    if len(total_units):
        lines += [
            "",
            f"![total units: backtest and forecast](data:image/png;base64,{_png(history, total_units, future)})",
        ]
    return "\n".join(lines)
