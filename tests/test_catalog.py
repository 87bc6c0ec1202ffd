"""Tier 4: the metadata a data engineer reads in the Dagster UI, checked on the definitions alone (no
run): descriptions, owners and tags on every asset, a description on every check, PII tags where raw
personal data lands, column schemas on dbt models, source tests as checks, bounded insights partitions.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from ingestion.raw_contract import contract_tables
from ingestion.sources import SOURCES
from orchestration.definitions import defs
from orchestration.defs.insights.partitions import (
    build_insights_partitions,
    nightly_partition_key,
    partition_for_night,
)
from orchestration.defs.shared.catalog import GROUPS, PII_TABLES
from orchestration.defs.transform.project import dbt_project
from orchestration.defs.transform.translator import describe_test

# raw columns that hold a person's data in clear text
PERSONAL_COLUMNS = {"email", "phone", "first_name", "last_name", "city"}


@pytest.fixture(scope="module")
def graph():
    return defs.get_repository_def().asset_graph


@pytest.fixture(scope="module")
def manifest():
    return json.loads(dbt_project.manifest_path.read_text())


def _assets(graph) -> list:
    return [graph.get(key) for key in graph.get_all_asset_keys()]


def test_every_asset_has_a_real_description_owner_and_tags(graph):
    missing = {}
    for node in _assets(graph):
        description = (node.description or "").strip()
        problems = [
            *(["no description"] if not description else []),
            *(["placeholder description"] if description.startswith(("dbt model ", "dbt seed ")) else []),
            *(["no owner"] if not node.owners else []),
            *([f"no {tag} tag"] for tag in ("tier", "domain") if tag not in node.tags),
            *(["group default"] if node.group_name == "default" else []),
        ]
        if problems:
            missing[node.key.to_user_string()] = problems
    assert not missing


def test_owners_follow_the_group_table(graph):
    for node in _assets(graph):
        assert list(node.owners) == [GROUPS[node.group_name].owner], node.key
        assert node.tags["tier"] == GROUPS[node.group_name].tier, node.key
    assert graph.get(dg.AssetKey(["marts", "fct_orders"])).owners == ["team:analytics"]
    assert graph.get(dg.AssetKey(["marts", "fct_orders"])).tags["domain"] == "commerce"
    assert graph.get(dg.AssetKey(["marts", "fct_attribution"])).tags["domain"] == "marketing"


def test_every_check_has_a_description(graph):
    undescribed = [
        k.to_user_string() for k in graph.asset_check_keys if not graph.get_check_spec(k).description
    ]
    assert not undescribed


def test_raw_tables_with_personal_data_are_tagged_pii(graph):
    """The tag follows the raw contract's columns, so a new email column cannot land untagged."""
    expected = {
        (source.name, table)
        for source in SOURCES
        if source.contract is not None
        for table, schema in contract_tables(source.name).items()
        if PERSONAL_COLUMNS & set(schema["columns"])
    }
    assert expected == {t for t in PII_TABLES if t[0] != "events"}
    for dataset, table in PII_TABLES:
        assert graph.get(dg.AssetKey([dataset, table])).tags.get("pii") == "true", (dataset, table)
    clean = graph.get(dg.AssetKey(["shopify", "products"])).tags
    assert "pii" not in clean


def test_models_hashing_personal_data_are_tagged_hashed(graph):
    assert graph.get(dg.AssetKey(["staging", "stg_shopify__customers"])).tags.get("pii") == "hashed"
    assert "pii" not in graph.get(dg.AssetKey(["marts", "dim_customers"])).tags


def test_dlt_tables_have_their_own_descriptions(graph):
    for group in ("shopify", "meta_ads", "google_ads", "ga4", "order_history", "events"):
        nodes = [n for n in _assets(graph) if n.group_name == group]
        descriptions = [n.description for n in nodes]
        assert len(set(descriptions)) == len(nodes) > 1, group


def test_loaded_files_is_a_declared_events_asset(graph):
    node = graph.get(dg.AssetKey(["events", "loaded_files"]))
    assert node.is_materializable and node.group_name == "events"


