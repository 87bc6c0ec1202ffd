"""LTV: net revenue in the `horizon_days` after the reference date, XGBoost with a Tweedie objective (a
point mass at zero plus a skewed positive tail — what next-year revenue of a shop's customers looks
like), against a BG/NBD + Gamma-Gamma baseline.

A fitted `LtvModel` keeps two BG/NBD + Gamma-Gamma fits (and, optionally, two regressors):
- for the evaluation (what promotion is decided on): the regressor trained on the snapshots whose label
  window closes by the validation snapshot, and the baseline fitted on what was known at the
  validation snapshot — both judged on the validation rows, a fair comparison;
- for scoring: the baseline fitted on all orders before `as_of`, the reference date (`bgnbd_ltv`, and
  the bridge below), and the evaluated regressor itself — or, with `refit_all_snapshots`, the same
  hyperparameters refitted on every snapshot whose label window is complete by `as_of` (the most
  recent behaviour and older customers; measured worse against truth on small and large, docs/ml.md).

Short histories: a strictly purged validation of a 365-day horizon needs two years of snapshots. When
the warehouse is younger than that (every simulated shop: `large` misses by a month), the regressor is
trained and validated on `fallback_horizon_days` instead — the split says `bridged: true` and
`evaluated_horizon_days` — and its predictions are bridged to the full horizon per customer by the
scoring BG/NBD's time profile E[X(horizon)] / E[X(fallback)] given their x, t_x, T today: the model
decides the level, BG/NBD only how purchases accrue over time (a customer likely gone gains little
from the extra months, an active one nearly proportionally).

Reference date: scoring takes the features' snapshot at `as_of` when marts.ml_customer_features has one
(dbt var `ml_reference_date`, by default JOURNEY_AS_OF's date), else the latest one before it
(`snapshot_date` vs `reference_date` in the output); the BG/NBD statistics are computed at `as_of`
itself from the orders.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import psycopg

from ml import metrics
from ml.churn.features import feature_matrix, load_features, load_orders, snapshot_at
from ml.churn.labels import future_window, split_or_skip, time_split
from ml.core import Evaluation, GuardRail, InsufficientData, to_date
from ml.ltv.bgnbd import BgNbd, FitError, GammaGamma, fit_bgnbd, fit_gamma_gamma

if TYPE_CHECKING:  # imported inside train: loading the code location must not pay for xgboost
    import xgboost as xgb

OUTPUT_TABLE = "ml.ltv_predictions"
COLUMN_TYPES = {
    "customer_id": "bigint",
    "snapshot_date": "date",  # the features' snapshot (the latest on or before the reference date)
    "reference_date": "date",  # as_of: the horizon starts here; the BG/NBD statistics are taken here
    "horizon_days": "integer",
    "predicted_ltv": "double precision",
    "bgnbd_ltv": "double precision",
    "model_version": "text",
    "scored_at": "timestamptz",
}
# a model trained for another horizon predicts another quantity: never a champion for this one
CHAMPION_KEYS = ("horizon_days",)
WEEK_DAYS = 7.0  # BG/NBD time unit: weeks keep its scale parameter near 1-100
RAIL_TOLERANCE = 0.02
# a bridged evaluation judges the total of one short validation window, whose level the 365-day
# forecast does not inherit: 15 points of aggregate error then (docs/ml.md, LTV: measured on small and
# large, the bridged candidate's 90-day total was 11 points worse than BG/NBD's while its 12-month
# total was better; 15 still rejects a level that is grossly off)
BRIDGED_AGGREGATE_TOLERANCE = 0.15
# what a candidate may not lose while winning on MAE (docs/ml.md, LTV): against BG/NBD on the total,
# the ranking and the top decile (tolerance in the metric's units), and against the naive predictors
GUARD_RAILS = (
    GuardRail("aggregate_error", higher_is_better=False, tolerance=RAIL_TOLERANCE),
    GuardRail("spearman", higher_is_better=True, tolerance=RAIL_TOLERANCE),
    GuardRail("top_decile_revenue_share", higher_is_better=True, tolerance=RAIL_TOLERANCE),
    GuardRail("mae", higher_is_better=False, against="zero"),
    GuardRail("rmse", higher_is_better=False, against="mean"),
)


def guard_rails(bridged: bool) -> list[GuardRail]:
    """GUARD_RAILS, with the aggregate-error tolerance of a bridged evaluation."""
    if not bridged:
        return list(GUARD_RAILS)
    return [
        dataclasses.replace(r, tolerance=BRIDGED_AGGREGATE_TOLERANCE) if r.metric == "aggregate_error" else r
        for r in GUARD_RAILS
    ]


@dataclass(frozen=True)
class Params:
    horizon_days: int = 365  # LTV = net revenue in this many days after the reference date
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
    # customers must have a repeat purchase (of positive value, for Gamma-Gamma) before the validation
    # snapshot (BG/NBD's purchase rate and dropout are not identifiable from first orders alone);
    # otherwise the run is skipped
    min_buyers: int = 10
    # score with a regressor refitted on every snapshot whose label window is complete by as_of
    # (train + validation + those between) instead of the evaluated one (docs/ml.md, LTV)
    refit_all_snapshots: bool = False


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
    # with Params.refit_all_snapshots: every snapshot whose label window is complete by as_of (train +
    # validation + those between), which the scoring regressor is refitted on
    refit_snapshots: list[dt.date] = dataclasses.field(default_factory=list)
    x_refit: pd.DataFrame | None = None
    y_refit: np.ndarray | None = None
    scoring_stats: pd.DataFrame | None = None  # BG/NBD inputs per customer at as_of (all orders before)

    @property
    def bridged(self) -> bool:
        return self.train_horizon_days != self.horizon_days

    def window(self) -> dict:
        return {
            "as_of": str(self.as_of),
            "horizon_days": self.horizon_days,
            "evaluated_horizon_days": self.train_horizon_days,
            "bridged": self.bridged,
            "train_snapshots": [str(self.train_snapshots[0]), str(self.train_snapshots[-1])],
            "validation_snapshot": str(self.validation_snapshot),
            "train_rows": len(self.y_train),
            "validation_rows": len(self.y_valid),
            **(
                {
                    "refit_snapshots": [str(self.refit_snapshots[0]), str(self.refit_snapshots[-1])],
                    "refit_rows": len(self.y_refit),
                }
                if self.y_refit is not None
                else {}
            ),
        }


@dataclass
class Baseline:
    """BG/NBD + Gamma-Gamma: expected purchases × expected value per purchase."""

    bgnbd: BgNbd
    gamma_gamma: GammaGamma

    def purchases(self, stats: pd.DataFrame, days: float) -> np.ndarray:
        return self.bgnbd.expected_purchases(days / WEEK_DAYS, stats["x"], stats["t_x"], stats["T"])

    def spend(self, stats: pd.DataFrame) -> np.ndarray:
        """Expected value per purchase: Gamma-Gamma on the repeat purchases; the population mean for a
        customer without one."""
        repeat = stats["repeat_mean_value"] if "repeat_mean_value" in stats else stats["mean_value"]
        return self.gamma_gamma.expected_spend(stats["x"], repeat.fillna(0).clip(lower=0.01))

    def revenue(self, stats: pd.DataFrame, days: float) -> np.ndarray:
        return self.purchases(stats, days) * self.spend(stats)

    def time_profile(self, stats: pd.DataFrame, to_days: float, from_days: float) -> np.ndarray:
        """E[X(to_days)] / E[X(from_days)] per customer (the proportional ratio where BG/NBD expects
        next to nothing)."""
        short = self.purchases(stats, from_days)
        full = self.purchases(stats, to_days)
        return np.where(short > 1e-9, full / np.maximum(short, 1e-9), to_days / from_days)

    def describe(self) -> dict[str, Any]:
        return {
            "bgnbd": {**self.bgnbd.params(), **_fit_dict(self.bgnbd.fit)},
            "gamma_gamma": {
                **self.gamma_gamma.params(),
                "population_mean_spend": self.gamma_gamma.population_mean(),
                **_fit_dict(self.gamma_gamma.fit),
            },
        }


def _fit_dict(fit) -> dict:
    return fit.as_dict() if fit is not None else {}


@dataclass
class LtvModel:
    regressor: xgb.XGBRegressor  # evaluated: trained on the training snapshots
    baseline: Baseline  # evaluated: fitted at the validation snapshot
    feature_names: list[str]
    horizon_days: int
    train_horizon_days: int
    params: dict
    window: dict
    use_baseline: bool = False  # predicted_ltv = the BG/NBD + Gamma-Gamma value (see as_baseline)
    # scoring (None in artifacts from before they existed: the evaluated ones score then)
    scoring_regressor: Any = None  # the evaluated regressor, or one refitted on every complete snapshot
    scoring_baseline: Baseline | None = None  # fitted on all orders before as_of

    @property
    def bridged(self) -> bool:
        return self.train_horizon_days != self.horizon_days

    def scorer(self) -> xgb.XGBRegressor:
        return self.scoring_regressor if self.scoring_regressor is not None else self.regressor

    def today(self) -> Baseline:
        return self.scoring_baseline if self.scoring_baseline is not None else self.baseline


def as_baseline(model: LtvModel) -> LtvModel:
    """The same fit, predicting with BG/NBD + Gamma-Gamma: what the registry promotes when no
    champion exists yet and the candidate did not beat its baseline."""
    return dataclasses.replace(model, use_baseline=True)


def customer_stats(orders: pd.DataFrame, at: dt.date) -> pd.DataFrame:
    """BG/NBD / Gamma-Gamma inputs per customer from orders before the instant `at` (a date: its UTC
    midnight): n orders, x = n - 1 repeat purchases, t_x and T in weeks, mean net value per order
    (clipped > 0) and the mean net value of the repeat purchases (the orders after the first; NaN
    without one), which is what Gamma-Gamma is fitted on."""
    instant = snapshot_at(at)
    known = orders[orders["ordered_at"] < instant].sort_values(["customer_id", "ordered_at"], kind="stable")
    grouped = known.groupby("customer_id").agg(
        n=("ordered_at", "size"),
        first=("ordered_at", "min"),
        last=("ordered_at", "max"),
        mean_value=("net_revenue", "mean"),
    )
    repeat = known[known.groupby("customer_id").cumcount() > 0]
    repeat_mean = repeat.groupby("customer_id")["net_revenue"].mean()
    week = pd.Timedelta(days=WEEK_DAYS)
    return pd.DataFrame(
        {
            "n": grouped["n"].astype(float),
            "x": grouped["n"].astype(float) - 1,
            "t_x": (grouped["last"] - grouped["first"]) / week,
            "T": (instant - grouped["first"]) / week,
            "mean_value": grouped["mean_value"].clip(lower=0.01),
            "repeat_mean_value": repeat_mean.reindex(grouped.index).astype(float),
        }
    )


def _stats_for(stats: pd.DataFrame, customers, tenure_days) -> pd.DataFrame:
    """Stats aligned to `customers`; one whose orders all vanished (cancelled later) is a fresh
    customer: no purchases, the population mean spend."""
    aligned = stats.reindex(pd.Index(customers))
    missing = aligned["n"].isna().to_numpy()
    fallback = pd.DataFrame(
        {
            "n": 0.0,
            "x": 0.0,
            "t_x": 0.0,
            "T": np.asarray(tenure_days, float) / WEEK_DAYS,
            "mean_value": 1.0,
            "repeat_mean_value": np.nan,
        },
        index=aligned.index,
    )
    aligned[missing] = fallback[missing]
    return aligned


def training_horizon(snapshot_dates, as_of: dt.date, params: Params) -> int:
    """The full horizon when a purged split at it fits in the history, else the fallback (bridged)."""
    try:
        time_split(snapshot_dates, as_of, params.horizon_days)
        return params.horizon_days
    except ValueError:
        return min(params.fallback_horizon_days, params.horizon_days)


def build_training_set(
    conn: psycopg.Connection, as_of: dt.date | str, params: Params = Params()
) -> TrainingSet:
    """Raises InsufficientData without feature snapshots, without a snapshot whose (fallback) horizon is
    complete, or with fewer than `min_buyers` spenders or repeat customers (see Params)."""
    as_of = to_date(as_of)
    features = load_features(conn, as_of)
    horizon = training_horizon(features["snapshot_date"] if len(features) else [], as_of, params)
    train_dates, valid_date = split_or_skip(features, as_of, horizon)
    complete = sorted(d for d in set(features["snapshot_date"]) if d + dt.timedelta(days=horizon) <= as_of)
    refit_dates = complete if params.refit_all_snapshots else [*train_dates, valid_date]
    orders = load_orders(conn, as_of)
    rows = features[features["snapshot_date"].isin(refit_dates)]
    target = future_window(rows, orders, horizon)["future_revenue"].clip(lower=0).to_numpy()
    x = feature_matrix(rows)
    dates = rows["snapshot_date"]
    is_valid = (dates == valid_date).to_numpy()
    is_train = dates.isin(train_dates).to_numpy()
    calibration = customer_stats(orders, valid_date)
    require_buyers(target[is_train], target[is_valid], calibration, horizon, params.min_buyers)
    return TrainingSet(
        as_of=as_of,
        horizon_days=params.horizon_days,
        train_horizon_days=horizon,
        train_snapshots=train_dates,
        validation_snapshot=valid_date,
        x_train=x[is_train],
        y_train=target[is_train],
        x_valid=x[is_valid],
        y_valid=target[is_valid],
        valid_customers=rows.loc[is_valid, "customer_id"].to_numpy(),
        calibration=calibration,
        feature_names=list(x.columns),
        refit_snapshots=refit_dates if params.refit_all_snapshots else [],
        x_refit=x if params.refit_all_snapshots else None,
        y_refit=target if params.refit_all_snapshots else None,
        scoring_stats=customer_stats(orders, as_of),
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


def fit_baseline(stats: pd.DataFrame, params: Params, at: str = "") -> Baseline:
    """BG/NBD on every customer's (x, t_x, T); Gamma-Gamma on the repeat customers' repeat purchases.
    InsufficientData when fewer than `min_buyers` customers have a repeat purchase of positive value,
    or when no start of a fit reaches a finite likelihood."""
    repeat = stats["repeat_mean_value"]
    spenders = int(((stats["x"] > 0) & (repeat > 0)).sum())
    where = f" at {at}" if at else ""
    if spenders < params.min_buyers:
        raise InsufficientData(
            f"too few repeat customers with positive repeat spend for Gamma-Gamma{where}: {spenders}, "
            f"needs at least {params.min_buyers}",
            repeat_spenders=spenders,
            customers=len(stats),
            min_buyers=params.min_buyers,
        )
    try:
        bgnbd = fit_bgnbd(stats["x"], stats["t_x"], stats["T"], params.bgnbd_penalizer)
        gamma_gamma = fit_gamma_gamma(stats["x"], repeat, params.bgnbd_penalizer)
    except FitError as exc:
        raise InsufficientData(
            f"BG/NBD + Gamma-Gamma could not be fitted{where}: {exc}",
            customers=len(stats),
            repeat_spenders=spenders,
        ) from exc
    return Baseline(bgnbd, gamma_gamma)


def _regressor(params: Params) -> xgb.XGBRegressor:
    import xgboost as xgb

    return xgb.XGBRegressor(
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


def train(training_set: TrainingSet, params: Params = Params()) -> LtvModel:
    ts = training_set
    regressor = _regressor(params)
    regressor.fit(ts.x_train[ts.feature_names], ts.y_train)
    scoring, x_seen = regressor, ts.x_train
    if ts.x_refit is not None:
        scoring, x_seen = _regressor(params), ts.x_refit
        scoring.fit(ts.x_refit[ts.feature_names], ts.y_refit)
    scoring_stats = ts.scoring_stats if ts.scoring_stats is not None else ts.calibration
    window = {
        **ts.window(),
        "scoring_regressor": "refitted on every complete snapshot"
        if ts.x_refit is not None
        else "the evaluated one",
        # tree models predict flat beyond the oldest customers they saw: how far scoring reaches past it
        "scoring_regressor_max_tenure_days": float(x_seen["tenure_days"].max()) if len(x_seen) else 0.0,
        "scoring_max_tenure_days": float(scoring_stats["T"].max() * WEEK_DAYS) if len(scoring_stats) else 0.0,
    }
    return LtvModel(
        regressor=regressor,
        baseline=fit_baseline(ts.calibration, params, f"the validation snapshot {ts.validation_snapshot}"),
        feature_names=ts.feature_names,
        horizon_days=ts.horizon_days,
        train_horizon_days=ts.train_horizon_days,
        params=asdict(params),
        window=window,
        scoring_regressor=scoring,
        scoring_baseline=fit_baseline(scoring_stats, params, f"the reference date {ts.as_of}"),
    )


def naive_report(y: np.ndarray, value: float) -> dict[str, float]:
    """The metrics of predicting `value` for every row that a constant has: MAE, RMSE and aggregate
    error (a constant does not rank, so Spearman and the top-decile share are left out)."""
    constant = np.full(len(y), float(value))
    out = {"mae": metrics.mae(y, constant), "rmse": metrics.rmse(y, constant)}
    if float(np.sum(y)) != 0:
        out["aggregate_error"] = metrics.aggregate_error(y, constant)
    return out


def evaluate(model: LtvModel, training_set: TrainingSet, params: Params = Params()) -> Evaluation:
    """The evaluated regressor and baseline on the validation rows (both fitted on what was known at
    the validation snapshot), with the naive references and LTV's guard rails. A model trained on
    another label horizon than this split's (a champion from before the history allowed the full
    one, or after) is bridged to it by its own BG/NBD time profile; another `horizon_days` is refused."""
    ts = training_set
    if model.horizon_days != ts.horizon_days:
        raise ValueError(
            f"an LTV model for a {model.horizon_days}-day horizon cannot be evaluated on a "
            f"{ts.horizon_days}-day training set"
        )
    y = ts.y_valid
    stats = _stats_for(ts.calibration, ts.valid_customers, ts.x_valid["tenure_days"])
    predicted = model.regressor.predict(ts.x_valid[model.feature_names]).astype(float)
    if model.train_horizon_days != ts.train_horizon_days:
        predicted = predicted * model.baseline.time_profile(
            stats, ts.train_horizon_days, model.train_horizon_days
        )
    baseline = model.baseline.revenue(stats, ts.train_horizon_days)
    if model.use_baseline:
        predicted = baseline
    today = model.today().describe()
    return Evaluation(
        metrics=metrics.regression_report(y, predicted),
        baseline_metrics=metrics.regression_report(y, baseline),
        primary_metric="mae",
        higher_is_better=False,
        baseline_name="BG/NBD + Gamma-Gamma",
        split={
            **ts.window(),
            "rows": {
                "train": len(ts.y_train),
                "validation": len(y),
                **({"refit": len(ts.y_refit)} if ts.y_refit is not None else {}),
            },
            "bridge": (
                f"trained and validated on {ts.train_horizon_days}-day revenue; scored over "
                f"{ts.horizon_days} days via the BG/NBD time profile"
                if ts.bridged
                else "none: trained and validated on the full horizon"
            ),
            **{
                k: v for k, v in model.window.items() if k.endswith("tenure_days") or k == "scoring_regressor"
            },
            **model.baseline.describe(),
            "scoring_bgnbd": today["bgnbd"],
            "scoring_gamma_gamma": today["gamma_gamma"],
        },
        extra_markdown=decile_markdown(y, predicted, baseline, ts.train_horizon_days),
        guard_rails=guard_rails(ts.bridged),
        references={"zero": naive_report(y, 0.0), "mean": naive_report(y, float(np.mean(ts.y_train)))},
    )


def _capture(actual: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Cumulative share of the actual total held by the top 1..10 deciles of `score` (stable ties)."""
    order = np.argsort(-np.asarray(score, float), kind="stable")
    total = float(actual.sum()) or 1.0
    return np.cumsum([actual[idx].sum() for idx in np.array_split(order, 10)]) / total


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
    curves = {"model": _capture(actual, predicted), "BG/NBD": _capture(actual, baseline)}
    curves["perfect ranking"] = _capture(actual, actual)
    lines += [
        "",
        "Share of the actual revenue captured by the top k deciles of each ranking",
        "",
        "| top deciles | model | BG/NBD | perfect ranking |",
        "|---:|---:|---:|---:|",
    ]
    for k in (1, 2, 3, 5):
        lines.append(f"| {k} | " + " | ".join(f"{c[k - 1]:.1%}" for c in curves.values()) + " |")
    return "\n".join(lines) + "\n\n" + capture_picture(curves, days)


