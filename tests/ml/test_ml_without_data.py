"""Tier 3: the ML and insight assets on shops with fewer sources (real training, real Postgres).

Every source is optional, so every mart builds but may be empty. On a warehouse whose marts are all
empty, every model records a skipped run with its reason, every scoring table is written empty with
its columns, the promotion checks warn (never block) and every insight topic says "no data"; the run
succeeds. On orders without tracked events, ad platforms or a product taxonomy, attribution skips
while churn, LTV and the (total-only) forecast train; when the inputs are emptied afterwards, the
champions keep scoring and write empty tables.
"""

from __future__ import annotations

import datetime as dt
import importlib

import dagster as dg
import psycopg
import pytest

from ingestion.warehouse import WarehouseSettings
from orchestration.defs.insights.assets import LLMResource, insight_assets
from orchestration.defs.insights.partitions import nightly_partition_key
from orchestration.defs.ml import DESCRIPTIVE, PREDICTIVE, ml_assets
from orchestration.defs.ml.assets import output_column_types
from orchestration.defs.ml.resources import ModelStoreResource
from orchestration.defs.ops.freshness import ReferenceClock
from orchestration.defs.shared.resources import Warehouse
from tests.ml.copies import empty_tables

ALL_MODELS = sorted(spec.name for spec in PREDICTIVE + DESCRIPTIVE)
OUTPUTS = {
    table: types
    for spec in PREDICTIVE + DESCRIPTIVE
    for table, types in output_column_types(importlib.import_module(spec.module)).items()
}
PG_TYPES = {"timestamptz": "timestamp with time zone"}


def _resources(settings: WarehouseSettings, as_of: str, store: str) -> dict:
    class CopyWarehouse(Warehouse):  # this copy's database, whatever the environment says
        def settings(self) -> WarehouseSettings:
            return settings

    return {
        "warehouse": CopyWarehouse(),
        "model_store": ModelStoreResource(url=store),
        "reference_clock": ReferenceClock(as_of=as_of),
        "llm": LLMResource(),  # no key: the rule-based generator
    }


