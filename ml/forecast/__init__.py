"""Demand forecast: Prophet or weekly seasonal naive per series (category and total; daily net units
and revenue), whichever its backtest favoured, with prediction intervals calibrated on the backtest's
out-of-sample errors; the shop's promotion calendar as holidays; judged by a rolling-origin backtest
against seasonal naive, with guard rails on the categories and on interval coverage. Output:
ml.demand_forecast."""

from ml.forecast.backtest import evaluate
from ml.forecast.data import TrainingSet, build_training_set
from ml.forecast.model import COLUMN_TYPES, ForecastModel, Params, as_baseline, predict, train

OUTPUT_TABLE = "ml.demand_forecast"

__all__ = [
    "COLUMN_TYPES",
    "OUTPUT_TABLE",
    "ForecastModel",
    "Params",
    "TrainingSet",
    "as_baseline",
    "build_training_set",
    "evaluate",
    "predict",
    "train",
]
