"""build_training_set -> train -> evaluate -> predict for product recommendations (see ml/core.py).

The split is by time: the holdout is every customer's purchases in the `holdout_days` before `as_of`;
the evaluated model sees only what happened before that cut-off (interactions, identity links,
popularity, trending). The production model is the same recipe refitted on everything before `as_of`,
so the evaluation measures the recipe and the shipped similarities are a month fresher.

Baselines, scored on the same customers with the same exclusion rule (bought non-repeatable products
are never shown): global popularity (distinct buyers over the whole training window) and recent
trending (distinct buyers in the last `recent_days` of the training window).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import psycopg

from ml.core import Evaluation, to_date
from ml.recommendations import data
from ml.recommendations.metrics import ranking_metrics
from ml.recommendations.model import ItemItemModel, item_similarity, mask_unrecommendable, scaled, top_k

OUTPUT_TABLE = "ml.product_recommendations"
COLUMN_TYPES = {
    "customer_id": "bigint",
    "rank": "integer",
    "product_id": "bigint",
    "score": "double precision",
    "reason": "text",
    "model_version": "text",
}
SIMILAR_TABLE = "ml.similar_products"
SIMILAR_COLUMN_TYPES = {
    "product_id": "bigint",
    "rank": "integer",
    "similar_product_id": "bigint",
    "score": "double precision",
}


@dataclass(frozen=True)
class Params:
    k: int = 10  # list length, and the @k of every metric
    n_similar: int = 10  # similar products per product
    holdout_days: int = 30  # each customer's purchases in these last days before as_of are the test set
    recent_days: int = 30  # window of the trending baseline and of cold-start recommendations
    purchase_weight: float = 5.0  # per distinct order containing the product
    cart_weight: float = 2.0  # per add-to-cart event
    view_weight: float = 1.0  # per product-view event
    half_life_days: float = 0.0  # confidence halves per this many days of staleness; 0 = no decay
    shrinkage: float = 5.0  # cosine denominator shrinkage (damps similarities of rarely-seen products)
    self_similarity: float = 1.0  # how much a product in the history counts for itself (re-buys)
    popularity_blend: float = 0.3  # weight of global popularity added to the [0, 1]-scaled CF score


@dataclass
class TrainingSet:
    as_of: dt.date
    cutoff: dt.datetime  # start of the holdout window; training data is strictly before it
    end: dt.datetime  # as_of at 00:00 UTC; production data is strictly before it
    products: pd.DataFrame
    train_interactions: pd.DataFrame  # before cutoff
    full_interactions: pd.DataFrame  # before end
    holdout: pd.DataFrame  # (customer_id, product_id) bought in [cutoff, end)


@dataclass
class RecommenderBundle:
    """What `train` returns: the evaluated model (fitted before the holdout) and the shipped one."""

    holdout_model: ItemItemModel
    model: ItemItemModel
    params: dict


def build_training_set(
    conn: psycopg.Connection, as_of: dt.date | str, params: Params = Params()
) -> TrainingSet:
    as_of = to_date(as_of)
    end = data.midnight_utc(as_of)
    cutoff = end - dt.timedelta(days=params.holdout_days)
    return TrainingSet(
        as_of=as_of,
        cutoff=cutoff,
        end=end,
        products=data.read_products(conn),
        train_interactions=data.read_interactions(conn, cutoff, params.recent_days),
        full_interactions=data.read_interactions(conn, end, params.recent_days),
        holdout=data.read_purchases_between(conn, cutoff, end),
    )


def fit(
    interactions: pd.DataFrame, products: pd.DataFrame, end: dt.datetime, params: Params
) -> ItemItemModel:
    """Fit item similarities, popularity and trending on interactions before `end`."""
    available = (
        products["product_status"].fillna("active").eq("active") & (products["created_at"] < end)
    ).to_numpy()
    model = ItemItemModel(
        product_ids=products["product_id"].to_numpy(dtype=np.int64),
        titles=products["product_title"].fillna(products["product_id"].astype(str)).tolist(),
        categories=products["category"].fillna("uncategorised").tolist(),
        repeatable=products["is_repeatable"].to_numpy(dtype=bool),
        available=available,
        similarity=np.zeros((len(products), len(products)), dtype=np.float32),
        popularity=np.zeros(len(products)),
        trending=np.zeros(len(products)),
        fitted_until=end,
        popularity_blend=params.popularity_blend,
    )
    history = model.history(interactions, params)
    model.similarity = item_similarity(history.confidence, params.shrinkage, params.self_similarity)
    index = pd.Index(model.product_ids)
    model.popularity = scaled(_buyers(interactions, "purchases", index))
    model.trending = scaled(_buyers(interactions, "recent_purchases", index))
    return model


def _buyers(interactions: pd.DataFrame, column: str, index: pd.Index) -> np.ndarray:
    bought = interactions[interactions[column] > 0]
    counts = bought.groupby("product_id")["customer_id"].nunique()
    return counts.reindex(index, fill_value=0).to_numpy(dtype=np.float64)


def train(training_set: TrainingSet, params: Params = Params()) -> RecommenderBundle:
    ts = training_set
    return RecommenderBundle(
        holdout_model=fit(ts.train_interactions, ts.products, ts.cutoff, params),
        model=fit(ts.full_interactions, ts.products, ts.end, params),
        params=asdict(params),
    )


def _baseline_lists(model: ItemItemModel, prior: np.ndarray, history, k: int) -> dict[int, list[int]]:
    scores = mask_unrecommendable(prior, history.purchased, model.repeatable, model.available)
    top = top_k(scores, k)
    lists = {}
    for row, customer in enumerate(history.customer_ids):
        ok = np.isfinite(scores[row, top[row]])
        lists[int(customer)] = model.product_ids[top[row][ok]].tolist()
    return lists


def evaluate(bundle: RecommenderBundle, training_set: TrainingSet, params: Params = Params()) -> Evaluation:
    ts, model, k = training_set, bundle.holdout_model, params.k
    truth = {int(c): set(g["product_id"].astype(int)) for c, g in ts.holdout.groupby("customer_id")}
    customers = np.array(sorted(truth), dtype=np.int64)
    history = model.history(ts.train_interactions, params, customers)
    recs = model.recommend(history, k)
    lists = {int(c): g.sort_values("rank")["product_id"].tolist() for c, g in recs.groupby("customer_id")}
    catalog = int(model.available.sum())
    metrics = ranking_metrics(lists, truth, catalog, k)
    pop_lists = _baseline_lists(model, model.popularity, history, k)
    popularity = ranking_metrics(pop_lists, truth, catalog, k)
    trending = ranking_metrics(_baseline_lists(model, model.trending, history, k), truth, catalog, k)
    for name, value in trending.items():
        metrics[f"trending_{name}"] = value
    primary = f"precision_at_{k}"
    cold = int((history.confidence.getnnz(axis=1) == 0).sum())
    ratio = metrics[primary] / popularity[primary] if popularity[primary] > 0 else float("inf")
    warm = {
        int(c): truth[int(c)]
        for c, n in zip(customers, history.confidence.getnnz(axis=1), strict=True)
        if n > 0
    }
    return Evaluation(
        metrics=metrics,
        baseline_metrics=popularity,
        primary_metric=primary,
        higher_is_better=True,
        baseline_name="global popularity",
        split={
            "train_end": ts.cutoff.isoformat(),
            "holdout_start": ts.cutoff.isoformat(),
            "holdout_end": ts.end.isoformat(),
            "train_interactions": len(ts.train_interactions),
            "holdout_customers": len(customers),
            "holdout_cold_start_customers": cold,
            "holdout_purchases": len(ts.holdout),
            "catalog_size": catalog,
            "trending_baseline": trending,
            # customers with pre-holdout history only (the cold-start rest get trending in both lists)
            f"warm_{primary}": ranking_metrics(lists, warm, catalog, k)[primary],
            f"warm_popularity_{primary}": ranking_metrics(pop_lists, warm, catalog, k)[primary],
        },
        extra_markdown=_markdown(metrics, popularity, trending, k, ratio),
    )


def _markdown(model: dict, popularity: dict, trending: dict, k: int, ratio: float) -> str:
    keys = [f"precision_at_{k}", f"recall_at_{k}", f"ndcg_at_{k}", "catalog_coverage"]
    lines = ["| metric | item-item CF | popularity | trending |", "|---|---|---|---|"]
    lines += [f"| {m} | {model[m]:.4f} | {popularity[m]:.4f} | {trending[m]:.4f} |" for m in keys]
    lines.append(f"\nprecision@{k} is {ratio:.2f}x popularity (target >= 2x).")
    return "\n".join(lines)


def predict(
    bundle: RecommenderBundle,
    conn: psycopg.Connection,
    as_of: dt.date | str,
    params: Params = Params(),
    *,
    model_version: str = "dev",
) -> pd.DataFrame:
    """Top k for every customer in marts.dim_customers from their history before `as_of`
    (customers without any history get trending products, reason 'trending')."""
    model = bundle.model
    end = data.midnight_utc(to_date(as_of))
    interactions = data.read_interactions(conn, end, params.recent_days)
    customers = data.read_customers(conn)
    recs = model.recommend(model.history(interactions, params, customers), params.k)
    recs["model_version"] = model_version
    recs = recs.astype({"customer_id": "int64", "rank": "int64", "product_id": "int64", "score": "float64"})
    return recs[list(COLUMN_TYPES)]


def predict_similar(bundle: RecommenderBundle, params: Params = Params()) -> pd.DataFrame:
    """Rows of ml.similar_products from the shipped model's item similarities."""
    frame = bundle.model.similar_products(params.n_similar)
    return frame.astype({"product_id": "int64", "rank": "int64", "similar_product_id": "int64"})[
        list(SIMILAR_COLUMN_TYPES)
    ]


def predict_tables(
    bundle: RecommenderBundle,
    conn: psycopg.Connection,
    as_of: dt.date | str,
    params: Params = Params(),
    *,
    model_version: str = "dev",
) -> dict[str, pd.DataFrame]:
    """Both output tables, keyed by table name (what the scoring asset writes)."""
    return {
        OUTPUT_TABLE: predict(bundle, conn, as_of, params, model_version=model_version),
        SIMILAR_TABLE: predict_similar(bundle, params),
    }


TABLE_COLUMN_TYPES = {OUTPUT_TABLE: COLUMN_TYPES, SIMILAR_TABLE: SIMILAR_COLUMN_TYPES}
