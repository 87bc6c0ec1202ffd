"""Tier 2: the Meta Ads dlt source against the Marketing API emulator on the tiny shop, into real Postgres.

Loaded twice (idempotent merge, second run only re-pulls the 28-day window), every fault recovered,
exhausted retries name the endpoint, a load killed midway then re-run equals a clean run, and restated
conversions converge to the world's final numbers.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

import pandas as pd
import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.common.http import SourceAPIError
from ingestion.meta_ads import MetaAdsSettings, meta_pipeline, run_meta_pipeline
from ingestion.meta_ads.check import check
from ingestion.meta_ads.client import MetaVersionError
from ingestion.meta_ads.settings import DEFAULT_API_VERSION
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
    control(
        meta.url, as_of=None, throttle_next=[], rate_limit=None, polls_to_complete=3, fail_next_jobs=0,
        fail_jobs_longer_than_days=None, fail_jobs_wider_than_campaigns=None, stall_jobs_longer_than_days=None,
        permissions=None,
    )  # fmt: skip
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
    assert f"/{DEFAULT_API_VERSION}/act_" in message and message.split(" failed")[0].endswith("/campaigns")
    assert "after 3 attempt(s): HTTP 503" in message
    assert "emulator fault: HTTP 503" in message
    assert "access_token" not in message and fresh.env["META_ACCESS_TOKEN"] not in message


def test_exhausted_throttling_reports_meta_error_code(fresh):
    control(fresh.url, throttle_next=[17] * 5)
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, max_attempts=3)
    assert "HTTP 400" in str(info.value) and "(#17) User request limit reached" in str(info.value)


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


# -- API version, archived/deleted objects, failed report runs, the connection check -------------------


def _cause(error: BaseException, kind: type[BaseException]) -> BaseException:
    """The first exception of type `kind` in `error`'s cause chain (dlt wraps what a resource raises)."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, kind):
        seen = seen.__cause__ or seen.__context__
    assert isinstance(seen, kind), error
    return seen


def backfill(meta, since: str, until: str, **overrides) -> None:
    settings = MetaAdsSettings.from_env(
        meta.env, poll_interval=0.01, page_size=200, **{**FAST_HTTP, **overrides}
    )
    run_meta_pipeline(settings, since=since, until=until, pipeline=meta_pipeline(pipeline_name=PIPELINE))


def rows_between(table: list[tuple], since: str, until: str) -> list[tuple]:
    """A snapshot table's header plus its rows with `date_start` in [since, until]."""
    header, *rows = table
    i = header.index("date_start")
    return [header, *(r for r in rows if since <= r[i] <= until)]


def as_dicts(table: list[tuple]) -> list[dict]:
    header, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def report_runs(meta) -> list[tuple[int, list[dict]]]:
    """(days, filtering) of every report run the connector started."""
    runs = []
    for r in meta.faults.requests:
        if r.method == "POST" and r.path.endswith("/insights"):
            params = parse_qs(r.body.decode())
            window = json.loads(params["time_range"][0])
            days = (date.fromisoformat(window["until"]) - date.fromisoformat(window["since"])).days + 1
            runs.append((days, json.loads(params["filtering"][0])))
    return runs


def sync_insights(meta) -> list[list[dict]]:
    """The `filtering` of every synchronous account insights request."""
    return [
        json.loads(parse_qs(r.query)["filtering"][0])
        for r in meta.faults.requests
        if r.method == "GET" and r.path.endswith("/insights") and "/act_" in r.path and "filtering" in r.query
    ]


def _graph(meta, path: str, version: str = DEFAULT_API_VERSION, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {meta.env['META_ACCESS_TOKEN']}"}
    return requests.get(f"{meta.url}/{version}/{path}", params=params, headers=headers, timeout=10)


def test_default_version_is_the_sdks_and_the_emulator_serves_only_the_supported_window(meta):
    assert DEFAULT_API_VERSION == "v26.0"
    account = f"act_{meta.env['META_AD_ACCOUNT_ID']}"
    for version in ("v24.0", "v25.0", "v26.0"):
        resp = _graph(meta, account, version, fields="name")
        assert resp.status_code == 200 and resp.headers["facebook-api-version"] == version, version
    old = _graph(meta, account, "v23.0", fields="name")
    assert old.status_code == 400
    assert old.json()["error"] == {
        "message": "(#2635) You are calling a deprecated version of the Ads API. "
        "Please update to the latest version: v26.0.",
        "type": "OAuthException",
        "code": 2635,
        "fbtrace_id": old.json()["error"]["fbtrace_id"],
    }
    assert _graph(meta, account, "v27.0", fields="name").json()["error"]["code"] == 2500
    # a plain Graph call to a retired version is served by the oldest one, and the header says so
    me = _graph(meta, "me", "v21.0", fields="id,name")
    assert me.status_code == 200 and me.headers["facebook-api-version"] == "v24.0"


def test_unsupported_version_fails_with_the_vendors_message_and_is_not_retried(fresh):
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, api_version="v21.0")
    message = str(_cause(info.value, MetaVersionError))
    assert (
        "(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: v26.0."
        in message
    )
    assert "META_API_VERSION" in message and "v21.0" in message
    assert fresh.env["META_ACCESS_TOKEN"] not in message
    calls = [r for r in fresh.faults.requests if "/v21.0/" in r.path]
    assert calls and all(r.status == 400 for r in calls)
    assert len(calls) == len({r.path for r in calls})  # no endpoint was asked twice


