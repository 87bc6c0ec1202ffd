"""Tier 2: the Google Ads dlt source against the Google Ads API emulator on the tiny shop, into real
Postgres.

Loaded twice (idempotent merge; the second run only re-pulls the 30-day window), every fault
recovered, a 401 refreshes the token and goes on, exhausted retries and a spent daily quota name what
happened, a sunset API version says which variable to change, a load killed midway then re-run equals a
clean run, and restated conversions converge to the world's final numbers.
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

from ingestion.common.http import SourceAPIError
from ingestion.google_ads import GoogleAdsSettings, google_ads_pipeline, run_google_ads_pipeline
from ingestion.google_ads.check import check
from ingestion.google_ads.client import (
    GoogleAdsCredentialsError,
    GoogleAdsQuotaExhausted,
    GoogleAdsVersionError,
)
from ingestion.sandbox.emulators.google_ads import RESTATEMENT_DAYS, conversion_share
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

PIPELINE = "test_google_ads"
KEYS = {
    "campaigns": ("id",), "ad_groups": ("id",), "campaign_daily": ("campaign_id", "date"),
    "ad_group_daily": ("ad_group_id", "date"), "ads": ("id",), "ad_daily": ("ad_id", "date"),
}  # fmt: skip
CONTRACT = {
    "campaigns": {"id", "name", "status", "advertising_channel_type", "bidding_strategy_type", "start_date",
                  "currency_code"},
    "ad_groups": {"id", "campaign_id", "name", "status", "type"},
    "campaign_daily": {"campaign_id", "date", "impressions", "clicks", "cost_micros", "conversions",
                       "conversions_value"},
    "ad_group_daily": {"ad_group_id", "campaign_id", "date", "impressions", "clicks", "cost_micros", "conversions",
                       "conversions_value"},
    "ads": {"id", "ad_group_id", "campaign_id", "name", "type", "status"},
    "ad_daily": {"ad_id", "ad_group_id", "campaign_id", "date", "impressions", "clicks", "cost_micros",
                 "conversions", "conversions_value"},
}  # fmt: skip


@pytest.fixture(scope="module")
def ads(tiny_world: Path, warehouse):
    with emulator("google_ads", tiny_world) as (url, env, faults):
        yield SimpleNamespace(url=url, env=env, faults=faults, world=tiny_world, warehouse=warehouse)
    reset_dataset(warehouse, "google_ads", PIPELINE)


def _reset(ads) -> None:
    reset_dataset(ads.warehouse, "google_ads", PIPELINE)
    control(ads.url, as_of=None, daily_operations=2880, throttle_next=0, expire_tokens_after_calls=None)
    ads.faults.clear()


def load(ads, since: str | None = None, until: str | None = None, **overrides):
    settings = GoogleAdsSettings.from_env(ads.env, **{**FAST_HTTP, **overrides})
    return run_google_ads_pipeline(
        settings, since=since, until=until, pipeline=google_ads_pipeline(pipeline_name=PIPELINE)
    )


def snapshot() -> dict[str, list[tuple]]:
    return {table: table_rows("google_ads", table, key) for table, key in KEYS.items()}


def daily_ranges(ads) -> list[tuple[str, str]]:
    """(since, until) of every campaign_daily query the connector sent."""
    found = []
    for r in ads.faults.requests:
        if r.path.endswith("googleAds:searchStream") and r.body:
            q = json.loads(r.body)["query"]
            if "FROM campaign WHERE segments.date BETWEEN" in q:
                found.append(tuple(part.split("'")[1] for part in q.split("BETWEEN ")[1].split(" AND ")))
    return found


def _cause(error: BaseException, kind: type[BaseException]) -> BaseException:
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, kind):
        seen = seen.__cause__ or seen.__context__
    assert isinstance(seen, kind), error
    return seen


@pytest.fixture(scope="module")
def reference(ads) -> dict[str, list[tuple]]:
    _reset(ads)
    load(ads)
    return snapshot()


@pytest.fixture
def fresh(ads, reference):
    _reset(ads)
    return ads


def test_tables_follow_the_contract_and_the_world(ads, reference):
    for table, expected in CONTRACT.items():
        assert expected <= columns("google_ads", table), table
        assert duplicate_keys("google_ads", table, KEYS[table]) == 0, table
    world = pd.read_parquet(ads.world / "google_ads_daily.parquet")
    cost, clicks = query("select sum(cost_micros), sum(clicks) from google_ads.campaign_daily")[0]
    assert int(cost) == int(world["cost_micros"].sum()) and int(clicks) == int(world["clicks"].sum())
    # Performance Max has no ad groups: the ad-group table holds the search campaigns' rows only
    search = world[world["ad_group_id"] != ""]
    assert int(query("select sum(cost_micros) from google_ads.ad_group_daily")[0][0]) == int(
        search["cost_micros"].sum()
    )
    assert len(reference["campaigns"]) - 1 == 3 and len(reference["ad_groups"]) - 1 == 5
    assert len(reference["ads"]) - 1 == len(pd.read_parquet(ads.world / "google_ads_ads.parquet"))
    # the three levels agree: every ad's metrics add up to its ad group's, day by day
    mismatched = query(
        "select count(*) from (select ad_group_id, date, sum(cost_micros) c, sum(clicks) k from google_ads.ad_daily "
        "group by 1, 2) a full join google_ads.ad_group_daily g using (ad_group_id, date) "
        "where a.c is distinct from g.cost_micros or a.k is distinct from g.clicks"
    )[0][0]
    assert mismatched == 0


def test_second_run_only_repulls_the_window_and_changes_nothing(fresh):
    load(fresh)
    first = snapshot()
    last = date.fromisoformat(query("select max(date) from google_ads.campaign_daily")[0][0])
    fresh.faults.clear()
    load(fresh)
    assert snapshot() == first
    ranges = daily_ranges(fresh)
    assert ranges and min(r[0] for r in ranges) == (last - timedelta(days=30)).isoformat()


def test_every_fault_is_recovered(fresh, reference):
    control(fresh.url, throttle_next=2)  # Google's own short-term 429 (RESOURCE_TEMPORARILY_EXHAUSTED) twice
    fresh.faults.plan("429", retry_after=0.05, path_contains="searchStream")
    for kind in ("500", "502", "503", "drop"):
        fresh.faults.plan(kind, path_contains="searchStream")
    fresh.faults.plan("malformed", path_contains="searchStream")
    load(fresh, max_attempts=12)
    assert snapshot() == reference
    assert sorted(r.fault for r in fresh.faults.requests if r.fault) == sorted(
        ["429", "500", "502", "503", "drop", "malformed"]
    )
    assert sum(r.status == 429 and r.fault is None for r in fresh.faults.requests) == 2


def test_an_expired_token_is_refreshed_once_then_the_load_goes_on(fresh, reference):
    control(fresh.url, expire_tokens_after_calls=2)  # the load's token dies after two calls, as after an hour
    load(fresh)
    statuses = [(r.path.rsplit("/", 1)[-1], r.status) for r in fresh.faults.requests]
    assert ("googleAds:searchStream", 401) in statuses
    assert (
        sum(path == "token" and status == 200 for path, status in statuses) >= 2
    )  # first token, then the refresh
    assert snapshot() == reference


def test_exhausted_retries_name_the_endpoint_and_status(fresh):
    fresh.faults.plan("503", times=5, path_contains="searchStream")
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, max_attempts=3)
    error = _cause(info.value, SourceAPIError)
    message = str(error)
    assert message.startswith("google_ads: POST ") and "googleAds:searchStream" in message
    assert "after 3 attempt(s): HTTP 503" in message
    assert fresh.env["GOOGLE_ADS_REFRESH_TOKEN"] not in message and "Bearer" not in message


def test_a_spent_daily_quota_stops_at_once_and_says_so(fresh):
    control(fresh.url, daily_operations=3)
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh)
    error = _cause(info.value, GoogleAdsQuotaExhausted)
    assert "daily operations quota" in str(error) and "midnight Pacific" in str(error)
    refused = [r for r in fresh.faults.requests if r.status == 429]
    assert len(refused) == 1  # not retried: retrying cannot help until the quota resets


def test_a_sunset_api_version_names_the_variable(fresh):
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, api_version="v21")
    error = _cause(info.value, GoogleAdsVersionError)
    assert "GOOGLE_ADS_API_VERSION" in str(error) and "v21" in str(error)


def test_a_revoked_refresh_token_names_the_variable(fresh):
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, refresh_token="revoked")
    error = _cause(info.value, GoogleAdsCredentialsError)
    assert "GOOGLE_ADS_REFRESH_TOKEN" in str(error) and "revoked" not in str(error).split("refused")[0]


def test_the_emulator_enforces_auth_ids_and_gaql(ads):
    base = f"{ads.url}/v26/customers"
    token = requests.post(
        ads.env["GOOGLE_ADS_TOKEN_URI"],
        data={"grant_type": "refresh_token", "client_id": ads.env["GOOGLE_ADS_CLIENT_ID"],
              "client_secret": ads.env["GOOGLE_ADS_CLIENT_SECRET"], "refresh_token": ads.env["GOOGLE_ADS_REFRESH_TOKEN"]},
        timeout=10,
    ).json()["access_token"]  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    q = {"query": "SELECT campaign.id FROM campaign"}
    cid = ads.env["GOOGLE_ADS_CUSTOMER_ID"]

    def code(resp):
        return next(iter(resp.json()["error"]["details"][0]["errors"][0]["errorCode"].values()))

    assert requests.post(f"{base}/{cid}/googleAds:searchStream", json=q, timeout=10).status_code == 401
    dashed = requests.post(f"{base}/555-123-4567/googleAds:searchStream", json=q, headers=auth, timeout=10)
    assert dashed.status_code == 400 and code(dashed) == "CLIENT_CUSTOMER_ID_INVALID"
    manager = requests.post(f"{base}/{cid}/googleAds:searchStream", json=q, timeout=10,
                            headers={**auth, "login-customer-id": "1112223333"})  # fmt: skip
    assert manager.status_code == 403 and code(manager) == "USER_PERMISSION_DENIED"
    unknown = requests.post(f"{base}/{cid}/googleAds:searchStream", timeout=10, headers=auth,
                            json={"query": "SELECT campaign.id, campaign.budget FROM campaign"})  # fmt: skip
    assert unknown.status_code == 400 and code(unknown) == "UNRECOGNIZED_FIELD"
    open_range = requests.post(f"{base}/{cid}/googleAds:searchStream", timeout=10, headers=auth,
                               json={"query": "SELECT campaign.id, segments.date, metrics.clicks FROM campaign"})  # fmt: skip
    assert open_range.status_code == 400 and code(open_range) == "EXPECTED_FILTERS_ON_DATE_RANGE"
    # the developer token is optional since 2026-09-09: a call without one is served
    ok = requests.post(f"{base}/{cid}/googleAds:searchStream", json=q, headers=auth, timeout=10)
    assert ok.status_code == 200 and ok.json()[0]["results"][0]["campaign"]["id"].isdigit()


def test_load_killed_midway_then_rerun_equals_clean_run(fresh, reference):
    for _ in range(3):
        fresh.faults.plan("slow", delay=0.0, path_contains="searchStream")
    fresh.faults.plan("slow", delay=6.0, path_contains="searchStream")
    code = (
        "from ingestion.google_ads import GoogleAdsSettings, google_ads_pipeline, run_google_ads_pipeline\n"
        "run_google_ads_pipeline(GoogleAdsSettings.from_env(backoff=0.01, chunk_days=60),"
        f" pipeline=google_ads_pipeline(pipeline_name={PIPELINE!r}))\n"
    )
    run_killed_midway(code, fresh.env, lambda: sum(r.fault == "slow" for r in fresh.faults.requests) >= 4)
    load(fresh)
    assert snapshot() == reference


def test_restated_conversions_converge_to_final_numbers(fresh):
    end = world_end_date(fresh.world)
    early = end - timedelta(days=30)
    control(fresh.url, as_of=early.isoformat())
    load(fresh)
    world = pd.read_parquet(fresh.world / "google_ads_daily.parquet")
    world["day"] = pd.to_datetime(world["date"]).dt.date.map(date.isoformat)
    final = world.groupby(["campaign_id", "day"])[["conversions", "cost_micros"]].sum()
    rows = query("select campaign_id, date, conversions, cost_micros from google_ads.campaign_daily")
    assert max(r[1] for r in rows) == (early - timedelta(days=1)).isoformat()
    under = [r for r in rows if r[2] < final.loc[(r[0], r[1]), "conversions"] - 1e-6]
    assert under, "recent days should still be under-reported as of the early date"

    control(fresh.url, as_of=end.isoformat())
    load(fresh)
    rows = query("select campaign_id, date, conversions, cost_micros from google_ads.campaign_daily")
    assert duplicate_keys("google_ads", "campaign_daily", KEYS["campaign_daily"]) == 0
    checked = 0
    for campaign, day, conversions, cost in rows:
        truth = final.loc[(campaign, day)]
        age = (end - date.fromisoformat(day)).days
        assert int(cost) == int(truth["cost_micros"])
        assert conversions == pytest.approx(float(truth["conversions"]) * conversion_share(age), abs=1e-4)
        checked += age >= RESTATEMENT_DAYS
    assert checked > 0
    assert all(end - date.fromisoformat(r[1]) >= timedelta(days=RESTATEMENT_DAYS) for r in under)


def test_connection_check_reports_each_step(ads):
    result = check(ads.env)
    assert result.verdict == "OK", result.summary()
    assert [s.name for s in result.steps] == ["token", "account", "one page"]
    bad = check({**ads.env, "GOOGLE_ADS_REFRESH_TOKEN": "revoked"})
    assert bad.verdict == "FAILED" and "GOOGLE_ADS_REFRESH_TOKEN" in bad.summary()
    sunset = check({**ads.env, "GOOGLE_ADS_API_VERSION": "v21"})
    assert sunset.verdict == "FAILED" and "GOOGLE_ADS_API_VERSION" in sunset.summary()
    assert check({}).verdict == "SKIPPED"


def test_a_customer_id_written_with_dashes_and_a_developer_token_still_load(fresh, reference):
    """Real accounts: the UI shows ids as `555-123-4567`, and older setups still send a developer token
    (ignored by Google since 2026-09-09); neither may break the load."""
    cid = fresh.env["GOOGLE_ADS_CUSTOMER_ID"]
    load(fresh, customer_id=f"{cid[:3]}-{cid[3:6]}-{cid[6:]}", developer_token="legacy-dev-token")
    assert snapshot() == reference
    paths = {r.path for r in fresh.faults.requests if r.path.endswith("searchStream")}
    assert paths == {f"/v26/customers/{cid}/googleAds:searchStream"}
