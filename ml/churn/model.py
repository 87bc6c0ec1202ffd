"""Churn: will a customer place no order in the `horizon_days` after a snapshot? XGBoost on the
point-in-time features, its probabilities calibrated (Platt by default), against a logistic
regression on recency alone, on a time split.

Why these choices: recency is the classic single churn signal, so the model must beat it to earn its
keep; the time split mirrors how the score is used (fit on the past, score today); SHAP contributions
come from XGBoost itself (`pred_contribs=True`), so drivers explain exactly the score that was shown
(calibration is a monotone map of the booster's score: it moves the probability, never the ranking
or a driver's direction).

Calibration: a booster's probabilities are a ranking first; a "70 %" must also mean 7 in 10 churn for
the risk bands to mean anything. The calibration map is learned on forward folds of the training
snapshots (each of the latest `calibration_snapshots` predicted by a booster trained only on the
snapshots before it): rows the scoring booster's twin never trained on, and never the validation
snapshot, where its reliability (ECE, Brier) is then measured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import psycopg

from ml import metrics
from ml.churn.features import describe, feature_matrix, load_features, load_orders
from ml.churn.labels import churn_labels, split_or_skip
from ml.core import Evaluation, GuardRail, InsufficientData, to_date

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
# a champion only counts for the same label and population: another horizon predicts another event,
# another activity window scores other customers (see ml.registry.champion)
CHAMPION_KEYS = ("horizon_days", "active_days")
CALIBRATIONS = ("sigmoid", "isotonic", "none")
# guard rails (see evaluate): the calibrated model may trail the recency baseline's Brier score by at
# most this much (in Brier units) while it wins on ROC AUC
BRIER_TOLERANCE = 0.005
ECE_BINS = 10


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
    # probability calibration: 'sigmoid' (Platt: a logistic map of the booster's log-odds; monotone,
    # so ROC AUC is unchanged, and stable on a few hundred rows), 'isotonic' (free-form monotone,
    # wants thousands of rows; ties can move AUC slightly) or 'none'
    calibration: str = "sigmoid"
    # the latest training snapshots that are each predicted by a booster fitted on the training
    # snapshots before them; those out-of-fold predictions are what the calibration map is fitted on
    calibration_snapshots: int = 2


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
    train_row_snapshots: np.ndarray | None = None  # each training row's snapshot date (calibration folds)

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
class Calibration:
    """A monotone map from the booster's probability to a calibrated one, and what it was fitted on."""

    method: str  # 'sigmoid' or 'isotonic'
    mapper: Any  # sklearn LogisticRegression on the log-odds (sigmoid) or IsotonicRegression
    rows: int  # out-of-fold predictions it was fitted on
    snapshots: list[str]  # the training snapshots those rows came from

    def __call__(self, prob: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            return self.mapper.predict_proba(_logit(prob).reshape(-1, 1))[:, 1]
        return np.clip(self.mapper.predict(prob), 0.0, 1.0)


@dataclass
class ChurnModel:
    classifier: xgb.XGBClassifier
    baseline: LogisticRegression  # on recency alone
    feature_names: list[str]
    params: dict
    window: dict
    use_baseline: bool = False  # score with the recency baseline (see as_baseline)
    calibration: Calibration | None = None  # None: the booster's own probabilities
    calibration_note: str = ""  # why there is no calibration, when there is none

    def probability(self, x: pd.DataFrame) -> np.ndarray:
        """The churn probability that is scored and shown: calibrated when a calibration exists."""
        if self.use_baseline:
            return self.baseline_probability(x)
        raw = self.raw_probability(x)
        calibration = getattr(self, "calibration", None)  # champions pickled before calibration had none
        return raw if calibration is None else calibration(raw)

    def raw_probability(self, x: pd.DataFrame) -> np.ndarray:
        """The booster's own probability (before calibration)."""
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
        train_row_snapshots=rows["snapshot_date"].to_numpy()[~is_valid],
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


def _booster(params: Params) -> xgb.XGBClassifier:
    import xgboost as xgb

    return xgb.XGBClassifier(
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


def train(training_set: TrainingSet, params: Params = Params()) -> ChurnModel:
    from sklearn.linear_model import LogisticRegression

    if params.calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {params.calibration!r}")
    names = training_set.feature_names
    classifier = _booster(params)
    classifier.fit(training_set.x_train[names], training_set.y_train)
    baseline = LogisticRegression().fit(
        training_set.x_train[[BASELINE_FEATURE]].to_numpy(), training_set.y_train
    )
    calibration, note = fit_calibration(training_set, params)
    return ChurnModel(
        classifier, baseline, names, asdict(params), training_set.window(),
        calibration=calibration, calibration_note=note,
    )  # fmt: skip


def out_of_fold(training_set: TrainingSet, params: Params) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Forward folds over the training snapshots: each of the latest `calibration_snapshots` (never
    the first) predicted by a booster fitted only on the training snapshots before it. Returns the
    pooled (booster probability, label) pairs and the snapshots predicted; empty with one snapshot.
    A fold whose earlier rows lack one class is left out (a booster cannot be fitted on one class)."""
    snaps = training_set.train_row_snapshots
    dates = sorted(set(snaps)) if snaps is not None else []
    names, y = training_set.feature_names, training_set.y_train
    probs, labels, used = [], [], []
    for snapshot in dates[1:][-params.calibration_snapshots :] if params.calibration_snapshots > 0 else []:
        before, this = snaps < snapshot, snaps == snapshot
        if len(set(y[before])) < 2:
            continue
        booster = _booster(params).fit(training_set.x_train.loc[before, names], y[before])
        probs.append(booster.predict_proba(training_set.x_train.loc[this, names])[:, 1])
        labels.append(y[this])
        used.append(str(snapshot))
    if not probs:
        return np.array([]), np.array([]), []
    return np.concatenate(probs), np.concatenate(labels), used


def fit_calibration(training_set: TrainingSet, params: Params) -> tuple[Calibration | None, str]:
    """The calibration map of `params.calibration` on the out-of-fold predictions, or (None, why not)."""
    if params.calibration == "none":
        return None, "calibration off (Params.calibration='none')"
    prob, y, used = out_of_fold(training_set, params)
    if not len(y) or len(set(y)) < 2:
        return None, (
            "not calibrated: no training snapshot has earlier ones of both classes to fit a fold "
            f"booster on ({len(training_set.train_snapshots)} training snapshot(s))"
        )
    if params.calibration == "sigmoid":
        from sklearn.linear_model import LogisticRegression

        mapper = LogisticRegression(C=1e4).fit(_logit(prob).reshape(-1, 1), y)
        if mapper.coef_[0, 0] <= 0:  # the fold boosters rank no better than chance: no monotone map
            return None, f"not calibrated: the out-of-fold booster scores on {used} do not rank churn"
    else:
        from sklearn.isotonic import IsotonicRegression

        mapper = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(prob, y)
    return Calibration(params.calibration, mapper, int(len(y)), used), ""


def _logit(prob: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(prob, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def chance_ece(y: np.ndarray, bins: int = ECE_BINS) -> float:
    """The ECE a perfectly calibrated model would still show on these rows, by chance: each bin's
    observed rate is a binomial draw around its mean probability, E|gap| = sqrt(2/pi) * sd with
    sd = sqrt(p (1 - p) / rows per bin) at the overall churn rate p. About 0.07 on 300 validation rows,
    0.02 on 3,600: the ECE rail's tolerance, so the rule tightens as the shop grows."""
    p = float(np.mean(y))
    return float(np.sqrt(2 / np.pi) * np.sqrt(p * (1 - p) / (len(y) / bins)))


def evaluate(model: ChurnModel, training_set: TrainingSet, params: Params = Params()) -> Evaluation:
    """Model (calibrated) vs the recency baseline on the validation snapshot; primary ROC AUC.

    Guard rails: the model may not win on ranking while its probabilities get worse: Brier score
    within BRIER_TOLERANCE of the baseline's, and ECE within the chance ECE of these rows (see
    `chance_ece`) of the baseline's."""
    y, x = training_set.y_valid, training_set.x_valid
    prob = model.probability(x)
    base = model.baseline_probability(x)
    scores = metrics.classification_report(y, prob)
    calibration = getattr(model, "calibration", None)
    if not model.use_baseline:  # the booster before calibration, beside it (its ranking is the same)
        raw = model.raw_probability(x)
        scores |= {
            "brier_uncalibrated": metrics.brier(y, raw),
            "ece_uncalibrated": metrics.expected_calibration_error(y, raw, ECE_BINS),
        }
    tolerance = chance_ece(y)
    rails = [
        GuardRail("brier", higher_is_better=False, tolerance=BRIER_TOLERANCE),
        GuardRail("ece", higher_is_better=False, tolerance=round(tolerance, 4)),
    ]
    split = {**training_set.window(), "horizon_days": params.horizon_days, "ece_tolerance": tolerance}
    if model.use_baseline:
        split["calibration"] = "the recency baseline (a logistic regression: calibrated on its training rows)"
    elif calibration is not None:
        split["calibration"] = (
            f"{calibration.method} on {calibration.rows} out-of-fold rows of snapshots {calibration.snapshots}"
        )
    else:
        split["calibration"] = getattr(model, "calibration_note", "") or "none"
    return Evaluation(
        metrics=scores,
        baseline_metrics=metrics.classification_report(y, base),
        primary_metric="roc_auc",
        higher_is_better=True,
        baseline_name="logistic regression on recency_days",
        split=split,
        extra_markdown=calibration_markdown(
            y, prob, base, None if model.use_baseline or calibration is None else model.raw_probability(x)
        ),
        guard_rails=rails,
    )


def calibration_markdown(
    y: np.ndarray, prob: np.ndarray, baseline: np.ndarray | None = None, raw: np.ndarray | None = None
) -> str:
    """The reliability diagram (mean predicted vs observed churn per decile of predicted probability:
    model, booster before calibration, baseline, the diagonal) and the model's deciles as a table."""
    table = metrics.calibration_table(y, prob, bins=ECE_BINS)
    lines = [
        "Calibration on the validation snapshot (deciles of predicted churn probability)",
        "",
        "| decile | customers | mean predicted | observed churn rate |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.bin} | {r.rows} | {r.mean_predicted:.3f} | {r.observed_rate:.3f} |" for r in table.itertuples()
    ]
    curves = {"model": (prob, "tab:blue", "-")}
    if raw is not None:
        curves["booster before calibration"] = (raw, "tab:blue", ":")
    if baseline is not None:
        curves["recency baseline"] = (baseline, "tab:orange", "--")
    return "\n".join(lines) + "\n\n" + reliability_png(y, curves)


def reliability_png(y: np.ndarray, curves: dict[str, tuple[np.ndarray, str, str]]) -> str:
    from ml.plots import figure, png_markdown

    fig, ax = figure(4.6, 3.4)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, label="perfectly calibrated")
    for name, (prob, color, style) in curves.items():
        t = metrics.calibration_table(y, prob, bins=ECE_BINS)
        ece = metrics.expected_calibration_error(y, prob, ECE_BINS)
        ax.plot(
            t["mean_predicted"], t["observed_rate"], color=color, ls=style, marker="o", ms=3, lw=1.2,
            label=f"{name} (ECE {ece:.3f})",
        )  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted churn probability (decile)", fontsize=8)
    ax.set_ylabel("observed churn rate", fontsize=8)
    ax.set_title("churn reliability on the validation snapshot", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left")
    return png_markdown(fig, "churn calibration curve: mean predicted vs observed churn per decile")


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
