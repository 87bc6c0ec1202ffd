"""Every source the platform knows: its raw schema (= dlt dataset = dbt source name), how to tell
whether it is configured, and the dlt source that describes its raw tables (the raw contract).

Every source is optional: a shop may have any subset. `journey sources` prints `statuses()`; the
Dagster assets of an unconfigured source report why they are idle instead of failing; `raw_contract`
creates every source's tables, empty, before its first load so dbt always builds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ingestion.common.sources import SourceStatus


@dataclass(frozen=True)
class Source:
    name: str  # = raw schema = dlt dataset = dbt source name = Dagster group
    title: str
    settings: tuple[str, ...]  # the variables that configure it (the first ones are required)
    status: Callable[[Mapping[str, str] | None], SourceStatus]
    contract: Callable[[], object] | None  # dlt source describing the raw tables; None = own DDL (events)


def _shopify_status(env: Mapping[str, str] | None) -> SourceStatus:
    from ingestion.shopify.settings import ShopifySettings

    return ShopifySettings.status(env)


def _shopify_contract():
    from ingestion.shopify import shopify_source

    return shopify_source(access_token="raw-contract-only", api_url="http://raw-contract-only")


def _order_history_status(env: Mapping[str, str] | None) -> SourceStatus:
    from ingestion.order_history.settings import OrderHistorySettings

    return OrderHistorySettings.status(env)


def _order_history_contract():
    from ingestion.order_history import order_history_source

    return order_history_source(path=None)


def _meta_status(env: Mapping[str, str] | None) -> SourceStatus:
    from ingestion.meta_ads.settings import MetaAdsSettings

    return MetaAdsSettings.status(env)


def _meta_contract():
    from ingestion.meta_ads import meta_ads_source

    return meta_ads_source(access_token="raw-contract-only", ad_account_id="0")


def _ga4_status(env: Mapping[str, str] | None) -> SourceStatus:
    from ingestion.ga4.settings import GA4Settings

    return GA4Settings.status(env)


def _ga4_contract():
    from ingestion.ga4 import ga4_source

    return ga4_source(property_id="0", access_token="raw-contract-only")


def _events_status(env: Mapping[str, str] | None) -> SourceStatus:
    from ingestion.events.settings import events_status

    return events_status(env)


SOURCES: tuple[Source, ...] = (
    Source("shopify", "Shopify (GraphQL Admin API)", ("SHOPIFY_API_URL", "SHOPIFY_ACCESS_TOKEN"),
           _shopify_status, _shopify_contract),
    Source("order_history", "Order history export (CSV/Parquet)", ("ORDER_HISTORY_PATH",),
           _order_history_status, _order_history_contract),
    Source("meta_ads", "Meta Ads (Marketing API)", ("META_ACCESS_TOKEN", "META_AD_ACCOUNT_ID"),
           _meta_status, _meta_contract),
    Source("ga4", "Google Analytics 4 (Data API)", ("GA4_PROPERTY_ID", "GA4_ACCESS_TOKEN"),
           _ga4_status, _ga4_contract),
    Source("events", "Tracked web events (collector landing files)", ("EVENTS_LANDING_DIR",),
           _events_status, None),
)  # fmt: skip
BY_NAME = {s.name: s for s in SOURCES}


def statuses(env: Mapping[str, str] | None = None) -> list[SourceStatus]:
    return [source.status(env) for source in SOURCES]


def configured(env: Mapping[str, str] | None = None) -> list[str]:
    """Names of the configured sources, in SOURCES order."""
    return [status.source for status in statuses(env) if status.configured]


def dbt_sources_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What dbt needs to know of the configuration (var `journey_sources` in dbt_project.yml)."""
    return {"JOURNEY_CONFIGURED_SOURCES": ",".join(configured(env))}


def status_of(name: str, env: Mapping[str, str] | None = None) -> SourceStatus:
    return BY_NAME[name].status(env)
