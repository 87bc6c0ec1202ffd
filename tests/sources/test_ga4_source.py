"""Tier 2: the GA4 dlt source against the Data API emulator on the tiny shop, into real Postgres.

Loaded twice (idempotent merge, second run only re-pulls the 3-day window), every fault recovered,
exhausted retries name the endpoint, a load killed midway then re-run equals a clean run, and the
incomplete last days converge to the world's final numbers once GA4 restates them.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.ga4 import GA4Settings, ga4_pipeline, run_ga4_pipeline
from ingestion.sandbox.emulators.ga4 import INCOMPLETE_SHARE
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

PIPELINE = "test_ga4"
KEY = ("date", "session_source", "session_medium", "session_campaign_name", "device_category")
METRICS = (
    "sessions",
    "engaged_sessions",
    "add_to_carts",
    "checkouts",
    "ecommerce_purchases",
    "total_users",
    "new_users",
)
CONTRACT = {*KEY, *METRICS, "purchase_revenue", "property_id"}


@pytest.fixture(scope="module")
def ga4(tiny_world: Path, warehouse):
    with emulator("ga4", tiny_world) as (url, env, faults):
        yield SimpleNamespace(url=url, env=env, faults=faults, world=tiny_world, warehouse=warehouse)
    reset_dataset(warehouse, "ga4", PIPELINE)


def _reset(ga4) -> None:
    reset_dataset(ga4.warehouse, "ga4", PIPELINE)
    control(ga4.url, as_of=None, exhaust_next=0, rate_limit=None)
    ga4.faults.clear()


def load(ga4, **overrides):
    settings = GA4Settings.from_env(ga4.env, page_size=1000, **{**FAST_HTTP, **overrides})
    return run_ga4_pipeline(settings, pipeline=ga4_pipeline(pipeline_name=PIPELINE))


def snapshot() -> list[tuple]:
    return table_rows("ga4", "daily_traffic", KEY)


def report_starts(ga4) -> list[str]:
    return [
        json.loads(r.body)["dateRanges"][0]["startDate"]
        for r in ga4.faults.requests
        if r.path.endswith(":runReport") and r.body
    ]


def final_numbers(world: Path) -> pd.DataFrame:
    """The world's complete GA4 numbers keyed like the warehouse table."""
    frame = pd.read_parquet(world / "ga4_daily.parquet")
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y%m%d")
    for column in KEY[1:]:
        frame[column] = frame[column].fillna("(not set)").astype(str).replace("", "(not set)")
    return frame.set_index(list(KEY))


@pytest.fixture(scope="module")
def reference(ga4) -> list[tuple]:
    _reset(ga4)
    load(ga4)
    return snapshot()


@pytest.fixture
def fresh(ga4, reference):
    _reset(ga4)
    return ga4


def test_table_follows_the_contract_and_holds_the_world(ga4, reference):
    assert columns("ga4", "daily_traffic") >= CONTRACT
    assert duplicate_keys("ga4", "daily_traffic", KEY) == 0
    types = dict(
        query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'ga4' and table_name = 'daily_traffic'"
        )
    )
    assert types["date"] == "character varying" or types["date"] == "text"
    assert types["sessions"] == "bigint" and types["purchase_revenue"] == "double precision"
    final = final_numbers(ga4.world)
    metric_cols = [*METRICS, "purchase_revenue"]
    end = world_end_date(ga4.world)
    settled = (end - timedelta(days=2)).strftime("%Y%m%d")  # the last 2 days are still scaled down
    nonzero = final[(final[metric_cols] != 0).any(axis=1)]
    old = nonzero[nonzero.index.get_level_values("date") < settled]
    assert query("select count(*) from ga4.daily_traffic where date < %s", (settled,))[0][0] == len(old)
    complete_day = (end - timedelta(days=10)).strftime("%Y%m%d")
    loaded = query(
        "select sum(sessions), sum(purchase_revenue) from ga4.daily_traffic where date = %s", (complete_day,)
    )
    day = final.xs(complete_day, level="date")
    assert int(loaded[0][0]) == int(day["sessions"].sum())
    assert float(loaded[0][1]) == pytest.approx(float(day["purchase_revenue"].sum()), abs=0.05)


def test_second_run_only_repulls_the_window_and_changes_nothing(fresh):
    load(fresh)
    first = snapshot()
    last = query("select max(date) from ga4.daily_traffic")[0][0]
    fresh.faults.clear()
    load(fresh)
    assert snapshot() == first
    assert duplicate_keys("ga4", "daily_traffic", KEY) == 0
    starts = report_starts(fresh)
    expected = (date(int(last[:4]), int(last[4:6]), int(last[6:])) - timedelta(days=3)).isoformat()
    assert starts and set(starts) == {expected}


def test_every_fault_is_recovered(fresh, reference):
    control(fresh.url, exhaust_next=2)  # GA4's own 429 RESOURCE_EXHAUSTED (before planning middleware faults)
    fresh.faults.plan("429", retry_after=0.05)
    for kind in ("500", "502", "503", "drop", "malformed"):
        fresh.faults.plan(kind)
    fresh.faults.plan("slow", delay=0.3)
    load(fresh, max_attempts=12)
    assert snapshot() == reference
    served = sorted(r.fault for r in fresh.faults.requests if r.fault)
    assert served == sorted(["429", "500", "502", "503", "drop", "malformed", "slow"])
    exhausted = [r for r in fresh.faults.requests if r.status == 429 and r.fault != "429"]
    assert len(exhausted) == 2


