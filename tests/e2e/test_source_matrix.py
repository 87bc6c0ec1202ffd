"""Tier 5, "bring your own shop": nightly_job on every supported subset of sources, each in a warehouse
of its own (its own embedded Postgres, dlt state and model store), exactly as a brand would configure
it: only the variables of its sources are set. All sources together is the main e2e case
(test_nightly.py). For each subset: the run succeeds; the marts the README's "Connect your own data"
table promises are filled and the others exist, empty; every model trains or records why it skipped;
the insight topics that have data publish; a second ingest changes no raw row count.

The order-history case loads a CSV that is not in the simulated shop's shape: string customer ids of
every form, no emails, one row per line for some orders and no lines for others.
"""

from __future__ import annotations

import csv
import os
import random
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from ingestion.warehouse import EmbeddedPostgres, WarehouseSettings

pytestmark = pytest.mark.e2e

ALL_MARTS = [
    "fct_orders", "fct_order_items", "dim_customers", "dim_products", "fct_sessions", "fct_funnel_daily",
    "fct_funnel_daily_ga4", "fct_cohort_retention", "fct_attribution", "fct_campaign_performance_daily",
    "fct_channel_performance_daily", "ml_customer_features",
]  # fmt: skip
ORDER_MARTS = ["fct_orders", "fct_order_items", "dim_customers", "dim_products", "fct_cohort_retention",
               "ml_customer_features"]  # fmt: skip
EVENT_MARTS = ["fct_sessions", "fct_funnel_daily"]
ORDER_SOURCES = {"shopify", "order_history"}
# a mart that must be empty when none of these sources is configured
EMPTY_WITHOUT = {
    **{mart: ORDER_SOURCES for mart in ORDER_MARTS},
    "fct_sessions": {"events"}, "fct_funnel_daily": {"events"}, "fct_funnel_daily_ga4": {"ga4"},
    "fct_attribution": ORDER_SOURCES, "fct_campaign_performance_daily": {"meta_ads", "events", "shopify"},
    "fct_channel_performance_daily": {"meta_ads", "google_ads", "shopify"},
}  # fmt: skip
MODELS = ["churn", "ltv", "recommendations", "demand_forecast", "attribution"]

