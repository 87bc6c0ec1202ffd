"""Tier 6: every request the Meta connector sends is checked against Meta's own SDK, `facebook_business`
26.x (test-only dependency): the fields against `Campaign/AdSet/Ad/AdCreative/AdsInsights/AdReportRun/
AdAccount/User.Field`, the parameters against the SDK's per-endpoint `param_types` with its
`TypeChecker` (enums such as `AdsInsights.Level`, `ActionAttributionWindows`, `Campaign.EffectiveStatus`),
and `filtering` entries against the objects' fields, `AdsInsights.Operator` and the status enums.

The requests are not written down here: the connector's real client runs against the emulator (object
edges with paging, report runs that split by window and by campaign, a synchronous fallback, the
connection check), and the emulator's request log is what gets checked, so the test follows the code.
A planted invalid field or value must be reported, or the checker proves nothing.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from facebook_business import apiconfig
from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adcreative import AdCreative
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.adobjects.campaign import Campaign
from facebook_business.adobjects.user import User

from ingestion.meta_ads.check import check
from ingestion.meta_ads.client import EFFECTIVE_STATUSES, MetaGraphClient
from ingestion.meta_ads.settings import DEFAULT_API_VERSION
from ingestion.meta_ads.source import OBJECT_FIELDS
from ingestion.sandbox.emulators import running_emulator
from ingestion.sandbox.emulators.meta import split_fields

GENERIC_PARAMS = {"fields", "limit", "after"}  # Graph API field selection and cursor paging, on every read
SDK_STATUSES = {
    "campaigns": Campaign.EffectiveStatus,
    "adsets": AdSet.EffectiveStatus,
    "ads": Ad.EffectiveStatus,
}
FILTER_OBJECTS = {"campaign": Campaign, "adset": AdSet, "ad": Ad}
NESTED = {"creative": AdCreative}  # nested field selections the connector uses: `creative{url_tags}`


def values(enum: type) -> set[str]:
    """The values of one of the SDK's enum classes (`Campaign.EffectiveStatus`, `AdsInsights.Level`…)."""
    return {v for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, str)}


def sdk_request(method: str, path: str) -> tuple[str, Callable[..., Any]]:
    """(name, SDK method building the same request) for a recorded Graph API path `/v26.0/...`."""
    _, node, *rest = path.strip("/").split("/")
    edge = rest[0] if rest else None
    if node == "me":
        return (
            ("permissions", User("me").get_permissions)
            if edge == "permissions"
            else ("me", User("me").api_get)
        )
    if node.startswith("act_"):
        account = AdAccount(node)
        if edge is None:
            return "account", account.api_get
        if edge == "insights":
            return ("insights (async)", account.get_insights_async) if method == "POST" else (
                "insights (sync)", account.get_insights)  # fmt: skip
        return edge, {
            "campaigns": account.get_campaigns,
            "adsets": account.get_ad_sets,
            "ads": account.get_ads,
        }[edge]
    run = AdReportRun(node)
    return ("report run insights", run.get_insights) if edge == "insights" else ("report run", run.api_get)


