"""Tier 2: the Meta Ads dlt source against the Marketing API emulator on the tiny shop, into real Postgres.

Loaded twice (idempotent merge, second run only re-pulls the 28-day window), every fault recovered,
exhausted retries name the endpoint, a load killed midway then re-run equals a clean run, and restated
conversions converge to the world's final numbers.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

import pandas as pd
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.common.http import SourceAPIError
from ingestion.meta_ads import MetaAdsSettings, meta_pipeline, run_meta_pipeline
from ingestion.sandbox.emulators.meta_restatement import RESTATEMENT_DAYS, restatement_fraction
from ingestion.sandbox.emulators.meta_world import world_end_date
from tests.sources._meta_ga4_fixtures import (
    FAST_HTTP,
    columns,
    control,
    duplicate_keys,
    emulator,
    query,
    reset_dataset,
    run_killed_midway,
    table_rows,
)

PIPELINE = "test_meta_ads"
KEYS = {"campaigns": ("id",), "adsets": ("id",), "ads": ("id",), "ads_insights": ("ad_id", "date_start")}
CONTRACT = {
    "campaigns": {"id", "account_id", "name", "objective", "status", "daily_budget", "created_time", "updated_time"},
    "adsets": {"id", "campaign_id", "name", "status", "created_time", "updated_time"},
    "ads": {"id", "adset_id", "campaign_id", "name", "status", "created_time", "updated_time", "url_tags"},
    "ads_insights": {
        "date_start", "date_stop", "account_id", "campaign_id", "campaign_name", "adset_id", "ad_id", "ad_name",
        "spend", "impressions", "clicks", "reach", "actions", "action_values",
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def meta(tiny_world: Path, warehouse):
    with emulator("meta", tiny_world) as (url, env, faults):
        yield SimpleNamespace(url=url, env=env, faults=faults, world=tiny_world, warehouse=warehouse)
    reset_dataset(warehouse, "meta_ads", PIPELINE)  # leave an empty raw schema behind


def _reset(meta) -> None:
    reset_dataset(meta.warehouse, "meta_ads", PIPELINE)
    control(meta.url, as_of=None, throttle_next=[], rate_limit=None, polls_to_complete=3, fail_next_jobs=0)
    meta.faults.clear()


def load(meta, **overrides):
    settings = MetaAdsSettings.from_env(
        meta.env, poll_interval=0.01, page_size=200, **{**FAST_HTTP, **overrides}
    )
    return run_meta_pipeline(settings, pipeline=meta_pipeline(pipeline_name=PIPELINE))


def snapshot() -> dict[str, list[tuple]]:
    return {table: table_rows("meta_ads", table, key) for table, key in KEYS.items()}


def insight_posts(meta) -> list[dict[str, str]]:
    """time ranges of every insights report run / sync insights request in the request log."""
    ranges = []
    for r in meta.faults.requests:
        if r.path.endswith("/insights") and "/act_" in r.path:
            params = parse_qs(r.body.decode() if r.method == "POST" else r.query)
            ranges.append(json.loads(params["time_range"][0]))
    return ranges


@pytest.fixture(scope="module")
def reference(meta) -> dict[str, list[tuple]]:
    """A clean full load: the tables every other run must reproduce."""
    _reset(meta)
    load(meta)
    return snapshot()


@pytest.fixture
def fresh(meta, reference):
    _reset(meta)
    return meta


def _purchase(actions, action_type: str = "purchase") -> float:
    return next((float(a["value"]) for a in actions or [] if a["action_type"] == action_type), 0.0)


def test_tables_follow_the_contract(meta, reference):
    for table, expected in CONTRACT.items():
        assert expected <= columns("meta_ads", table), table
        assert duplicate_keys("meta_ads", table, KEYS[table]) == 0, table
    final = pd.read_parquet(meta.world / "meta_insights_daily.parquet")
    assert len(reference["ads_insights"]) - 1 == int(
        ((final["impressions"] > 0) | (final["spend"] > 0)).sum()
    )
    assert len(reference["ads"]) - 1 == len(pd.read_parquet(meta.world / "meta_ads.parquet"))
    sample = query("select spend, impressions, jsonb_typeof(actions) from meta_ads.ads_insights limit 1")[0]
    assert isinstance(sample[0], str) and isinstance(sample[1], str) and sample[2] == "array"


def test_second_run_only_repulls_the_window_and_changes_nothing(fresh):
    load(fresh)
    first = snapshot()
    last_loaded = date.fromisoformat(query("select max(date_start) from meta_ads.ads_insights")[0][0])
    fresh.faults.clear()
    load(fresh)
    assert snapshot() == first
    for table, key in KEYS.items():
        assert duplicate_keys("meta_ads", table, key) == 0, table
    ranges = insight_posts(fresh)
    assert ranges, "the second run requested no insights"
    assert min(r["since"] for r in ranges) == (last_loaded - timedelta(days=28)).isoformat()


def test_every_fault_is_recovered(fresh, reference):
    control(
        fresh.url, throttle_next=[17, 613]
    )  # before planning: the control call is served through faults too
    fresh.faults.plan("429", retry_after=0.05)
    for kind in ("500", "502", "503", "drop"):
        fresh.faults.plan(kind)
    fresh.faults.plan("slow", delay=0.3)
    fresh.faults.plan("malformed", path_contains="/insights")  # a truncated insights page
    fresh.faults.plan("503", path_contains="/ads")
    load(fresh, max_attempts=12)  # the faults may all hit the same request back to back
    assert snapshot() == reference
    served = [r.fault for r in fresh.faults.requests if r.fault]
    assert sorted(served) == sorted(["429", "500", "502", "503", "503", "drop", "slow", "malformed"])
    assert fresh.faults.pending == 0
    throttled = [r for r in fresh.faults.requests if r.status == 400]
    assert len(throttled) == 2  # the two rate-limit errors (codes 17 and 613) were retried


def test_rate_limit_config_throttles_and_the_load_still_completes(fresh, reference):
    control(fresh.url, rate_limit={"calls": 8, "window_seconds": 0.3})
    load(fresh, max_attempts=12, max_wait=0.3)
    assert snapshot() == reference
    assert any(r.status == 400 for r in fresh.faults.requests)


def test_exhausted_retries_name_source_endpoint_status_and_body(fresh):
    fresh.faults.plan("503", times=5, path_contains="/campaigns")
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, max_attempts=3)
    error = info.value.__cause__
    while error is not None and not isinstance(error, SourceAPIError):
        error = error.__cause__
    assert isinstance(error, SourceAPIError), info.value
    message = str(error)
    assert message.startswith("meta_ads: GET ")
    assert "/v21.0/act_" in message and message.split(" failed")[0].endswith("/campaigns")
    assert "after 3 attempt(s): HTTP 503" in message
    assert "emulator fault: HTTP 503" in message
    assert "access_token" not in message and fresh.env["META_ACCESS_TOKEN"] not in message


def test_exhausted_throttling_reports_meta_error_code(fresh):
    control(fresh.url, throttle_next=[17] * 5)
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, max_attempts=3)
    assert "HTTP 400" in str(info.value) and "(#17) User request limit reached" in str(info.value)


def test_failed_report_runs_fall_back_to_sync_paging(fresh):
    control(fresh.url, fail_next_jobs=100)
    end = world_end_date(fresh.world)
    since, until = (end - timedelta(days=20)).isoformat(), (end - timedelta(days=1)).isoformat()
    load(fresh, chunk_days=0)  # objects + insights via sync fallback
    sync = [
        r
        for r in fresh.faults.requests
        if r.method == "GET" and r.path.endswith("/insights") and "act_" in r.path
    ]
    assert sync, "no synchronous insights request after the report runs failed"
    assert duplicate_keys("meta_ads", "ads_insights", KEYS["ads_insights"]) == 0
    rows = query(
        "select count(*) from meta_ads.ads_insights where date_start between %s and %s", (since, until)
    )
    assert rows[0][0] > 0


def test_backfill_range_loads_only_that_range_and_keeps_the_cursor(fresh, reference):
    load(fresh)
    fresh.faults.clear()
    end = world_end_date(fresh.world)
    since, until = (end - timedelta(days=100)).isoformat(), (end - timedelta(days=90)).isoformat()
    settings = MetaAdsSettings.from_env(fresh.env, poll_interval=0.01, **FAST_HTTP)
    run_meta_pipeline(settings, since=since, until=until, pipeline=meta_pipeline(pipeline_name=PIPELINE))
    assert insight_posts(fresh) == [{"since": since, "until": until}]
    assert snapshot() == reference
    fresh.faults.clear()
    load(fresh)  # the incremental cursor still re-pulls from the last loaded day, not from the backfill
    assert min(r["since"] for r in insight_posts(fresh)) == (end - timedelta(days=1 + 28)).isoformat()


def test_load_killed_midway_then_rerun_equals_clean_run(fresh, reference):
    # three quick matching requests (report run, first pages), then one that hangs until we kill the load
    for _ in range(3):
        fresh.faults.plan("slow", delay=0.0, path_contains="/insights")
    fresh.faults.plan("slow", delay=6.0, path_contains="/insights")
    code = (
        "from ingestion.meta_ads import MetaAdsSettings, meta_pipeline, run_meta_pipeline\n"
        "run_meta_pipeline(MetaAdsSettings.from_env(poll_interval=0.01, page_size=50, backoff=0.01),"
        f" pipeline=meta_pipeline(pipeline_name={PIPELINE!r}))\n"
    )
    run_killed_midway(code, fresh.env, lambda: sum(r.fault == "slow" for r in fresh.faults.requests) >= 4)
    load(fresh)
    assert snapshot() == reference


def test_restated_conversions_converge_to_final_numbers(fresh):
    end = world_end_date(fresh.world)
    early = end - timedelta(days=30)
    control(fresh.url, as_of=early.isoformat())
    load(fresh)
    final = pd.read_parquet(fresh.world / "meta_insights_daily.parquet")
    final["day"] = pd.to_datetime(final["date"]).dt.date
    final = final.set_index([final["ad_id"].astype(str), final["day"].map(date.isoformat)])
    rows = query("select ad_id, date_start, actions, action_values, spend from meta_ads.ads_insights")
    assert max(r[1] for r in rows) == (early - timedelta(days=1)).isoformat()
    under = [r for r in rows if _purchase(r[2]) < final.loc[(r[0], r[1]), "purchases"]]
    assert under, "recent days should still be under-reported as of the early date"

    control(fresh.url, as_of=end.isoformat())
    load(fresh)
    rows = query("select ad_id, date_start, actions, action_values, spend from meta_ads.ads_insights")
    assert duplicate_keys("meta_ads", "ads_insights", KEYS["ads_insights"]) == 0
    checked_final = 0
    for ad_id, day, actions, values, spend in rows:
        truth = final.loc[(ad_id, day)]
        age = (end - date.fromisoformat(day)).days
        assert float(spend) == pytest.approx(float(truth["spend"]), abs=0.005)
        expected = round(float(truth["purchases"]) * restatement_fraction(age))
        assert _purchase(actions) == expected, (ad_id, day)
        if age >= RESTATEMENT_DAYS:
            checked_final += 1
            assert _purchase(actions) == truth["purchases"]
            assert _purchase(values) == pytest.approx(float(truth["purchase_value"]), abs=0.005)
    assert checked_final > 0
    # every day that was under-reported at the early date is final now (it is older than 28 days)
    assert all(end - date.fromisoformat(r[1]) >= timedelta(days=RESTATEMENT_DAYS) for r in under)