# what each configuration fills (README, "Connect your own data"); every other mart exists, empty
CASES = {
    "shopify_only": {
        "sources": ["shopify"],
        # from Shopify's customerJourneySummary visits
        "marts": ORDER_MARTS + ["fct_attribution", "fct_channel_performance_daily"],
        "trains": ["churn", "ltv", "recommendations", "demand_forecast"],
        "topics": ["cohorts", "customers", "demand"],
    },
    "order_history_only": {
        "sources": ["order_history"],
        "via_cli": True,  # `journey nightly`, exactly as README's "Connect your own data" says
        "marts": ORDER_MARTS,
        "trains": [],  # whether a model trains depends on the export; each one says why if it skips
        "topics": ["cohorts", "customers"],
    },
    "events_only": {
        "sources": ["events"],
        "marts": EVENT_MARTS,
        "trains": [],
        "topics": ["funnel"],
    },
    "shopify_and_events": {
        "sources": ["shopify", "events"],
        "marts": ORDER_MARTS + EVENT_MARTS + ["fct_attribution", "fct_channel_performance_daily"],
        "trains": ["churn", "ltv", "recommendations", "demand_forecast", "attribution"],
        "topics": ["cohorts", "customers", "demand", "funnel"],
    },
}
RAW_TABLES = {
    "shopify": ["orders", "order_line_items", "refunds", "customers", "products", "product_variants"],
    "order_history": ["orders", "order_items"],
    "meta_ads": ["campaigns", "ads", "ads_insights"],
    "google_ads": ["campaigns", "ad_groups", "ads", "campaign_daily", "ad_group_daily", "ad_daily"],
    "ga4": ["daily_traffic"],
    "events": ["events", "rejected"],
}
SOURCE_VARS = ("SHOPIFY_", "META_", "GOOGLE_ADS_", "GA4_", "EVENTS_LANDING_DIR", "ORDER_HISTORY_PATH")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_foreign_order_history(path: Path, end: date, seed: int = 7) -> None:
    """A year and a half of orders of 300 customers, in a shape the simulated shop never writes: ids like
    `C-0001`, emails, 19-digit numbers, `00001` beside `1`; one row per line for about half the orders,
    order-level rows (empty line columns) for the rest; no emails column values."""
    rng = random.Random(seed)
    ids = [f"C-{n:04d}" for n in range(1, 121)] + [f"shopper{n}@example.org" for n in range(60)]
    ids += [str(10**18 + n * 7919) for n in range(60)] + [f"{n:05d}" for n in range(1, 31)]
    ids += [str(n) for n in range(1, 31)]  # `1` and `00001` are two customers
    skus = [
        (f"SKU-{chr(65 + i % 26)}{i:03d}", f"Product {i}", round(rng.uniform(4, 60), 2)) for i in range(40)
    ]
    start = end - timedelta(days=540)
    rows = []
    for k, customer in enumerate(ids):
        rate = rng.choice([0.004, 0.01, 0.03, 0.06])  # orders per day while active
        first = start + timedelta(days=rng.randrange(0, 420))
        last_active = first + timedelta(days=rng.randrange(30, 540))
        day, n = first, 0
        while day <= min(last_active, end - timedelta(days=1)):
            n += 1
            order_id = f"ORD/{k:03d}-{n:03d}"
            at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=rng.randrange(0, 1440))
            if rng.random() < 0.5:
                basket = rng.sample(skus[: 10 + k % 30], rng.randint(1, 3))
                for sku, title, price in basket:
                    qty = rng.randint(1, 3)
                    rows.append([order_id, customer, at.isoformat(), "", "EUR", sku, title, qty, price])
            else:
                amount = round(rng.uniform(10, 150), 2)
                rows.append([order_id, customer, at.isoformat(), amount, "EUR", "", "", "", ""])
            day += timedelta(days=max(1, int(rng.expovariate(rate))))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Order_ID", "Customer_ID", "Ordered_At", "Amount", "Currency", "SKU", "Title", "Quantity", "Price"])  # fmt: skip
        writer.writerows(rows)


def _counts(settings: WarehouseSettings) -> dict[str, int]:
    from orchestration.demo import table_counts

    return {f"{s}.{t}": n for s, t, n in table_counts(settings)}


def _print_summary(name: str, settings: WarehouseSettings, counts: dict[str, int]) -> None:
    """What this configuration filled (shown with `pytest -s`; the README's matrix comes from it)."""
    with psycopg.connect(settings.role_url("admin")) as conn:
        runs = conn.execute(
            "select distinct on (model) model, status, reason from ml.model_runs order by model, trained_at desc"
        ).fetchall()
        topics = conn.execute(
            "select topic, count(*) from insights.llm_insights group by 1 order by 1"
        ).fetchall()
    filled = {k: v for k, v in counts.items() if k.split(".")[0] in ("marts", "ml") and v}
    print(f"\n[{name}] filled: {filled}")
    print(
        f"[{name}] empty: {sorted(k for k, v in counts.items() if k.split('.')[0] in ('marts', 'ml') and not v)}"
    )
    print(f"[{name}] models: {runs}")
    print(f"[{name}] insights: {topics}")


