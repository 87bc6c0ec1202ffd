"""GA4 Data API emulator: `POST /v1beta/properties/<id>:runReport` over the simulated shop's `ga4_daily`,
and Google's token endpoint for the service account that reads it.

Faithful where connectors depend on it:
- auth: a service-account JWT (RS256, checked against the world's sandbox key: iss, aud = token_uri,
  scope, iat/exp) is exchanged at `POST /token` for a bearer token that expires (3600 s by default);
  an expired or unknown token is answered 401 UNAUTHENTICATED, a token without an Analytics scope 403,
  a property the service account was not added to 403 PERMISSION_DENIED, with Google's messages;
- request bodies: a field RunReportRequest does not have is 400 INVALID_ARGUMENT `Invalid JSON payload
  received. Unknown name "x" at 'date_ranges[0]': Cannot find field.` (checked recursively for the
  messages the emulator serves); unknown dimensions/metrics are 400 too;
- responses: `dimensionHeaders`/`metricHeaders` (with metric `type`), values as strings, `rowCount`
  with `limit`/`offset` paging, relative dates (`today`, `yesterday`, `NdaysAgo`), zero rows dropped
  (`keepEmptyRows` false), empty repeated fields omitted;
- quotas (ga4_quota.py): `returnPropertyQuota` returns `propertyQuota` whose buckets shrink per request,
  and a spent bucket answers 429 RESOURCE_EXHAUSTED with the message that names it;
- `metadata`: `subjectToThresholding` (rows under the user threshold withheld) when thresholding is on
  and user metrics are asked for; `dataLossFromOtherRow` when a day has more dimension combinations
  than the cardinality limit (the rest folded into one "(other)" row); `samplingMetadatas` when the
  range holds more sessions than the sampling limit.
The last 2 days before the reporting date are still being processed: they are served scaled down (x0.6
for yesterday, x0.9 for the day before) and restated once complete.

Sandbox control (not Google's API):
  GET|POST /_emulator/control {"as_of": "YYYY-MM-DD"|null, "exhaust_next": N (concurrent-quota 429s),
      "quota": {"tokensPerHour": N, ...}|null (limits; buckets emptied), "token_ttl": seconds,
      "expire_tokens": true (every issued token expires now), "expire_tokens_after": N (... after N more
      reports), "thresholding": min users per row|null, "cardinality_limit": rows per day|null,
      "sample_above": sessions|null, "reset": true (all of it back to defaults)}
  POST /_emulator/service_account -> {"credentials_file", "client_email"}: writes the sandbox key file
      whose token_uri is this emulator (what `endpoint_env` hands the connector).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pandas as pd
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion.sandbox.emulators.faults import FaultInjector
from ingestion.sandbox.emulators.ga4_auth import (
    ANALYTICS_SCOPES,
    DEFAULT_TOKEN_TTL,
    SERVICE_ACCOUNT_EMAIL,
    IssuedToken,
    TokenAuthority,
    TokenError,
    sandbox_private_key,
    write_key_file,
)
from ingestion.sandbox.emulators.ga4_quota import EXHAUSTED, PropertyQuota, cost
from ingestion.sandbox.emulators.meta_world import read_table, world_end_date

PROPERTY_ID = "412345678"
# a fixed token for the GA4_ACCESS_TOKEN path (tests, short jobs); like a token minted out of band
ACCESS_TOKEN = "sandbox-ga4-access-token"
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 250_000
DEFAULT_CARDINALITY_LIMIT = 50_000  # rows per day before GA4 folds the rest into "(other)"
# days before the reporting date -> share of the final numbers GA4 shows while still processing
INCOMPLETE_SHARE = {1: 0.6, 2: 0.9}
USER_METRICS = frozenset({"totalUsers", "newUsers"})

DIMENSIONS = {
    "date": "date",
    "sessionSource": "session_source",
    "sessionMedium": "session_medium",
    "sessionCampaignName": "session_campaign_name",
    "deviceCategory": "device_category",
}
METRICS = {
    "sessions": ("sessions", "TYPE_INTEGER"),
    "engagedSessions": ("engaged_sessions", "TYPE_INTEGER"),
    "addToCarts": ("add_to_carts", "TYPE_INTEGER"),
    "checkouts": ("checkouts", "TYPE_INTEGER"),
    "ecommercePurchases": ("ecommerce_purchases", "TYPE_INTEGER"),
    "purchaseRevenue": ("purchase_revenue", "TYPE_CURRENCY"),
    "totalUsers": ("total_users", "TYPE_INTEGER"),
    "newUsers": ("new_users", "TYPE_INTEGER"),
}
RELATIVE_DAYS = re.compile(r"^(\d+)daysAgo$")
# the RunReportRequest fields (google.analytics.data.v1beta) and, for the messages the emulator serves,
# their fields; "*" = a message the emulator accepts without looking inside (it rejects filters anyway)
MESSAGES: dict[str, dict[str, str | None]] = {
    "RunReportRequest": {
        "property": None, "dimensions": "Dimension", "metrics": "Metric", "dateRanges": "DateRange",
        "dimensionFilter": "*", "metricFilter": "*", "offset": None, "limit": None,
        "metricAggregations": None, "orderBys": "OrderBy", "currencyCode": None, "cohortSpec": "*",
        "keepEmptyRows": None, "returnPropertyQuota": None, "comparisons": "*",
    },
    "Dimension": {"name": None, "dimensionExpression": "*"},
    "Metric": {"name": None, "expression": None, "invisible": None},
    "DateRange": {"startDate": None, "endDate": None, "name": None},
    "OrderBy": {"metric": "MetricOrderBy", "dimension": "DimensionOrderBy", "pivot": "*", "desc": None},
    "MetricOrderBy": {"metricName": None},
    "DimensionOrderBy": {"dimensionName": None, "orderType": None},
}  # fmt: skip
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
NO_PERMISSION = (
    "User does not have sufficient permissions for this property. To learn more about Property ID, see "
    "https://developers.google.com/analytics/devguides/reporting/data/v1/property-id."
)


class BadRequest(ValueError):
    """A request GA4 would reject with 400 INVALID_ARGUMENT."""


def google_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message, "status": code}}, status_code=status)


def _format_metric(value: float, kind: str) -> str:
    if kind == "TYPE_INTEGER":
        return str(int(round(value)))
    text = f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _camelized(value: Any) -> Any:
    """The body with every field in its lowerCamel JSON name (proto JSON accepts both spellings)."""
    if isinstance(value, dict):
        return {_camel(k): _camelized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camelized(v) for v in value]
    return value


def check_fields(value: Any, message: str = "RunReportRequest", path: str = "") -> None:
    """Google's JSON parser: a field the message does not define is a 400 naming it and where it is
    (proto JSON accepts the lowerCamel and the snake_case spelling of a field)."""
    known = MESSAGES.get(message)
    if known is None or not isinstance(value, dict):
        return
    for key, item in value.items():
        name = _camel(key)
        if name not in known:
            where = f" at '{path}'" if path else ""
            raise BadRequest(
                f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'
            )
        child = known[name]
        if child is None or child == "*":
            continue
        here = f"{path}.{_snake(name)}" if path else _snake(name)
        if isinstance(item, list):
            for i, element in enumerate(item):
                check_fields(element, child, f"{here}[{i}]")
        else:
            check_fields(item, child, here)


@dataclass
class GA4Control:
    as_of: date | None = None
    exhaust_next: int = 0
    expire_tokens_after: int | None = None
    thresholding: int | None = None  # minimum users a row needs to be shown when thresholding applies
    cardinality_limit: int = DEFAULT_CARDINALITY_LIMIT
    sample_above: int | None = None  # sessions in the range above which the report is sampled
    lock: threading.Lock = field(default_factory=threading.Lock)


class GA4Emulator:
    def __init__(self, world_dir: Path, faults: FaultInjector) -> None:
        self.world_dir = world_dir
        self.faults = faults
        self.control = GA4Control()
        self.quota = PropertyQuota()
        self.authority = TokenAuthority()
        self.property_access = {PROPERTY_ID: {SERVICE_ACCOUNT_EMAIL}}
        self._daily: pd.DataFrame | None = None
        self._reset_tokens()

    def _reset_tokens(self) -> None:
        self.authority.tokens.clear()
        self.authority.ttl = DEFAULT_TOKEN_TTL
        self.authority.tokens[ACCESS_TOKEN] = IssuedToken(
            SERVICE_ACCOUNT_EMAIL, frozenset(ANALYTICS_SCOPES), float("inf")
        )

    def _accounts(self) -> None:
        if SERVICE_ACCOUNT_EMAIL not in self.authority.accounts:
            key = sandbox_private_key(self.world_dir)
            self.authority.accounts[SERVICE_ACCOUNT_EMAIL] = key.public_key()

    @property
    def reporting_date(self) -> date:
        return self.control.as_of or world_end_date(self.world_dir)

    def daily(self) -> pd.DataFrame:
        if self._daily is None:
            frame = read_table(self.world_dir, "ga4_daily")
            frame["day"] = pd.to_datetime(frame["date"]).dt.date
            for column in ("session_source", "session_medium", "session_campaign_name", "device_category"):
                frame[column] = frame[column].fillna("(not set)").astype(str).replace("", "(not set)")
            self._daily = frame
        return self._daily

    def _resolve_date(self, value: str) -> date:
        today = self.reporting_date
        if value == "today":
            return today
        if value == "yesterday":
            return today - timedelta(days=1)
        if match := RELATIVE_DAYS.match(value):
            return today - timedelta(days=int(match.group(1)))
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise BadRequest(
                f"Invalid date '{value}'. Dates must be YYYY-MM-DD, NdaysAgo, yesterday, or today."
            ) from exc

    def validate(self, body: dict[str, Any]) -> tuple[date, date, list[str], list[str], int, int]:
        """What GA4 checks before it runs a report (raises BadRequest like its 400s)."""
        check_fields(body)
        ranges = body.get("dateRanges") or []
        if len(ranges) != 1:
            raise BadRequest("The sandbox emulator serves exactly one dateRange per request.")
        start = self._resolve_date(str(ranges[0].get("startDate", "")))
        end = self._resolve_date(str(ranges[0].get("endDate", "")))
        if end < start:
            raise BadRequest(f"endDate {end} is before startDate {start}.")
        dims = [d.get("name") for d in body.get("dimensions", [])]
        mets = [m.get("name") for m in body.get("metrics", [])]
        if not mets:
            raise BadRequest("Metrics must be specified in the request.")
        schema = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
        for name in dims:
            if name not in DIMENSIONS:
                raise BadRequest(
                    f"Field {name} is not a valid dimension. For a list of valid dimensions and metrics, see {schema}"
                )
        for name in mets:
            if name not in METRICS:
                raise BadRequest(
                    f"Field {name} is not a valid metric. For a list of valid dimensions and metrics, see {schema}"
                )
        if body.get("dimensionFilter") or body.get("metricFilter"):
            raise BadRequest("The sandbox emulator does not serve dimensionFilter/metricFilter.")
        try:
            limit = int(body.get("limit") or DEFAULT_LIMIT)
            offset = int(body.get("offset") or 0)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"limit/offset must be integers: {exc}") from exc
        if limit <= 0 or offset < 0:
            raise BadRequest("limit must be positive and offset non-negative.")
        return start, end, dims, mets, min(limit, MAX_LIMIT), offset

    def thresholded(self, body: dict[str, Any]) -> bool:
        """Whether thresholding applies: it is on (like Google signals) and user metrics are asked for."""
        mets = {m.get("name") for m in body.get("metrics", []) if isinstance(m, dict)}
        return self.control.thresholding is not None and bool(mets & USER_METRICS)

    def report(self, body: dict[str, Any]) -> dict[str, Any]:
        """The runReport response for a request body (raises BadRequest like GA4's 400); no quota."""
        start, end, dims, mets, limit, offset = self.validate(body)
        as_of = self.reporting_date
        frame = self.daily()
        frame = frame[(frame["day"] >= start) & (frame["day"] <= end) & (frame["day"] < as_of)].copy()
        metric_cols = [METRICS[m][0] for m in mets]
        thresholded = self.thresholded(body)
        value_cols = [
            *metric_cols,
            *(["total_users"] if thresholded and "total_users" not in metric_cols else []),
        ]
        share = frame["day"].map(lambda d: INCOMPLETE_SHARE.get((as_of - d).days, 1.0)).astype(float)
        for column, kind in {METRICS[m][0]: METRICS[m][1] for m in METRICS}.items():
            if column in value_cols:
                scaled = frame[column].astype(float) * share
                frame[column] = scaled.round(2) if kind == "TYPE_CURRENCY" else scaled.round(0)
        dim_cols = [DIMENSIONS[d] for d in dims]
        if "date" in dims:
            frame["date"] = frame["day"].map(lambda d: d.strftime("%Y%m%d"))
        if dim_cols:
            grouped = frame.groupby(dim_cols, as_index=False, sort=False)[value_cols].sum()
        else:
            grouped = frame[value_cols].sum().to_frame().T
        if not body.get("keepEmptyRows"):
            grouped = grouped[(grouped[metric_cols] != 0).any(axis=1)]
        metadata: dict[str, Any] = {"currencyCode": "USD", "timeZone": "Etc/UTC"}
        if thresholded:
            metadata["subjectToThresholding"] = True
            grouped = grouped[grouped["total_users"] >= self.control.thresholding]
        grouped, folded = self._fold_other(grouped, dim_cols, value_cols)
        if folded:
            metadata["dataLossFromOtherRow"] = True
        sessions = int(frame["sessions"].sum()) if len(frame) else 0
        if self.control.sample_above is not None and sessions > self.control.sample_above:
            metadata["samplingMetadatas"] = [
                {"samplesReadCount": str(self.control.sample_above), "samplingSpaceSize": str(sessions)}
            ]
        grouped = self._order(grouped, body.get("orderBys") or [], dims, mets)

        page = grouped.iloc[offset : offset + limit]
        rows = [
            {
                "dimensionValues": [{"value": str(record[c])} for c in dim_cols],
                "metricValues": [
                    {"value": _format_metric(record[METRICS[m][0]], METRICS[m][1])} for m in mets
                ],
            }
            for record in page.to_dict("records")
        ]
        response: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in dims],
            "metricHeaders": [{"name": m, "type": METRICS[m][1]} for m in mets],
        }
        if rows:  # like GA4's JSON: empty repeated fields and zero counts are omitted
            response["rows"] = rows
        if len(grouped):
            response["rowCount"] = len(grouped)
        response["metadata"] = metadata
        response["kind"] = "analyticsData#runReport"
        return response

    def _fold_other(
        self, grouped: pd.DataFrame, dim_cols: list[str], value_cols: list[str]
    ) -> tuple[pd.DataFrame, bool]:
        """Beyond `cardinality_limit` rows a day, GA4 keeps the biggest rows and sums the rest into one
        row whose dimensions (except the date) read "(other)"."""
        others = [c for c in dim_cols if c != "date"]
        limit = self.control.cardinality_limit
        if not others or len(grouped) <= limit:
            return grouped, False
        by = grouped["date"] if "date" in dim_cols else pd.Series(0, index=grouped.index)
        rank = grouped.groupby(by)[value_cols[0]].rank(method="first", ascending=False)
        size = grouped.groupby(by)[value_cols[0]].transform("size")
        fold = (size > limit) & (rank > limit - 1)
        if not fold.any():
            return grouped, False
        folded = grouped[fold]
        if "date" in dim_cols:
            other = folded.groupby("date", as_index=False)[value_cols].sum()
        else:
            other = folded[value_cols].sum().to_frame().T
        for column in others:
            other[column] = "(other)"
        return pd.concat([grouped[~fold], other[grouped.columns]], ignore_index=True), True

    @staticmethod
    def _order(frame: pd.DataFrame, order_bys: list[dict], dims: list[str], mets: list[str]) -> pd.DataFrame:
        keys, ascending = [], []
        for spec in order_bys:
            if "dimension" in spec:
                name = spec["dimension"].get("dimensionName")
                if name not in dims:
                    raise BadRequest(f"orderBys dimension {name} must be one of the requested dimensions.")
                keys.append(DIMENSIONS[name])
            elif "metric" in spec:
                name = spec["metric"].get("metricName")
                if name not in mets:
                    raise BadRequest(f"orderBys metric {name} must be one of the requested metrics.")
                keys.append(METRICS[name][0])
            else:
                raise BadRequest("orderBys entries need a dimension or a metric.")
            ascending.append(not spec.get("desc", False))
        # then every dimension, so paging is stable whatever the caller asked
        for name in dims:
            if DIMENSIONS[name] not in keys:
                keys.append(DIMENSIONS[name])
                ascending.append(True)
        return frame.sort_values(keys, ascending=ascending, kind="mergesort") if keys else frame

    def _authorize(self, request: Request, prop: str) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        holder = self.authority.holder(token)
        if holder is None:
            return google_error(401, "UNAUTHENTICATED", UNAUTHENTICATED)
        if not holder.scopes & ANALYTICS_SCOPES:
            return google_error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        if holder.email not in self.property_access.get(prop, set()):
            return google_error(403, "PERMISSION_DENIED", NO_PERMISSION)
        return None

    def _count_towards_expiry(self) -> None:
        c = self.control
        with c.lock:
            if c.expire_tokens_after is None:
                return
            c.expire_tokens_after -= 1
            if c.expire_tokens_after > 0:
                return
            c.expire_tokens_after = None
        self.authority.expire_all()

    async def run_report(self, request: Request) -> JSONResponse:
        prop, _, method = request.path_params["rest"].partition(":")
        if method != "runReport":
            return google_error(404, "NOT_FOUND", f"Method not found: {method or '(none)'}")
        if (error := self._authorize(request, prop)) is not None:
            return error
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as exc:
            return google_error(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}")
        if not isinstance(body, dict):
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
        try:
            check_fields(body)  # names the field as the caller spelled it
            body = _camelized(body)
            self.validate(body)
        except BadRequest as exc:
            return google_error(400, "INVALID_ARGUMENT", str(exc))
        with self.control.lock:
            concurrent = self.control.exhaust_next > 0
            if concurrent:
                self.control.exhaust_next -= 1
        if concurrent:
            return google_error(429, "RESOURCE_EXHAUSTED", EXHAUSTED["concurrentRequests"])
        thresholded = self.thresholded(body)
        if (spent := self.quota.admit(thresholded)) is not None:
            return google_error(429, "RESOURCE_EXHAUSTED", EXHAUSTED[spent])
        charged = False
        try:
            response = self.report(body)
            start, end = (self._resolve_date(str(body["dateRanges"][0][k])) for k in ("startDate", "endDate"))
            quota = self.quota.charge(
                cost(len(response.get("rows", [])), (end - start).days + 1), thresholded
            )
            charged = True
        except BadRequest as exc:
            return google_error(400, "INVALID_ARGUMENT", str(exc))
        finally:
            if not charged:  # the request is no longer in flight, whatever went wrong
                self.quota.release()
        if body.get("returnPropertyQuota"):
            response["propertyQuota"] = quota
        self._count_towards_expiry()
        return JSONResponse(response)

    async def token(self, request: Request) -> JSONResponse:
        """Google's OAuth 2 token endpoint for the JWT-bearer grant (form-encoded body)."""
        self._accounts()
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        try:
            granted = self.authority.exchange(form, str(request.url).split("?")[0])
        except TokenError as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status)
        return JSONResponse(granted)

    async def service_account(self, request: Request) -> JSONResponse:
        self._accounts()
        base = str(request.base_url).rstrip("/")
        port = request.url.port or 80
        path = write_key_file(self.world_dir, f"{base}/token", f"ga4-service-account-{port}")
        return JSONResponse({"credentials_file": str(path), "client_email": SERVICE_ACCOUNT_EMAIL})

    async def control_route(self, request: Request) -> JSONResponse:
        c = self.control
        if request.method == "POST":
            body = await request.json()
            if body.get("reset"):
                body = {
                    "as_of": None, "exhaust_next": 0, "quota": None, "expire_tokens_after": None,
                    "thresholding": None, "cardinality_limit": None, "sample_above": None, **body,
                }  # fmt: skip
                self._reset_tokens()
            with c.lock:
                if "as_of" in body:
                    c.as_of = date.fromisoformat(body["as_of"]) if body["as_of"] else None
                if "exhaust_next" in body:
                    c.exhaust_next = int(body["exhaust_next"])
                if "expire_tokens_after" in body:
                    after = body["expire_tokens_after"]
                    c.expire_tokens_after = int(after) if after is not None else None
                if "thresholding" in body:
                    c.thresholding = body["thresholding"]
                if "cardinality_limit" in body:
                    c.cardinality_limit = int(body["cardinality_limit"] or DEFAULT_CARDINALITY_LIMIT)
                if "sample_above" in body:
                    c.sample_above = body["sample_above"]
            if "quota" in body:
                self.quota.set_limits(body["quota"])
            if "token_ttl" in body:
                self.authority.ttl = float(body["token_ttl"])
            if body.get("expire_tokens"):
                self.authority.expire_all()
        return JSONResponse(
            {
                "as_of": self.reporting_date.isoformat(),
                "exhaust_next": c.exhaust_next,
                "quota_limits": self.quota.limits,
                "token_ttl": self.authority.ttl,
                "tokens_issued": self.authority.issued,
                "expire_tokens_after": c.expire_tokens_after,
                "thresholding": c.thresholding,
                "cardinality_limit": c.cardinality_limit,
                "sample_above": c.sample_above,
            }
        )


def create_app(world_dir: Path, faults: FaultInjector) -> Starlette:
    """The ASGI app over one world directory (the fault middleware is added by `running_emulator`)."""
    emulator = GA4Emulator(Path(world_dir), faults)
    app = Starlette(
        routes=[
            Route("/_emulator/control", emulator.control_route, methods=["GET", "POST"]),
            Route("/_emulator/service_account", emulator.service_account, methods=["POST"]),
            Route("/token", emulator.token, methods=["POST"]),
            Route("/v1beta/properties/{rest}", emulator.run_report, methods=["POST"]),
        ]
    )
    app.state.emulator = emulator
    return app


def endpoint_env(base_url: str) -> dict[str, str]:
    """Env that points the GA4 connector at this emulator (same variables as for the real API): the
    property and a service-account key file whose token_uri is this emulator's token endpoint. The
    running emulator writes the file (only it knows the world directory) when asked."""
    resp = requests.post(f"{base_url}/_emulator/service_account", timeout=30)
    resp.raise_for_status()
    return {
        "GA4_API_URL": base_url,
        "GA4_PROPERTY_ID": PROPERTY_ID,
        "GA4_CREDENTIALS_FILE": resp.json()["credentials_file"],
    }
