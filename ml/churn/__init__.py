"""Churn model package: see ml/churn/model.py (and docs/ml.md, section Churn)."""

from ml.churn.model import (
    CHAMPION_KEYS,
    COLUMN_TYPES,
    OUTPUT_TABLE,
    ChurnModel,
    Params,
    TrainingSet,
    as_baseline,
    build_training_set,
    evaluate,
    predict,
    train,
)

__all__ = [
    "CHAMPION_KEYS",
    "COLUMN_TYPES",
    "OUTPUT_TABLE",
    "ChurnModel",
    "as_baseline",
    "Params",
    "TrainingSet",
    "build_training_set",
    "evaluate",
    "predict",
    "train",
]
