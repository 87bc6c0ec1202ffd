"""Every source the platform knows: its raw schema (= dlt dataset = dbt source name), how to tell
whether it is configured, and the dlt source that describes its raw tables (the raw contract).

Every source is optional: a shop may have any subset. `journey sources` prints `statuses()`;
`journey sources check` runs each configured source's `check` (authenticate, scopes, API version, one
page: ingestion/common/checks.py); the
Dagster assets of an unconfigured source report why they are idle instead of failing; `raw_contract`
creates every source's tables, empty, before its first load so dbt always builds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ingestion.common.sources import SourceStatus


def _lazy(path: str) -> Callable[..., Any]:
    """`module:attr.attr` resolved when called: listing the sources imports no connector (or dlt)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        module, _, attrs = path.partition(":")
        target: Any = importlib.import_module(module)
        for attr in attrs.split("."):
            target = getattr(target, attr)
        return target(*args, **kwargs)

    return call


@dataclass(frozen=True)
class Source:
    name: str  # = raw schema = dlt dataset = dbt source name = Dagster group
    title: str
    settings: tuple[str, ...]  # the variables that configure it
    status: Callable[[Mapping[str, str] | None], SourceStatus]
    contract: Callable[[], Any] | None  # dlt source describing the raw tables; None = own DDL (events)
    check: Callable[[Mapping[str, str] | None], Any]  # -> ingestion.common.checks.SourceCheck


def _contract(path: str, **placeholders: str) -> Callable[[], Any]:
    """The source built with placeholder credentials: only its resources' table schemas are used."""
    factory = _lazy(path)
    return lambda: factory(**placeholders)


PLACEHOLDER = "raw-contract-only"
SOURCES: tuple[Source, ...] = (
    Source("shopify", "Shopify (GraphQL Admin API)",
           ("SHOPIFY_API_URL", "SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET", "SHOPIFY_ACCESS_TOKEN"),
           _lazy("ingestion.shopify.settings:ShopifySettings.status"),
           _contract("ingestion.shopify:shopify_source", access_token=PLACEHOLDER, api_url=f"http://{PLACEHOLDER}"),
           _lazy("ingestion.shopify.check:check")),
    Source("order_history", "Order history export (CSV/Parquet)", ("ORDER_HISTORY_PATH",),
           _lazy("ingestion.order_history.settings:OrderHistorySettings.status"),
           _contract("ingestion.order_history:order_history_source"),
           _lazy("ingestion.order_history.check:check")),
    Source("meta_ads", "Meta Ads (Marketing API)", ("META_ACCESS_TOKEN", "META_AD_ACCOUNT_ID"),
           _lazy("ingestion.meta_ads.settings:MetaAdsSettings.status"),
           _contract("ingestion.meta_ads:meta_ads_source", access_token=PLACEHOLDER, ad_account_id="0"),
           _lazy("ingestion.meta_ads.check:check")),
    Source("google_ads", "Google Ads (Google Ads API)",
           ("GOOGLE_ADS_CUSTOMER_ID", "GOOGLE_ADS_CLIENT_ID", "GOOGLE_ADS_CLIENT_SECRET", "GOOGLE_ADS_REFRESH_TOKEN"),
           _lazy("ingestion.google_ads.settings:GoogleAdsSettings.status"),
           _contract("ingestion.google_ads:google_ads_source", customer_id="0", client_id=PLACEHOLDER,
                     client_secret=PLACEHOLDER, refresh_token=PLACEHOLDER),
           _lazy("ingestion.google_ads.check:check")),
    Source("ga4", "Google Analytics 4 (Data API)",
           ("GA4_PROPERTY_ID", "GA4_CREDENTIALS_FILE", "GA4_ACCESS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS"),
           _lazy("ingestion.ga4.settings:GA4Settings.status"),
           _contract("ingestion.ga4:ga4_source", property_id="0", access_token=PLACEHOLDER),
           _lazy("ingestion.ga4.check:check")),
    Source("events", "Tracked web events (collector landing files)", ("EVENTS_LANDING_DIR",),
           _lazy("ingestion.events.settings:events_status"), None,
           _lazy("ingestion.events.check:check")),
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


def check_all(names: list[str] | None = None, env: Mapping[str, str] | None = None) -> list[Any]:
    """`SourceCheck` of each named source (all when None), in SOURCES order."""
    unknown = sorted(set(names or ()) - BY_NAME.keys())
    if unknown:
        raise KeyError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [source.check(env) for source in SOURCES if not names or source.name in names]
