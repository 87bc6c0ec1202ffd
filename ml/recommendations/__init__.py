"""Product recommendations: item-item collaborative filtering on purchases, carts and views.

Outputs `ml.product_recommendations` (predict) and `ml.similar_products` (predict_similar).
"""

from ml.recommendations.pipeline import (
    COLUMN_TYPES,
    OUTPUT_TABLE,
    SIMILAR_COLUMN_TYPES,
    SIMILAR_TABLE,
    TABLE_COLUMN_TYPES,
    Params,
    RecommenderBundle,
    TrainingSet,
    build_training_set,
    evaluate,
    predict,
    predict_similar,
    predict_tables,
    train,
)

__all__ = [
    "COLUMN_TYPES",
    "OUTPUT_TABLE",
    "SIMILAR_COLUMN_TYPES",
    "SIMILAR_TABLE",
    "TABLE_COLUMN_TYPES",
    "Params",
    "RecommenderBundle",
    "TrainingSet",
    "build_training_set",
    "evaluate",
    "predict",
    "predict_similar",
    "predict_tables",
    "train",
]
