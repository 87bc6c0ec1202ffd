"""`journey demo` keeps one simulated shop per warehouse: switching size resets it, re-running doesn't."""

from __future__ import annotations

import dataclasses
import json

import psycopg
import pytest

from ingestion.warehouse import init_warehouse
from orchestration.demo import use_one_world


@pytest.fixture
def demo_db(warehouse):
    settings = dataclasses.replace(warehouse, database="journey_demo_tests")
    with psycopg.connect(warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute("drop database if exists journey_demo_tests with (force)")
        conn.execute("create database journey_demo_tests")
    init_warehouse(settings)
    return settings


def _raw_table_exists(settings) -> bool:
    with psycopg.connect(settings.role_url("admin")) as conn:
        return conn.execute("select to_regclass('shopify.orders') is not null").fetchone()[0]


def _load_something(settings) -> None:
    with psycopg.connect(settings.role_url("admin")) as conn:
        conn.execute("create table if not exists shopify.orders (id text)")


def test_same_world_keeps_data_other_world_resets(demo_db, tiny_world, local_dir, tmp_path):
    _load_something(demo_db)
    use_one_world(demo_db, tiny_world)  # unrecorded raw data: reset
    assert not _raw_table_exists(demo_db)
    marker = json.loads((local_dir / "demo_world.json").read_text())
    assert (marker["size"], marker["seed"]) == ("tiny", 42)

    _load_something(demo_db)
    use_one_world(demo_db, tiny_world)  # the same shop again: nothing dropped
    assert _raw_table_exists(demo_db)

    other = tmp_path / "other_world"
    other.mkdir()
    world = json.loads((tiny_world / "world.json").read_text())
    (other / "world.json").write_text(json.dumps({**world, "size": "small"}))
    use_one_world(demo_db, other)  # another shop: reset, and the schemas are back, empty
    assert not _raw_table_exists(demo_db)
    with psycopg.connect(demo_db.role_url("admin")) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert {"shopify", "marts", "ml"} <= schemas
