"""Forecast accuracy metrics and the seasonal-naive baseline they are judged against.

Why hand-written: the definitions matter more than the code (sMAPE's 0/0 case, MASE's scale), so they
sit here, short and tested against hand-computed values.
"""

from __future__ import annotations

import numpy as np

WEEK = 7


def smape(actual, forecast) -> float:
    """Symmetric MAPE in [0, 2]: mean of 2|F - A| / (|A| + |F|); a day with A = F = 0 counts as 0."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    denom = np.abs(a) + np.abs(f)
    ratio = np.divide(2.0 * np.abs(f - a), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(ratio.mean())


def mase(actual, forecast, history, season: int = WEEK) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample MAE of the seasonal-naive
    one-step forecast (y_t vs y_{t-season}) on `history`. NaN when the history has no such error."""
    a, f, h = (np.asarray(x, dtype=float) for x in (actual, forecast, history))
    if len(h) <= season:
        return float("nan")
    scale = np.abs(h[season:] - h[:-season]).mean()
    if scale == 0:
        return float("nan")
    return float(np.abs(f - a).mean() / scale)


def seasonal_naive(history, horizon: int, season: int = WEEK) -> np.ndarray:
    """Repeat the last observed season: the forecast for step h (1-based) is y[T - season + (h-1) % season]."""
    h = np.asarray(history, dtype=float)
    if len(h) < season:
        raise ValueError(f"seasonal naive needs at least {season} observations, got {len(h)}")
    last = h[-season:]
    return last[np.arange(horizon) % season]
