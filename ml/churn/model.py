"""Churn: will a customer place no order in the `horizon_days` after a snapshot? XGBoost on the
point-in-time features, against a logistic regression on recency alone, on a time split.

Why these choices: recency is the classic single churn signal, so the model must beat it to earn its
keep; the time split mirrors how the score is used (fit on the past, score today); SHAP contributions
come from XGBoost itself (`pred_contribs=True`), so drivers explain exactly the score that was shown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psycopg

from ml import metrics
from ml.churn.features import describe, feature_matrix, load_features, load_orders
from ml.churn.labels import churn_labels, split_or_skip
from ml.core import Evaluation, InsufficientData, to_date

if TYPE_CHECKING:  # imported inside train/top_drivers: loading the code location must not pay for them
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression

OUTPUT_TABLE = "ml.churn_scores"
COLUMN_TYPES = {
    "customer_id": "bigint",
    "snapshot_date": "date",
    "churn_probability": "double precision",
    "risk_band": "text",
    "driver_1": "text",
    "driver_2": "text",
    "driver_3": "text",
    "model_version": "text",
    "scored_at": "timestamptz",
}
BASELINE_FEATURE = "recency_days"


@dataclass(frozen=True)
class Params:
    horizon_days: int = 90  # churned = no order in this many days after the snapshot
    active_days: int = 365  # scored/trained only if the last order is at most this old at the snapshot
    high_risk_threshold: float = 0.7  # churn_probability >= this -> 'high'
    medium_risk_threshold: float = 0.4  # >= this -> 'medium', else 'low'
    n_estimators: int = 300
    max_depth: int = 3
    learning_rate: float = 0.05
    min_child_weight: float = 5.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    n_jobs: int = 2
    seed: int = 42
    # training and validation rows must each hold at least this many churned AND retained customers:
    # with fewer, the classifier has nothing to contrast and ROC AUC on the validation snapshot is
    # decided by a handful of customers (otherwise the run is skipped, see ml.core.InsufficientData)
    min_class_rows: int = 10


@dataclass
class TrainingSet:
    as_of: dt.date
    train_snapshots: list[dt.date]
    validation_snapshot: dt.date
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_valid: pd.DataFrame
    y_valid: np.ndarray
    feature_names: list[str] = field(default_factory=list)

    def window(self) -> dict:
        return {
            "as_of": str(self.as_of),
            "train_snapshots": [str(d) for d in (self.train_snapshots[0], self.train_snapshots[-1])],
            "validation_snapshot": str(self.validation_snapshot),
            "train_rows": len(self.y_train),
            "validation_rows": len(self.y_valid),
            "train_churn_rate": float(self.y_train.mean()),
            "validation_churn_rate": float(self.y_valid.mean()),
        }


@dataclass
class ChurnModel:
    classifier: xgb.XGBClassifier
    baseline: LogisticRegression  # on recency alone
    feature_names: list[str]
    params: dict
    window: dict
    use_baseline: bool = False  # score with the recency baseline (see as_baseline)

    def probability(self, x: pd.DataFrame) -> np.ndarray:
        if self.use_baseline:
            return self.baseline_probability(x)
        return self.classifier.predict_proba(x[self.feature_names])[:, 1]

    def baseline_probability(self, x: pd.DataFrame) -> np.ndarray:
        return self.baseline.predict_proba(x[[BASELINE_FEATURE]].to_numpy())[:, 1]


def as_baseline(model: ChurnModel) -> ChurnModel:
    """The same fitted pair, scoring with the recency baseline: what the registry promotes when no
    champion exists yet and the candidate did not beat its baseline (the baseline is then the better
    model on the validation snapshot). Its evaluation reports the baseline's metrics as the model's."""
    return dataclasses.replace(model, use_baseline=True)


def _active(frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    return frame[frame["recency_days"].astype(float) <= params.active_days]


def build_training_set(
    conn: psycopg.Connection, as_of: dt.date | str, params: Params = Params()
) -> TrainingSet:
    """Raises InsufficientData without feature snapshots, without a snapshot whose label window is
    complete, or with fewer than `min_class_rows` churned or retained customers on either side."""
    as_of = to_date(as_of)
    features = load_features(conn, as_of)
    train_dates, valid_date = split_or_skip(features, as_of, params.horizon_days)
    orders = load_orders(conn, as_of)
    rows = _active(features[features["snapshot_date"].isin([*train_dates, valid_date])], params)
    labels = churn_labels(rows, orders, params.horizon_days).to_numpy()
    x = feature_matrix(rows)
    is_valid = (rows["snapshot_date"] == valid_date).to_numpy()
    require_both_classes(labels[~is_valid], labels[is_valid], params.min_class_rows)
    return TrainingSet(
        as_of=as_of,
        train_snapshots=train_dates,
        validation_snapshot=valid_date,
        x_train=x[~is_valid],
        y_train=labels[~is_valid],
        x_valid=x[is_valid],
        y_valid=labels[is_valid],
        feature_names=list(x.columns),
    )


def require_both_classes(y_train: np.ndarray, y_valid: np.ndarray, minimum: int) -> None:
    """InsufficientData unless training and validation each hold `minimum` churned and retained rows."""
    facts: dict[str, int] = {"min_class_rows": minimum}
    short = []
    for split, y in (("train", y_train), ("validation", y_valid)):
        churned = int(np.sum(y))
        retained = len(y) - churned
        facts |= {f"{split}_rows": len(y), f"{split}_churned": churned, f"{split}_retained": retained}
        if min(churned, retained) < minimum:
            short.append(f"{split}: {churned} churned / {retained} retained")
    if short:
        raise InsufficientData(
            f"too few active customers of each class ({'; '.join(short)}): churn needs at least "
            f"{minimum} churned and {minimum} retained in both the training and the validation rows",
            **facts,
        )


def train(training_set: TrainingSet, params: Params = Params()) -> ChurnModel:
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression

    classifier = xgb.XGBClassifier(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        min_child_weight=params.min_child_weight,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        reg_lambda=params.reg_lambda,
        objective="binary:logistic",
        tree_method="hist",
        n_jobs=params.n_jobs,
        random_state=params.seed,
    )
    classifier.fit(training_set.x_train[training_set.feature_names], training_set.y_train)
    baseline = LogisticRegression().fit(
        training_set.x_train[[BASELINE_FEATURE]].to_numpy(), training_set.y_train
    )
    return ChurnModel(classifier, baseline, training_set.feature_names, asdict(params), training_set.window())


def evaluate(model: ChurnModel, training_set: TrainingSet, params: Params = Params()) -> Evaluation:
    y = training_set.y_valid
    prob = model.probability(training_set.x_valid)
    return Evaluation(
        metrics=metrics.classification_report(y, prob),
        baseline_metrics=metrics.classification_report(y, model.baseline_probability(training_set.x_valid)),
        primary_metric="roc_auc",
        higher_is_better=True,
        baseline_name="logistic regression on recency_days",
        split={**training_set.window(), "horizon_days": params.horizon_days},
        extra_markdown=calibration_markdown(y, prob),
    )


def calibration_markdown(y: np.ndarray, prob: np.ndarray) -> str:
    table = metrics.calibration_table(y, prob, bins=10)
    lines = [
        "Calibration on the validation snapshot (deciles of predicted churn probability)",
        "",
        "| decile | customers | mean predicted | observed churn rate |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.bin} | {r.rows} | {r.mean_predicted:.3f} | {r.observed_rate:.3f} |" for r in table.itertuples()
    ]
    return "\n".join(lines)


def scoring_rows(conn: psycopg.Connection, as_of: dt.date, params: Params) -> pd.DataFrame:
    """Active customers' features at the latest snapshot on or before `as_of`."""
    features = load_features(conn, as_of)
    if not len(features):
        return features
    latest = features["snapshot_date"].max()
    return _active(features[features["snapshot_date"] == latest], params).reset_index(drop=True)


