"""Tier 2: the GA4 dlt source against the Data API emulator on the tiny shop, into real Postgres.

Loaded twice (idempotent merge, second run only re-pulls the 3-day window), every fault recovered,
exhausted retries name the endpoint, a load killed midway then re-run equals a clean run, and the
incomplete last days converge to the world's final numbers once GA4 restates them. Auth is the
service-account path (the emulator's token endpoint verifies the JWT): a token expiring mid-load is
re-minted; quotas stop the load with when to retry; thresholded/sampled/"(other)" reports are flagged;
`journey sources check ga4` passes and fails with the reason, never a secret.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dlt.pipeline.exceptions import PipelineStepFailed
from google.auth import crypt
from google.auth import jwt as google_jwt

from ingestion.common.notices import collect_notices
from ingestion.ga4 import GA4Settings, ga4_pipeline, run_ga4_pipeline
from ingestion.ga4.check import check
from ingestion.ga4.client import retry_at
from ingestion.sandbox.emulators.ga4 import ACCESS_TOKEN, INCOMPLETE_SHARE
from ingestion.sandbox.emulators.ga4_auth import SERVICE_ACCOUNT_EMAIL
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
    control(ga4.url, reset=True)
    ga4.faults.clear()


def load(ga4, **overrides):
    settings = GA4Settings.from_env(ga4.env, page_size=1000, **{**FAST_HTTP, **overrides})
    return run_ga4_pipeline(settings, pipeline=ga4_pipeline(pipeline_name=PIPELINE))


def snapshot() -> list[tuple]:
    return table_rows("ga4", "daily_traffic", KEY)


def report_requests(ga4) -> list:
    return [r for r in ga4.faults.requests if r.path.endswith(":runReport")]


def token_requests(ga4) -> list:
    return [r for r in ga4.faults.requests if r.path == "/token"]


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
    report = {"path_contains": ":runReport"}  # the token endpoint's own faults: test_token_endpoint_...
    fresh.faults.plan("429", retry_after=0.05, **report)
    for kind in ("500", "502", "503", "drop", "malformed"):
        fresh.faults.plan(kind, **report)
    fresh.faults.plan("slow", delay=0.3, **report)
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
    assert "RESOURCE_EXHAUSTED" in message and "concurrent requests" in message  # retried: not hourly/daily
    assert "ya29." not in message and "PRIVATE KEY" not in message


def test_unknown_metric_is_rejected_like_google(fresh):
    ga4 = fresh
    resp = requests.post(
        f"{ga4.url}/v1beta/properties/{ga4.env['GA4_PROPERTY_ID']}:runReport",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
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
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
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
        fresh.faults.plan("slow", delay=0.0, path_contains=":runReport")
    fresh.faults.plan("slow", delay=6.0, path_contains=":runReport")
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


# -- auth: service account, token expiry ------------------------------------------------------------
BODY = {"dateRanges": [{"startDate": "7daysAgo", "endDate": "yesterday"}], "metrics": [{"name": "sessions"}]}


def _post(ga4, body: dict, token: str = ACCESS_TOKEN, prop: str | None = None) -> requests.Response:
    return requests.post(
        f"{ga4.url}/v1beta/properties/{prop or ga4.env['GA4_PROPERTY_ID']}:runReport",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=10,
    )


def _key_info(ga4) -> dict:
    return json.loads(Path(ga4.env["GA4_CREDENTIALS_FILE"]).read_text())


def _assertion(info: dict, private_key: str | None = None, **claims) -> str:
    signer = crypt.RSASigner.from_string(private_key or info["private_key"], info["private_key_id"])
    now = int(time.time())
    payload = {"iss": info["client_email"], "aud": "https://oauth2.googleapis.com/token", "iat": now,
               "exp": now + 3600, "scope": "https://www.googleapis.com/auth/analytics.readonly", **claims}  # fmt: skip
    return google_jwt.encode(signer, payload).decode()


def _other_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_sandbox_env_points_at_a_service_account_key_file(fresh):
    assert "GA4_ACCESS_TOKEN" not in fresh.env
    info = _key_info(fresh)
    assert info["type"] == "service_account" and info["client_email"] == SERVICE_ACCOUNT_EMAIL
    assert info["token_uri"] == f"{fresh.url}/token"
    assert GA4Settings.status(fresh.env).reason.startswith("GA4_PROPERTY_ID, GA4_CREDENTIALS_FILE set")
    key_file = Path(fresh.env["GA4_CREDENTIALS_FILE"])
    assert key_file.is_relative_to(fresh.world) and oct(key_file.stat().st_mode)[-3:] == "600"
    assert "SANDBOX ONLY" in (key_file.parent / "README.txt").read_text()


def test_token_endpoint_verifies_the_service_account_jwt(fresh):
    info = _key_info(fresh)
    url = info["token_uri"]

    def grant(assertion: str, grant_type: str = "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        return requests.post(url, data={"grant_type": grant_type, "assertion": assertion}, timeout=10)

    good = grant(_assertion(info))
    assert good.status_code == 200
    assert good.json()["expires_in"] == 3600 and good.json()["token_type"] == "Bearer"
    assert _post(fresh, BODY, token=good.json()["access_token"]).status_code == 200
    refused = {
        "forged signature": (grant(_assertion(info, _other_private_key())), "invalid_grant", "Invalid JWT Signature."),
        "unknown account": (grant(_assertion(info, iss="who@example.iam.gserviceaccount.com")), "invalid_grant",
                            "account not found"),
        "expired": (grant(_assertion(info, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
                    "invalid_grant", "short-lived"),
        "wrong audience": (grant(_assertion(info, aud="https://example.com/token")), "invalid_grant", "audience"),
        "no scope": (grant(_assertion(info, scope="")), "invalid_scope", "scope"),
        "grant type": (grant(_assertion(info), "client_credentials"), "unsupported_grant_type", "grant_type"),
    }  # fmt: skip
    for case, (resp, error, text) in refused.items():
        assert resp.status_code == 400, case
        assert resp.json()["error"] == error and text in resp.json()["error_description"], case
    token = grant(_assertion(info, scope="https://www.googleapis.com/auth/drive")).json()["access_token"]
    denied = _post(fresh, BODY, token=token)
    assert (
        denied.status_code == 403
        and "insufficient authentication scopes" in denied.json()["error"]["message"]
    )


def test_unknown_or_expired_token_is_answered_like_google(fresh):
    unknown = _post(fresh, BODY, token="ya29.not-a-token")
    assert unknown.status_code == 401
    assert unknown.json()["error"]["status"] == "UNAUTHENTICATED"
    assert unknown.json()["error"]["message"].startswith("Request had invalid authentication credentials.")
    assert _post(fresh, BODY).status_code == 200
    control(fresh.url, expire_tokens=True)
    assert _post(fresh, BODY).status_code == 401


def test_token_expiring_mid_load_is_reminted_and_the_load_completes_without_duplicates(fresh, reference):
    control(fresh.url, expire_tokens_after=2)  # every token stops working after the second report page
    load(fresh)
    assert snapshot() == reference
    assert duplicate_keys("ga4", "daily_traffic", KEY) == 0
    statuses = [r.status for r in report_requests(fresh)]
    assert statuses[2] == 401 and statuses.count(401) == 1, statuses
    assert len(token_requests(fresh)) == 2  # the first token, then one re-minted after the 401


def test_a_token_about_to_expire_is_reminted_before_it_is_used(fresh, reference):
    control(fresh.url, token_ttl=60)  # inside google-auth's refresh margin: never considered valid
    load(fresh)
    assert snapshot() == reference
    assert 401 not in [r.status for r in report_requests(fresh)]
    assert len(token_requests(fresh)) == len(report_requests(fresh))


def test_token_endpoint_dropping_the_connection_is_retried(fresh, reference):
    fresh.faults.plan("drop", path_contains="/token")
    load(fresh)
    assert snapshot() == reference
    assert [r.fault for r in token_requests(fresh)] == ["drop", None]


# -- request validation -----------------------------------------------------------------------------
def test_unknown_body_fields_are_rejected_like_google(fresh):
    top = _post(fresh, {**BODY, "returnQuota": True})
    assert top.status_code == 400 and top.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert top.json()["error"]["message"] == (
        'Invalid JSON payload received. Unknown name "returnQuota": Cannot find field.'
    )
    nested = _post(
        fresh, {**BODY, "dateRanges": [{"startDate": "7daysAgo", "endDate": "today", "zone": "x"}]}
    )
    assert nested.status_code == 400
    assert (
        "Unknown name \"zone\" at 'date_ranges[0]': Cannot find field." in nested.json()["error"]["message"]
    )
    deep = _post(fresh, {**BODY, "orderBys": [{"metric": {"metricName": "sessions", "sort": "up"}}]})
    assert deep.status_code == 400 and "at 'order_bys[0].metric'" in deep.json()["error"]["message"]
    snake = _post(
        fresh, {"date_ranges": BODY["dateRanges"], "metrics": BODY["metrics"], "keep_empty_rows": False}
    )
    assert snake.status_code == 200  # proto JSON takes the field names too


# -- quotas -----------------------------------------------------------------------------------------
def test_property_quota_is_returned_and_shrinks_per_request(fresh):
    first = _post(fresh, {**BODY, "returnPropertyQuota": True}).json()["propertyQuota"]
    second = _post(fresh, {**BODY, "returnPropertyQuota": True}).json()["propertyQuota"]
    assert set(first) == {"tokensPerDay", "tokensPerHour", "concurrentRequests", "serverErrorsPerProjectPerHour",
                          "potentiallyThresholdedRequestsPerHour", "tokensPerProjectPerHour"}  # fmt: skip
    for name in ("tokensPerDay", "tokensPerHour", "tokensPerProjectPerHour"):
        assert first[name]["consumed"] >= 1
        assert second[name]["remaining"] == first[name]["remaining"] - second[name]["consumed"]
    assert first["tokensPerDay"]["remaining"] < 200_000 and first["tokensPerHour"]["remaining"] < 40_000
    assert "propertyQuota" not in _post(fresh, BODY).json()


@pytest.mark.parametrize(
    ("quota", "label", "when"),
    [
        ("tokensPerHour", "tokens per property per hour", "hourly quotas come back within the hour"),
        ("tokensPerProjectPerHour", "tokens per project per property per hour", "come back within the hour"),
        ("tokensPerDay", "tokens per property per day", "daily tokens come back at midnight Pacific time"),
    ],
)
def test_quota_exhaustion_stops_at_once_and_says_when_to_retry(fresh, reference, quota, label, when):
    control(fresh.url, quota={quota: 3})
    with pytest.raises(PipelineStepFailed) as info:
        load(fresh, pace_seconds=0.01)  # the low quota also paces the requests before the wall
    message = str(info.value)
    assert f"the GA4 quota of {label} is exhausted" in message, message
    assert when in message and "retry after" in message and "UTC" in message
    statuses = [r.status for r in report_requests(fresh)]
    assert statuses[-1] == 429 and statuses.count(429) == 1 and set(statuses[:-1]) == {200}, statuses
    loaded = query("select to_regclass('ga4.daily_traffic') is not null")[0][0]
    assert not loaded or query("select count(*) from ga4.daily_traffic")[0][0] == 0  # nothing half-loaded
    control(fresh.url, quota=None)  # the quota is back: the next run loads everything from the same cursor
    load(fresh)
    assert snapshot() == reference


def test_retry_times_are_the_next_hour_and_midnight_pacific():
    pacific = ZoneInfo("America/Los_Angeles")
    now = datetime(2026, 12, 2, 9, 41, tzinfo=UTC)
    assert retry_at("hour", now) == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert retry_at("day", now) == datetime(2026, 12, 3, 0, 0, tzinfo=pacific)
    assert retry_at("day", now).astimezone(UTC) == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # 23:30 on June 30 in California (PDT)
    assert retry_at("day", summer).astimezone(UTC) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


def test_low_hourly_quota_slows_the_load_down_and_says_so(fresh, reference, caplog):
    caplog.set_level(logging.INFO, logger="ingestion.ga4.client")
    with collect_notices() as notices:
        load(fresh, quota_reserve=40_000, pace_seconds=0.01)  # every response leaves less than the reserve
    assert snapshot() == reference
    assert [n.code for n in notices] == ["quota_low"] and notices[0].table == "daily_traffic"
    pacing = [r for r in caplog.records if "pacing" in r.getMessage()]
    assert len(pacing) == len(report_requests(fresh)) - 1  # before every request after the first


# -- report completeness ----------------------------------------------------------------------------
def test_a_whole_report_is_recorded_per_request(fresh, reference):
    with collect_notices() as notices:
        load(fresh)
    assert notices == []
    rows = query(
        "select page_offset, page_rows, row_count, subject_to_thresholding, sampled, data_loss_from_other_row, "
        "tokens_per_hour_remaining, tokens_per_day_remaining from ga4.report_metadata order by page_offset"
    )
    assert len(rows) == len(report_requests(fresh))
    assert sum(r[1] for r in rows) == rows[0][2] == len(reference) - 1  # reference starts with the header
    assert not any(r[3] or r[4] or r[5] for r in rows)
    hourly = [r[6] for r in rows]
    assert hourly == sorted(hourly, reverse=True) and hourly[-1] < hourly[0]


def test_thresholded_sampled_and_other_row_reports_are_flagged(fresh, reference):
    control(fresh.url, thresholding=3, sample_above=100, cardinality_limit=4)
    with collect_notices() as notices:
        load(fresh)
    codes = {n.code for n in notices if n.table == "daily_traffic"}
    assert codes == {"report_thresholded", "report_sampled", "report_other_row"}
    flags = query("select subject_to_thresholding, sampled, data_loss_from_other_row, samples_read_count, "
                  "sampling_space_size from ga4.report_metadata")  # fmt: skip
    assert flags and all(f[0] and f[1] and f[2] and f[3] == 100 and f[4] > 100 for f in flags)
    assert query("select count(*) from ga4.daily_traffic where session_source = '(other)'")[0][0] > 0
    assert duplicate_keys("ga4", "daily_traffic", KEY) == 0
    assert len(snapshot()) < len(reference)  # rows withheld and folded: fewer than the whole report


# -- journey sources check ga4 ----------------------------------------------------------------------
def _check_text(result) -> str:
    return "\n".join([result.summary(), *(f"{s.name}: {s.detail}" for s in result.steps)])


def test_check_passes_against_the_emulator(fresh):
    result = check(fresh.env)
    assert result.verdict == "OK", result.summary()
    assert [s.name for s in result.steps] == ["credentials", "token", "property access", "page"]
    text = _check_text(result)
    assert SERVICE_ACCOUNT_EMAIL in text and "tokens this hour" in text and "today" in text
    assert "ya29." not in text and "PRIVATE KEY" not in text


def test_check_fails_with_a_key_google_does_not_know_and_prints_no_key(fresh, tmp_path):
    info = _key_info(fresh)
    forged = {**info, "private_key": _other_private_key()}
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(forged))
    result = check({**fresh.env, "GA4_CREDENTIALS_FILE": str(bad)})
    assert result.verdict == "FAILED"
    failed = next(s for s in result.steps if not s.ok)
    assert failed.name == "token"
    assert "Invalid JWT Signature." in failed.detail and f"GA4_CREDENTIALS_FILE={bad}" in failed.detail
    text = _check_text(result)
    for key in (info["private_key"], forged["private_key"]):
        assert not any(line in text for line in key.splitlines()[1:-1] if line)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not a JSON key file"),
        (json.dumps({"type": "authorized_user", "client_id": "x", "refresh_token": "y"}), "not a service-account key file"),
        (json.dumps({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"}), "lacks private_key, token_uri"),
        (json.dumps({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com",
                     "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n",
                     "token_uri": "https://oauth2.googleapis.com/token"}), "private_key is not a valid PEM private key"),
        (None, "no such file"),
    ],
)  # fmt: skip
def test_check_names_the_variable_and_file_of_an_unusable_key(fresh, tmp_path, content, reason):
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    env = {k: v for k, v in fresh.env.items() if k != "GA4_CREDENTIALS_FILE"}
    result = check({**env, "GOOGLE_APPLICATION_CREDENTIALS": str(path)})  # Google's variable as the fallback
    assert result.verdict == "FAILED"
    failed = next(s for s in result.steps if not s.ok)
    assert failed.name == "credentials"
    assert f"GOOGLE_APPLICATION_CREDENTIALS={path}: " in failed.detail and reason in failed.detail
    assert "not-a-key" not in _check_text(result) and "refresh_token" not in _check_text(result)


def test_check_says_to_add_the_service_account_to_the_property(fresh):
    result = check({**fresh.env, "GA4_PROPERTY_ID": "999999"})
    assert result.verdict == "FAILED"
    failed = next(s for s in result.steps if not s.ok)
    assert failed.name == "property access"
    assert SERVICE_ACCOUNT_EMAIL in failed.detail and "as a Viewer" in failed.detail
    assert "Property access management" in failed.detail and "PERMISSION_DENIED" in failed.detail


def test_check_with_a_fixed_token_passes_then_fails_once_it_expired(fresh):
    env = {
        **{k: v for k, v in fresh.env.items() if k != "GA4_CREDENTIALS_FILE"},
        "GA4_ACCESS_TOKEN": ACCESS_TOKEN,
    }
    assert check(env).verdict == "OK"
    control(fresh.url, expire_tokens=True)
    result = check(env)
    assert result.verdict == "FAILED"
    text = _check_text(result)
    assert "GA4_ACCESS_TOKEN" in text and "about an hour" in text and "GA4_CREDENTIALS_FILE" in text
    assert ACCESS_TOKEN not in text


def test_check_of_an_unconfigured_source_says_what_to_set():
    result = check({"GA4_PROPERTY_ID": "1"})
    assert result.verdict == "SKIPPED" and "GA4_CREDENTIALS_FILE" in result.reason


def test_no_token_or_key_reaches_the_logs(fresh, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3, requests, google-auth and dlt debug lines included
    control(fresh.url, expire_tokens_after=1)  # a refresh after a 401, logged
    load(fresh)
    messages = [record.getMessage() for record in caplog.records]
    assert any("refreshing credentials" in m for m in messages)
    assert any("minted an access token" in m for m in messages)
    key_lines = [line for line in _key_info(fresh)["private_key"].splitlines()[1:-1] if line]
    leaked = [m for m in messages if "ya29." in m or any(line in m for line in key_lines)]
    assert not leaked, leaked[0][:200]