def _materialize(assets, resources, partition: str | None = None) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            assets, resources=resources, instance=instance, partition_key=partition, raise_on_error=False
        )
    failures = [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    return result


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """asset key path (joined by '/') -> {name: plain value} of each materialization."""
    out = {}
    for event in result.get_asset_materialization_events():
        m = event.event_specific_data.materialization
        out["/".join(m.asset_key.path)] = {k: v.value for k, v in m.metadata.items()}
    return out


def _runs(settings: WarehouseSettings) -> dict[str, list[tuple]]:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        rows = conn.execute(
            """select model, status, promoted, reason, metrics, artifact_uri, row_counts
               from ml.model_runs order by model, trained_at"""
        ).fetchall()
    runs: dict[str, list[tuple]] = {}
    for model, *rest in rows:
        runs.setdefault(model, []).append(tuple(rest))
    return runs


def _columns(settings: WarehouseSettings, table: str) -> dict[str, str]:
    with psycopg.connect(settings.role_url("reporter")) as conn:  # what Metabase reads
        return dict(
            conn.execute(
                """select attname, format_type(atttypid, atttypmod) from pg_attribute
                   where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum""",
                (table,),
            ).fetchall()
        )


def _rows(settings: WarehouseSettings, table: str, role: str = "reporter") -> int:
    with psycopg.connect(settings.role_url(role)) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


# -- every mart empty ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_run(empty_marts, tiny_as_of, tmp_path_factory):
    partition = nightly_partition_key(tiny_as_of)
    resources = _resources(empty_marts, tiny_as_of, str(tmp_path_factory.mktemp("models_empty")))
    return _materialize([*ml_assets, *insight_assets], resources, partition), partition


def test_empty_marts_run_succeeds_and_every_model_skips_with_a_reason(empty_run, empty_marts):
    result, _ = empty_run
    runs = _runs(empty_marts)
    assert sorted(runs) == ALL_MODELS
    for model, model_runs in runs.items():
        assert len(model_runs) == 1, model
        status, promoted, reason, metrics, artifact, row_counts = model_runs[0]
        assert status == "skipped" and not promoted, model
        assert len(reason) > 20, (model, reason)
        assert metrics == {} and artifact is None, model  # no model: nothing invented
        assert row_counts and all(isinstance(v, int) for v in row_counts.values()), (model, row_counts)
    md = _metadata(result)
    for spec in PREDICTIVE:
        model_md = md[f"ml/{spec.name}_model"]
        assert model_md["skipped"] is True and model_md["reason"] == runs[spec.name][0][2]
        assert not any(k.startswith("metric/") for k in model_md), spec.name
        numbers = {k: v for k, v in model_md.items() if k.startswith("input/")}
        assert numbers and any(isinstance(v, int) for v in numbers.values()), (spec.name, numbers)
    assert md["ml/attribution_data_driven"]["skipped"] is True


def test_empty_marts_skip_reasons_name_what_is_missing(empty_marts, empty_run):
    reasons = {model: runs[0][2] for model, runs in _runs(empty_marts).items()}
    assert "marts.ml_customer_features has no snapshot" in reasons["churn"]
    assert "marts.ml_customer_features has no snapshot" in reasons["ltv"]
    assert "marts.dim_products holds 0 products" in reasons["recommendations"]
    assert "marts.fct_order_items has no sales" in reasons["demand_forecast"]
    assert "marts.fct_sessions has no session" in reasons["attribution"]


def test_empty_marts_promotion_checks_warn_and_never_block(empty_run):
    result, _ = empty_run
    checks = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {f"{spec.name}_model" for spec in PREDICTIVE}
    for name, check in checks.items():
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN, name
        assert check.description.startswith("skipped: "), check.description
        assert "scoring step writes its tables empty" in check.description


def test_empty_marts_every_ml_table_exists_empty_with_its_columns(empty_run, empty_marts):
    result, _ = empty_run
    md = _metadata(result)
    for table, types in OUTPUTS.items():
        assert _rows(empty_marts, table) == 0, table
        assert _columns(empty_marts, table) == {c: PG_TYPES.get(t, t) for c, t in types.items()}, table
        scoring = md["/".join(table.split("."))]
        assert scoring["dagster/row_count"] == 0 and scoring["skipped"] is True, table
        assert scoring["reason"], table


def test_empty_marts_insights_say_no_data_and_store_nothing(empty_run, empty_marts):
    result, partition = empty_run
    md = _metadata(result)
    topics = {
        k.split("/")[1].removesuffix("_insights"): v for k, v in md.items() if k.startswith("insights/")
    }
    assert set(topics) == {"funnel", "campaigns", "cohorts", "customers", "demand"}
    for topic, meta in topics.items():
        assert meta["run_date"] == partition, topic
        assert meta["context_status"] == "no data" and meta["generator"] == "none", topic
        assert "empty" in meta["reason"], (topic, meta["reason"])
        assert meta["published"] == 0 and meta["rejected"] == 0, topic
    with psycopg.connect(empty_marts.role_url("reporter")) as conn:
        stored = conn.execute(
            "select status, count(*) from insights.llm_insights where run_date = %s group by 1",
            (dt.date.fromisoformat(partition),),
        ).fetchall()
    assert stored == [("no_data", len(topics))]  # "no data" is stated, never an invented insight


def test_empty_marts_a_second_run_skips_again_without_a_champion(
    empty_run, empty_marts, tiny_as_of, tmp_path_factory
):
    resources = _resources(empty_marts, tiny_as_of, str(tmp_path_factory.mktemp("models_empty_2")))
    result = _materialize(ml_assets, resources)
    assert all(c.severity == dg.AssetCheckSeverity.WARN for c in result.get_asset_check_evaluations())
    runs = _runs(empty_marts)
    assert all(len(r) == 2 and {s for s, *_ in r} == {"skipped"} for r in runs.values()), runs


# -- orders without journeys, then nothing at all ------------------------------------------------


@pytest.fixture(scope="module")
def order_history_runs(order_history_only, tiny_as_of, tmp_path_factory):
    """The ML assets on orders only; then, the marts emptied, once more with the champions of the
    first run (the ML assets and the insights of one partition)."""
    resources = _resources(order_history_only, tiny_as_of, str(tmp_path_factory.mktemp("models_orders")))
    first = _materialize(ml_assets, resources)
    runs_after_first = _runs(order_history_only)
    with psycopg.connect(order_history_only.role_url("reporter")) as conn:
        reasons = {r for (r,) in conn.execute("select distinct reason from ml.product_recommendations")}
    with psycopg.connect(order_history_only.role_url("admin")) as conn:
        marts = [
            f"marts.{t}"
            for (t,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
    empty_tables(order_history_only, *marts)
    second = _materialize([*ml_assets, *insight_assets], resources, nightly_partition_key(tiny_as_of))
    return first, runs_after_first, second, reasons


def test_without_journeys_attribution_skips_while_churn_ltv_and_forecast_train(order_history_runs):
    first, runs, _, _ = order_history_runs
    status = {model: [r[0] for r in model_runs] for model, model_runs in runs.items()}
    assert status["attribution"] == ["skipped"]
    reason = runs["attribution"][0][2]
    assert "marts.fct_sessions has no session" in reason and "no tracked web events" in reason
    for model in ("churn", "ltv", "demand_forecast", "recommendations"):
        assert "skipped" not in status[model] and any(r[1] for r in runs[model]), (model, runs[model])
    md = _metadata(first)
    assert md["ml/churn_model"]["skipped"] is False and md["ml/churn_scores"]["dagster/row_count"] > 50
    assert md["ml/attribution_data_driven"]["skipped"] is True
    assert md["ml/attribution_data_driven"]["dagster/row_count"] == 0


def test_without_a_taxonomy_the_forecast_is_the_total_alone_and_no_category_is_named(order_history_runs):
    first, _, _, reasons = order_history_runs
    md = _metadata(first)
    assert md["ml/demand_forecast"]["dagster/row_count"] == 28 + 90  # one series: recent days + horizon
    assert md["ml/demand_forecast_model"]["split"]["series"] == 2  # total units and total revenue
    # nor do recommendations name a category: "popular", never "popular in uncategorised"
    assert "popular" in reasons and not any("uncategorised" in r for r in reasons), reasons


def test_champions_keep_scoring_empty_inputs_into_empty_tables(order_history_runs, order_history_only):
    _, runs_before, second, _ = order_history_runs
    runs = _runs(order_history_only)
    for spec in PREDICTIVE:
        new = runs[spec.name][len(runs_before[spec.name]) :]
        assert [r[0] for r in new] == ["skipped"], (spec.name, new)
    checks = {e.asset_key.path[-1]: e for e in second.get_asset_check_evaluations()}
    for name, check in checks.items():
        assert check.severity == dg.AssetCheckSeverity.WARN and "keeps scoring" in check.description, name
    md = _metadata(second)
    for table in OUTPUTS:
        assert _rows(order_history_only, table) == 0, table
        key = "/".join(table.split("."))
        assert md[key]["dagster/row_count"] == 0, table
        if table != "ml.attribution_data_driven":
            assert md[key]["skipped"] is False and md[key]["model_version"] != "none", table
    assert {k: v["context_status"] for k, v in md.items() if k.startswith("insights/")} == {
        f"insights/{t}_insights": "no data" for t in ("funnel", "campaigns", "cohorts", "customers", "demand")
    }