def test_emulator_hides_archived_and_deleted_objects_unless_asked(meta):
    account = f"act_{meta.env['META_AD_ACCOUNT_ID']}"
    every = json.dumps(["ACTIVE", "PAUSED", "ARCHIVED", "DELETED", "IN_PROCESS", "WITH_ISSUES"])
    plain = _graph(meta, f"{account}/campaigns", fields="id,effective_status", limit=100).json()["data"]
    asked = _graph(
        meta, f"{account}/campaigns", fields="id,effective_status", limit=100, effective_status=every
    )
    asked = asked.json()["data"]
    retired = {c["id"] for c in asked if c["effective_status"] in ("ARCHIVED", "DELETED")}
    assert retired and not retired & {c["id"] for c in plain}
    assert len(asked) == len(plain) + len(retired)
    bad = _graph(meta, f"{account}/campaigns", fields="id", effective_status='["RETIRED"]')
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100
    # level=ad account insights leave out deleted ads unless the filter admits them (archived stay)
    window = json.dumps({"since": "2025-01-05", "until": "2025-01-07"})
    base = {"level": "ad", "time_increment": "1", "time_range": window, "fields": "ad_id,spend", "limit": 500}
    ads = _graph(meta, f"{account}/ads", fields="id,effective_status", limit=500,
                 effective_status=json.dumps(["ACTIVE", "PAUSED", "ARCHIVED", "DELETED"])).json()["data"]  # fmt: skip
    deleted = {a["id"] for a in ads if a["effective_status"] == "DELETED"}
    hidden = {r["ad_id"] for r in _graph(meta, f"{account}/insights", **base).json()["data"]}
    statuses = ["ACTIVE", "PAUSED", "CAMPAIGN_PAUSED", "ADSET_PAUSED", "ARCHIVED", "DELETED"]
    shown = _graph(
        meta, f"{account}/insights", **base,
        filtering=json.dumps([{"field": "ad.effective_status", "operator": "IN", "value": statuses}]),
    ).json()["data"]  # fmt: skip
    shown_ids = {r["ad_id"] for r in shown}
    assert deleted & shown_ids and not deleted & hidden and hidden < shown_ids


def test_archived_and_deleted_objects_and_their_spend_are_loaded(meta, reference):
    world = {
        edge: pd.read_parquet(meta.world / f"meta_{edge}.parquet") for edge in ("campaigns", "adsets", "ads")
    }
    key = {"campaigns": "campaign_id", "adsets": "adset_id", "ads": "ad_id"}
    for edge, frame in world.items():
        loaded = {row["id"]: row["status"] for row in as_dicts(reference[edge])}
        assert loaded == dict(zip(frame[key[edge]].astype(str), frame["status"], strict=True)), edge
    assert {"ARCHIVED", "DELETED"} <= set(world["campaigns"]["status"])
    status = dict(
        zip(world["campaigns"]["campaign_id"].astype(str), world["campaigns"]["status"], strict=True)
    )
    insights = as_dicts(reference["ads_insights"])
    assert all(row["campaign_id"] in status for row in insights)  # no insights row without its campaign
    final = pd.read_parquet(meta.world / "meta_insights_daily.parquet")
    final["campaign_status"] = final["campaign_id"].astype(str).map(status)
    for retired in ("ARCHIVED", "DELETED"):
        loaded = sum(float(r["spend"]) for r in insights if status[r["campaign_id"]] == retired)
        truth = float(final.loc[final["campaign_status"] == retired, "spend"].astype(float).sum())
        assert truth > 0 and loaded == pytest.approx(truth, abs=0.01), retired


