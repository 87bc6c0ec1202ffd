"""Tier 3: the ML assets materialized twice on the dbt-built tiny shop (real training, real Postgres).

The first run promotes a first model per predictive model (or fails loudly); the second compares its
candidate with that champion on the same split. Every output table has the shape the dashboards and
insights read, probabilities are probabilities, and recommendations never repeat a bought item
unless the product is repeatable.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.defs.ml import DESCRIPTIVE, PREDICTIVE, ml_assets
from orchestration.defs.ml.resources import ModelStoreResource
from orchestration.defs.ops.freshness import ReferenceClock
from orchestration.defs.shared.resources import Warehouse


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def ml_runs(built_tiny, dbt_warehouse, tiny_world: Path, models_dir: Path):
    """Two materializations of every ML asset against the tiny warehouse; yields (results, as_of)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WAREHOUSE_TRANSFORMER_URL", dbt_warehouse.role_url("transformer"))
    as_of = json.loads((tiny_world / "world.json").read_text())["end_date"]
    resources = {
        "warehouse": Warehouse(url=dbt_warehouse.role_url("admin")),
        "model_store": ModelStoreResource(url=str(models_dir)),
        "reference_clock": ReferenceClock(as_of=as_of),
    }
    with psycopg.connect(dbt_warehouse.role_url("admin"), autocommit=True) as conn:
        conn.execute("drop table if exists ml.model_runs")
    try:
        with dg.instance_for_test() as instance:
            results = [
                dg.materialize(ml_assets, resources=resources, instance=instance, raise_on_error=False)
                for _ in range(2)
            ]
        yield results, as_of
    finally:
        mp.undo()


def _query(settings, sql: str, role: str = "reporter"):
    with psycopg.connect(settings.role_url(role)) as conn:
        return conn.execute(sql).fetchall()


def test_both_runs_succeed_and_promotion_is_checked(ml_runs):
    results, _ = ml_runs
    for result in results:
        failures = [e for e in result.all_events if e.is_step_failure]
        assert result.success, [str(e.event_specific_data.error) for e in failures]
        checks = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
        assert set(checks) == {f"{spec.name}_model" for spec in PREDICTIVE}
    # a failed check is allowed only as a WARN that names what scores instead (the baseline, on tiny)
    for check in results[0].get_asset_check_evaluations():
        if not check.passed:
            assert check.severity == dg.AssetCheckSeverity.WARN and "scoring with" in check.description


def test_every_training_run_is_recorded(ml_runs, dbt_warehouse):
    rows = _query(
        dbt_warehouse,
        "select model, count(*), bool_or(promoted), min(reason), count(distinct version) "
        "from ml.model_runs group by model order by model",
        role="transformer",
    )
    names = sorted(spec.name for spec in PREDICTIVE + DESCRIPTIVE)
    assert [r[0] for r in rows] == names
    for model, runs, any_promoted, reason, versions in rows:
        # two candidates, plus a promoted baseline when the first candidate lost to it
        assert runs in (2, 3) and versions == runs and any_promoted, (model, reason)
    compared = _query(
        dbt_warehouse,
        "select count(*) from ml.model_runs where champion_version is not null and champion_metric is not null",
        role="transformer",
    )[0][0]
    assert compared >= len(PREDICTIVE)  # each second candidate was compared with the first champion


def test_churn_scores(ml_runs, dbt_warehouse):
    rows = _query(
        dbt_warehouse,
        "select count(*), count(distinct customer_id), min(churn_probability), max(churn_probability), "
        "count(*) filter (where driver_1 is null), "
        "count(distinct risk_band), bool_and(risk_band in ('high', 'medium', 'low')), count(distinct model_version) "
        "from ml.churn_scores",
    )[0]
    n, distinct, lo, hi, missing_drivers, bands, bands_ok, versions = rows
    assert n > 50 and distinct == n
    assert 0.0 <= lo <= hi <= 1.0 and hi > lo
    assert missing_drivers == 0 and bands_ok and bands >= 2 and versions == 1


def test_ltv_predictions(ml_runs, dbt_warehouse):
    n, distinct, negative, bg_null = _query(
        dbt_warehouse,
        "select count(*), count(distinct customer_id), count(*) filter (where predicted_ltv < 0 or bgnbd_ltv < 0), "
        "count(*) filter (where bgnbd_ltv is null) from ml.ltv_predictions",
    )[0]
    assert n > 50 and distinct == n and negative == 0 and bg_null == 0


