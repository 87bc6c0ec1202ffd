"""dlt source for the Meta Marketing API: campaigns, ad sets, ads and daily ad-level insights.

Insights are restated by Meta for up to 28 days (late conversions), so the `ads_insights` cursor has a
lag: every run re-requests from `max(date_start loaded) - repull_days` and merges on (ad_id, date_start),
which lets restated numbers converge without duplicates. An explicit `since`/`until` (a backfill)
loads exactly that range and leaves the incremental state untouched (dlt ignores state when an
`end_value` is set).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.meta_ads.client import MetaGraphClient, day_chunks
from ingestion.meta_ads.settings import (
    DEFAULT_API_URL,
    DEFAULT_API_VERSION,
    DEFAULT_REPULL_DAYS,
    DEFAULT_START_DATE,
)

log = logging.getLogger(__name__)

TEXT = {"data_type": "text"}
OBJECT_COLUMNS = {
    "campaigns": [
        "id",
        "account_id",
        "name",
        "objective",
        "status",
        "daily_budget",
        "created_time",
        "updated_time",
    ],
    "adsets": ["id", "campaign_id", "name", "status", "created_time", "updated_time"],
    "ads": ["id", "adset_id", "campaign_id", "name", "status", "created_time", "updated_time", "url_tags"],
}
OBJECT_FIELDS = {
    "campaigns": ",".join(OBJECT_COLUMNS["campaigns"]),
    "adsets": ",".join(OBJECT_COLUMNS["adsets"]),
    "ads": "id,adset_id,campaign_id,name,status,created_time,updated_time,creative{url_tags}",
}
INSIGHT_TEXT_COLUMNS = (
    "date_start", "date_stop", "account_id", "campaign_id", "campaign_name", "adset_id", "ad_id",
    "ad_name", "spend", "impressions", "clicks", "reach",
)  # fmt: skip
INSIGHT_COLUMNS: dict[str, dict[str, Any]] = {
    **{name: dict(TEXT) for name in INSIGHT_TEXT_COLUMNS},
    "actions": {"data_type": "json"},
    "action_values": {"data_type": "json"},
}
# what each table holds (the Dagster asset descriptions; docs/raw_contract.md has the columns)
TABLE_DESCRIPTIONS = {
    "campaigns": "Meta ad campaigns of the ad account: name, objective, status, daily budget",
    "adsets": "Meta ad sets, each under one campaign: name and status",
    "ads": "Meta ads, each under one ad set: name, status and the creative's URL tags (UTMs)",
    "ads_insights": "Daily insights per Meta ad: spend, impressions, clicks, reach and the platform's "
    "conversions (`actions`, `action_values`); numbers as Meta sends them (text), restated for 28 days",
}


def _today() -> date:
    return datetime.now(UTC).date()


def _object_row(edge: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Keep the contract's columns; `ads.url_tags` comes from the nested `creative{url_tags}`."""
    if edge == "ads":
        obj = {**obj, "url_tags": (obj.get("creative") or {}).get("url_tags")}
    return {column: obj.get(column) for column in OBJECT_COLUMNS[edge]}


@dlt.source(name="meta_ads", max_table_nesting=0)
def meta_ads_source(
    access_token: str = dlt.secrets.value,
    ad_account_id: str = dlt.config.value,
    api_url: str = DEFAULT_API_URL,
    api_version: str = DEFAULT_API_VERSION,
    start_date: str = DEFAULT_START_DATE,
    repull_days: int = DEFAULT_REPULL_DAYS,
    since: str | None = None,
    until: str | None = None,
    page_size: int = 500,
    chunk_days: int = 90,
    use_async: bool = True,
    max_attempts: int = 6,
    backoff: float = 1.0,
    max_wait: float = 300.0,
    timeout: float = 60.0,
    poll_interval: float = 1.0,
    async_timeout: float = 1800.0,
) -> list[DltResource]:
    """Meta Ads for one ad account. `since`/`until` (YYYY-MM-DD, inclusive) backfill a fixed range;
    without them insights load incrementally from `start_date` with a `repull_days` re-pull window."""
    client = MetaGraphClient(
        api_url=api_url,
        api_version=api_version,
        access_token=access_token,
        ad_account_id=str(ad_account_id),
        page_size=page_size,
        max_attempts=max_attempts,
        backoff=backoff,
        max_wait=max_wait,
        timeout=timeout,
        poll_interval=poll_interval,
        async_timeout=async_timeout,
    )

    def object_resource(edge: str) -> DltResource:
        def rows() -> Iterator[list[dict[str, Any]]]:
            for page in client.edge(edge, OBJECT_FIELDS[edge]):
                yield [_object_row(edge, obj) for obj in page]

        return dlt.resource(
            rows,
            name=edge,
            write_disposition="merge",
            primary_key="id",
            columns={c: dict(TEXT) for c in OBJECT_COLUMNS[edge]},
        )

    backfill = since is not None or until is not None
    initial = since or start_date
    end_value = (until or _today().isoformat()) if backfill else None

    cursor = dlt.sources.incremental(
        "date_start",
        initial_value=initial,
        end_value=end_value,
        lag=repull_days,
        range_end="closed",
        primary_key=(),  # rows in the re-pull window must be re-emitted, not de-duplicated away
    )

    @dlt.resource(
        name="ads_insights",
        write_disposition="merge",
        primary_key=("ad_id", "date_start"),
        columns=INSIGHT_COLUMNS,
    )
    def ads_insights(
        date_start: dlt.sources.incremental[str] = cursor,
    ) -> Iterator[list[dict[str, Any]]]:
        first = date.fromisoformat(date_start.start_value)
        last = date.fromisoformat(date_start.end_value) if date_start.end_value else _today()
        log.info("meta_ads: insights %s..%s (re-pull window %d days)", first, last, repull_days)
        for chunk_start, chunk_end in day_chunks(first, last, chunk_days):
            for page in client.insights(chunk_start, chunk_end, use_async=use_async):
                if page:
                    yield page

    return [object_resource("campaigns"), object_resource("adsets"), object_resource("ads"), ads_insights]
