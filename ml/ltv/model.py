"""LTV: net revenue in the `horizon_days` after a snapshot, XGBoost with a Tweedie objective (a point
mass at zero plus a skewed positive tail — what next-year revenue of a shop's customers looks like),
against a BG/NBD + Gamma-Gamma baseline fitted on the same window.

Short histories: a 365-day horizon needs a snapshot at least a year before `as_of` to learn from, and
strictly purged validation needs two. When the warehouse is younger than that (the `small` sandbox
holds exactly one year), the regressor is trained and validated on `fallback_horizon_days` instead and
its predictions are stretched to the full horizon per customer by the BG/NBD time profile
E[X(horizon)] / E[X(fallback)] — the model decides the level, BG/NBD only how purchases accrue over
time given each customer's recency and frequency (a customer likely gone gains little from the extra
months, an active one nearly proportionally). `split` and the docs say which horizon was validated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psycopg

from ml import metrics
from ml.churn.features import feature_matrix, load_features, load_orders, snapshot_at
from ml.churn.labels import future_window, split_or_skip, time_split
from ml.core import Evaluation, InsufficientData, to_date
from ml.ltv.bgnbd import BgNbd, GammaGamma, fit_bgnbd, fit_gamma_gamma

if TYPE_CHECKING:  # imported inside train: loading the code location must not pay for xgboost
    import xgboost as xgb

OUTPUT_TABLE = "ml.ltv_predictions"
COLUMN_TYPES = {
    "customer_id": "bigint",
    "snapshot_date": "date",
    "predicted_ltv": "double precision",
    "bgnbd_ltv": "double precision",
    "model_version": "text",
    "scored_at": "timestamptz",
}
WEEK_DAYS = 7.0  # BG/NBD time unit: weeks keep its scale parameter near 1-100


@dataclass(frozen=True)
class Params:
    horizon_days: int = 365  # LTV = net revenue in this many days after the snapshot
    fallback_horizon_days: int = 90  # trained/validated on this when the history is too short (see above)
    tweedie_variance_power: float = 1.3
    n_estimators: int = 300
    max_depth: int = 3
    learning_rate: float = 0.05
    min_child_weight: float = 5.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    n_jobs: int = 2
    seed: int = 42
    bgnbd_penalizer: float = 0.0
    # training and validation rows must each hold at least this many customers who spent in the
    # window (a regressor fitted on, or judged against, nearly all zeros says nothing), and this many
    # customers must have a repeat purchase before the validation snapshot (BG/NBD's purchase rate and
    # dropout are not identifiable from first orders alone); otherwise the run is skipped
    min_buyers: int = 10


@dataclass
class TrainingSet:
    as_of: dt.date
    horizon_days: int
    train_horizon_days: int  # horizon of the targets (== horizon_days unless history is too short)
    train_snapshots: list[dt.date]
    validation_snapshot: dt.date
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_valid: pd.DataFrame
    y_valid: np.ndarray
    valid_customers: np.ndarray
    calibration: pd.DataFrame  # BG/NBD inputs per customer at the validation snapshot
    feature_names: list[str]

    def window(self) -> dict:
        return {
            "as_of": str(self.as_of),
            "horizon_days": self.horizon_days,
            "evaluated_horizon_days": self.train_horizon_days,
            "train_snapshots": [str(self.train_snapshots[0]), str(self.train_snapshots[-1])],
            "validation_snapshot": str(self.validation_snapshot),
            "train_rows": len(self.y_train),
            "validation_rows": len(self.y_valid),
        }


@dataclass
class Baseline:
    """BG/NBD + Gamma-Gamma: expected purchases × expected value per purchase."""

    bgnbd: BgNbd
    gamma_gamma: GammaGamma

    def purchases(self, stats: pd.DataFrame, days: float) -> np.ndarray:
        return self.bgnbd.expected_purchases(days / WEEK_DAYS, stats["x"], stats["t_x"], stats["T"])

    def revenue(self, stats: pd.DataFrame, days: float) -> np.ndarray:
        return self.purchases(stats, days) * self.gamma_gamma.expected_spend(stats["n"], stats["mean_value"])


@dataclass
class LtvModel:
    regressor: xgb.XGBRegressor
    baseline: Baseline
    feature_names: list[str]
    horizon_days: int
    train_horizon_days: int
    params: dict
    window: dict
    use_baseline: bool = False  # predicted_ltv = the BG/NBD + Gamma-Gamma value (see as_baseline)


def as_baseline(model: LtvModel) -> LtvModel:
    """The same fit, predicting with BG/NBD + Gamma-Gamma: what the registry promotes when no
    champion exists yet and the candidate did not beat its baseline."""
    return dataclasses.replace(model, use_baseline=True)


def customer_stats(orders: pd.DataFrame, at: dt.date) -> pd.DataFrame:
    """BG/NBD / Gamma-Gamma inputs per customer from orders before the snapshot instant `at`:
    n orders, x = n - 1 repeat purchases, t_x and T in weeks, mean net value per order (> 0)."""
    instant = snapshot_at(at)
    known = orders[orders["ordered_at"] < instant]
    grouped = known.groupby("customer_id").agg(
        n=("ordered_at", "size"),
        first=("ordered_at", "min"),
        last=("ordered_at", "max"),
        mean_value=("net_revenue", "mean"),
    )
    week = pd.Timedelta(days=WEEK_DAYS)
    return pd.DataFrame(
        {
            "n": grouped["n"].astype(float),
            "x": grouped["n"].astype(float) - 1,
            "t_x": (grouped["last"] - grouped["first"]) / week,
            "T": (instant - grouped["first"]) / week,
            "mean_value": grouped["mean_value"].clip(lower=0.01),
        }
    )


def _stats_for(stats: pd.DataFrame, customers, tenure_days) -> pd.DataFrame:
    """Stats aligned to `customers`; one whose orders all vanished (cancelled later) is a fresh
    customer: no purchases, the population mean spend."""
    aligned = stats.reindex(pd.Index(customers))
    missing = aligned["n"].isna().to_numpy()
    fallback = pd.DataFrame(
        {"n": 0.0, "x": 0.0, "t_x": 0.0, "T": np.asarray(tenure_days, float) / WEEK_DAYS, "mean_value": 1.0},
        index=aligned.index,
    )
    aligned[missing] = fallback[missing]
    return aligned


def training_horizon(snapshot_dates, as_of: dt.date, params: Params) -> int:
    try:
        time_split(snapshot_dates, as_of, params.horizon_days)
        return params.horizon_days
    except ValueError:
        return params.fallback_horizon_days


def build_training_set(
    conn: psycopg.Connection, as_of: dt.date | str, params: Params = Params()
) -> TrainingSet:
    """Raises InsufficientData without feature snapshots, without a snapshot whose (fallback) horizon is
    complete, or with fewer than `min_buyers` spenders or repeat customers (see Params)."""
    as_of = to_date(as_of)
    features = load_features(conn, as_of)
    horizon = training_horizon(features["snapshot_date"], as_of, params)
    train_dates, valid_date = split_or_skip(features, as_of, horizon)
    orders = load_orders(conn, as_of)
    rows = features[features["snapshot_date"].isin([*train_dates, valid_date])]
    target = future_window(rows, orders, horizon)["future_revenue"].clip(lower=0).to_numpy()
    x = feature_matrix(rows)
    is_valid = (rows["snapshot_date"] == valid_date).to_numpy()
    calibration = customer_stats(orders, valid_date)
    require_buyers(target[~is_valid], target[is_valid], calibration, horizon, params.min_buyers)
    return TrainingSet(
        as_of=as_of,
        horizon_days=params.horizon_days,
        train_horizon_days=horizon,
        train_snapshots=train_dates,
        validation_snapshot=valid_date,
        x_train=x[~is_valid],
        y_train=target[~is_valid],
        x_valid=x[is_valid],
        y_valid=target[is_valid],
        valid_customers=rows.loc[is_valid, "customer_id"].to_numpy(),
        calibration=calibration,
        feature_names=list(x.columns),
    )


def require_buyers(
    y_train: np.ndarray, y_valid: np.ndarray, calibration: pd.DataFrame, horizon: int, minimum: int
) -> None:
    """InsufficientData unless both sides hold `minimum` customers with revenue in the horizon and
    `minimum` customers have repeat purchases before the validation snapshot."""
    facts = {
        "train_rows": len(y_train),
        "train_buyers": int((y_train > 0).sum()),
        "validation_rows": len(y_valid),
        "validation_buyers": int((y_valid > 0).sum()),
        "repeat_customers": int((calibration["x"] > 0).sum()),
        "min_buyers": minimum,
    }
    short = [
        f"{what} {facts[key]}"
        for what, key in (
            ("training rows with revenue in the horizon", "train_buyers"),
            ("validation rows with revenue in the horizon", "validation_buyers"),
            ("customers with a repeat purchase", "repeat_customers"),
        )
        if facts[key] < minimum
    ]
    if short:
        raise InsufficientData(
            f"too few buyers for LTV ({'; '.join(short)}): needs at least {minimum} of each "
            f"({horizon}-day horizon)",
            **facts,
        )


def fit_baseline(stats: pd.DataFrame, params: Params) -> Baseline:
    bgnbd = fit_bgnbd(stats["x"], stats["t_x"], stats["T"], params.bgnbd_penalizer)
    return Baseline(bgnbd, fit_gamma_gamma(stats["n"], stats["mean_value"], params.bgnbd_penalizer))


def train(training_set: TrainingSet, params: Params = Params()) -> LtvModel:
    import xgboost as xgb

    regressor = xgb.XGBRegressor(
        objective="reg:tweedie",
        tweedie_variance_power=params.tweedie_variance_power,
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        min_child_weight=params.min_child_weight,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        reg_lambda=params.reg_lambda,
        tree_method="hist",
        n_jobs=params.n_jobs,
        random_state=params.seed,
    )
    regressor.fit(training_set.x_train[training_set.feature_names], training_set.y_train)
    return LtvModel(
        regressor=regressor,
        baseline=fit_baseline(training_set.calibration, params),
        feature_names=training_set.feature_names,
        horizon_days=training_set.horizon_days,
        train_horizon_days=training_set.train_horizon_days,
        params=asdict(params),
        window=training_set.window(),
    )


def evaluate(model: LtvModel, training_set: TrainingSet, params: Params = Params()) -> Evaluation:
    y = training_set.y_valid
    predicted = model.regressor.predict(training_set.x_valid[model.feature_names])
    stats = _stats_for(
        training_set.calibration, training_set.valid_customers, training_set.x_valid["tenure_days"]
    )
    baseline = model.baseline.revenue(stats, training_set.train_horizon_days)
    if model.use_baseline:
        predicted = baseline
    return Evaluation(
        metrics=metrics.regression_report(y, predicted),
        baseline_metrics=metrics.regression_report(y, baseline),
        primary_metric="mae",
        higher_is_better=False,
        baseline_name="BG/NBD + Gamma-Gamma",
        split={
            **training_set.window(),
            "bgnbd": asdict(model.baseline.bgnbd),
            "gamma_gamma": asdict(model.baseline.gamma_gamma),
        },
        extra_markdown=decile_markdown(y, predicted, baseline, training_set.train_horizon_days),
    )


def decile_markdown(actual: np.ndarray, predicted: np.ndarray, baseline: np.ndarray, days: int) -> str:
    order = np.argsort(-predicted, kind="stable")
    lines = [
        f"Validation snapshot, {days}-day net revenue by decile of the model's prediction (1 = highest)",
        "",
        "| decile | customers | mean predicted | mean BG/NBD | mean actual |",
        "|---:|---:|---:|---:|---:|",
    ]
    for i, idx in enumerate(np.array_split(order, 10)):
        if len(idx):
            lines.append(
                f"| {i + 1} | {len(idx)} | {predicted[idx].mean():.2f} | {baseline[idx].mean():.2f} | "
                f"{actual[idx].mean():.2f} |"
            )
    return "\n".join(lines)


def predict(
    model: LtvModel,
    conn: psycopg.Connection,
    as_of: dt.date | str,
    params: Params = Params(),
    *,
    model_version: str = "dev",
) -> pd.DataFrame:
    """predicted_ltv and bgnbd_ltv over `horizon_days` for every customer at the latest snapshot."""
    as_of = to_date(as_of)
    features = load_features(conn, as_of)
    columns = list(COLUMN_TYPES)
    if not len(features):
        return pd.DataFrame(columns=columns)
    latest = features["snapshot_date"].max()
    rows = features[features["snapshot_date"] == latest].reset_index(drop=True)
    x = feature_matrix(rows, model.feature_names)
    stats = _stats_for(
        customer_stats(load_orders(conn, as_of), latest), rows["customer_id"], rows["tenure_days"]
    )
    predicted = model.regressor.predict(x).astype(float)
    if model.train_horizon_days != model.horizon_days:
        short = model.baseline.purchases(stats, model.train_horizon_days)
        full = model.baseline.purchases(stats, model.horizon_days)
        ratio = np.where(
            short > 1e-9, full / np.maximum(short, 1e-9), model.horizon_days / model.train_horizon_days
        )
        predicted = predicted * ratio
    bgnbd = model.baseline.revenue(stats, model.horizon_days).astype(float)
    if model.use_baseline:
        predicted = bgnbd
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"].astype("int64"),
            "snapshot_date": rows["snapshot_date"],
            "predicted_ltv": predicted,
            "bgnbd_ltv": bgnbd,
            "model_version": model_version,
            "scored_at": pd.Timestamp.now(tz="UTC"),
        }
    )[columns]
