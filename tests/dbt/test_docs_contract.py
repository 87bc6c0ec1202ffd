"""The marts' documented contract: every mart and every column described in its YAML, the YAML's
names and types enforced as dbt model contracts, and the descriptions persisted as Postgres comments
(what psql's `\\d+` and Metabase's data model show). The manifest tests need no warehouse; the others
read the catalog of the tiny shop's build as `reporter`, the role analysts query with."""

from __future__ import annotations

import json

import psycopg
import pytest

from orchestration.defs.transform import dbt_model_key
from orchestration.defs.transform.project import dbt_project

# marts whose columns follow the data (no YAML entry can name them): no contract, a post-hook comments
# the generated columns (macros/comment_generated_columns.sql)
GENERATED = {"ml_customer_features": "category_share_"}
COLUMNS = """
    select table_name, column_name, data_type,
           col_description(format('%I.%I', table_schema, table_name)::regclass, ordinal_position)
    from information_schema.columns where table_schema = 'marts' order by table_name, ordinal_position
"""


@pytest.fixture(scope="module")
def marts() -> dict[str, dict]:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }


def test_every_mart_and_column_has_a_description(marts):
    assert len(marts) >= 12
    undescribed = [
        f"{name}.{column}"
        for name, node in marts.items()
        for column, props in node["columns"].items()
        if not (props.get("description") or "").strip()
    ]
    assert undescribed == []
    assert [name for name, node in marts.items() if not node["description"].strip()] == []


def test_marts_persist_docs_and_enforce_their_contract(marts):
    for name, node in marts.items():
        config = node["config"]
        assert config["persist_docs"] == {"relation": True, "columns": True}, name
        assert config["contract"]["enforced"] is (name not in GENERATED), name
        if name not in GENERATED:
            assert all(props.get("data_type") for props in node["columns"].values()), name


def test_rates_are_fractions_named_rate(marts):
    """One scale: no `_pct` columns; rates are 0-1 and named `_rate` (fct_cohort_retention.retention_rate)."""
    assert [f"{n}.{c}" for n, node in marts.items() for c in node["columns"] if c.endswith("_pct")] == []
    assert "retention_rate" in marts["fct_cohort_retention"]["columns"]


def test_dagster_shows_every_documented_column():
    from orchestration.definitions import defs

    spec = defs.get_repository_def().asset_graph.get(dbt_model_key("fct_orders"))
    schema = spec.metadata["dagster/column_schema"]
    described = {column.name: column.description for column in schema.columns}
    assert len(described) >= 37 and all(described.values())
    assert "net_sales - cogs" in described["contribution_margin"]


def _catalog(warehouse) -> list[tuple[str, str, str, str | None]]:
    with psycopg.connect(warehouse.role_url("reporter")) as conn:
        return conn.execute(COLUMNS).fetchall()


def test_the_yaml_lists_exactly_the_built_columns(built_tiny, raw_tiny, marts):
    built: dict[str, list[str]] = {}
    for table, column, _, _ in _catalog(raw_tiny):
        built.setdefault(table, []).append(column)
    assert set(built) == set(marts)
    for name, columns in built.items():
        prefix = GENERATED.get(name)
        fixed = [c for c in columns if not (prefix and c.startswith(prefix))]
        assert fixed == list(marts[name]["columns"]), name
        if prefix:
            assert len(fixed) < len(columns), f"{name}: no {prefix}* column built"


def test_every_mart_column_carries_its_description_as_a_comment(built_tiny, raw_tiny, marts):
    catalog = _catalog(raw_tiny)
    assert [f"{t}.{c}" for t, c, _, comment in catalog if not comment] == []
    comments = {(t, c): comment for t, c, _, comment in catalog}
    for name, node in marts.items():
        for column, props in node["columns"].items():
            assert comments[(name, column)] == props["description"], f"{name}.{column}"
    generated = [comment for (t, c), comment in comments.items() if c.startswith("category_share_")]
    assert generated and all("product category" in comment for comment in generated)
    with psycopg.connect(raw_tiny.role_url("reporter")) as conn:
        tables = conn.execute(
            "select c.relname, obj_description(c.oid, 'pg_class') from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'marts' and c.relkind = 'r'"
        ).fetchall()
    assert {t for t, _ in tables} == set(marts)
    assert [t for t, comment in tables if not comment] == []
