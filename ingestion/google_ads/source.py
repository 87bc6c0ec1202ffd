"""dlt source for the Google Ads API: campaigns, ad groups, ads and their daily metrics, by GAQL over
`googleAds:searchStream`.

Conversions are restated for the conversion window (30 days by default): like Meta's insights, the
daily tables' cursor has a lag, so every run re-requests from `max(date loaded) - repull_days` and
merges on (campaign_id, date) / (ad_group_id, date). An explicit `since`/`until` loads exactly that
range and leaves the incremental state alone. Cost comes in micros of the account currency
(`cost_micros`, an int64) and is stored so; staging divides by 1,000,000.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt
from dlt.sources import DltResource

from ingestion.google_ads.client import GoogleAdsClient, RefreshTokenAuth
from ingestion.google_ads.settings import (
    DEFAULT_API_URL,
    DEFAULT_API_VERSION,
    DEFAULT_REPULL_DAYS,
    DEFAULT_START_DATE,
    DEFAULT_TOKEN_URI,
)

log = logging.getLogger(__name__)

METRICS = (
    "metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions, metrics.conversions_value"
)
CAMPAIGNS_QUERY = (
    "SELECT campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, "
    "campaign.bidding_strategy_type, campaign.start_date, customer.currency_code FROM campaign"
)
AD_GROUPS_QUERY = (
    "SELECT ad_group.id, ad_group.name, ad_group.status, ad_group.type, campaign.id FROM ad_group"
)
ADS_QUERY = (
    "SELECT ad_group_ad.ad.id, ad_group_ad.ad.name, ad_group_ad.ad.type, ad_group_ad.status, ad_group.id, "
    "campaign.id FROM ad_group_ad"
)
DAILY_QUERIES = {
    "campaign_daily": "SELECT campaign.id, segments.date, {metrics} FROM campaign "
    "WHERE segments.date BETWEEN '{since}' AND '{until}'",
    "ad_group_daily": "SELECT ad_group.id, campaign.id, segments.date, {metrics} FROM ad_group "
    "WHERE segments.date BETWEEN '{since}' AND '{until}'",
    "ad_daily": "SELECT ad_group_ad.ad.id, ad_group.id, campaign.id, segments.date, {metrics} FROM ad_group_ad "
    "WHERE segments.date BETWEEN '{since}' AND '{until}'",
}
COLUMNS: dict[str, dict[str, dict[str, Any]]] = {
    "campaigns": {
        "id": {"data_type": "text", "nullable": False}, "name": {"data_type": "text"},
        "status": {"data_type": "text"}, "advertising_channel_type": {"data_type": "text"},
        "bidding_strategy_type": {"data_type": "text"}, "start_date": {"data_type": "text"},
        "currency_code": {"data_type": "text"},
    },
    "ad_groups": {
        "id": {"data_type": "text", "nullable": False}, "campaign_id": {"data_type": "text"},
        "name": {"data_type": "text"}, "status": {"data_type": "text"}, "type": {"data_type": "text"},
    },
    "ads": {
        "id": {"data_type": "text", "nullable": False}, "ad_group_id": {"data_type": "text"},
        "campaign_id": {"data_type": "text"}, "name": {"data_type": "text"}, "type": {"data_type": "text"},
        "status": {"data_type": "text"},
    },
}  # fmt: skip
METRIC_COLUMNS: dict[str, dict[str, Any]] = {
    "date": {"data_type": "text", "nullable": False},
    "impressions": {"data_type": "bigint"},
    "clicks": {"data_type": "bigint"},
    "cost_micros": {"data_type": "bigint"},
    "conversions": {"data_type": "double"},
    "conversions_value": {"data_type": "double"},
}
COLUMNS["campaign_daily"] = {"campaign_id": {"data_type": "text", "nullable": False}, **METRIC_COLUMNS}
COLUMNS["ad_group_daily"] = {
    "ad_group_id": {"data_type": "text", "nullable": False},
    "campaign_id": {"data_type": "text"},
    **METRIC_COLUMNS,
}
COLUMNS["ad_daily"] = {
    "ad_id": {"data_type": "text", "nullable": False},
    "ad_group_id": {"data_type": "text"},
    "campaign_id": {"data_type": "text"},
    **METRIC_COLUMNS,
}
TABLE_DESCRIPTIONS = {
    "campaigns": "Google Ads campaigns of the account: name, status, channel type (SEARCH, PERFORMANCE_MAX, ...), "
    "bidding strategy, start date and the account currency",
    "ad_groups": "Google Ads ad groups, each under one campaign (Performance Max campaigns have none)",
    "campaign_daily": "Daily metrics per Google Ads campaign: impressions, clicks, cost (micros), and Google's "
    "conversions and conversion value, restated for 30 days",
    "ad_group_daily": "Daily metrics per Google Ads ad group, the same metrics as campaign_daily",
    "ads": "Google Ads ads (ad_group_ad: responsive search ads), each under one ad group",
    "ad_daily": "Daily metrics per Google Ads ad, the same metrics as campaign_daily",
}


def _today() -> date:
    return datetime.now(UTC).date()


def day_chunks(first: date, last: date, days: int) -> Iterator[tuple[date, date]]:
    start = first
    while start <= last:
        end = min(start + timedelta(days=days - 1), last)
        yield start, end
        start = end + timedelta(days=1)


def _metric_row(row: dict[str, Any]) -> dict[str, Any]:
    metrics = row.get("metrics") or {}
    return {
        "date": (row.get("segments") or {}).get("date"),
        "impressions": int(metrics.get("impressions") or 0),
        "clicks": int(metrics.get("clicks") or 0),
        "cost_micros": int(metrics.get("costMicros") or 0),
        "conversions": float(metrics.get("conversions") or 0.0),
        "conversions_value": float(metrics.get("conversionsValue") or 0.0),
    }


def daily_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """One flat row of `campaign_daily` / `ad_group_daily` / `ad_daily` from a searchStream result."""
    out = {"campaign_id": (row.get("campaign") or {}).get("id"), **_metric_row(row)}
    if table in ("ad_group_daily", "ad_daily"):
        out = {"ad_group_id": (row.get("adGroup") or {}).get("id"), **out}
    if table == "ad_daily":
        out = {"ad_id": ((row.get("adGroupAd") or {}).get("ad") or {}).get("id"), **out}
    return out


@dlt.source(name="google_ads", max_table_nesting=0)
def google_ads_source(
    customer_id: str = dlt.config.value,
    client_id: str = dlt.config.value,
    client_secret: str = dlt.secrets.value,
    refresh_token: str = dlt.secrets.value,
    developer_token: str = "",
    login_customer_id: str = "",
    api_url: str = DEFAULT_API_URL,
    token_uri: str = DEFAULT_TOKEN_URI,
    api_version: str = DEFAULT_API_VERSION,
    start_date: str = DEFAULT_START_DATE,
    repull_days: int = DEFAULT_REPULL_DAYS,
    since: str | None = None,
    until: str | None = None,
    chunk_days: int = 90,
    max_attempts: int = 6,
    backoff: float = 1.0,
    max_wait: float = 60.0,
    timeout: float = 120.0,
) -> list[DltResource]:
    """Google Ads for one customer (account). `since`/`until` (YYYY-MM-DD, inclusive) backfill a range;
    without them the daily tables load incrementally from `start_date` with a `repull_days` window."""
    auth = RefreshTokenAuth(client_id, client_secret, refresh_token, token_uri, backoff=backoff)
    client = GoogleAdsClient(
        api_url=api_url, api_version=api_version, customer_id=str(customer_id), auth=auth,
        developer_token=developer_token, login_customer_id=login_customer_id, max_attempts=max_attempts,
        backoff=backoff, max_wait=max_wait, timeout=timeout,
    )  # fmt: skip

    @dlt.resource(name="campaigns", write_disposition="merge", primary_key="id", columns=COLUMNS["campaigns"])
    def campaigns() -> Iterator[list[dict[str, Any]]]:
        for batch in client.search_stream(CAMPAIGNS_QUERY):
            yield [
                {
                    "id": r["campaign"]["id"],
                    "name": r["campaign"].get("name"),
                    "status": r["campaign"].get("status"),
                    "advertising_channel_type": r["campaign"].get("advertisingChannelType"),
                    "bidding_strategy_type": r["campaign"].get("biddingStrategyType"),
                    "start_date": r["campaign"].get("startDate"),
                    "currency_code": (r.get("customer") or {}).get("currencyCode"),
                }  # fmt: skip
                for r in batch
            ]

    @dlt.resource(name="ad_groups", write_disposition="merge", primary_key="id", columns=COLUMNS["ad_groups"])
    def ad_groups() -> Iterator[list[dict[str, Any]]]:
        for batch in client.search_stream(AD_GROUPS_QUERY):
            yield [
                {
                    "id": r["adGroup"]["id"],
                    "campaign_id": (r.get("campaign") or {}).get("id"),
                    "name": r["adGroup"].get("name"),
                    "status": r["adGroup"].get("status"),
                    "type": r["adGroup"].get("type"),
                }  # fmt: skip
                for r in batch
            ]

    @dlt.resource(name="ads", write_disposition="merge", primary_key="id", columns=COLUMNS["ads"])
    def ads() -> Iterator[list[dict[str, Any]]]:
        for batch in client.search_stream(ADS_QUERY):
            yield [
                {
                    "id": r["adGroupAd"]["ad"]["id"],
                    "ad_group_id": (r.get("adGroup") or {}).get("id"),
                    "campaign_id": (r.get("campaign") or {}).get("id"),
                    "name": r["adGroupAd"]["ad"].get("name"),
                    "type": r["adGroupAd"]["ad"].get("type"),
                    "status": r["adGroupAd"].get("status"),
                }  # fmt: skip
                for r in batch
            ]

    backfill = since is not None or until is not None
    end_value = (until or _today().isoformat()) if backfill else None

    def daily_resource(table: str, key: tuple[str, ...]) -> DltResource:
        cursor = dlt.sources.incremental(
            "date", initial_value=since or start_date, end_value=end_value, lag=repull_days,
            range_end="closed", primary_key=(),  # re-pulled rows must be re-emitted, then merged
        )  # fmt: skip

        def rows(window: dlt.sources.incremental[str] = cursor) -> Iterator[list[dict[str, Any]]]:
            first = datetime.fromisoformat(window.start_value).date()
            last = datetime.fromisoformat(window.end_value).date() if window.end_value else _today()
            log.info("google_ads: %s %s..%s (re-pull window %d days)", table, first, last, repull_days)
            for chunk_start, chunk_end in day_chunks(first, last, chunk_days):
                query = DAILY_QUERIES[table].format(metrics=METRICS, since=chunk_start, until=chunk_end)
                for batch in client.search_stream(query):
                    if batch:
                        yield [daily_row(table, r) for r in batch]

        return dlt.resource(
            rows, name=table, write_disposition="merge", primary_key=key, columns=COLUMNS[table]
        )

    return [
        campaigns,
        ad_groups,
        ads,
        daily_resource("campaign_daily", ("campaign_id", "date")),
        daily_resource("ad_group_daily", ("ad_group_id", "date")),
        daily_resource("ad_daily", ("ad_id", "date")),
    ]
