"""Recommendations: ranking metrics against hand-computed values, the exclusion and cold-start rules
on a hand-made history, and build -> train -> evaluate -> predict on the dbt-built tiny shop."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml.core import replace_table
from ml.recommendations import (
    COLUMN_TYPES,
    OUTPUT_TABLE,
    SIMILAR_COLUMN_TYPES,
    SIMILAR_TABLE,
    Params,
    build_training_set,
    evaluate,
    predict,
    predict_similar,
    train,
)
from ml.recommendations.metrics import (
    catalog_coverage,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)
from ml.recommendations.pipeline import fit

# -- metrics -------------------------------------------------------------------------------------


def test_precision_recall_ndcg_match_hand_computed_values():
    recommended, relevant = [1, 2, 3, 4], {2, 4, 9}
    assert precision_at_k(recommended, relevant, k=4) == pytest.approx(2 / 4)
    assert recall_at_k(recommended, relevant, k=4) == pytest.approx(2 / 3)
    # hits at ranks 2 and 4; ideal has 3 hits at ranks 1-3
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(recommended, relevant, k=4) == pytest.approx(dcg / idcg)
    # only the first k count, and precision divides by k even for a short list
    assert precision_at_k([2], {2}, k=10) == pytest.approx(0.1)
    assert recall_at_k([1, 2, 3, 4], {2, 4, 9}, k=2) == pytest.approx(1 / 3)
    assert ndcg_at_k([2, 1], {2}, k=10) == pytest.approx(1.0)
    assert ndcg_at_k([1, 2], {2}, k=10) == pytest.approx(1 / math.log2(3))


def test_catalog_coverage_and_averages_over_users_with_truth():
    assert catalog_coverage([[1, 2], [2, 3], [9]], catalog_size=10, k=2) == pytest.approx(4 / 10)
    assert catalog_coverage([[1, 2, 3]], catalog_size=10, k=2) == pytest.approx(2 / 10)
    recs = {"a": [1, 2], "b": [3, 4], "c": [5, 6]}
    truth = {"a": {1}, "b": {9}, "d": set()}  # d bought nothing: not scored; c is not in the holdout
    m = ranking_metrics(recs, truth, catalog_size=8, k=2)
    assert m["precision_at_2"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["recall_at_2"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["ndcg_at_2"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["catalog_coverage"] == pytest.approx(4 / 8)


# -- exclusion and cold start on a hand-made history ---------------------------------------------

END = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def _products() -> pd.DataFrame:
    # 1-3 one "group" (1 repeatable), 4-6 another; 7 launches after END, so it cannot be recommended
    ids = [1, 2, 3, 4, 5, 6, 7]
    return pd.DataFrame({
        "product_id": ids,
        "product_title": [f"Product {i}" for i in ids],
        "category": ["Coffee", "Brewing", "Brewing", "Tea", "Teaware", "Teaware", "Tea"],
        "is_repeatable": [True, False, False, True, False, False, True],
        "product_status": ["active"] * 7,
        "created_at": pd.to_datetime(["2024-01-01"] * 6 + ["2025-07-01"], utc=True),
    })  # fmt: skip


def _interactions(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["customer_id", "product_id", "purchases", "recent_purchases", "carts", "views"]
    )
    frame["last_at"] = END - dt.timedelta(days=3)
    return frame


def _fitted():
    # customers 10-13 buy within {1, 2, 3}, 20-22 within {4, 5, 6}; product 6 is hot lately
    rows = [(c, p, 1, 0, 0, 1) for c in (10, 11, 12, 13) for p in (1, 2, 3)]
    rows += [(c, p, 1, 0, 0, 1) for c in (20, 21, 22) for p in (4, 5)]
    rows += [(c, 6, 1, 1, 0, 0) for c in (20, 21, 22)]
    interactions = _interactions(rows)
    params = Params(k=3)
    return fit(interactions, _products(), END, params), params


def test_bought_non_repeatable_products_are_excluded_but_repeatables_can_come_back():
    model, params = _fitted()
    # customer 30 bought 1 (repeatable) and 2 (not), and viewed 3
    history = model.history(
        _interactions([(30, 1, 1, 0, 0, 1), (30, 2, 1, 0, 0, 1), (30, 3, 0, 0, 1, 3)]), params
    )
    recs = model.recommend(history, k=3)
    assert recs["rank"].tolist() == [1, 2, 3]
    assert 2 not in recs["product_id"].tolist()
    assert set(recs["product_id"].head(2)) == {1, 3}  # its own group first: re-buy 1, viewed 3
    assert 7 not in recs["product_id"].tolist()  # not launched yet
    assert recs["score"].is_monotonic_decreasing
    reasons = dict(zip(recs["product_id"], recs["reason"], strict=True))
    assert reasons[1] == "buy again"
    assert reasons[3] in ("viewed recently", "similar to Product 1", "similar to Product 2")


def test_cold_start_customers_get_trending_products():
    model, params = _fitted()
    history = model.history(_interactions([(10, 1, 1, 0, 0, 0)]), params, customer_ids=[10, 99])
    recs = model.recommend(history, k=3)
    cold = recs[recs["customer_id"] == 99]
    assert cold["reason"].eq("trending").all() and len(cold) == 3
    assert cold["product_id"].iloc[0] == 6  # the only product bought in the recent window
    assert not recs.loc[recs["customer_id"] == 10, "reason"].eq("trending").any()


def test_similar_products_stay_within_co_purchase_groups():
    model, params = _fitted()
    sim = model.similar_products(k=2)
    assert not (sim["product_id"] == sim["similar_product_id"]).any()
    group = {1: "a", 2: "a", 3: "a", 4: "b", 5: "b", 6: "b"}
    assert (sim["product_id"].map(group) == sim["similar_product_id"].map(group)).all()
    assert (sim["score"] > 0).all()


# -- end to end on the tiny shop -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_conn(built_tiny, dbt_warehouse):
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as conn:
        yield conn
        conn.rollback()


def test_build_train_evaluate_predict_on_tiny(tiny_conn, tiny_world):
    as_of = dt.date.fromisoformat(json.loads((tiny_world / "world.json").read_text())["end_date"])
    params = Params()
    ts = build_training_set(tiny_conn, as_of, params)
    cutoff = dt.datetime.combine(as_of - dt.timedelta(days=30), dt.time(0), tzinfo=dt.UTC)
    assert ts.cutoff == cutoff
    assert len(ts.holdout) > 0 and len(ts.train_interactions) > 0
    assert (ts.train_interactions["last_at"] < cutoff).all()  # nothing from the holdout leaks in

    bundle = pickle.loads(pickle.dumps(train(ts, params)))
    ev = evaluate(bundle, ts, params)
    assert ev.primary_metric == "precision_at_10" and ev.higher_is_better
    for metrics in (ev.metrics, ev.baseline_metrics):
        for key in ("precision_at_10", "recall_at_10", "ndcg_at_10", "catalog_coverage"):
            assert 0.0 <= metrics[key] <= 1.0
    assert 0.0 <= ev.metrics["trending_precision_at_10"] <= 1.0
    assert ev.split["holdout_customers"] == ts.holdout["customer_id"].nunique()

    recs = predict(bundle, tiny_conn, as_of, params, model_version="v-test")
    assert list(recs.columns) == list(COLUMN_TYPES)
    customers = {r[0] for r in tiny_conn.execute("select customer_id from marts.dim_customers")}
    assert set(recs["customer_id"]) == customers  # every customer gets a list
    per_customer = recs.groupby("customer_id")
    assert per_customer.size().max() == 10 and per_customer.size().min() >= 1
    assert per_customer["rank"].apply(lambda r: r.tolist() == list(range(1, len(r) + 1))).all()
    assert per_customer["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert not recs.duplicated(["customer_id", "product_id"]).any()
    assert (recs["model_version"] == "v-test").all()
    assert recs["reason"].str.len().gt(0).all() and not recs["reason"].str.contains("@").any()

    bought = pd.DataFrame(
        tiny_conn.execute(
            """select distinct customer_id, product_id from marts.fct_order_items
               where not is_cancelled and not is_repeatable and ordered_at < %s""",
            (dt.datetime.combine(as_of, dt.time(0), tzinfo=dt.UTC),),
        ).fetchall(),
        columns=["customer_id", "product_id"],
    )
    assert len(bought) > 0
    clash = recs.merge(bought, on=["customer_id", "product_id"])
    assert clash.empty, f"bought non-repeatable products recommended: {clash.head()}"

    buyers = set(ts.full_interactions["customer_id"])
    cold = recs[~recs["customer_id"].isin(buyers)]
    assert cold.empty or cold["reason"].eq("trending").all()
    assert not recs.loc[recs["customer_id"].isin(buyers), "reason"].eq("trending").any()

    similar = predict_similar(bundle, params)
    assert list(similar.columns) == list(SIMILAR_COLUMN_TYPES)
    assert not (similar["product_id"] == similar["similar_product_id"]).any()
    assert similar.groupby("product_id").size().max() <= 10
    assert np.all(similar["score"] > 0)

    # the frames fit their tables, written inside the test's open transaction (replace_table's block is
    # then a savepoint) and rolled back by the fixture, so other tiers still see a warehouse without them
    assert tiny_conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert replace_table(tiny_conn, OUTPUT_TABLE, recs, COLUMN_TYPES) == len(recs)
    assert replace_table(tiny_conn, SIMILAR_TABLE, similar, SIMILAR_COLUMN_TYPES) == len(similar)
    (n,) = tiny_conn.execute(f"select count(distinct customer_id) from {OUTPUT_TABLE}").fetchone()
    assert n == len(customers)
