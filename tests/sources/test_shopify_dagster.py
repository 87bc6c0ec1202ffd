"""Tier 2/4: the Shopify `@dlt_assets` materialize against the emulator (as `ingest_job` runs them),
report row counts per table, stay idempotent, show a served API version that differs from the asked one
as a notice on every table, refuse a selection that splits a cursor family, and stay idle (succeeding,
saying what to set) when Shopify is not configured."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster_dlt import DagsterDltResource

from ingestion.shopify.pipeline import PIPELINE_NAME
from orchestration.defs.shared.resources import Warehouse
from orchestration.defs.shopify.assets import shopify_assets
from orchestration.defs.shopify.resources import ShopifyApi
from tests.sources._meta_ga4_fixtures import duplicate_keys, emulator, query, reset_dataset

TABLES = (
    "orders", "order_line_items", "refunds", "refund_line_items", "customers", "products", "product_variants",
)  # fmt: skip


@pytest.fixture(scope="module")
def shop(tiny_world: Path, warehouse) -> Iterator[dict]:
    with emulator("shopify", tiny_world) as (_url, env, faults):
        saved = os.environ.get("SHOPIFY_BACKOFF_SECONDS")
        os.environ["SHOPIFY_BACKOFF_SECONDS"] = "0.01"
        reset_dataset(warehouse, "shopify", PIPELINE_NAME)
        try:
            yield {"env": env, "faults": faults, "warehouse": warehouse}
        finally:
            if saved is None:
                os.environ.pop("SHOPIFY_BACKOFF_SECONDS", None)
            else:
                os.environ["SHOPIFY_BACKOFF_SECONDS"] = saved
            reset_dataset(warehouse, "shopify", PIPELINE_NAME)


def _resources(shop: dict, **api: str) -> dict:
    return {
        "warehouse": Warehouse(port=shop["warehouse"].port),
        "shopify_dlt": DagsterDltResource(),
        "shopify_api": ShopifyApi(
            api_url=shop["env"]["SHOPIFY_API_URL"],
            client_id=shop["env"]["SHOPIFY_CLIENT_ID"],
            client_secret=shop["env"]["SHOPIFY_CLIENT_SECRET"],
            **api,
        ),
    }


def _row_counts(result: dg.ExecuteInJobResult) -> dict[str, int | None]:
    return {
        m.asset_key.path[-1]: m.metadata["dagster/row_count"].value
        for m in result.asset_materializations_for_node("shopify")
        if "dagster/row_count" in m.metadata
    }


def test_assets_materialize_twice_and_report_rows(shop):
    first = dg.materialize([shopify_assets], resources=_resources(shop))
    assert first.success
    keys = {tuple(m.asset_key.path) for m in first.asset_materializations_for_node("shopify")}
    assert keys == {("shopify", t) for t in TABLES}
    counts = _row_counts(first)
    for table in TABLES:
        assert counts[table] == query(f"select count(*) from shopify.{table}")[0][0] > 0, table
    second = dg.materialize([shopify_assets], resources=_resources(shop))
    assert second.success
    assert {t: n for t, n in _row_counts(second).items() if t in TABLES} == {t: counts[t] for t in TABLES}
    for table in TABLES:
        assert duplicate_keys("shopify", table, ("id",)) == 0, table
    assert all(
        m.metadata["notice_count"].value == 0 for m in second.asset_materializations_for_node("shopify")
    )


def test_a_served_version_that_differs_is_a_notice_on_every_table(shop):
    result = dg.materialize([shopify_assets], resources=_resources(shop, api_version="2025-01"))
    assert result.success
    materializations = result.asset_materializations_for_node("shopify")
    assert {m.asset_key.path[-1] for m in materializations} == set(TABLES)
    for m in materializations:
        assert m.metadata["notice_count"].value == 1, m.asset_key
        text = m.metadata["notices"].value
        assert "**api_version_mismatch**" in text and "asked for Admin API version 2025-01" in text
        assert "Shopify served 2026-01" in text


def test_selecting_part_of_a_cursor_family_fails_with_the_family(shop):
    result = dg.materialize(
        [shopify_assets],
        resources=_resources(shop),
        selection=[dg.AssetKey(["shopify", "orders"]), dg.AssetKey(["shopify", "customers"])],
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("shopify")
    assert "select all of orders, order_line_items, refunds, refund_line_items" in str(failure.error)


def test_unconfigured_shopify_is_idle_and_says_why(shop, monkeypatch):
    for var in ("SHOPIFY_API_URL", "SHOPIFY_ACCESS_TOKEN", "SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    before = {t: query(f"select count(*) from shopify.{t}")[0][0] for t in TABLES}
    resources = {**_resources(shop), "shopify_api": ShopifyApi()}
    result = dg.materialize([shopify_assets], resources=resources)
    assert result.success
    materializations = result.asset_materializations_for_node("shopify")
    assert {m.asset_key.path[-1] for m in materializations} == set(TABLES)
    for m in materializations:
        assert m.metadata["source_configured"].value is False
        assert m.metadata["not_configured_because"].value == (
            "set SHOPIFY_API_URL, SHOPIFY_CLIENT_ID, SHOPIFY_CLIENT_SECRET (a Dev Dashboard app), or "
            "SHOPIFY_ACCESS_TOKEN (a legacy custom app)"
        )
        assert m.metadata["dagster/row_count"].value == before[m.asset_key.path[-1]]
    assert {t: query(f"select count(*) from shopify.{t}")[0][0] for t in TABLES} == before
