"""Tier 5: nightly_job materializes everything on the tiny shop into a real Postgres, idempotently,
and the marts hold the invariants the analysts rely on."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.e2e

RAW = ["shopify.orders", "shopify.customers", "shopify.products", "meta_ads.ads_insights", "meta_ads.campaigns",
       "ga4.daily_traffic", "events.events"]  # fmt: skip
MARTS = ["marts.fct_orders", "marts.fct_order_items", "marts.dim_customers", "marts.dim_products",
         "marts.fct_sessions", "marts.fct_funnel_daily", "marts.fct_cohort_retention", "marts.fct_attribution",
         "marts.fct_campaign_performance_daily", "marts.fct_channel_performance_daily",
         "marts.ml_customer_features"]  # fmt: skip
ML = ["ml.churn_scores", "ml.ltv_predictions", "ml.product_recommendations", "ml.similar_products",
      "ml.demand_forecast", "ml.attribution_data_driven", "ml.model_runs"]  # fmt: skip


def _failures(result) -> list[str]:
    return [f"{e.step_key}: {e.event_specific_data.error.message[:300]}" for e in result.all_events
            if e.event_type_value == "STEP_FAILURE"]  # fmt: skip


def test_nightly_job_succeeds_twice(nightly):
    assert nightly["first"].success, _failures(nightly["first"])
    assert nightly["second"].success, _failures(nightly["second"])


@pytest.mark.parametrize("table", RAW + MARTS + ML + ["insights.llm_insights"])
def test_every_table_populated(nightly, table):
    assert nightly["counts_first"].get(table, 0) > 0, f"{table} is empty or missing"


def test_second_run_changes_no_raw_or_mart_counts(nightly):
    for table in RAW + MARTS:
        assert nightly["counts_second"][table] == nightly["counts_first"][table], table


def test_orders_reconcile_with_the_simulated_shop(nightly, warehouse):
    world_orders = nightly["world"]["counts"]["orders"]
    with psycopg.connect(warehouse.role_url("admin")) as conn:
        shopify = conn.execute("select count(*) from shopify.orders").fetchone()[0]
        marts = conn.execute("select count(*) from marts.fct_orders").fetchone()[0]
    assert shopify == world_orders
    assert marts >= shopify  # imported history may add orders, never remove


def test_attribution_credits_sum_to_one(nightly, warehouse):
    with psycopg.connect(warehouse.role_url("reporter")) as conn:
        bad = conn.execute(
            "select order_id, model, sum(credit) from marts.fct_attribution group by 1, 2 "
            "having abs(sum(credit) - 1) > 1e-6"
        ).fetchall()
        models = {r[0] for r in conn.execute("select distinct model from marts.fct_attribution")}
    assert not bad
    assert {
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "time_decay",
        "position_based",
    } <= models


def test_churn_probabilities_and_recommendations(nightly, warehouse):
    with psycopg.connect(warehouse.role_url("reporter")) as conn:
        lo, hi = conn.execute(
            "select min(churn_probability), max(churn_probability) from ml.churn_scores"
        ).fetchone()
        published = conn.execute(
            "select count(*) from insights.llm_insights where generator = 'rules' and status = 'published'"
        ).fetchone()[0]
    assert 0 <= lo <= hi <= 1
    assert published > 0


def test_reporter_cannot_read_raw_or_staging(nightly, warehouse):
    with psycopg.connect(warehouse.role_url("reporter"), autocommit=True) as conn:
        for table in ("shopify.customers", "events.events", "staging.stg_shopify__customers"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select * from {table} limit 1")
        hashed = conn.execute(
            "select table_schema || '.' || table_name || '.' || column_name from information_schema.columns "
            "where table_schema in ('marts', 'ml', 'insights') and (column_name like '%%email%%' or column_name like '%%phone%%')"
        ).fetchall()
    assert not hashed, f"reporter-visible columns that hold contact data: {hashed}"
