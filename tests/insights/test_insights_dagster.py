"""Insights as Dagster assets: one per topic, daily partitioned by run date; a partition writes its own
run date, a backfill of several partitions writes one run date each and can be repeated safely."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import psycopg
import pytest

from ml.insights import TOPICS
from orchestration.defs.insights.partitions import (
    insights_partitions,
    nightly_partition_key,
    partition_for_night,
)

KEYS = {dg.AssetKey(["insights", f"{t}_insights"]) for t in TOPICS}


def test_assets_daily_partitioned_in_both_jobs():
    from orchestration.definitions import defs

    repo = defs.get_repository_def()
    assert isinstance(insights_partitions, dg.DailyPartitionsDefinition)
    for job in ("insights_job", "nightly_job"):
        job_def = repo.get_job(job)
        assert set(job_def.asset_layer.executable_asset_keys) >= KEYS, job
        assert job_def.partitions_def == insights_partitions, job
    for k in KEYS:
        node = repo.asset_graph.get(k)
        assert node.group_name == "insights" and node.partitions_def == insights_partitions


def test_nightly_partition_is_the_day_before():
    assert partition_for_night(dt.date(2025, 11, 1)) == "2025-10-31"
    assert nightly_partition_key("2025-06-29") == "2025-06-28"
    assert nightly_partition_key("2025-06-29T00:00:00") == "2025-06-28"
    assert nightly_partition_key(dt.date(2025, 3, 1)) == "2025-02-28"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    with pytest.raises(ValueError, match="no insights partition"):
        nightly_partition_key(yesterday + dt.timedelta(days=3))  # a 'today' beyond the wall clock
    with pytest.raises(ValueError, match="INSIGHTS_START_DATE"):
        nightly_partition_key(insights_partitions.get_first_partition_key())  # night of the first day


def test_ml_keys_read_without_resolving_resources():
    """The ML domain's defs leave `warehouse` to definitions.py: reading its keys must not need it."""
    from orchestration.defs.insights.assets import asset_keys_of

    @dg.multi_asset(specs=[dg.AssetSpec(["ml", "churn_scores"]), dg.AssetSpec(["ml", "ltv_predictions"])])
    def scores(warehouse: dg.ResourceParam[str]):  # noqa: ARG001 - the resource is the point
        return None

    domain = dg.Definitions(assets=[scores, dg.AssetSpec(["ml", "demand_forecast"])])
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="warehouse"):
        domain.get_repository_def()
    assert asset_keys_of(domain) == {
        ("ml", "churn_scores"),
        ("ml", "ltv_predictions"),
        ("ml", "demand_forecast"),
    }


# --- materializing partitions against the built tiny warehouse -----------------------------------


@pytest.fixture
def tiny_resources(insights_wh):
    from orchestration.defs.insights.assets import LLMResource
    from orchestration.defs.shared.resources import Warehouse

    class TinyWarehouse(Warehouse):
        def settings(self):
            return insights_wh

    return {"warehouse": TinyWarehouse(), "llm": LLMResource()}


@pytest.fixture
def newest_day(insights_wh) -> dt.date:
    with psycopg.connect(insights_wh.role_url("transformer")) as conn:
        return conn.execute("select max(date_day) from marts.fct_funnel_daily").fetchone()[0]


def _materialize(resources, partition: str) -> dict[str, dict]:
    from orchestration.defs.insights.assets import insight_assets

    result = dg.materialize(insight_assets, resources=resources, partition_key=partition)
    assert result.success
    events = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    assert {m.partition for m in events} == {partition}
    return {m.asset_key.path[-1]: m.metadata for m in events}


def _run_dates(settings, days: list[dt.date]) -> dict[tuple[dt.date, str], tuple[int, str]]:
    """(run_date, topic) -> (rows, concatenated headlines) for the given run dates."""
    with psycopg.connect(settings.role_url("transformer")) as conn:
        rows = conn.execute(
            "select run_date, topic, count(*), string_agg(headline, ' | ' order by rank) "
            "from insights.llm_insights where run_date = any(%s) group by 1, 2",
            (days,),
        ).fetchall()
    return {(d, t): (n, h) for d, t, n, h in rows}


