"""ML tier fixtures: the dbt-built tiny shop copied into warehouses with fewer sources (see copies.py)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from ingestion.warehouse import WarehouseSettings
from tests.ml.copies import copy_database, empty_tables

# what a shop with orders (and line items) but no tracked web events and no ad platform builds
NO_JOURNEY_TABLES = (
    "events.events",
    "intermediate.int_identities_resolved",
    "intermediate.int_sessions_aggregated",
    "intermediate.int_touchpoints_collected",
    "intermediate.int_touchpoints_weighted",
    "marts.fct_sessions",
    "marts.fct_attribution",
    "marts.fct_funnel_daily",
    "marts.fct_campaign_performance_daily",
)


@pytest.fixture(scope="session")
def tiny_as_of(tiny_world: Path) -> str:
    """The tiny shop's 'today' (its data ends the day before)."""
    return json.loads((tiny_world / "world.json").read_text())["end_date"]


@pytest.fixture(scope="session")
def empty_marts(built_tiny, dbt_warehouse: WarehouseSettings) -> WarehouseSettings:
    """Every relation of the dbt build, no rows: a shop before its first load, or without sources."""
    return copy_database(dbt_warehouse, "journey_ml_empty", schema_only=True)


@pytest.fixture(scope="session")
def order_history_only(built_tiny, dbt_warehouse: WarehouseSettings) -> WarehouseSettings:
    """The tiny shop's orders and line items without tracked events, ad platforms or a product
    taxonomy (every product 'uncategorised'): what an imported order history builds."""
    return order_history_copy(dbt_warehouse, "journey_ml_order_history")


def order_history_copy(dbt_warehouse: WarehouseSettings, database: str) -> WarehouseSettings:
    """A copy of the tiny build named `database` as an imported order history builds it: orders and
    line items, no tracked events, no ad platforms, every product 'uncategorised'."""
    settings = copy_database(dbt_warehouse, database, schema_only=False)
    empty_tables(settings, *NO_JOURNEY_TABLES)
    with psycopg.connect(settings.role_url("admin"), autocommit=True) as conn:
        conn.execute("update marts.dim_products set category = 'uncategorised'")
        conn.execute("update marts.fct_order_items set category = 'uncategorised'")
    return settings
