"""Data-driven attribution: first-order Markov-chain removal effects and Shapley values over
converting and non-converting journeys, each order's conversion and revenue split over its journey's
channels (and campaigns). Output: ml.attribution_data_driven, beside the heuristic models of
marts.fct_attribution."""

from ml.attribution.evaluation import evaluate
from ml.attribution.model import COLUMN_TYPES, AttributionModel, Params, predict, train
from ml.attribution.paths import TrainingSet, build_training_set

OUTPUT_TABLE = "ml.attribution_data_driven"

__all__ = [
    "COLUMN_TYPES",
    "OUTPUT_TABLE",
    "AttributionModel",
    "Params",
    "TrainingSet",
    "build_training_set",
    "evaluate",
    "predict",
    "train",
]