def _published(settings, day: dt.date, topic: str) -> list[tuple]:
    with psycopg.connect(settings.role_url("transformer")) as conn:
        return conn.execute(
            "select rank, priority, headline, generator from insights.llm_insights "
            "where run_date = %s and topic = %s and status = 'published' order by rank",
            (day, topic),
        ).fetchall()


def test_partition_materializes_its_run_date(insights_wh, tiny_resources, newest_day):
    partition = newest_day.isoformat()
    md = _materialize(tiny_resources, partition)
    assert set(md) == {f"{t}_insights" for t in TOPICS}
    assert {m["run_date"].value for m in md.values()} == {partition}
    assert md["campaigns_insights"]["generator"].value == "rules"
    assert md["campaigns_insights"]["published"].value >= 1
    assert md["campaigns_insights"]["fallback_reason"].value == ""
    assert md["customers_insights"]["context_status"].value == "no data"  # no ML tables here
    written = _run_dates(insights_wh, [newest_day])
    assert written[(newest_day, "campaigns")][0] == md["campaigns_insights"]["published"].value
    # the published insights as a markdown table, in rank order
    table = md["campaigns_insights"]["insights"]
    assert isinstance(table, dg.MarkdownMetadataValue)
    lines = table.value.splitlines()
    assert lines[0] == "| rank | priority | headline | observation | generator |"
    published = _published(insights_wh, newest_day, "campaigns")
    assert len(lines) == 2 + len(published)
    for line, (rank, priority, headline, generator) in zip(lines[2:], published, strict=True):
        assert line.startswith(f"| {rank} | {priority} | {headline} | ") and line.endswith(f"| {generator} |")
    assert md["customers_insights"]["insights"].value == "_No published insight for this run date._"


def test_failed_llm_falls_back_and_the_asset_reports_it(insights_wh, tiny_resources, newest_day):
    """An unreachable endpoint: every topic with data publishes the rules' insights, the asset succeeds
    and says why in `fallback_reason`."""
    import socket

    from orchestration.defs.insights.assets import LLMResource

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    resources = {
        **tiny_resources,
        "llm": LLMResource(
            api_key="sk-test-fallback", base_url=f"http://127.0.0.1:{dead}/v1", timeout=2, max_retries=0
        ),
    }
    day = newest_day - dt.timedelta(days=1)
    md = _materialize(resources, day.isoformat())
    for topic in ("campaigns", "cohorts"):
        meta = md[f"{topic}_insights"]
        assert meta["generator"].value == "rules" and meta["published"].value >= 1, topic
        assert meta["fallback_reason"].value.startswith("llm generation failed: "), topic
        assert "unreachable" in meta["fallback_reason"].value
        assert "sk-test-fallback" not in meta["fallback_reason"].value
        assert meta["insights"].value.count("| rules |") == meta["published"].value
    assert md["customers_insights"]["fallback_reason"].value == ""  # no data: nothing to fall back from


def test_three_day_backfill_writes_three_run_dates_idempotently(insights_wh, tiny_resources, newest_day):
    """What a UI backfill of a 3-day range does: one run per partition. Repeating it changes nothing."""
    days = [newest_day - dt.timedelta(days=n) for n in (9, 8, 7)]
    with psycopg.connect(insights_wh.role_url("transformer"), autocommit=True) as conn:
        assert not conn.execute(
            "select count(*) from insights.llm_insights where run_date = any(%s)", (days,)
        ).fetchone()[0]
    for day in days:
        md = _materialize(tiny_resources, day.isoformat())
        assert md["campaigns_insights"]["run_date"].value == day.isoformat()
    first = _run_dates(insights_wh, days)
    assert {d for d, _ in first} == set(days)
    for day in days:
        assert first[(day, "cohorts")][0] >= 1 and first[(day, "campaigns")][0] >= 1, day
    for day in days:
        _materialize(tiny_resources, day.isoformat())
    assert _run_dates(insights_wh, days) == first