def risk_band(prob: np.ndarray, params: Params) -> np.ndarray:
    return np.where(
        prob >= params.high_risk_threshold,
        "high",
        np.where(prob >= params.medium_risk_threshold, "medium", "low"),
    )


def top_drivers(model: ChurnModel, x: pd.DataFrame, k: int = 3) -> list[list[str]]:
    """Per row, the k features with the largest |SHAP contribution| to the churn log-odds, as text
    ("Days since last order: 143 (raises risk)"). The recency baseline has one driver, recency,
    whose effect is read against the baseline's 50 % point; the other two are then None."""
    if model.use_baseline:
        recency = x[BASELINE_FEATURE].to_numpy(dtype=float)
        logit = model.baseline.decision_function(recency.reshape(-1, 1))
        return [
            [f"{describe(BASELINE_FEATURE, v)} ({'raises' if z > 0 else 'lowers'} risk)", None, None]
            for v, z in zip(recency, logit, strict=True)
        ]
    import xgboost as xgb

    matrix = xgb.DMatrix(x[model.feature_names], feature_names=model.feature_names)
    contribs = model.classifier.get_booster().predict(matrix, pred_contribs=True)[:, :-1]  # last = bias
    top = np.argsort(-np.abs(contribs), axis=1, kind="stable")[:, :k]
    values = x[model.feature_names].to_numpy()
    out = []
    for i, idx in enumerate(top):
        out.append(
            [
                f"{describe(model.feature_names[j], values[i, j])} "
                f"({'raises' if contribs[i, j] > 0 else 'lowers'} risk)"
                for j in idx
            ]
        )
    return out


def predict(
    model: ChurnModel,
    conn: psycopg.Connection,
    as_of: dt.date | str,
    params: Params = Params(),
    *,
    model_version: str = "dev",
) -> pd.DataFrame:
    rows = scoring_rows(conn, to_date(as_of), params)
    columns = list(COLUMN_TYPES)
    if not len(rows):
        return pd.DataFrame(columns=columns)
    x = feature_matrix(rows, model.feature_names)
    prob = model.probability(x)
    drivers = top_drivers(model, x)
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"].astype("int64"),
            "snapshot_date": rows["snapshot_date"],
            "churn_probability": prob.astype(float),
            "risk_band": risk_band(prob, params),
            "driver_1": [d[0] for d in drivers],
            "driver_2": [d[1] for d in drivers],
            "driver_3": [d[2] for d in drivers],
            "model_version": model_version,
            "scored_at": pd.Timestamp.now(tz="UTC"),
        }
    )[columns]
