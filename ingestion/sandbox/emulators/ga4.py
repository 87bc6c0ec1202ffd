"""GA4 Data API emulator: `POST /v1beta/properties/<id>:runReport` over the simulated shop's `ga4_daily`.

Faithful where connectors depend on it: dimension/metric names and errors for unknown ones
(400 INVALID_ARGUMENT), `dimensionHeaders`/`metricHeaders` (with metric `type`), values as strings,
`rowCount` with `limit`/`offset` paging, relative dates (`today`, `yesterday`, `NdaysAgo`), zero rows
dropped (`keepEmptyRows` false), 401 UNAUTHENTICATED, 429 RESOURCE_EXHAUSTED when the property's
quota is spent. The last 2 days before the reporting date are still being processed: they are served
scaled down (x0.6 for yesterday, x0.9 for the day before) and restated once complete.

Sandbox control (not Google's API): GET|POST /_emulator/control
    {"as_of": "YYYY-MM-DD"|null, "exhaust_next": N, "rate_limit": {"requests": N, "window_seconds": S}|null}
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingestion.sandbox.emulators.faults import FaultInjector
from ingestion.sandbox.emulators.meta_world import read_table, world_end_date

PROPERTY_ID = "412345678"
ACCESS_TOKEN = "sandbox-ga4-access-token"
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 250_000
# days before the reporting date -> share of the final numbers GA4 shows while still processing
INCOMPLETE_SHARE = {1: 0.6, 2: 0.9}

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


class BadRequest(ValueError):
    """A request GA4 would reject with 400 INVALID_ARGUMENT."""


def google_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message, "status": code}}, status_code=status)


def _format_metric(value: float, kind: str) -> str:
    if kind == "TYPE_INTEGER":
        return str(int(round(value)))
    text = f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class GA4Control:
    as_of: date | None = None
    exhaust_next: int = 0
    rate_limit: dict[str, float] | None = None
    calls: deque[float] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)


class GA4Emulator:
    def __init__(self, world_dir: Path, faults: FaultInjector) -> None:
        self.world_dir = world_dir
        self.faults = faults
        self.control = GA4Control()
        self._daily: pd.DataFrame | None = None

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

    def report(self, body: dict[str, Any]) -> dict[str, Any]:
        """The runReport response for a parsed request body (raises BadRequest like GA4's 400)."""
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
        for name in dims:
            if name not in DIMENSIONS:
                raise BadRequest(
                    f"Field {name} is not a valid dimension. For a list of valid dimensions and metrics, see "
                    "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
                )
        for name in mets:
            if name not in METRICS:
                raise BadRequest(
                    f"Field {name} is not a valid metric. For a list of valid dimensions and metrics, see "
                    "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
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
        limit = min(limit, MAX_LIMIT)

        as_of = self.reporting_date
        frame = self.daily()
        frame = frame[(frame["day"] >= start) & (frame["day"] <= end) & (frame["day"] < as_of)].copy()
        metric_cols = [METRICS[m][0] for m in mets]
        share = frame["day"].map(lambda d: INCOMPLETE_SHARE.get((as_of - d).days, 1.0)).astype(float)
        for name in mets:
            column, kind = METRICS[name]
            scaled = frame[column].astype(float) * share
            frame[column] = scaled.round(2) if kind == "TYPE_CURRENCY" else scaled.round(0)
        dim_cols = [DIMENSIONS[d] for d in dims]
        if "date" in dims:
            frame["date"] = frame["day"].map(lambda d: d.strftime("%Y%m%d"))
        if dim_cols:
            grouped = frame.groupby(dim_cols, as_index=False, sort=False)[metric_cols].sum()
        else:
            grouped = frame[metric_cols].sum().to_frame().T
        if not body.get("keepEmptyRows"):
            grouped = grouped[(grouped[metric_cols] != 0).any(axis=1)]
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
        response["metadata"] = {"currencyCode": "USD", "timeZone": "Etc/UTC"}
        if body.get("returnPropertyQuota"):
            response["propertyQuota"] = {"tokensPerDay": {"consumed": 1, "remaining": 199_999}}
        response["kind"] = "analyticsData#runReport"
        return response

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

    def _quota(self) -> JSONResponse | None:
        c = self.control
        with c.lock:
            if c.exhaust_next > 0:
                c.exhaust_next -= 1
                return google_error(
                    429, "RESOURCE_EXHAUSTED", "Exhausted concurrent requests quota for this property."
                )
            if c.rate_limit:
                now = time.monotonic()
                window = float(c.rate_limit.get("window_seconds", 3600))
                while c.calls and c.calls[0] < now - window:
                    c.calls.popleft()
                if len(c.calls) >= int(c.rate_limit["requests"]):
                    return google_error(
                        429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per hour for this property."
                    )
                c.calls.append(now)
        return None

    async def run_report(self, request: Request) -> JSONResponse:
        prop, _, method = request.path_params["rest"].partition(":")
        if method != "runReport":
            return google_error(404, "NOT_FOUND", f"Method not found: {method or '(none)'}")
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {ACCESS_TOKEN}":
            return google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                "or other valid authentication credential.",
            )
        if prop != PROPERTY_ID:
            return google_error(
                403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property."
            )
        if (error := self._quota()) is not None:
            return error
        try:
            body = json.loads(await request.body() or b"{}")
            return JSONResponse(self.report(body))
        except json.JSONDecodeError as exc:
            return google_error(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}")
        except BadRequest as exc:
            return google_error(400, "INVALID_ARGUMENT", str(exc))

    async def control_route(self, request: Request) -> JSONResponse:
        c = self.control
        if request.method == "POST":
            body = await request.json()
            with c.lock:
                if "as_of" in body:
                    c.as_of = date.fromisoformat(body["as_of"]) if body["as_of"] else None
                if "exhaust_next" in body:
                    c.exhaust_next = int(body["exhaust_next"])
                if "rate_limit" in body:
                    c.rate_limit = body["rate_limit"]
                    c.calls.clear()
        return JSONResponse(
            {
                "as_of": self.reporting_date.isoformat(),
                "exhaust_next": c.exhaust_next,
                "rate_limit": c.rate_limit,
            }
        )


def create_app(world_dir: Path, faults: FaultInjector) -> Starlette:
    """The ASGI app over one world directory (the fault middleware is added by `running_emulator`)."""
    emulator = GA4Emulator(Path(world_dir), faults)
    app = Starlette(
        routes=[
            Route("/_emulator/control", emulator.control_route, methods=["GET", "POST"]),
            Route("/v1beta/properties/{rest}", emulator.run_report, methods=["POST"]),
        ]
    )
    app.state.emulator = emulator
    return app


def endpoint_env(base_url: str) -> dict[str, str]:
    """Env that points the GA4 connector at this emulator (same variables as for the real API)."""
    return {"GA4_API_URL": base_url, "GA4_PROPERTY_ID": PROPERTY_ID, "GA4_ACCESS_TOKEN": ACCESS_TOKEN}