def test_failed_report_runs_split_their_window_and_load_the_same_rows(fresh, reference, caplog):
    control(fresh.url, fail_jobs_longer_than_days=7, polls_to_complete=1)
    with caplog.at_level(logging.WARNING, logger="ingestion.meta_ads.client"):
        load(fresh)
    assert snapshot() == reference
    days = [d for d, _ in report_runs(fresh)]
    assert max(days) == 90 and min(days) >= 1 and any(d <= 7 for d in days)
    assert not sync_insights(fresh)  # splitting the window was enough: no synchronous fallback
    # Meta's reason for each failed run is in the log (AdReportRun.error_code / error_message)
    assert "ended 'Job Failed' (error_code 1: Please reduce the amount of data" in caplog.text
    assert "splitting into" in caplog.text


def test_a_day_that_still_fails_is_split_by_campaign_with_the_same_rows(fresh, reference):
    since, until = "2025-01-05", "2025-01-07"  # a deleted campaign (new-year-reset-2025) spends these days
    control(fresh.url, fail_jobs_wider_than_campaigns=2, polls_to_complete=1)
    backfill(fresh, since, until)
    expected = rows_between(reference["ads_insights"], since, until)
    assert snapshot()["ads_insights"] == expected
    scopes = [
        next(f for f in filtering if f["field"] == "campaign.id")
        for _, filtering in report_runs(fresh)
        if any(f["field"] == "campaign.id" for f in filtering)
    ]
    assert {s["operator"] for s in scopes} == {"IN", "NOT_IN"}
    assert any(len(s["value"]) <= 2 for s in scopes if s["operator"] == "IN")
    assert not sync_insights(fresh)


def test_a_piece_that_cannot_be_split_is_paged_synchronously(fresh, reference, caplog):
    day = "2025-01-06"
    control(fresh.url, fail_next_jobs=10_000, polls_to_complete=1)
    with caplog.at_level(logging.WARNING):
        backfill(fresh, day, day)
    assert snapshot()["ads_insights"] == rows_between(reference["ads_insights"], day, day)
    sync = sync_insights(fresh)
    assert sync, "no synchronous insights request after every report run failed"
    # only single campaigns (and the rest of the account) were paged synchronously
    for filtering in sync:
        scope = next(f for f in filtering if f["field"] == "campaign.id")
        assert scope["operator"] == "NOT_IN" or len(scope["value"]) == 1
    assert "cannot be split further; paging it synchronously" in caplog.text


def test_timed_out_report_runs_split_like_failed_ones(fresh, reference, caplog):
    since, until = "2025-01-01", "2025-01-30"
    control(fresh.url, stall_jobs_longer_than_days=10, polls_to_complete=1)
    with caplog.at_level(logging.WARNING, logger="ingestion.meta_ads.client"):
        backfill(fresh, since, until, async_timeout=0.2)
    assert snapshot()["ads_insights"] == rows_between(reference["ads_insights"], since, until)
    assert "still Job Running after 0.2s" in caplog.text
    assert not sync_insights(fresh)


def test_check_passes_against_the_emulator(meta):
    result = check(meta.env)
    assert result.verdict == "OK", result.summary()
    assert [s.name for s in result.steps] == ["token", "api version", "permissions", "ad account", "one page"]
    assert "v26.0 served" in result.summary() and "ads_read" in result.summary()


def test_check_names_the_reason_and_prints_no_secret(meta):
    bad = "EAAGm0PX4ZCpsBAnotarealtoken1234567890"
    result = check({**meta.env, "META_ACCESS_TOKEN": bad})
    assert result.verdict == "FAILED"
    text = result.summary() + " ".join(s.detail for s in result.steps)
    assert result.steps[-1].name == "token" and "META_ACCESS_TOKEN" in text and "error 190" in text
    assert bad not in text and meta.env["META_ACCESS_TOKEN"] not in text

    retired = check({**meta.env, "META_API_VERSION": "v21.0"})
    assert retired.verdict == "FAILED" and retired.steps[-1].name == "api version"
    assert "META_API_VERSION=v21.0" in retired.summary() and "v26.0" in retired.summary()

    control(meta.url, permissions=["business_management"])
    try:
        denied = check(meta.env)
    finally:
        control(meta.url, permissions=None)
    assert denied.verdict == "FAILED" and denied.steps[-1].name == "permissions"
    assert "lacks ads_read" in denied.summary()

    assert check({}).verdict == "SKIPPED"