def capture_picture(curves: dict[str, np.ndarray], days: int) -> str:
    from ml import plots

    fig, ax = plots.figure(6.0, 3.2)
    share = np.arange(0, 11) * 10
    ax.plot([0, 100], [0, 100], color="0.7", linestyle=":", label="random")
    styles = {"model": "-o", "BG/NBD": "-s", "perfect ranking": "--"}
    for name, curve in curves.items():
        ax.plot(share, np.concatenate([[0.0], curve]) * 100, styles.get(name, "-"), markersize=3, label=name)
    ax.set_xlabel("customers, top % by prediction")
    ax.set_ylabel(f"% of actual {days}-day revenue")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 101)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Decile capture on the validation snapshot", fontsize=10)
    return plots.png_markdown(fig, "LTV decile capture: model vs BG/NBD vs perfect ranking")


def predict(
    model: LtvModel,
    conn: psycopg.Connection,
    as_of: dt.date | str,
    params: Params = Params(),
    *,
    model_version: str = "dev",
) -> pd.DataFrame:
    """predicted_ltv and bgnbd_ltv over `horizon_days` from the reference date `as_of` for every
    customer of the features' snapshot at `as_of` (else the latest before it: `snapshot_date` says
    which); BG/NBD statistics at `as_of`. Refuses a model trained for another horizon than
    `params.horizon_days` (ValueError)."""
    if model.horizon_days != params.horizon_days:
        raise ValueError(
            f"this LTV model predicts {model.horizon_days}-day revenue, but horizon_days is "
            f"{params.horizon_days}: train a model for {params.horizon_days} days (ml/ltv_model) first"
        )
    as_of = to_date(as_of)
    features = load_features(conn, as_of)
    columns = list(COLUMN_TYPES)
    if not len(features):
        return pd.DataFrame(columns=columns)
    snapshot = features["snapshot_date"].max()
    rows = features[features["snapshot_date"] == snapshot].reset_index(drop=True)
    x = feature_matrix(rows, model.feature_names)
    tenure_today = rows["tenure_days"].to_numpy(float) + (as_of - snapshot).days
    stats = _stats_for(customer_stats(load_orders(conn, as_of), as_of), rows["customer_id"], tenure_today)
    baseline = model.today()
    predicted = model.scorer().predict(x).astype(float)
    if model.bridged:
        predicted = predicted * baseline.time_profile(stats, model.horizon_days, model.train_horizon_days)
    bgnbd = baseline.revenue(stats, model.horizon_days).astype(float)
    if model.use_baseline:
        predicted = bgnbd
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"].astype("int64"),
            "snapshot_date": rows["snapshot_date"],
            "reference_date": as_of,
            "horizon_days": np.int32(model.horizon_days),
            "predicted_ltv": predicted,
            "bgnbd_ltv": bgnbd,
            "model_version": model_version,
            "scored_at": pd.Timestamp.now(tz="UTC"),
        }
    )[columns]