def test_exhausted_retries_name_source_endpoint_status_and_body(fresh):
    control(fresh.url, exhaust_next=10)
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, max_attempts=3)
    message = str(info.value)
    assert "ga4: POST " in message
    assert (
        f"/v1beta/properties/{fresh.env['GA4_PROPERTY_ID']}:runReport failed after 3 attempt(s): HTTP 429"
        in message
    )
    assert "RESOURCE_EXHAUSTED" in message
    assert fresh.env["GA4_ACCESS_TOKEN"] not in message


def test_unknown_metric_is_rejected_like_google(fresh):
    ga4 = fresh
    resp = requests.post(
        f"{ga4.url}/v1beta/properties/{ga4.env['GA4_PROPERTY_ID']}:runReport",
        headers={"Authorization": f"Bearer {ga4.env['GA4_ACCESS_TOKEN']}"},
        json={
            "dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}],
            "metrics": [{"name": "bounces"}],
        },
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "bounces is not a valid metric" in resp.json()["error"]["message"]


def test_report_paging_follows_row_count(fresh):
    ga4 = fresh
    url = f"{ga4.url}/v1beta/properties/{ga4.env['GA4_PROPERTY_ID']}:runReport"
    headers = {"Authorization": f"Bearer {ga4.env['GA4_ACCESS_TOKEN']}"}
    body = {
        "dateRanges": [{"startDate": "30daysAgo", "endDate": "yesterday"}],
        "dimensions": [{"name": "date"}, {"name": "deviceCategory"}],
        "metrics": [{"name": "sessions"}, {"name": "purchaseRevenue"}],
    }
    whole = requests.post(url, headers=headers, json=body, timeout=10).json()
    assert whole["kind"] == "analyticsData#runReport"
    assert whole["metricHeaders"] == [
        {"name": "sessions", "type": "TYPE_INTEGER"},
        {"name": "purchaseRevenue", "type": "TYPE_CURRENCY"},
    ]
    pages, offset = [], 0
    while offset < whole["rowCount"]:
        page = requests.post(
            url, headers=headers, json={**body, "limit": 7, "offset": offset}, timeout=10
        ).json()
        assert page["rowCount"] == whole["rowCount"] and len(page["rows"]) <= 7
        pages += page["rows"]
        offset += len(page["rows"])
    assert pages == whole["rows"]
    assert all(isinstance(v["value"], str) for row in pages for v in row["metricValues"])


def test_load_killed_midway_then_rerun_equals_clean_run(fresh, reference):
    for _ in range(2):  # two pages go through, the third hangs until the load is killed
        fresh.faults.plan("slow", delay=0.0)
    fresh.faults.plan("slow", delay=6.0)
    code = (
        "from ingestion.ga4 import GA4Settings, ga4_pipeline, run_ga4_pipeline\n"
        f"run_ga4_pipeline(GA4Settings.from_env(page_size=300), pipeline=ga4_pipeline(pipeline_name={PIPELINE!r}))\n"
    )
    run_killed_midway(code, fresh.env, lambda: sum(r.fault == "slow" for r in fresh.faults.requests) >= 3)
    load(fresh)
    assert snapshot() == reference


def test_incomplete_days_are_restated_and_converge(fresh):
    end = world_end_date(fresh.world)
    early = end - timedelta(days=30)
    control(fresh.url, as_of=early.isoformat())
    load(fresh)
    final = final_numbers(fresh.world)
    yesterday = (early - timedelta(days=1)).strftime("%Y%m%d")
    got = int(query("select sum(sessions) from ga4.daily_traffic where date = %s", (yesterday,))[0][0])
    full = int(final.xs(yesterday, level="date")["sessions"].sum())
    assert got < full, "the last day should be incomplete as of the early date"

    control(fresh.url, as_of=end.isoformat())
    load(fresh)
    assert duplicate_keys("ga4", "daily_traffic", KEY) == 0
    rows = query(f"select {', '.join(KEY)}, {', '.join(METRICS)}, purchase_revenue from ga4.daily_traffic")
    assert rows
    for row in rows:
        key, values = row[: len(KEY)], row[len(KEY) :]
        age = (end - date(int(key[0][:4]), int(key[0][4:6]), int(key[0][6:]))).days
        truth = final.loc[key]
        share = INCOMPLETE_SHARE.get(age, 1.0)
        for column, value in zip((*METRICS, "purchase_revenue"), values, strict=True):
            expected = float(truth[column]) * share
            if column == "purchase_revenue":
                assert value == pytest.approx(round(expected, 2), abs=0.01), (key, column)
            else:
                assert value == round(expected), (key, column)
    early_days = {(early - timedelta(days=k)).strftime("%Y%m%d") for k in (1, 2)}
    assert early_days <= {r[0] for r in rows}  # the once-incomplete days are now final (share 1.0 above)