def violations(method: str, path: str, params: dict[str, str]) -> list[str]:
    """What the SDK (and its enums) object to in one request; [] = a request Meta's SDK would send."""
    name, build = sdk_request(method, path)
    params = dict(params)
    problems: list[str] = []
    fields: list[str] = []
    for spec in split_fields(params.pop("fields", "")):
        top, _, nested = spec.partition("{")
        fields.append(top)
        if nested:
            known = values(NESTED[top].Field) if top in NESTED else set()
            problems += [
                f"{top}{{{f}}} is not a {top} field"
                for f in split_fields(nested.rstrip("}"))
                if f not in known
            ]
    if name.startswith("insights") or name == "report run insights":
        # the SDK sends an async run's fields as a plain list<string> parameter: check them here
        problems += [f"{f} is not an AdsInsights field" for f in fields if f not in values(AdsInsights.Field)]
    checker = build(pending=True)._param_checker
    typed: dict[str, Any] = {}
    for key, raw in params.items():
        kind = checker.get_type(key)
        if kind is None and key not in GENERIC_PARAMS:
            problems.append(f"{key} is not a parameter of {name}")
            continue
        typed[key] = json.loads(raw) if kind and kind.startswith(("list", "map")) else raw
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build(fields=fields, params=typed, pending=True)
    problems += [str(w.message) for w in caught]
    if name == "ads":  # the SDK types get_ads' effective_status as list<string>: check the enum here
        problems += [f"effective_status {v} is not an Ad.EffectiveStatus" for v in typed.get("effective_status", []) if v not in values(Ad.EffectiveStatus)]  # fmt: skip
    for entry in typed.get("filtering", []):
        problems += filtering_violations(entry)
    increment = typed.get("time_increment")
    days = increment is not None and increment.isdigit() and 1 <= int(increment) <= 90
    if increment is not None and not days and increment not in values(AdsInsights.Increment):
        problems.append(f"time_increment {increment} is neither 1..90 nor an AdsInsights.Increment")
    return problems


def filtering_violations(entry: dict[str, Any]) -> list[str]:
    """One insights `filtering` entry: `<object>.<field>` of a known object, an `AdsInsights.Operator`,
    and status values from that object's `EffectiveStatus`."""
    problems = []
    kind, _, attr = str(entry.get("field", "")).partition(".")
    target = FILTER_OBJECTS.get(kind)
    if target is None or attr not in values(target.Field):
        problems.append(f"filtering field {entry.get('field')} is not a field of campaign/adset/ad")
    if entry.get("operator") not in values(AdsInsights.Operator):
        problems.append(f"filtering operator {entry.get('operator')} is not an AdsInsights.Operator")
    if target is not None and attr == "effective_status":
        wanted = entry.get("value") if isinstance(entry.get("value"), list) else [entry.get("value")]
        problems += [f"filtering value {v} is not a {target.__name__}.EffectiveStatus" for v in wanted if v not in values(target.EffectiveStatus)]  # fmt: skip
    return problems


def _params(recorded) -> dict[str, str]:
    pairs = parse_qsl(recorded.query, keep_blank_values=True)
    if recorded.method == "POST":
        pairs += parse_qsl(recorded.body.decode(), keep_blank_values=True)
    return dict(pairs)


def rows(pages) -> int:
    """Drain an iterator of pages (every request of it is sent) and count its rows."""
    return sum(len(page) for page in pages)


