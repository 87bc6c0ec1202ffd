"""Bench figure for recommendations: precision@k vs popularity on the time holdout, put in context by
an oracle that knows the simulated shop's hidden affinity groups.

The simulated shopper buys 80 % of the time from their own affinity group, popularity-weighted
(ingestion/sandbox/shop/catalog.py). So the best any recommender can do is "the most popular products
of the customer's true group"; the oracle does exactly that with the group read from
truth/products_truth.parquet (a customer's group = the group holding most of their pre-holdout
interaction confidence; customers without history get trending, like the model). Its precision@k is
a practical ceiling, which tells whether a missed target is the model's fault or the world's.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from ml.recommendations.metrics import ranking_metrics
from ml.recommendations.model import mask_unrecommendable, top_k
from ml.recommendations.pipeline import Params, build_training_set, evaluate, train


def score_against_truth(
    conn: psycopg.Connection,
    world_dir: str | Path,
    as_of: dt.date | str | None = None,
    params: Params | None = None,
) -> dict:
    """precision@k of the model, popularity, trending and the affinity-group oracle on the holdout."""
    params = params or Params()
    world_dir = Path(world_dir)
    as_of = as_of or json.loads((world_dir / "world.json").read_text())["end_date"]
    ts = build_training_set(conn, as_of, params)
    started = dt.datetime.now(dt.UTC)
    bundle = train(ts, params)
    train_seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    ev = evaluate(bundle, ts, params)
    key = ev.primary_metric
    groups = pd.read_parquet(world_dir / "truth" / "products_truth.parquet")
    oracle = _oracle_precision(
        bundle.holdout_model,
        ts,
        params,
        dict(zip(groups["product_id"], groups["affinity_group"], strict=True)),
    )
    model, popularity = ev.metrics[key], ev.baseline_metrics[key]
    return {
        "as_of": str(as_of),
        "model_" + key: model,
        "popularity_" + key: popularity,
        "trending_" + key: ev.metrics["trending_" + key],
        "oracle_" + key: oracle,
        "ratio_vs_popularity": model / popularity if popularity else float("inf"),
        "oracle_ratio_vs_popularity": oracle / popularity if popularity else float("inf"),
        "target_ratio": 2.0,
        "target_met": bool(popularity and model >= 2.0 * popularity),
        "holdout_customers": ev.split["holdout_customers"],
        "holdout_cold_start_customers": ev.split["holdout_cold_start_customers"],
        "train_seconds": train_seconds,
    }


def _oracle_precision(model, ts, params: Params, group_of: dict) -> float:
    truth = {int(c): set(g["product_id"].astype(int)) for c, g in ts.holdout.groupby("customer_id")}
    customers = np.array(sorted(truth), dtype=np.int64)
    history = model.history(ts.train_interactions, params, customers)
    names = sorted(set(group_of.values()))
    item_group = np.array([names.index(group_of[p]) if p in group_of else -1 for p in model.product_ids])
    onehot = np.stack([(item_group == g).astype(float) for g in range(len(names))], axis=1)  # items x groups
    customer_group = np.asarray(history.confidence @ onehot).argmax(axis=1)
    in_group = item_group[None, :] == customer_group[:, None]
    scores = model.popularity[None, :] + 1.0 * in_group  # own group first, each by popularity
    cold = history.confidence.getnnz(axis=1) == 0
    scores[cold] = model.trending
    scores = mask_unrecommendable(scores, history.purchased, model.repeatable, model.available)
    top = top_k(scores, params.k)
    lists = {
        int(c): model.product_ids[top[i][np.isfinite(scores[i, top[i]])]].tolist()
        for i, c in enumerate(customers)
    }
    return ranking_metrics(lists, truth, int(model.available.sum()), params.k)[f"precision_at_{params.k}"]
