"""Google Ads API (REST) emulator: `googleAds:searchStream` over a GAQL subset, Google's OAuth token
endpoint for the refresh-token (installed app / web) flow, in the vendor's wire format. Resources:
`campaign`, `ad_group`, `ad_group_ad` (responsive search ads, `ad_group_ad.ad.*`) and `customer`.

Served paths:
    POST /token                                        OAuth 2: grant_type=refresh_token, client_id,
                                                       client_secret, refresh_token -> a Bearer token
                                                       (an hour, like Google's)
    POST /<v>/customers/<id>/googleAds:searchStream    {"query": GAQL} -> a JSON array of batches
                                                       {results, fieldMask, requestId}
    GET|POST /_emulator/control                        sandbox control (below; not Google's)

What Google enforces and so does this emulator:
- Auth: `Authorization: Bearer <token>` minted by /token; none, unknown or expired is HTTP 401
  UNAUTHENTICATED with `authenticationError` OAUTH_TOKEN_INVALID / OAUTH_TOKEN_EXPIRED. Since
  2026-09-09 the `developer-token` header is optional and ignored (API access belongs to the Cloud
  project of the OAuth client); `login-customer-id`, when sent, must be a manager of the account
  (this one has none: any value is 403 USER_PERMISSION_DENIED). Customer ids are digits only
  (`123-456-7890` is 400 CLIENT_CUSTOMER_ID_INVALID).
- Versions: v24..v26 are served; a sunset version is a bare HTTP 404 (`Not Found`, not JSON), as
  Google's front end answers for it.
- GAQL: `SELECT <fields> FROM campaign|ad_group|ad_group_ad|customer [WHERE ...] [ORDER BY ...] [LIMIT n]`;
  unknown fields are 400 queryError UNRECOGNIZED_FIELD; selecting `segments.date` needs a finite date
  range in WHERE (400 EXPECTED_FILTERS_ON_DATE_RANGE). int64 values are JSON strings, doubles numbers,
  field names lowerCamelCase, like Google's JSON mapping of its protos.
- Restatement: conversions of a day keep arriving for up to 30 days (conversion lag); delivery
  (impressions, clicks, cost) is final at once. Days after the reporting date do not exist yet.
- Quota: access levels cap operations per day (Explorer 2,880); past the cap every call is 429
  RESOURCE_EXHAUSTED (`quotaError` RESOURCE_EXHAUSTED) until midnight Pacific; a short-term limit is
  429 RESOURCE_TEMPORARILY_EXHAUSTED with a `google.rpc.RetryInfo` retryDelay.

Sandbox control: {"as_of": "YYYY-MM-DD"|null, "daily_operations": N, "throttle_next": N,
"expire_tokens": true, "expire_tokens_after_calls": N|null} (the last: tokens die mid-load, as an
hour-old token does).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ingestion.sandbox.emulators.faults import FaultInjector
from ingestion.sandbox.emulators.meta_world import read_table, world_end_date
from ingestion.sandbox.shop.search_ads import CUSTOMER_ID

SERVED_VERSIONS = ("v24", "v25", "v26")
SCOPE = "https://www.googleapis.com/auth/adwords"
# SANDBOX ONLY: the OAuth client and refresh token of the emulator's one user; valid nowhere else
CLIENT_ID = "journey-sandbox.apps.googleusercontent.com"
CLIENT_SECRET = "sandbox-google-ads-client-secret"
REFRESH_TOKEN = "sandbox-google-ads-refresh-token"
TOKEN_TTL = 3599
RESTATEMENT_DAYS = 30
FIRST_DAY_SHARE = 0.7
EXPLORER_DAILY_OPERATIONS = 2_880
BATCH_ROWS = 10_000
FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"

CAMPAIGN_FIELDS = {
    "campaign.resource_name", "campaign.id", "campaign.name", "campaign.status",
    "campaign.advertising_channel_type", "campaign.bidding_strategy_type", "campaign.start_date",
}  # fmt: skip
AD_GROUP_FIELDS = {
    "ad_group.resource_name", "ad_group.id", "ad_group.name", "ad_group.status", "ad_group.campaign",
    "ad_group.type",
}  # fmt: skip
AD_GROUP_AD_FIELDS = {
    "ad_group_ad.resource_name", "ad_group_ad.status", "ad_group_ad.ad.id", "ad_group_ad.ad.name",
    "ad_group_ad.ad.type",
}  # fmt: skip
CUSTOMER_FIELDS = {"customer.id", "customer.descriptive_name", "customer.currency_code", "customer.time_zone"}
METRIC_FIELDS = {"metrics.impressions", "metrics.clicks", "metrics.cost_micros", "metrics.conversions",
                 "metrics.conversions_value"}  # fmt: skip
INT64_FIELDS = {"campaign.id", "ad_group.id", "ad_group_ad.ad.id", "customer.id", "metrics.impressions",
                "metrics.clicks", "metrics.cost_micros"}  # fmt: skip
SELECTABLE = {
    "campaign": CAMPAIGN_FIELDS | CUSTOMER_FIELDS | METRIC_FIELDS | {"segments.date"},
    "ad_group": AD_GROUP_FIELDS | CAMPAIGN_FIELDS | CUSTOMER_FIELDS | METRIC_FIELDS | {"segments.date"},
    "customer": CUSTOMER_FIELDS | METRIC_FIELDS | {"segments.date"},
    "ad_group_ad": AD_GROUP_AD_FIELDS
    | AD_GROUP_FIELDS
    | CAMPAIGN_FIELDS
    | CUSTOMER_FIELDS
    | METRIC_FIELDS
    | {"segments.date"},
}
QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.I | re.S,
)
CONDITION = re.compile(
    r"^(?P<field>[\w.]+)\s*(?:(?P<op>=|!=|>=|<=|>|<)\s*'(?P<value>[^']*)'"
    r"|BETWEEN\s+'(?P<low>[^']*)'\s+AND\s+'(?P<high>[^']*)'|IN\s*\((?P<items>[^)]*)\))\s*$",
    re.I,
)


class AdsError(Exception):
    """A Google Ads API error: HTTP status, canonical status and one GoogleAdsError."""

    def __init__(self, http: int, status: str, kind: str, code: str, message: str, retry: str | None = None):
        super().__init__(message)
        self.http, self.status, self.kind, self.code, self.message, self.retry = (
            http,
            status,
            kind,
            code,
            message,
            retry,
        )

    def response(self, version: str) -> JSONResponse:
        details: list[dict[str, Any]] = [{
            "@type": FAILURE_TYPE.format(version=version),
            "errors": [{"errorCode": {self.kind: self.code}, "message": self.message}],
            "requestId": secrets.token_hex(8),
        }]  # fmt: skip
        if self.retry:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": self.retry})
        body = {
            "error": {"code": self.http, "message": self.message, "status": self.status, "details": details}
        }
        return JSONResponse(body, status_code=self.http)


def conversion_share(days_after: int) -> float:
    """Share of a day's final conversions reported `days_after` days later (0 before the day is over,
    monotone, exactly 1 from RESTATEMENT_DAYS on)."""
    if days_after <= 0:
        return 0.0
    if days_after >= RESTATEMENT_DAYS:
        return 1.0
    remaining = (RESTATEMENT_DAYS - days_after) / (RESTATEMENT_DAYS - 1)
    return 1.0 - (1.0 - FIRST_DAY_SHARE) * remaining**2


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass
class Conditions:
    since: date | None = None
    until: date | None = None
    equals: dict[str, set[str]] = field(default_factory=dict)
    excludes: dict[str, set[str]] = field(default_factory=dict)


def parse_where(where: str | None, selectable: set[str]) -> Conditions:
    found = Conditions()
    # the AND inside `BETWEEN 'a' AND 'b'` is not a conjunction: protect it before splitting
    protected = re.sub(r"(BETWEEN\s+'[^']*')\s+AND\s+", r"\1 __RANGE_AND__ ", where or "", flags=re.I)
    for part in re.split(r"\s+AND\s+", protected, flags=re.I) if where else []:
        match = CONDITION.match(part.strip().replace(" __RANGE_AND__ ", " AND "))
        if not match:
            raise AdsError(
                400, "INVALID_ARGUMENT", "queryError", "UNEXPECTED_INPUT", f"Error in WHERE clause: {part!r}"
            )
        name = match["field"].lower()
        if name not in selectable:
            raise AdsError(
                400,
                "INVALID_ARGUMENT",
                "queryError",
                "UNRECOGNIZED_FIELD",
                f"Unrecognized field in the query: '{name}'.",
            )
        if match["low"] is not None:
            found.since, found.until = date.fromisoformat(match["low"]), date.fromisoformat(match["high"])
        elif match["items"] is not None:
            found.equals[name] = {v.strip().strip("'") for v in match["items"].split(",")}
        elif name == "segments.date":
            day, op = date.fromisoformat(match["value"]), match["op"]
            if op in (">=", ">"):
                found.since = day + timedelta(days=op == ">")
            elif op in ("<=", "<"):
                found.until = day - timedelta(days=op == "<")
            else:
                found.since = found.until = day
        elif match["op"] == "=":
            found.equals[name] = {match["value"]}
        elif match["op"] == "!=":
            found.excludes[name] = {match["value"]}
    return found


class GoogleAdsWorld:
    """The account's campaigns, ad groups and daily numbers as the API reports them on `as_of`."""

    def __init__(self, world_dir: Path) -> None:
        self.world_dir = world_dir
        self.as_of: date | None = None
        self._frames: dict[str, pd.DataFrame] = {}

    def frame(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = read_table(self.world_dir, name)
        return self._frames[name]

    def by_id(self, name: str, key: str) -> pd.DataFrame:
        """A world table indexed by its id column, built once (rows look entities up per result row)."""
        cache = f"{name}#{key}"
        if cache not in self._frames:
            self._frames[cache] = self.frame(name).set_index(key)
        return self._frames[cache]

    @property
    def reporting_date(self) -> date:
        return self.as_of or world_end_date(self.world_dir)

    def rows(
        self, resource: str, conditions: Conditions, metrics: bool, by_date: bool
    ) -> list[dict[str, Any]]:
        campaigns = self.frame("google_ads_campaigns").set_index("campaign_id")
        today = self.reporting_date
        campaigns = campaigns[pd.to_datetime(campaigns["start_date"]).dt.date <= today]
        groups = self.frame("google_ads_ad_groups")
        base = {
            "campaign": [{"campaign_id": c, "ad_group_id": None} for c in campaigns.index],
            "ad_group": [
                {"campaign_id": g.campaign_id, "ad_group_id": g.ad_group_id}
                for g in groups.itertuples()
                if g.campaign_id in campaigns.index
            ],  # fmt: skip
            "customer": [{"campaign_id": None, "ad_group_id": None}],
            "ad_group_ad": [
                {"campaign_id": a.campaign_id, "ad_group_id": a.ad_group_id, "ad_id": a.ad_id}
                for a in self.frame("google_ads_ads").itertuples()
                if a.campaign_id in campaigns.index
            ],
        }[resource]
        if not metrics:
            return [self._entity(row, campaigns) for row in base]
        daily = self.frame("google_ads_daily")
        day = pd.to_datetime(daily["date"]).dt.date
        last = min(conditions.until or today, today - timedelta(days=1))
        keep = (day <= last) & (day >= (conditions.since or date.min))
        if resource in ("ad_group", "ad_group_ad"):
            keep &= daily["ad_group_id"] != ""
        frame = daily[keep].assign(day=day[keep])
        frame = frame.assign(share=[conversion_share((today - d).days) for d in frame["day"]])
        frame = frame.assign(conversions=frame["conversions"] * frame["share"],
                             conversions_value=frame["conversions_value"] * frame["share"])  # fmt: skip
        keys = {
            "campaign": ["campaign_id"], "ad_group": ["campaign_id", "ad_group_id"], "customer": [],
            "ad_group_ad": ["campaign_id", "ad_group_id", "ad_id"],
        }[resource]  # fmt: skip
        keys = keys + (["day"] if by_date else [])
        sums = ["impressions", "clicks", "cost_micros", "conversions", "conversions_value"]
        grouped = (
            frame.groupby(keys, sort=True)[sums].sum().reset_index()
            if keys
            else frame[sums].sum().to_frame().T
        )
        out = []
        for rec in grouped.to_dict("records"):
            row = self._entity({"campaign_id": rec.get("campaign_id"), "ad_group_id": rec.get("ad_group_id"),
                                "ad_id": rec.get("ad_id")}, campaigns)  # fmt: skip
            row["metrics"] = {
                "impressions": int(rec["impressions"]), "clicks": int(rec["clicks"]),
                "cost_micros": int(rec["cost_micros"]), "conversions": round(float(rec["conversions"]), 6),
                "conversions_value": round(float(rec["conversions_value"]), 6),
            }  # fmt: skip
            if by_date:
                row["segments"] = {"date": rec["day"].isoformat()}
            out.append(row)
        return out

    def _entity(self, row: dict[str, Any], campaigns: pd.DataFrame) -> dict[str, Any]:
        out: dict[str, Any] = {
            "customer": {
                "resource_name": f"customers/{CUSTOMER_ID}",
                "id": CUSTOMER_ID,
                "descriptive_name": "Simulated Shop",
                "currency_code": "USD",
                "time_zone": "America/New_York",
            },  # fmt: skip
        }
        cid = row.get("campaign_id")
        if cid is not None:
            c = campaigns.loc[cid]
            out["campaign"] = {
                "resource_name": f"customers/{CUSTOMER_ID}/campaigns/{cid}", "id": cid, "name": c["name"],
                "status": "ENABLED", "advertising_channel_type": c["channel_type"],
                "bidding_strategy_type": c["bidding_strategy_type"],
                "start_date": pd.Timestamp(c["start_date"]).date().isoformat(),
            }  # fmt: skip
        gid = row.get("ad_group_id")
        if gid:
            g = self.by_id("google_ads_ad_groups", "ad_group_id").loc[gid]
            out["ad_group"] = {
                "resource_name": f"customers/{CUSTOMER_ID}/adGroups/{gid}", "id": gid, "name": g["name"],
                "status": "ENABLED", "campaign": f"customers/{CUSTOMER_ID}/campaigns/{cid}", "type": "SEARCH_STANDARD",
            }  # fmt: skip
        aid = row.get("ad_id")
        if aid:
            ad = self.by_id("google_ads_ads", "ad_id").loc[aid]
            out["ad_group_ad"] = {
                "resource_name": f"customers/{CUSTOMER_ID}/adGroupAds/{gid}~{aid}", "status": "ENABLED",
                "ad": {"id": aid, "name": ad["name"], "type": "RESPONSIVE_SEARCH_AD"},
            }  # fmt: skip
        return out


@dataclass
class Control:
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry (monotonic)
    daily_operations: int = EXPLORER_DAILY_OPERATIONS
    operations: int = 0
    throttle_next: int = 0
    expire_after: int | None = None  # calls after which every token minted so far expires


def select(row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The row restricted to `fields`, nested and camelCased as Google's JSON (int64 as strings)."""
    out: dict[str, Any] = {}
    for name in fields:
        *path, leaf = name.split(".")  # nested messages: ad_group_ad.ad.id -> adGroupAd.ad.id
        node: Any = row
        for part in path:
            node = (node or {}).get(part)
        value = (node or {}).get(leaf)
        if value is None:
            continue
        if name in INT64_FIELDS:
            value = str(value)
        target = out
        for part in path:
            target = target.setdefault(camel(part), {})
        target[camel(leaf)] = value
    for resource in {f.split(".", 1)[0] for f in fields} - {"metrics", "segments"}:
        if resource in row:  # Google always includes the selected resource's resource name
            out.setdefault(camel(resource), {})["resourceName"] = row[resource]["resource_name"]
    return out


class GoogleAdsEmulator:
    def __init__(self, world: GoogleAdsWorld, faults: FaultInjector) -> None:
        self.world, self.faults, self.control = world, faults, Control()

    async def token(self, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "refresh_token":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}, 400
            )
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."}, 401
            )
        if form.get("refresh_token") != REFRESH_TOKEN:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, 400
            )
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self.control.lock:
            self.control.tokens[token] = time.monotonic() + TOKEN_TTL
        return JSONResponse(
            {"access_token": token, "expires_in": TOKEN_TTL, "scope": SCOPE, "token_type": "Bearer"}
        )

    def _authorize(self, request: Request, customer_id: str) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self.control.lock:
            c = self.control
            if c.expire_after is not None:
                if c.expire_after <= 0:
                    c.tokens, c.expire_after = dict.fromkeys(c.tokens, 0.0), None
                else:
                    c.expire_after -= 1
            expiry = c.tokens.get(token)
        if expiry is None:
            raise AdsError(401, "UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_INVALID",
                           "Oauth token is invalid.")  # fmt: skip
        if expiry < time.monotonic():
            raise AdsError(401, "UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_EXPIRED",
                           "Authentication of the request failed: the OAuth token has expired.")  # fmt: skip
        if not customer_id.isdigit():
            raise AdsError(400, "INVALID_ARGUMENT", "authenticationError", "CLIENT_CUSTOMER_ID_INVALID",
                           f"Invalid customer ID '{customer_id}': customer ids are digits only, no dashes.")  # fmt: skip
        login = request.headers.get("login-customer-id")
        if customer_id != CUSTOMER_ID or (login and login != CUSTOMER_ID):
            raise AdsError(403, "PERMISSION_DENIED", "authorizationError", "USER_PERMISSION_DENIED",
                           "User doesn't have permission to access customer. Note: If you're accessing a client "
                           "customer, the manager's customer id must be set in the 'login-customer-id' header.")  # fmt: skip

    def _spend_operation(self) -> None:
        with self.control.lock:
            if self.control.throttle_next > 0:
                self.control.throttle_next -= 1
                raise AdsError(429, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED",
                               "Too many requests. Retry in 1 seconds.", retry="1s")  # fmt: skip
            if self.control.operations >= self.control.daily_operations:
                raise AdsError(429, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_EXHAUSTED",
                               f"The project has exhausted its daily quota of {self.control.daily_operations} "
                               "operations for its access level. Retry after midnight Pacific time or apply "
                               "for a higher access level.")  # fmt: skip
            self.control.operations += 1

    async def search_stream(self, request: Request) -> Response:
        version = request.path_params["version"]
        if version not in SERVED_VERSIONS:
            return PlainTextResponse("Not Found", status_code=404)
        try:
            self._authorize(request, request.path_params["customer_id"])
            self._spend_operation()
            body = await request.json()
            match = QUERY.match(str(body.get("query") or ""))
            if not match:
                raise AdsError(400, "INVALID_ARGUMENT", "queryError", "UNEXPECTED_END_OF_QUERY",
                               "Error in query: expected SELECT <fields> FROM <resource>.")  # fmt: skip
            resource = match["resource"].lower()
            if resource not in SELECTABLE:
                raise AdsError(400, "INVALID_ARGUMENT", "queryError", "INVALID_RESOURCE_NAME",
                               f"Unknown resource in FROM clause: '{resource}'.")  # fmt: skip
            fields = [f.strip().lower() for f in match["fields"].split(",")]
            unknown = [f for f in fields if f not in SELECTABLE[resource]]
            if unknown:
                raise AdsError(400, "INVALID_ARGUMENT", "queryError", "UNRECOGNIZED_FIELD",
                               f"Unrecognized field in the query: '{unknown[0]}'.")  # fmt: skip
            conditions = parse_where(match["where"], SELECTABLE[resource])
            by_date = "segments.date" in fields
            if by_date and (conditions.since is None or conditions.until is None):
                raise AdsError(400, "INVALID_ARGUMENT", "queryError", "EXPECTED_FILTERS_ON_DATE_RANGE",
                               "Expected a filter on a finite date range when segments.date is selected.")  # fmt: skip
            metrics = any(f.startswith("metrics.") for f in fields)
            rows = self.world.rows(resource, conditions, metrics, by_date)
            rows = [r for r in rows if self._matches(r, conditions)]
            if match["limit"]:
                rows = rows[: int(match["limit"])]
        except AdsError as error:
            return error.response(version)
        results = [select(r, fields) for r in rows]
        mask = ",".join(".".join(camel(p) for p in f.split(".")) for f in fields)
        request_id = secrets.token_hex(8)
        batches = [
            {"results": results[i : i + BATCH_ROWS], "fieldMask": mask, "requestId": request_id}
            for i in range(0, len(results), BATCH_ROWS)
        ] or [{"fieldMask": mask, "requestId": request_id}]
        return JSONResponse(batches)

    @staticmethod
    def _matches(row: dict[str, Any], conditions: Conditions) -> bool:
        def value(name: str) -> str | None:
            resource, attr = name.split(".", 1)
            found = (row.get(resource) or {}).get(attr)
            return None if found is None else str(found)

        return all(value(n) in allowed for n, allowed in conditions.equals.items()) and not any(
            value(n) in banned for n, banned in conditions.excludes.items()
        )

    async def control_route(self, request: Request) -> JSONResponse:
        c = self.control
        if request.method == "POST":
            body = await request.json()
            with c.lock:
                if "as_of" in body:
                    self.world.as_of = date.fromisoformat(body["as_of"]) if body["as_of"] else None
                if "daily_operations" in body:
                    c.daily_operations, c.operations = int(body["daily_operations"]), 0
                if "throttle_next" in body:
                    c.throttle_next = int(body["throttle_next"])
                if body.get("expire_tokens"):
                    c.tokens = dict.fromkeys(c.tokens, 0.0)
                if "expire_tokens_after_calls" in body:
                    after = body["expire_tokens_after_calls"]
                    c.expire_after = None if after is None else int(after)
        return JSONResponse({"as_of": self.world.reporting_date.isoformat(), "operations": c.operations,
                             "daily_operations": c.daily_operations})  # fmt: skip


def create_app(world_dir: Path, faults: FaultInjector) -> Starlette:
    emulator = GoogleAdsEmulator(GoogleAdsWorld(Path(world_dir)), faults)
    app = Starlette(routes=[
        Route("/_emulator/control", emulator.control_route, methods=["GET", "POST"]),
        Route("/token", emulator.token, methods=["POST"]),
        Route("/{version}/customers/{customer_id}/googleAds:searchStream", emulator.search_stream, methods=["POST"]),
    ])  # fmt: skip
    app.state.emulator = emulator
    return app


def endpoint_env(base_url: str) -> dict[str, str]:
    """Env that points the Google Ads connector at this emulator (same variables as for the real API)."""
    return {
        "GOOGLE_ADS_API_URL": base_url,
        "GOOGLE_ADS_TOKEN_URI": f"{base_url}/token",
        "GOOGLE_ADS_CLIENT_ID": CLIENT_ID,
        "GOOGLE_ADS_CLIENT_SECRET": CLIENT_SECRET,
        "GOOGLE_ADS_REFRESH_TOKEN": REFRESH_TOKEN,
        "GOOGLE_ADS_CUSTOMER_ID": CUSTOMER_ID,
    }
