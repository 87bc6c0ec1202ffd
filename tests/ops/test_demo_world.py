"""`journey demo` keeps one simulated shop per warehouse: switching size resets it, re-running doesn't."""

from __future__ import annotations

import dataclasses
import json

import psycopg
import pytest

from ingestion.warehouse import init_warehouse
from orchestration.demo import use_one_world


@pytest.fixture
def demo_db(warehouse, local_dir):
    (local_dir / "demo_world.json").unlink(missing_ok=True)  # no shop recorded yet
    settings = dataclasses.replace(warehouse, database="journey_demo_tests")
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute("drop database if exists journey_demo_tests with (force)")
        conn.execute("create database journey_demo_tests")
    init_warehouse(settings)
    return settings


def _raw_rows(settings) -> int:
    with psycopg.connect(settings.role_url("admin")) as conn:
        if not conn.execute("select to_regclass('shopify.orders') is not null").fetchone()[0]:
            return 0
        return conn.execute("select count(*) from shopify.orders").fetchone()[0]


def _load_something(settings) -> None:
    with psycopg.connect(settings.role_url("admin")) as conn:
        conn.execute("create table if not exists shopify.orders (id text)")
        dlt_columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'shopify' "
            "and table_name = 'orders' and column_name like '\\_dlt%%'"
        )]  # fmt: skip
        columns = ", ".join(["id", *dlt_columns])
        values = ", ".join(["'gid://shopify/Order/1'", *("'x'" for _ in dlt_columns)])
        conn.execute(f"insert into shopify.orders ({columns}) values ({values})")


def test_an_empty_raw_contract_is_not_data(demo_db, tiny_world, local_dir, capsys):
    """A fresh warehouse holds the raw tables, empty: the demo must not call that another shop's data."""
    from ingestion.raw_contract import ensure_raw_tables

    ensure_raw_tables(demo_db)
    (local_dir / "demo_world.json").unlink(missing_ok=True)
    use_one_world(demo_db, tiny_world)
    assert "resetting" not in capsys.readouterr().out
    _load_something(demo_db)
    (local_dir / "demo_world.json").unlink()  # as if the rows came from elsewhere
    use_one_world(demo_db, tiny_world)  # rows nobody recorded: that is data, and it is reset
    assert "it holds raw data the demo did not record" in capsys.readouterr().out


def test_same_world_keeps_data_other_world_resets(demo_db, tiny_world, local_dir, tmp_path):
    _load_something(demo_db)
    use_one_world(demo_db, tiny_world)  # unrecorded raw data: reset, the raw contract back, empty
    assert _raw_rows(demo_db) == 0
    marker = json.loads((local_dir / "demo_world.json").read_text())
    assert (marker["size"], marker["seed"]) == ("tiny", 42)

    _load_something(demo_db)
    use_one_world(demo_db, tiny_world)  # the same shop again: nothing dropped
    assert _raw_rows(demo_db) == 1

    other = tmp_path / "other_world"
    other.mkdir()
    world = json.loads((tiny_world / "world.json").read_text())
    (other / "world.json").write_text(json.dumps({**world, "size": "small"}))
    use_one_world(demo_db, other)  # another shop: reset, and the schemas are back, empty
    assert _raw_rows(demo_db) == 0
    with psycopg.connect(demo_db.role_url("admin")) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert {"shopify", "marts", "ml"} <= schemas
