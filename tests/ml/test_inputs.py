"""Each model's input check (ml.core.InsufficientData) and fallback, on empty and on too-small inputs.

Every source is optional, so a model may find its marts empty or too small. Then it must say why it
cannot train (a reason and the counts behind it), never fail with a KeyError deep inside a fit. The
thresholds are live on real data: raised above what the tiny shop has, the same check skips it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml import attribution, churn, forecast, ltv, recommendations
from ml.core import InsufficientData
from ml.forecast.data import TOTAL
from ml.recommendations.pipeline import TrainingSet as RecTrainingSet
from ml.recommendations.pipeline import fit, require_enough


@pytest.fixture(scope="module")
def tiny(built_tiny, dbt_warehouse):
    with psycopg.connect(dbt_warehouse.role_url("transformer")) as conn:
        yield conn


@pytest.fixture(scope="module")
def empty(empty_marts):
    with psycopg.connect(empty_marts.role_url("transformer")) as conn:
        yield conn


@pytest.fixture(scope="module")
def orders_only(order_history_only):
    with psycopg.connect(order_history_only.role_url("transformer")) as conn:
        yield conn


@pytest.fixture(scope="module")
def as_of(tiny_as_of) -> dt.date:
    return dt.date.fromisoformat(tiny_as_of)


def _skip(build, *args) -> InsufficientData:
    with pytest.raises(InsufficientData) as info:
        build(*args)
    assert info.value.reason and str(info.value) == info.value.reason
    return info.value


# -- every package on empty marts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pkg", "says", "counts"),
    [
        (churn, "marts.ml_customer_features has no snapshot", {"snapshots": 0}),
        (ltv, "marts.ml_customer_features has no snapshot", {"snapshots": 0}),
        (recommendations, "marts.dim_products holds 0 products", {"catalog_products": 0}),
        (forecast, "marts.fct_order_items has no sales", {"history_days": 0}),
        (attribution, "marts.fct_sessions has no session", {"sessions": 0, "attributed_orders": 0}),
    ],
    ids=["churn", "ltv", "recommendations", "forecast", "attribution"],
)
def test_every_model_skips_on_empty_marts_with_its_reason(empty, as_of, pkg, says, counts):
    skip = _skip(pkg.build_training_set, empty, as_of, pkg.Params())
    assert says in skip.reason, skip.reason
    assert counts.items() <= skip.counts().items(), skip.facts


def test_limits_are_facts_but_not_counts():
    skip = InsufficientData("why", holdout_customers=3, min_holdout_customers=20, required_days=42, first="x")
    assert skip.counts() == {"holdout_customers": 3}
    assert skip.facts["min_holdout_customers"] == 20 and skip.facts["first"] == "x"


# -- churn and LTV ---------------------------------------------------------------------------------


def test_churn_and_ltv_skip_without_a_complete_label_window(tiny):
    early = dt.date(2025, 1, 15)  # snapshots 2024-12-01 and 2025-01-01: no 90-day window is closed yet
    for pkg in (churn, ltv):
        skip = _skip(pkg.build_training_set, tiny, early, pkg.Params())
        assert "complete 90-day horizon" in skip.reason, skip.reason
        assert skip.facts["snapshots"] == 2 and skip.facts["required_horizon_days"] == 90


def test_churn_needs_both_classes_on_both_sides():
    both = np.array([1] * 12 + [0] * 10)
    churn.model.require_both_classes(both, both, 10)  # enough: no exception
    skip = _skip(churn.model.require_both_classes, both, np.array([1] * 40 + [0] * 3), 10)
    assert "validation: 40 churned / 3 retained" in skip.reason and "train:" not in skip.reason
    assert skip.counts() == {
        "train_rows": 22, "train_churned": 12, "train_retained": 10,
        "validation_rows": 43, "validation_churned": 40, "validation_retained": 3,
    }  # fmt: skip
    skip = _skip(churn.model.require_both_classes, np.ones(50), both, 10)  # every customer churned
    assert "train: 50 churned / 0 retained" in skip.reason


def test_churn_class_threshold_is_live_on_the_tiny_shop(tiny, as_of):
    churn.build_training_set(tiny, as_of, churn.Params())  # 41 churned / 25 retained in training
    skip = _skip(churn.build_training_set, tiny, as_of, churn.Params(min_class_rows=30))
    assert skip.facts["train_retained"] < 30 <= skip.facts["validation_retained"], skip.facts


def test_ltv_needs_buyers_and_repeat_customers():
    stats = pd.DataFrame({"x": [0.0] * 20 + [1.0] * 12})
    spend = np.array([0.0] * 5 + [30.0] * 10)
    ltv.model.require_buyers(spend, spend, stats, 90, 10)  # enough: no exception
    skip = _skip(ltv.model.require_buyers, spend, np.zeros(40), stats, 90, 10)
    assert "validation rows with revenue in the horizon 0" in skip.reason
    assert skip.counts()["validation_buyers"] == 0 and skip.counts()["repeat_customers"] == 12
    skip = _skip(ltv.model.require_buyers, spend, spend, stats.assign(x=0.0), 90, 10)
    assert "customers with a repeat purchase 0" in skip.reason


def test_ltv_buyer_threshold_is_live_on_the_tiny_shop(tiny, as_of):
    skip = _skip(ltv.build_training_set, tiny, as_of, ltv.Params(min_buyers=40))
    assert "training rows with revenue in the horizon" in skip.reason  # 25 buyers in training
    assert skip.facts["validation_buyers"] >= 40 > skip.facts["train_buyers"], skip.facts


# -- recommendations ---------------------------------------------------------------------------------

END = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
CUTOFF = END - dt.timedelta(days=30)


def _products(created: list[str | None]) -> pd.DataFrame:
    ids = list(range(1, len(created) + 1))
    return pd.DataFrame({
        "product_id": ids, "product_title": [f"Product {i}" for i in ids],
        "category": ["uncategorised"] * len(ids), "is_repeatable": [False] * len(ids),
        "product_status": ["active"] * len(ids), "created_at": pd.to_datetime(created, utc=True),
    })  # fmt: skip


def _interactions(pairs: list[tuple[int, int]], at: dt.datetime) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [c for c, _ in pairs], "product_id": [p for _, p in pairs],
        "purchases": 1, "recent_purchases": 0, "carts": 0, "views": 0, "last_at": at,
    })  # fmt: skip


def _rec_set(products, train_pairs, holdout_pairs) -> RecTrainingSet:
    train = _interactions(train_pairs, CUTOFF - dt.timedelta(days=5))
    full = pd.concat([train, _interactions(holdout_pairs, END - dt.timedelta(days=5))], ignore_index=True)
    holdout = pd.DataFrame(holdout_pairs, columns=["customer_id", "product_id"])
    return RecTrainingSet(
        as_of=END.date(), cutoff=CUTOFF, end=END, products=products,
        train_interactions=train, full_interactions=full, holdout=holdout,
    )  # fmt: skip


def test_recommendations_need_multi_product_histories_and_holdout_buyers():
    products = _products(["2024-01-01"] * 3)
    params = recommendations.Params()
    pairs = [(c, p) for c in range(10, 22) for p in (1, 2)]  # 12 customers with two products each
    holdout = [(c, 3) for c in range(100, 125)]  # 25 holdout buyers
    require_enough(_rec_set(products, pairs, holdout), params)  # enough: no exception
    single = [(c, 1) for c in range(10, 40)]  # 30 customers, one product each: no co-occurrence
    skip = _skip(require_enough, _rec_set(products, single, holdout), params)
    assert "0 customers have two or more products" in skip.reason
    assert skip.counts()["multi_product_customers"] == 0 and skip.facts["min_multi_product_customers"] == 10
    skip = _skip(require_enough, _rec_set(products, pairs, holdout[:5]), params)
    assert "5 customers bought a catalog product in the 30-day holdout" in skip.reason
    skip = _skip(require_enough, _rec_set(products.head(1), pairs, holdout), params)
    assert "marts.dim_products holds 1 products" in skip.reason


def test_recommendations_skip_when_neither_model_nor_popularity_hits_the_holdout():
    """Every holdout purchase is of a product launched after the cut-off, which neither list may
    show: precision 0 vs 0 cannot tell the recipes apart, so it is a skip, not a lost promotion."""
    products = _products(
        ["2024-01-01", "2024-01-01", "2024-01-01", str(CUTOFF.date() + dt.timedelta(days=3))]
    )
    params = recommendations.Params()
    ts = _rec_set(
        products, [(c, p) for c in range(10, 30) for p in (1, 2, 3)], [(c, 4) for c in range(100, 125)]
    )
    require_enough(ts, params)
    bundle = recommendations.train(ts, params)
    skip = _skip(recommendations.evaluate, bundle, ts, params)
    assert "precision_at_10 0 vs 0" in skip.reason and skip.counts()["holdout_customers"] == 25


def test_products_without_a_launch_date_can_be_recommended():
    model = fit(
        _interactions([(1, 1)], CUTOFF), _products([None, "2024-01-01"]), END, recommendations.Params()
    )
    assert model.available.tolist() == [True, True]


def test_recommendations_holdout_threshold_is_live_on_the_tiny_shop(tiny, as_of):
    skip = _skip(
        recommendations.build_training_set, tiny, as_of, recommendations.Params(min_holdout_customers=500)
    )
    assert 20 <= skip.counts()["holdout_customers"] < 500 and skip.counts()["multi_product_customers"] >= 10


# -- forecast ----------------------------------------------------------------------------------------


def test_forecast_skips_a_history_too_short_to_backtest(tiny):
    early = dt.date(2024, 12, 1)  # first sale 2024-11-02: 29 days, the backtest needs 28 + 14
    skip = _skip(forecast.build_training_set, tiny, early, forecast.Params())
    assert skip.counts() == {"history_days": 29} and skip.facts["required_days"] == 42
    assert "29 days of sales history" in skip.reason
    forecast.build_training_set(tiny, early, forecast.Params(backtest_horizon_days=14))  # 29 >= 14 + 14


def test_forecast_without_a_taxonomy_is_the_total_alone(tiny, orders_only, as_of):
    categorised = forecast.build_training_set(tiny, as_of, forecast.Params())
    total_only = forecast.build_training_set(orders_only, as_of, forecast.Params())
    assert len(categorised.categories) > 2 and total_only.categories == [TOTAL]
    pd.testing.assert_frame_equal(total_only.series(TOTAL, "units"), categorised.series(TOTAL, "units"))
    pd.testing.assert_frame_equal(total_only.series(TOTAL, "revenue"), categorised.series(TOTAL, "revenue"))


# -- attribution -------------------------------------------------------------------------------------


def test_attribution_needs_sessions_conversions_and_non_converting_journeys(tiny, orders_only, as_of):
    skip = _skip(attribution.build_training_set, orders_only, as_of, attribution.Params())
    assert "no tracked web events" in skip.reason and skip.counts()["sessions"] == 0
    sessions = pd.DataFrame({"visitor": ["a1"], "session_start": [pd.Timestamp("2025-01-01", tz="UTC")]})
    no_orders = pd.DataFrame({"order_id": pd.Series([], dtype="int64")})
    skip = _skip(attribution.paths.require_journeys, tiny, as_of, no_orders, sessions)  # events only
    assert "marts.fct_attribution has no attributed order" in skip.reason
    assert skip.counts()["sessions"] > 0 and skip.counts()["attributed_orders"] == 0
    touches = pd.DataFrame({"order_id": [7, 7, 8]})
    skip = _skip(attribution.paths.require_journeys, tiny, as_of, touches, sessions.iloc[0:0])
    assert "journeys that did not convert" in skip.reason and skip.counts()["attributed_orders"] == 2
