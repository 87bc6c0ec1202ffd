"""LTV model package: see ml/ltv/model.py, the BG/NBD + Gamma-Gamma baseline in ml/ltv/bgnbd.py, and
docs/ml.md, section LTV."""

from ml.ltv.model import (
    COLUMN_TYPES,
    OUTPUT_TABLE,
    LtvModel,
    Params,
    TrainingSet,
    as_baseline,
    build_training_set,
    evaluate,
    predict,
    train,
)

__all__ = [
    "COLUMN_TYPES",
    "OUTPUT_TABLE",
    "LtvModel",
    "as_baseline",
    "Params",
    "TrainingSet",
    "build_training_set",
    "evaluate",
    "predict",
    "train",
]
