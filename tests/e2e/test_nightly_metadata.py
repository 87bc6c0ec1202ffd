"""Tier 5: the metadata the tiny nightly run records (the shared `nightly` fixture, no run of its own):
full column schemas on dbt materializations, dbt source tests evaluated as checks on the raw assets,
ML metrics as numbers, the events loader's bookkeeping table as an asset."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from orchestration.defs.transform import journey_dbt_assets

pytestmark = pytest.mark.e2e


def _materializations(result) -> dict[str, dict]:
    return {
        e.event_specific_data.materialization.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }


def test_dbt_materializations_carry_every_column_with_its_type(nightly, warehouse):
    metadata = _materializations(nightly["first"])["marts/fct_orders"]
    columns = {c.name: c for c in metadata["dagster/column_schema"].schema.columns}
    with psycopg.connect(warehouse.role_url("admin")) as conn:
        in_warehouse = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'fct_orders'"
            ).fetchall()
        )
    assert {name: c.type for name, c in columns.items()} == in_warehouse
    assert len(columns) > 20
    assert columns["order_id"].description  # the YAML description survives the run-time schema


def test_source_tests_are_evaluated_as_checks_on_the_raw_assets(nightly):
    on_raw = {k for k in journey_dbt_assets.check_keys if k.asset_key not in journey_dbt_assets.keys}
    evaluations = {(e.asset_key, e.check_name): e for e in nightly["first"].get_asset_check_evaluations()}
    assert dg.AssetCheckKey(dg.AssetKey(["shopify", "orders"]), "source_unique_shopify_orders_id") in on_raw
    assert len(on_raw) >= 25
    for key in on_raw:
        evaluation = evaluations.get((key.asset_key, key.name))
        assert evaluation is not None and evaluation.passed, key
    observed = [e for e in nightly["first"].all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert not observed  # dagster-dbt logs a source test it cannot map to a check as an observation


def test_ml_metrics_are_numeric_metadata(nightly):
    materialized = _materializations(nightly["first"])
    for key in ("ml/churn_model", "ml/attribution_data_driven"):
        metrics = {k: v for k, v in materialized[key].items() if k.startswith(("metric/", "baseline/"))}
        assert metrics, key
        assert all(isinstance(v, dg.FloatMetadataValue) for v in metrics.values()), key


def test_loaded_files_is_materialized_with_its_row_count(nightly):
    metadata = _materializations(nightly["first"])["events/loaded_files"]
    assert metadata["dagster/row_count"].value > 0
