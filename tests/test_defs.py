"""Tier 4: the Dagster code location loads and holds every asset, check, job and schedule the docs promise."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from orchestration.definitions import defs

RAW_KEYS = [
    ["shopify", "orders"], ["shopify", "order_line_items"], ["shopify", "refunds"], ["shopify", "customers"],
    ["shopify", "products"], ["meta_ads", "campaigns"], ["meta_ads", "ads"], ["meta_ads", "ads_insights"],
    ["google_ads", "campaigns"], ["google_ads", "campaign_daily"], ["ga4", "daily_traffic"], ["ga4", "report_metadata"], ["events", "events"], ["order_history", "orders"], ["order_history", "order_items"],
]  # fmt: skip
MARTS = [
    "fct_orders", "fct_order_items", "dim_customers", "dim_products", "fct_sessions", "fct_funnel_daily",
    "fct_cohort_retention", "fct_attribution", "fct_campaign_performance_daily",
    "fct_channel_performance_daily", "ml_customer_features",
]  # fmt: skip
ML_TABLES = [
    "churn_scores", "ltv_predictions", "product_recommendations", "similar_products", "demand_forecast",
    "attribution_data_driven",
]  # fmt: skip


@pytest.fixture(scope="module")
def repo():
    return defs.get_repository_def()


def _all_keys(repo) -> set[tuple[str, ...]]:
    return {tuple(k.path) for k in repo.asset_graph.get_all_asset_keys()}


def test_jobs_and_schedule_present(repo):
    for job in ("ingest_job", "transform_job", "ml_job", "insights_job", "nightly_job"):
        assert repo.has_job(job), job
    schedule = repo.get_schedule_def("nightly_schedule")
    assert schedule.job_name == "nightly_job"
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_schedule_built_from_the_partitioned_nightly_job(repo):
    """Each 02:00 tick runs nightly_job for the partition of the day before (the last complete day),
    once per partition (run key), with the partition's tags resolved as the daemon resolves them."""
    nightly = repo.get_job("nightly_job")
    assert isinstance(nightly.partitions_def, dg.DailyPartitionsDefinition)
    assert repo.get_job("insights_job").partitions_def == nightly.partitions_def
    schedule = repo.get_schedule_def("nightly_schedule")
    assert schedule.execution_timezone == nightly.partitions_def.timezone
    tick = dt.datetime(2026, 3, 1, 2, 0, tzinfo=ZoneInfo(schedule.execution_timezone))
    with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repo) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-02-28"
    assert request.run_key == "2026-02-28"
    assert request.tags["dagster/partition"] == "2026-02-28"


@pytest.mark.parametrize("key", RAW_KEYS, ids=lambda k: ".".join(k))
def test_raw_assets_keyed_by_dataset_and_table(repo, key):
    """The dlt asset and the dbt source share one key, and ingest_job materializes it (not just observes)."""
    assert tuple(key) in _all_keys(repo)
    executable = repo.get_job("ingest_job").asset_layer.executable_asset_keys
    assert dg.AssetKey(key) in executable


@pytest.mark.parametrize("model", MARTS)
def test_marts_present(repo, model):
    assert any(k[-1] == model for k in _all_keys(repo)), model


def test_ml_and_insights_assets_present(repo):
    keys = _all_keys(repo)
    groups = {repo.asset_graph.get(dg.AssetKey(list(k))).group_name for k in keys}
    assert {
        "shopify",
        "order_history",
        "meta_ads",
        "google_ads",
        "ga4",
        "events",
        "staging",
        "intermediate",
        "marts",
        "ml",
        "insights",
    } <= groups
    for table in ML_TABLES:
        assert any(table in "_".join(k) for k in keys), table


def test_source_checks_present(repo):
    """Checks the source connectors add beside the dbt tests (non-blocking WARNs on raw tables)."""
    checks = repo.asset_graph.asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["ga4", "daily_traffic"]), "report_complete") in checks


def test_dbt_tests_are_asset_checks(repo):
    checks = repo.asset_graph.asset_check_keys
    assert len(checks) > 20
    assert any(c.asset_key.path[-1] == "fct_attribution" for c in checks)


def test_every_job_resolves(repo):
    nightly = repo.get_job("nightly_job")
    assert len(nightly.asset_layer.executable_asset_keys) >= len(RAW_KEYS) + len(MARTS)
