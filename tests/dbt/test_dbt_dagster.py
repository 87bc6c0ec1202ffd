"""Tier 4 for the transform domain: the dbt project as Dagster assets, checks and lineage."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.defs.transform import dbt_model_key, journey_dbt_assets
from orchestration.defs.transform.project import dbt_project, manifest_is_stale

RAW_SOURCES = [
    ("shopify", "orders"), ("shopify", "order_line_items"), ("shopify", "refunds"), ("shopify", "customers"),
    ("shopify", "products"), ("order_history", "orders"), ("order_history", "order_items"),
    ("meta_ads", "ads_insights"),
    ("meta_ads", "campaigns"), ("ga4", "daily_traffic"), ("events", "events"),
]  # fmt: skip


@pytest.fixture(scope="module")
def graph():
    return defs.get_repository_def().asset_graph


def test_manifest_is_current():
    assert dbt_project.manifest_path.exists()
    assert not manifest_is_stale(dbt_project)


def test_groups_follow_the_model_folders(graph):
    assert graph.get(dbt_model_key("stg_shopify__orders")).group_name == "staging"
    assert graph.get(dbt_model_key("int_sessions_aggregated")).group_name == "intermediate"
    assert graph.get(dbt_model_key("fct_attribution")).group_name == "marts"
    assert graph.get(dg.AssetKey(["staging", "channel_rules"])).group_name == "seeds"


def test_marts_keyed_by_schema_and_name():
    assert dbt_model_key("ml_customer_features") == dg.AssetKey(["marts", "ml_customer_features"])
    assert dbt_model_key("fct_orders") == dg.AssetKey(["marts", "fct_orders"])


@pytest.mark.parametrize("source", RAW_SOURCES, ids=lambda s: ".".join(s))
def test_sources_are_the_loader_assets(graph, source):
    """Staging depends on `[dataset, table]`, the key of the asset that lands the raw table."""
    key = dg.AssetKey(list(source))
    dataset, table = source
    stg = dbt_model_key(f"stg_{dataset}__{table}")
    assert key in graph.get(stg).parent_keys


def test_dbt_tests_are_asset_checks(graph):
    checks = {c for c in graph.asset_check_keys if c.asset_key in journey_dbt_assets.keys}
    on_attribution = {c.name for c in checks if c.asset_key == dbt_model_key("fct_attribution")}
    assert len(checks) > 100
    assert "assert_attribution_credits_sum_to_one" in on_attribution
    assert "assert_attributed_revenue_matches_orders" in on_attribution
    assert any(c.name == "assert_features_are_point_in_time" for c in checks)


def test_transform_job_runs_every_dbt_asset():
    job = defs.get_repository_def().get_job("transform_job")
    assert set(journey_dbt_assets.keys) <= set(job.asset_layer.executable_asset_keys)
