"""dlt source for the GA4 Data API: one daily report (`daily_traffic`) by date, session source/medium/
campaign and device.

GA4 keeps processing the last ~2 days (their numbers grow), so the `date` cursor has a lag: each run
re-requests from `max(date loaded) - repull_days` and merges on date + dimensions. An explicit
`since`/`until` (a backfill) loads exactly that range and leaves the incremental state untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.common.http import ApiClient, SourceAPIError
from ingestion.ga4.settings import DEFAULT_API_URL, DEFAULT_REPULL_DAYS, DEFAULT_START_DATE

log = logging.getLogger(__name__)

SOURCE = "ga4"
DIMENSIONS = {
    "date": "date",
    "sessionSource": "session_source",
    "sessionMedium": "session_medium",
    "sessionCampaignName": "session_campaign_name",
    "deviceCategory": "device_category",
}
METRICS = {
    "sessions": "sessions",
    "engagedSessions": "engaged_sessions",
    "addToCarts": "add_to_carts",
    "checkouts": "checkouts",
    "ecommercePurchases": "ecommerce_purchases",
    "purchaseRevenue": "purchase_revenue",
    "totalUsers": "total_users",
    "newUsers": "new_users",
}
KEY = tuple(DIMENSIONS.values())
COLUMNS: dict[str, dict[str, Any]] = {
    **{column: {"data_type": "text"} for column in KEY},
    **{column: {"data_type": "bigint"} for column in METRICS.values() if column != "purchase_revenue"},
    "purchase_revenue": {"data_type": "double"},
    "property_id": {"data_type": "text"},
}


def decode_metric(value: str, metric_type: str) -> int | float | None:
    """GA4 sends every metric as a string; `metricHeaders[].type` says how to read it."""
    if value is None or value == "":
        return None
    if metric_type == "TYPE_INTEGER":
        return int(value)
    return float(value)  # TYPE_FLOAT, TYPE_CURRENCY, TYPE_SECONDS, TYPE_MILLISECONDS, ...


def _iso(day: str) -> str:
    """`YYYYMMDD` (GA4's date dimension, our cursor) -> `YYYY-MM-DD` (what `dateRanges` take)."""
    return datetime.strptime(day, "%Y%m%d").date().isoformat() if "-" not in day else day


def _compact(day: str) -> str:
    return day.replace("-", "")


def report_rows(
    client: ApiClient, property_id: str, start: str, end: str, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """One runReport query paged with offset/limit until `rowCount`, rows decoded to snake_case dicts."""
    path = f"v1beta/properties/{property_id}:runReport"
    offset = 0
    while True:
        body = {
            "dateRanges": [{"startDate": start, "endDate": end}],
            "dimensions": [{"name": name} for name in DIMENSIONS],
            "metrics": [{"name": name} for name in METRICS],
            "orderBys": [{"dimension": {"dimensionName": name}} for name in DIMENSIONS],
            "limit": str(page_size),
            "offset": str(offset),
            "keepEmptyRows": False,
        }
        payload = client.request_json("POST", path, json=body)
        dims = [DIMENSIONS.get(h["name"], h["name"]) for h in payload.get("dimensionHeaders", [])]
        mets = [
            (METRICS.get(h["name"], h["name"]), h.get("type", "TYPE_FLOAT"))
            for h in payload.get("metricHeaders", [])
        ]
        if dims != list(DIMENSIONS.values()) or [m for m, _ in mets] != list(METRICS.values()):
            raise SourceAPIError(
                SOURCE, "POST", client.url(path), 1, 200, f"unexpected headers: dims={dims} metrics={mets}"
            )
        rows = payload.get("rows", [])
        total = int(payload.get("rowCount", 0))
        page = []
        for row in rows:
            record: dict[str, Any] = {
                column: cell.get("value") for column, cell in zip(dims, row["dimensionValues"], strict=True)
            }
            for (column, kind), cell in zip(mets, row["metricValues"], strict=True):
                record[column] = decode_metric(cell.get("value"), kind)
            record["property_id"] = property_id
            page.append(record)
        if page:
            yield page
        offset += len(rows)
        log.info("ga4: %s..%s rows %d/%d", start, end, offset, total)
        if not rows or offset >= total:
            return


@dlt.source(name="ga4", max_table_nesting=0)
def ga4_source(
    property_id: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    api_url: str = DEFAULT_API_URL,
    start_date: str = DEFAULT_START_DATE,
    repull_days: int = DEFAULT_REPULL_DAYS,
    since: str | None = None,
    until: str | None = None,
    page_size: int = 10_000,
    max_attempts: int = 6,
    backoff: float = 1.0,
    max_wait: float = 300.0,
    timeout: float = 60.0,
) -> DltResource:
    """GA4 `daily_traffic` for one property. `since`/`until` (YYYY-MM-DD, inclusive) backfill a fixed
    range; without them it loads incrementally from `start_date` with a `repull_days` re-pull window."""
    client = ApiClient(
        source=SOURCE,
        base_url=api_url,
        headers={"Authorization": f"Bearer {access_token}"},
        max_attempts=max_attempts,
        backoff=backoff,
        max_wait=max_wait,
        timeout=timeout,
    )
    property_id = str(property_id).removeprefix("properties/")
    backfill = since is not None or until is not None
    initial = _compact(since or start_date)
    # a backfill sets end_value, which makes dlt ignore (and not advance) the incremental state
    end_value = _compact(until or datetime.now(UTC).date().isoformat()) if backfill else None

    cursor = dlt.sources.incremental(
        "date",
        initial_value=initial,
        end_value=end_value,
        lag=repull_days,
        range_end="closed",
        primary_key=(),  # rows in the re-pull window must be re-emitted, not de-duplicated away
    )

    @dlt.resource(name="daily_traffic", write_disposition="merge", primary_key=KEY, columns=COLUMNS)
    def daily_traffic(
        day: dlt.sources.incremental[str] = cursor,
    ) -> Iterator[list[dict[str, Any]]]:
        start = _iso(day.start_value)
        end = _iso(day.end_value) if day.end_value else "today"  # GA4 resolves "today" in the property's zone
        log.info("ga4: daily_traffic %s..%s (re-pull window %d days)", start, end, repull_days)
        yield from report_rows(client, property_id, start, end, page_size)

    return daily_traffic