@pytest.fixture(scope="module")
def recorded(tiny_world: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, params) of every Graph API request the connector sent on the emulator."""
    with running_emulator("meta", tiny_world) as (server, env, faults):

        def control(**knobs: Any) -> None:
            requests.post(f"{server.url}/_emulator/control", json=knobs, timeout=10).raise_for_status()

        client = MetaGraphClient(
            api_url=server.url, api_version=DEFAULT_API_VERSION, access_token=env["META_ACCESS_TOKEN"],
            ad_account_id=env["META_AD_ACCOUNT_ID"], page_size=5, poll_interval=0.01, backoff=0.01,
        )  # fmt: skip
        for edge, fields in OBJECT_FIELDS.items():
            assert (
                sum(len(page) for page in client.edge(edge, fields)) > 5
            )  # paged, so `after` is checked too
        control(fail_jobs_wider_than_campaigns=2, polls_to_complete=1)  # split by window, then by campaign
        assert rows(client.insights(date(2025, 1, 5), date(2025, 1, 6)))
        control(fail_jobs_wider_than_campaigns=None, fail_next_jobs=10_000)  # ... down to the sync fallback
        assert rows(client.insights(date(2025, 1, 6), date(2025, 1, 6)))
        control(fail_next_jobs=0)
        assert rows(client.insights(date(2025, 1, 6), date(2025, 1, 6), use_async=False))
        assert check(env).verdict == "OK"
        return [
            (r.method, r.path, _params(r)) for r in faults.requests if not r.path.startswith("/_emulator")
        ]


def test_the_default_version_is_the_sdks(recorded):
    assert apiconfig.ads_api_config["API_VERSION"] == DEFAULT_API_VERSION
    assert {path.split("/")[1] for _, path, _ in recorded} == {DEFAULT_API_VERSION}


def test_every_request_the_connector_sends_passes_the_sdks_checks(recorded):
    seen = set()
    for method, path, params in recorded:
        seen.add(sdk_request(method, path)[0])
        assert violations(method, path, params) == [], (method, path, params)
    assert seen == {
        "me", "permissions", "account", "campaigns", "adsets", "ads", "insights (async)", "insights (sync)",
        "report run", "report run insights",
    }  # fmt: skip


def test_the_filters_and_statuses_the_connector_uses_are_complete(recorded):
    for edge, statuses in EFFECTIVE_STATUSES.items():
        # every status the SDK knows: a status Meta adds later must not silently drop objects
        assert set(statuses) == values(SDK_STATUSES[edge]), edge
    filters = {
        (f["field"], f["operator"])
        for _, path, params in recorded
        if path.endswith("/insights") and "filtering" in params
        for f in json.loads(params["filtering"])
    }
    assert filters == {("ad.effective_status", "IN"), ("campaign.id", "IN"), ("campaign.id", "NOT_IN")}
    levels = {
        params.get("level") for _, path, params in recorded if "/act_" in path and path.endswith("/insights")
    }
    assert levels == {"ad"}


def _first(recorded, method: str, suffix: str) -> tuple[str, str, dict[str, str]]:
    return next(r for r in recorded if r[0] == method and r[1].endswith(suffix) and "/act_" in r[1])


def _filtering(params: dict[str, str], change: Callable[[list[dict]], None]) -> dict[str, str]:
    filtering = json.loads(params["filtering"])
    change(filtering)
    return {**params, "filtering": json.dumps(filtering)}


PLANTED: dict[str, tuple[str, str, Callable[[dict[str, str]], dict[str, str]], str]] = {
    "insights field": ("POST", "/insights", lambda p: {**p, "fields": p["fields"] + ",spend_total"}, "spend_total"),
    "insights level": ("POST", "/insights", lambda p: {**p, "level": "ads"}, "level"),
    "attribution window": (
        "POST", "/insights", lambda p: {**p, "action_attribution_windows": '["7d_click", "2d_view"]'},
        "action_attribution_windows",
    ),
    "insights parameter": ("POST", "/insights", lambda p: {**p, "time_grain": "day"}, "time_grain"),
    "time increment": ("GET", "/insights", lambda p: {**p, "time_increment": "weekly"}, "weekly"),
    "filter status": (
        "POST", "/insights", lambda p: _filtering(p, lambda f: f[0]["value"].append("RETIRED")), "RETIRED",
    ),
    "filter field": (
        "POST", "/insights", lambda p: _filtering(p, lambda f: f[0].update(field="ad.lifecycle")), "ad.lifecycle",
    ),
    "filter operator": (
        "POST", "/insights", lambda p: _filtering(p, lambda f: f[0].update(operator="INSIDE")), "INSIDE",
    ),
    "campaign status": (
        "GET", "/campaigns", lambda p: {**p, "effective_status": '["ACTIVE", "RETIRED"]'}, "effective_status",
    ),
    "ad status": ("GET", "/ads", lambda p: {**p, "effective_status": '["GONE"]'}, "GONE"),
    "campaign field": ("GET", "/campaigns", lambda p: {**p, "fields": p["fields"] + ",budget_cents"}, "budget_cents"),
    "nested field": (
        "GET", "/ads", lambda p: {**p, "fields": p["fields"].replace("url_tags", "url_tagz")}, "url_tagz",
    ),
}  # fmt: skip


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_a_planted_invalid_field_or_value_is_reported(recorded, planted):
    method, suffix, plant, marker = PLANTED[planted]
    _, path, params = _first(recorded, method, suffix)
    assert violations(method, path, params) == []
    found = violations(method, path, plant(params))
    assert found and any(marker in problem for problem in found), found