def test_recommendations_exclude_bought_items(ml_runs, dbt_warehouse):
    n, customers, bad_rank = _query(
        dbt_warehouse,
        "select count(*), count(distinct customer_id), count(*) filter (where rank < 1 or rank > 10) "
        "from ml.product_recommendations",
    )[0]
    assert n > 0 and customers > 50 and bad_rank == 0
    bought_again = _query(
        dbt_warehouse,
        """select count(*) from ml.product_recommendations r
           join marts.dim_products p on p.product_id = r.product_id and not p.is_repeatable
           where exists (select 1 from marts.fct_order_items i
                         where i.customer_id = r.customer_id and i.product_id = r.product_id
                           and not i.is_cancelled)""",  # a cancelled order was never received
        role="transformer",
    )[0][0]
    assert bought_again == 0
    self_similar, products = _query(
        dbt_warehouse,
        "select count(*) filter (where product_id = similar_product_id), count(distinct product_id) "
        "from ml.similar_products",
    )[0]
    assert self_similar == 0 and products > 5


def test_demand_forecast(ml_runs, dbt_warehouse):
    _, as_of = ml_runs
    rows = _query(
        dbt_warehouse,
        "select category, count(*), min(forecast_date), "
        "count(*) filter (where not (units_lower <= units_forecast and units_forecast <= units_upper)), "
        "count(*) filter (where not (revenue_lower <= revenue_forecast and revenue_forecast <= revenue_upper)) "
        "from ml.demand_forecast group by category",
    )
    by_category = {r[0]: r for r in rows}
    assert "total" in by_category and len(by_category) >= 2
    for _, days, first, bad_units, bad_revenue in rows:
        # 28 recent days forecast out of sample (the default recent_days) + the 90-day horizon
        assert days == 28 + 90 and first.isoformat() < as_of[:10]
        assert bad_units == 0 and bad_revenue == 0


def test_data_driven_attribution_conserves_credit(ml_runs, dbt_warehouse):
    rows = _query(
        dbt_warehouse,
        "select method, sum(conversions), sum(revenue_credit), count(*) filter (where conversions < 0) "
        "from ml.attribution_data_driven group by method order by method",
    )
    assert {r[0] for r in rows} >= {"markov"}
    conversions = _query(
        dbt_warehouse,
        "select count(distinct order_id) from marts.fct_attribution where model = 'last_touch'",
        role="transformer",
    )[0][0]
    for method, total, _revenue, negative in rows:
        assert negative == 0, method
        assert total == pytest.approx(float(conversions), rel=0.02), method


def test_metadata_shows_the_comparison_and_plots_its_numbers(ml_runs):
    """The model asset's metadata: the full comparison (model, baseline, naive references, each guard
    rail) as markdown, every metric as a number, a picture where one was drawn."""
    results, _ = ml_runs
    by_asset = {m.asset_key.path[-1]: m for m in results[0].get_asset_materialization_events()}
    ltv = by_asset["ltv_model"].materialization.metadata
    if not ltv["skipped"].value:
        table = ltv["metrics"].value
        assert "naive: zero" in table and "| guard rail | against |" in table
        assert isinstance(ltv["metric/mae"].value, float) and isinstance(ltv["naive_zero/mae"].value, float)
        assert ltv["guard_rails_held"].value + ltv["guard_rails_failed"].value >= 3
    for name in ("churn_model", "ltv_model", "demand_forecast_model"):
        meta = by_asset[name].materialization.metadata
        assert "data:image/png;base64," in meta["metrics"].value, name


def test_scoring_refuses_a_champion_trained_for_another_horizon(ml_runs, dbt_warehouse, models_dir: Path):
    """LTV's horizon is a champion key: asking the scoring step for 273 days while the champion was
    trained for 365 fails and says why, instead of scoring the old horizon under the new name."""
    _, as_of = ml_runs
    resources = {
        "warehouse": Warehouse(url=dbt_warehouse.role_url("admin")),
        "model_store": ModelStoreResource(url=str(models_dir)),
        "reference_clock": ReferenceClock(as_of=as_of),
    }
    scoring = [a for a in ml_assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name == "ltv_scores"]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            scoring, resources=resources, instance=instance, raise_on_error=False,
            run_config={"ops": {"ltv_scores": {"config": {"horizon_days": 273}}}},
        )  # fmt: skip
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = str(failure.event_specific_data.error)
    assert "no promoted ltv model for horizon_days=273" in message and "materialize ml/ltv_model" in message