class _CliRun:
    """What the tests read of a run (success, events), for a run made by `journey nightly`."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, output: str) -> None:
        self.success = instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        self.all_events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event]
        self.output = output

    def get_asset_materialization_events(self):
        return [e for e in self.all_events if e.is_step_materialization]


def _nightly_via_cli(root: Path) -> _CliRun:
    """The documented path for a real shop: `journey nightly` with a DAGSTER_HOME of its own."""
    import shutil

    from click.testing import CliRunner

    from ingestion.warehouse.paths import PROJECT_ROOT
    from orchestration.cli import main

    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.local.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    result = CliRunner().invoke(main, ["nightly"])
    assert result.exit_code in (0, 1), result.output
    assert "source order_history: configured" in result.output
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records()
        return _CliRun(instance, record.dagster_run.run_id, result.output)


def _failures(result) -> list[str]:
    return [f"{e.step_key}: {e.event_specific_data.error.message[:400]}" for e in result.all_events
            if e.event_type_value == "STEP_FAILURE"]  # fmt: skip


@pytest.fixture(scope="module", params=list(CASES))
def case(request, tiny_world: Path, tmp_path_factory: pytest.TempPathFactory):
    """nightly_job, then ingest_job again, on one subset of sources in a warehouse of its own."""
    from ingestion.sandbox.emulators import running_emulators
    from ingestion.sandbox.shop import load_world
    from orchestration.definitions import defs
    from orchestration.defs.insights.partitions import nightly_partition_key

    name = request.param
    spec = CASES[name]
    world = load_world(tiny_world)
    root = tmp_path_factory.mktemp(name)
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(SOURCE_VARS) or key in (
            "WAREHOUSE_URL", "JOURNEY_SANDBOX_SIZE", "OPENAI_API_KEY", "ACTIVATION_DESTINATIONS",
        ):  # fmt: skip
            del os.environ[key]
    os.environ.update({
        "JOURNEY_LOCAL_DIR": str(root / "local"),
        "WAREHOUSE_PORT": str(_free_port()),
        "WAREHOUSE_DATA_DIR": str(root / "warehouse"),
        "JOURNEY_AS_OF": str(world["end_date"]),
    })  # fmt: skip
    (root / "dagster").mkdir()
    settings = WarehouseSettings.from_env()
    server = EmbeddedPostgres(settings)
    try:
        with (
            running_emulators(tiny_world) as env,
            dg.instance_for_test(temp_dir=str(root / "dagster")) as instance,
        ):
            if "shopify" in spec["sources"]:
                os.environ.update({k: v for k, v in env.items() if k.startswith("SHOPIFY_")})
            if "events" in spec["sources"]:
                os.environ["EVENTS_LANDING_DIR"] = str(tiny_world / "landing" / "events")
            if "order_history" in spec["sources"]:
                export = root / "export.csv"
                write_foreign_order_history(export, date.fromisoformat(str(world["end_date"])[:10]))
                os.environ["ORDER_HISTORY_PATH"] = str(export)
            partition = nightly_partition_key()
            if spec.get("via_cli"):
                nightly = _nightly_via_cli(root)
            else:
                nightly = defs.resolve_job_def("nightly_job").execute_in_process(
                    instance=instance, raise_on_error=False, partition_key=partition
                )
            first = _counts(settings)
            again = defs.resolve_job_def("ingest_job").execute_in_process(
                instance=instance, raise_on_error=False
            )
            second = _counts(settings)
            _print_summary(name, settings, first)
            yield {"name": name, "spec": spec, "settings": settings, "nightly": nightly, "again": again,
                   "first": first, "second": second}  # fmt: skip
    finally:
        server.down()
        os.environ.clear()
        os.environ.update(saved)


def _query(case, sql: str, role: str = "admin") -> list[tuple]:
    with psycopg.connect(case["settings"].role_url(role)) as conn:
        return conn.execute(sql).fetchall()


def test_nightly_job_succeeds(case):
    assert case["nightly"].success, _failures(case["nightly"])
    assert case["again"].success, _failures(case["again"])


def test_promised_marts_fill_and_the_rest_exist_empty(case):
    configured = set(case["spec"]["sources"])
    for mart in ALL_MARTS:
        rows = case["first"].get(f"marts.{mart}")
        assert rows is not None, f"marts.{mart} was not built"
        if mart in case["spec"]["marts"]:
            assert rows > 0, f"marts.{mart} is empty with {sorted(configured)}"
        if not EMPTY_WITHOUT.get(mart, configured) & configured:
            assert rows == 0, f"marts.{mart} has {rows} rows without any of {EMPTY_WITHOUT[mart]}"


def test_unconfigured_sources_are_idle_with_their_reason(case):
    materialized = {}
    for m in case["nightly"].get_asset_materialization_events():
        key = m.asset_key.path
        if key[0] in RAW_TABLES:
            materialized[tuple(key)] = m.materialization.metadata
    for source, tables in RAW_TABLES.items():
        for table in tables:
            meta = materialized[(source, table)]
            configured = source in case["spec"]["sources"]
            assert meta["source_configured"].value is configured, (source, table)
            if not configured:
                assert meta["not_configured_because"].value.startswith("set "), (source, table)
                assert case["first"][f"{source}.{table}"] == 0


def test_syncs_idle_without_their_source_and_only_plan_without_opt_in(case):
    """A destination whose source is missing syncs nothing and says why; a configured one writes
    nothing either until ACTIVATION_DESTINATIONS names it (unset here): its segments are dry runs."""
    synced = {
        m.asset_key.path[1]: m.materialization.metadata
        for m in case["nightly"].get_asset_materialization_events()
        if m.asset_key.path[0] == "activation" and m.asset_key.path[1].endswith(("audiences", "tags"))
    }
    assert synced["meta_custom_audiences"]["destination_configured"].value is False  # Meta is never set
    shopify = synced["shopify_customer_tags"]
    if "shopify" in case["spec"]["sources"]:
        assert shopify["dry_run"].value is True
        assert shopify["segments_synced"].value == 3  # win_back, at_risk_vips, one_time_buyers_due
    else:
        assert shopify["destination_configured"].value is False
        assert shopify["not_configured_because"].value.startswith("set ")


def test_every_model_trains_or_says_why_it_skipped(case):
    runs = _query(case, "select model, status, reason from ml.model_runs")
    by_model: dict[str, list[tuple[str, str]]] = {}
    for model, status, reason in runs:
        by_model.setdefault(model, []).append((status, reason))
    for model in MODELS:
        assert model in by_model, f"{model}: no row in ml.model_runs"
        for status, reason in by_model[model]:
            assert status in ("trained", "skipped") and reason, (model, status, reason)
        if model in case["spec"]["trains"]:
            assert any(s == "trained" for s, _ in by_model[model]), (model, by_model[model])


def test_topics_with_data_publish(case):
    published = {
        t
        for (t,) in _query(
            case, "select distinct topic from insights.llm_insights where status = 'published'"
        )
    }
    assert set(case["spec"]["topics"]) <= published, published
    said = dict(_query(case, "select topic, observation from insights.llm_insights where status = 'no_data'"))
    assert set(said) | published == {"funnel", "campaigns", "cohorts", "customers", "demand"}
    assert not set(said) & published and all(said.values()), said


def test_second_ingest_changes_no_raw_row_count(case):
    raw = [k for k in case["first"] if k.split(".")[0] in RAW_TABLES and k.split(".")[1] != "loaded_files"]
    assert raw
    assert {k: case["second"][k] for k in raw} == {k: case["first"][k] for k in raw}


def test_order_history_customer_keys(case):
    if "order_history" not in case["spec"]["sources"]:
        return
    customers = _query(case, "select count(*), count(distinct customer_id) from marts.dim_customers")[0]
    exported = _query(case, "select count(distinct customer_id) from order_history.orders")[0][0]
    assert customers == (exported, exported)  # every id a customer: no NULLs, no merges (`1` vs `00001`)
    lines = _query(case, "select count(*) from marts.fct_order_items where order_id < 0")[0][0]
    assert lines == _query(case, "select count(*) from order_history.order_items")[0][0] > 0
