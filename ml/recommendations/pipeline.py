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

from ml.core import Evaluation, InsufficientData, to_date
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
    # below these the run is skipped (ml.core.InsufficientData): customers whose pre-holdout history
    # holds two or more catalog products are the only ones that put anything off the diagonal of the
    # item similarity; precision@k averaged over fewer holdout buyers is decided by a handful of people
    min_multi_product_customers: int = 10
    min_holdout_customers: int = 20


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
    """Raises InsufficientData when the catalog, the pre-holdout histories or the holdout are too
    small to fit item similarities and judge them (see `require_enough`)."""
    as_of = to_date(as_of)
    end = data.midnight_utc(as_of)
    cutoff = end - dt.timedelta(days=params.holdout_days)
    training_set = TrainingSet(
        as_of=as_of,
        cutoff=cutoff,
        end=end,
        products=data.read_products(conn),
        train_interactions=data.read_interactions(conn, cutoff, params.recent_days),
        full_interactions=data.read_interactions(conn, end, params.recent_days),
        holdout=data.read_purchases_between(conn, cutoff, end),
    )
    require_enough(training_set, params)
    return training_set


def require_enough(ts: TrainingSet, params: Params) -> None:
    """InsufficientData unless the catalog has two products, `min_multi_product_customers` customers
    have two or more catalog products in their pre-holdout history, and `min_holdout_customers`
    customers bought something in the holdout window."""
    catalog = set(ts.products["product_id"].astype("int64"))
    known = ts.train_interactions[ts.train_interactions["product_id"].isin(catalog)]
    per_customer = known.groupby("customer_id")["product_id"].nunique()
    holdout = ts.holdout[ts.holdout["product_id"].isin(catalog)]
    facts = {
        "catalog_products": len(catalog),
        "train_interactions": len(known),
        "train_customers": len(per_customer),
        "multi_product_customers": int((per_customer >= 2).sum()),
        "holdout_customers": int(holdout["customer_id"].nunique()),
        "min_multi_product_customers": params.min_multi_product_customers,
        "min_holdout_customers": params.min_holdout_customers,
    }
    window = f"before {ts.cutoff.date()}"
    if len(catalog) < 2:
        reason = f"marts.dim_products holds {len(catalog)} products: no catalog to recommend from"
    elif facts["multi_product_customers"] < params.min_multi_product_customers:
        reason = (
            f"{facts['multi_product_customers']} customers have two or more products in their history "
            f"{window} (order items, product views, add-to-carts); item-item similarity needs at least "
            f"{params.min_multi_product_customers}"
        )
    elif facts["holdout_customers"] < params.min_holdout_customers:
        reason = (
            f"{facts['holdout_customers']} customers bought a catalog product in the {params.holdout_days}-day "
            f"holdout {ts.cutoff.date()}..{ts.end.date()}; precision@{params.k} needs at least "
            f"{params.min_holdout_customers}"
        )
    else:
        return
    raise InsufficientData(reason, **facts)


def fit(
    interactions: pd.DataFrame, products: pd.DataFrame, end: dt.datetime, params: Params
) -> ItemItemModel:
    """Fit item similarities, popularity and trending on interactions before `end`."""
    # a product without a launch date (e.g. one only seen in an imported order history) is on sale
    launched = products["created_at"].isna() | (products["created_at"] < end)
    available = (products["product_status"].fillna("active").eq("active") & launched).to_numpy()
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
    if metrics[primary] == 0 and popularity[primary] == 0:
        # not a loss to the baseline: the holdout cannot tell any recipe from another
        raise InsufficientData(
            f"none of the {len(customers)} holdout customers' purchases is in the model's or in the "
            f"popularity baseline's top {k} ({primary} 0 vs 0): the holdout cannot judge the recommender",
            holdout_customers=len(customers),
            holdout_purchases=len(ts.holdout),
            recommendable_products=catalog,
        )
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
    (customers without any history get trending products, reason 'trending'), among the products
    marts.dim_products still holds."""
    model = bundle.model
    end = data.midnight_utc(to_date(as_of))
    interactions = data.read_interactions(conn, end, params.recent_days)
    customers = data.read_customers(conn)
    recs = model.recommend(model.history(interactions, params, customers), params.k)
    # only products the catalog still has (the model may predate a change of sources)
    recs = recs[recs["product_id"].isin(data.read_products(conn)["product_id"])].reset_index(drop=True)
    recs["rank"] = recs.groupby("customer_id").cumcount() + 1
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
    """Both output tables, keyed by table name (what the scoring asset writes). Similar products are
    those of the current catalog only: a champion fitted on an earlier catalog (a source since
    replaced or removed) must not publish products the shop no longer has."""
    catalog = data.read_products(conn)["product_id"]
    similar = predict_similar(bundle, params)
    on_sale = similar["product_id"].isin(catalog) & similar["similar_product_id"].isin(catalog)
    similar = similar[on_sale].reset_index(drop=True)
    similar["rank"] = similar.groupby("product_id").cumcount() + 1
    return {
        OUTPUT_TABLE: predict(bundle, conn, as_of, params, model_version=model_version),
        SIMILAR_TABLE: similar.astype({"rank": "int64"}),
    }


TABLE_COLUMN_TYPES = {OUTPUT_TABLE: COLUMN_TYPES, SIMILAR_TABLE: SIMILAR_COLUMN_TYPES}
