"""dlt source for the GA4 Data API: one daily report (`daily_traffic`) by date, session source/medium/
campaign and device, and what GA4 said about each request (`report_metadata`).

GA4 keeps processing the last ~2 days (their numbers grow), so the `date` cursor has a lag: each run
re-requests from `max(date loaded) - repull_days` and merges on date + dimensions. An explicit
`since`/`until` (a backfill) loads exactly that range and leaves the incremental state untouched.

One request feeds two tables, like the Shopify order feed: a hidden `report_feed` resource pages the
report and yields each response as one item; `daily_traffic` takes its rows, `report_metadata` one row
per request with GA4's `metadata` flags (thresholded, sampled, "(other)" row) and the quota left. The
flags matter because GA4 answers such reports with HTTP 200 and lower or folded numbers: each one is
also a notice (run log + asset metadata), and the `report_complete` check reads the table, so the
warning outlives the run that saw it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.common.http import ApiClient, SourceAPIError
from ingestion.common.notices import notice
from ingestion.ga4.client import QuotaPacer, explain, ga4_client
from ingestion.ga4.settings import (
    DEFAULT_API_URL,
    DEFAULT_PACE_SECONDS,
    DEFAULT_QUOTA_RESERVE,
    DEFAULT_REPULL_DAYS,
    DEFAULT_START_DATE,
)

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
REPORT_COLUMNS: dict[str, dict[str, Any]] = {
    "requested_at": {"data_type": "timestamp"},
    "property_id": {"data_type": "text"},
    "table_name": {"data_type": "text"},
    "start_date": {"data_type": "text"},
    "end_date": {"data_type": "text"},
    "page_offset": {"data_type": "bigint"},
    "page_rows": {"data_type": "bigint"},
    "row_count": {"data_type": "bigint"},
    "subject_to_thresholding": {"data_type": "bool"},
    "data_loss_from_other_row": {"data_type": "bool"},
    "sampled": {"data_type": "bool"},
    "samples_read_count": {"data_type": "bigint", "nullable": True},
    "sampling_space_size": {"data_type": "bigint", "nullable": True},
    "time_zone": {"data_type": "text", "nullable": True},
    "currency_code": {"data_type": "text", "nullable": True},
    "tokens_consumed": {"data_type": "bigint", "nullable": True},
    "tokens_per_hour_remaining": {"data_type": "bigint", "nullable": True},
    "tokens_per_project_per_hour_remaining": {"data_type": "bigint", "nullable": True},
    "tokens_per_day_remaining": {"data_type": "bigint", "nullable": True},
}
# what each table holds (the Dagster asset descriptions; docs/raw_contract.md has the columns)
TABLE_DESCRIPTIONS = {
    "daily_traffic": "GA4 daily report by session source, medium, campaign and device: sessions, engaged "
    "sessions, add-to-carts, checkouts, purchases, users and purchase revenue",
    "report_metadata": "One row per GA4 report request: the range, rows served, whether GA4 thresholded, "
    "sampled or folded it into '(other)', and the quota left (read by the report_complete check)",
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


def report_path(property_id: str) -> str:
    """The Data API method every request goes to (v1beta: the version the connector and contract test speak)."""
    return f"v1beta/properties/{property_id}:runReport"


def report_body(start: str, end: str, offset: int, page_size: int) -> dict[str, Any]:
    """The runReport body the connector sends (the contract test parses it as RunReportRequest)."""
    return {
        "dateRanges": [{"startDate": start, "endDate": end}],
        "dimensions": [{"name": name} for name in DIMENSIONS],
        "metrics": [{"name": name} for name in METRICS],
        "orderBys": [{"dimension": {"dimensionName": name}} for name in DIMENSIONS],
        "limit": str(page_size),
        "offset": str(offset),
        "keepEmptyRows": False,
        "returnPropertyQuota": True,
    }


@dataclass
class ReportPage:
    rows: list[dict[str, Any]]
    report: dict[str, Any]  # one report_metadata row


def _remaining(quota: dict[str, Any], name: str, field: str = "remaining") -> int | None:
    status = quota.get(name)
    return int(status.get(field, 0)) if isinstance(status, dict) else None


def _flag_notices(meta: dict[str, Any], start: str, end: str) -> None:
    span = f"{start}..{end}"
    if meta.get("subjectToThresholding"):
        notice(SOURCE, "report_thresholded",
               f"GA4 thresholded the daily_traffic report for {span}: rows with few users are withheld "
               "(Google signals or demographics on the property), so the loaded totals are lower than GA4's",
               table="daily_traffic")  # fmt: skip
    if meta.get("samplingMetadatas"):
        sample = meta["samplingMetadatas"][0]
        notice(SOURCE, "report_sampled",
               f"GA4 sampled the daily_traffic report for {span}: the numbers are estimates from "
               f"{sample.get('samplesReadCount', '?')} of {sample.get('samplingSpaceSize', '?')} events",
               table="daily_traffic")  # fmt: skip
    if meta.get("dataLossFromOtherRow"):
        notice(SOURCE, "report_other_row",
               f"GA4 folded rows of the daily_traffic report for {span} into '(other)': the day had more "
               "dimension combinations than GA4 keeps, so some campaigns/sources are not reported separately",
               table="daily_traffic")  # fmt: skip


def report_pages(
    client: ApiClient,
    property_id: str,
    start: str,
    end: str,
    page_size: int,
    pacer: QuotaPacer | None = None,
) -> Iterator[ReportPage]:
    """One runReport query paged with offset/limit until `rowCount`: rows decoded to snake_case dicts,
    and per request what GA4 said about it."""
    path = report_path(property_id)
    offset = 0
    while True:
        if pacer is not None:
            pacer.before_request()
        requested_at = datetime.now(UTC)
        try:
            payload = client.request_json("POST", path, json=report_body(start, end, offset, page_size))
        except SourceAPIError as exc:
            raise explain(exc, client.auth, property_id) from exc
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
        meta = payload.get("metadata") or {}
        quota = payload.get("propertyQuota") or {}
        if pacer is not None:
            pacer.observe(quota)
        _flag_notices(meta, start, end)
        sampling = (meta.get("samplingMetadatas") or [{}])[0]
        yield ReportPage(
            page,
            {
                "requested_at": requested_at,
                "property_id": property_id,
                "table_name": "daily_traffic",
                "start_date": start,
                "end_date": end,
                "page_offset": offset,
                "page_rows": len(rows),
                "row_count": total,
                "subject_to_thresholding": bool(meta.get("subjectToThresholding")),
                "data_loss_from_other_row": bool(meta.get("dataLossFromOtherRow")),
                "sampled": bool(meta.get("samplingMetadatas")),
                "samples_read_count": int(sampling["samplesReadCount"])
                if "samplesReadCount" in sampling
                else None,
                "sampling_space_size": int(sampling["samplingSpaceSize"])
                if "samplingSpaceSize" in sampling
                else None,
                "time_zone": meta.get("timeZone"),
                "currency_code": meta.get("currencyCode"),
                "tokens_consumed": _remaining(quota, "tokensPerHour", "consumed"),
                "tokens_per_hour_remaining": _remaining(quota, "tokensPerHour"),
                "tokens_per_project_per_hour_remaining": _remaining(quota, "tokensPerProjectPerHour"),
                "tokens_per_day_remaining": _remaining(quota, "tokensPerDay"),
            },
        )
        offset += len(rows)
        log.info("ga4: %s..%s rows %d/%d", start, end, offset, total)
        if not rows or offset >= total:
            if quota:
                log.info(
                    "ga4: property quota left: %s tokens this hour, %s today",
                    _remaining(quota, "tokensPerHour"),
                    _remaining(quota, "tokensPerDay"),
                )
            return


@dlt.source(name="ga4", max_table_nesting=0)
def ga4_source(
    property_id: str = dlt.config.value,
    access_token: str = "",
    credentials_file: str = "",
    credentials_variable: str = "GA4_CREDENTIALS_FILE",
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
    quota_reserve: int = DEFAULT_QUOTA_RESERVE,
    pace_seconds: float = DEFAULT_PACE_SECONDS,
) -> list[DltResource]:
    """GA4 `daily_traffic` (+ `report_metadata`) for one property. Credentials: a service-account key
    file (`credentials_file`, preferred) or a fixed `access_token`. `since`/`until` (YYYY-MM-DD,
    inclusive) backfill a fixed range; without them it loads incrementally from `start_date` with a
    `repull_days` re-pull window."""
    property_id = str(property_id).removeprefix("properties/")
    client = ga4_client(
        property_id,
        api_url,
        access_token=access_token,
        credentials_file=credentials_file,
        credentials_variable=credentials_variable,
        max_attempts=max_attempts,
        backoff=backoff,
        max_wait=max_wait,
        timeout=timeout,
    )
    pacer = QuotaPacer(quota_reserve, pace_seconds)
    backfill = since is not None or until is not None
    initial = _compact(since or start_date)
    # a backfill sets end_value, which makes dlt ignore (and not advance) the incremental state
    end_value = _compact(until or datetime.now(UTC).date().isoformat()) if backfill else None

    cursor = dlt.sources.incremental(
        "_cursor",
        initial_value=initial,
        end_value=end_value,
        lag=repull_days,
        range_end="closed",
        primary_key=(),  # rows in the re-pull window must be re-emitted, not de-duplicated away
    )

    def pages(day: dlt.sources.incremental[str] = cursor) -> Iterator[dict[str, Any]]:
        start = _iso(day.start_value)
        end = _iso(day.end_value) if day.end_value else "today"  # GA4 resolves "today" in the property's zone
        log.info("ga4: daily_traffic %s..%s (re-pull window %d days)", start, end, repull_days)
        for page in report_pages(client, property_id, start, end, page_size, pacer):
            # the cursor of a page is its last day; an empty page sits on the start so it passes the filter
            last = max((row["date"] for row in page.rows), default=_compact(start))
            yield {"_cursor": last, "page": page}

    feed = dlt.resource(pages, name="report_feed", selected=False)

    def traffic(item: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        if item["page"].rows:
            yield item["page"].rows

    def report(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield item["page"].report

    daily_traffic = dlt.transformer(
        traffic,
        data_from=feed,
        name="daily_traffic",
        write_disposition="merge",
        primary_key=KEY,
        columns=COLUMNS,
    )
    report_metadata = dlt.transformer(
        report, data_from=feed, name="report_metadata", write_disposition="append", columns=REPORT_COLUMNS
    )
    return [daily_traffic, report_metadata]
