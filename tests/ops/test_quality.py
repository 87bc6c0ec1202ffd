"""Row-count drop/spike and schema-change checks compare a table with the previous evaluation."""

from __future__ import annotations

import dagster as dg
import psycopg

from orchestration.defs.ops.quality import (
    WatchedTable,
    build_quality_checks,
    evaluate_row_count,
    evaluate_schema,
)
from orchestration.defs.shared.resources import Warehouse


def test_row_count_rules():
    assert evaluate_row_count(None, 10, 0.1, 3.0)[0]
    assert evaluate_row_count(100, 95, 0.1, 3.0) == (True, "100 -> 95 rows (-5.0%)")
    passed, text = evaluate_row_count(100, 80, 0.1, 3.0)
    assert not passed and "dropped" in text and "-20.0%" in text
    passed, text = evaluate_row_count(100, 500, 0.1, 3.0)
    assert not passed and "spiked" in text


def test_schema_rules():
    assert evaluate_schema(None, {"a": "text"})[0]
    assert evaluate_schema({"a": "text"}, {"a": "text", "b": "bigint"}) == (True, "added: b")
    passed, text = evaluate_schema({"a": "text", "b": "bigint"}, {"a": "numeric"})
    assert not passed and "removed: b" in text and "a text -> numeric" in text


def test_checks_compare_with_previous_run(warehouse):
    state = {"rows": 50, "extra_column": False}

    @dg.asset(key=["shopify", "dq_probe"])
    def probe() -> None:
        with psycopg.connect(warehouse.role_url("loader"), autocommit=True) as conn:
            conn.execute("drop table if exists shopify.dq_probe")
            cols = "id int, name text" + (", added text" if state["extra_column"] else "")
            conn.execute(f"create table shopify.dq_probe ({cols})")
            conn.execute("insert into shopify.dq_probe (id) select generate_series(1, %s)", (state["rows"],))

    checks = build_quality_checks([WatchedTable(dg.AssetKey(["shopify", "dq_probe"]), "shopify", "dq_probe")])
    defs = dg.Definitions(
        assets=[probe], asset_checks=checks, resources={"warehouse": Warehouse(port=warehouse.port)}
    )
    job = dg.define_asset_job("j", selection="*").resolve(asset_graph=defs.get_repository_def().asset_graph)
    instance = dg.DagsterInstance.ephemeral()

    def run() -> dict[str, dg.AssetCheckEvaluation]:
        result = job.execute_in_process(
            instance=instance, resources={"warehouse": Warehouse(port=warehouse.port)}
        )
        return {e.check_name: e for e in result.get_asset_check_evaluations()}

    first = run()
    assert (
        first["row_count_change"].passed
        and "first observation: 50 rows" in first["row_count_change"].description
    )
    state.update(rows=30, extra_column=True)
    second = run()
    assert not second["row_count_change"].passed
    assert (
        "dropped" in second["row_count_change"].description
        and "50 -> 30" in second["row_count_change"].description
    )
    assert second["schema_change"].passed and second["schema_change"].description == "added: added"