def test_dbt_models_have_their_yaml_columns_at_definition_time(graph, manifest):
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or not node["columns"]:
            continue
        key = dg.AssetKey([node["schema"], node["name"]])
        schema = graph.get(key).metadata.get("dagster/column_schema")
        assert schema is not None, key
        names = {c.name for c in schema.columns}
        assert set(node["columns"]) <= names, key
        documented = {c.name: c.description for c in schema.columns if c.description}
        assert all(
            documented.get(n) == c["description"] for n, c in node["columns"].items() if c["description"]
        )


def test_source_tests_are_checks_on_the_raw_assets(graph):
    key = dg.AssetCheckKey(dg.AssetKey(["shopify", "orders"]), "source_unique_shopify_orders_id")
    assert key in graph.asset_check_keys
    assert graph.get_check_spec(key).description == "shopify.orders.id is unique"
    on_raw = [k for k in graph.asset_check_keys if k.name.startswith("source_")]
    assert {k.asset_key.path[0] for k in on_raw} == {
        "shopify",
        "meta_ads",
        "google_ads",
        "ga4",
        "events",
        "order_history",
        "activation",  # the segment snapshots the Python asset writes, read by dbt as a source
    }


def _generic(name: str, **kwargs) -> dict:
    return {"name": f"{name}_x", "test_metadata": {"name": name, "kwargs": kwargs}, "config": {}}


@pytest.mark.parametrize(
    ("test", "sentence"),
    [
        (_generic("unique", column_name="order_id"), "fct_orders.order_id is unique"),
        (_generic("not_null", column_name="customer_id"), "fct_orders.customer_id is never null"),
        (
            _generic("accepted_values", column_name="status", values=["paid", "refunded"]),
            "fct_orders.status is one of: paid, refunded",
        ),
        (
            _generic(
                "relationships", column_name="customer_id", to="ref('dim_customers')", field="customer_id"
            ),
            "relationship: fct_orders.customer_id -> dim_customers.customer_id (every customer_id exists there)",
        ),
        (
            _generic("relationships", column_name="order_id", to="source('shopify', 'orders')", field="id"),
            "relationship: fct_orders.order_id -> shopify.orders.id (every order_id exists there)",
        ),
        (
            _generic("at_most", column_name="purchases", other_column="sessions"),
            "fct_orders.purchases <= sessions on every row where both are set",
        ),
        (
            _generic("unique_combination_of_columns", combination_of_columns=["date_day", "channel"]),
            "one row per (date_day, channel) in fct_orders",
        ),
        (
            {**_generic("not_null", column_name="session_id"), "config": {"where": "source = 'tracked'"}},
            "fct_orders.session_id is never null (rows where source = 'tracked')",
        ),
        ({**_generic("unique", column_name="x"), "description": "  said in YAML\n"}, "said in YAML"),
        (
            {"name": "assert_x", "raw_code": "-- Credits sum to 1\n-- under every model.\nselect 1"},
            "Credits sum to 1 under every model.",
        ),
    ],
)
def test_check_descriptions_say_what_the_test_asserts(test, sentence):
    assert describe_test(test, "fct_orders") == sentence


def test_insights_partitions_end_at_the_sandbox_end_date(monkeypatch):
    """With JOURNEY_AS_OF set when the code loads, the last run date is its day before (the nightly
    partition); unset, they run to yesterday by the wall clock."""
    monkeypatch.setenv("INSIGHTS_START_DATE", "2025-01-01")
    monkeypatch.setenv("JOURNEY_AS_OF", "2025-06-29T00:00:00")
    bounded = build_insights_partitions()
    assert bounded.get_last_partition_key() == partition_for_night(dt.date(2025, 6, 29)) == "2025-06-28"
    assert len(bounded.get_partition_keys()) == 179
    monkeypatch.delenv("JOURNEY_AS_OF")
    tz = ZoneInfo(build_insights_partitions().timezone)
    yesterday = partition_for_night(dt.datetime.now(tz).date())
    assert build_insights_partitions().get_last_partition_key() == yesterday


def test_nightly_partition_key_names_the_bound():
    with pytest.raises(ValueError, match="no insights partition 2999-12-31"):
        nightly_partition_key("3000-01-01")
