"""LTV model package: see ml/ltv/model.py, the BG/NBD + Gamma-Gamma baseline in ml/ltv/bgnbd.py, and
docs/ml.md, section LTV."""

from ml.ltv.model import (
    CHAMPION_KEYS,
    COLUMN_TYPES,
    GUARD_RAILS,
    OUTPUT_TABLE,
    LtvModel,
    Params,
    TrainingSet,
    as_baseline,
    build_training_set,
    evaluate,
    guard_rails,
    predict,
    train,
)

__all__ = [
    "CHAMPION_KEYS",
    "COLUMN_TYPES",
    "GUARD_RAILS",
    "OUTPUT_TABLE",
    "LtvModel",
    "as_baseline",
    "Params",
    "TrainingSet",
    "build_training_set",
    "evaluate",
    "guard_rails",
    "predict",
    "train",
]
