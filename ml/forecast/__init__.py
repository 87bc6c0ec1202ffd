"""Demand forecast: Prophet per category and in total, daily net units and revenue, 80 % intervals,
the shop's promotion calendar as holidays, judged by a rolling-origin backtest against the weekly
seasonal-naive forecast. Output: ml.demand_forecast."""

from ml.forecast.backtest import evaluate
from ml.forecast.data import TrainingSet, build_training_set
from ml.forecast.model import COLUMN_TYPES, ForecastModel, Params, predict, train

OUTPUT_TABLE = "ml.demand_forecast"

__all__ = [
    "COLUMN_TYPES",
    "OUTPUT_TABLE",
    "ForecastModel",
    "Params",
    "TrainingSet",
    "build_training_set",
    "evaluate",
    "predict",
    "train",
]
