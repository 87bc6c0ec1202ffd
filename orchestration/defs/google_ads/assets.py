"""`[google_ads, campaigns|ad_groups|campaign_daily|ad_group_daily]`: the Google Ads dlt source as
Dagster assets.

Backfills use run config, as for Meta: each night re-pulls a 30-day window (Google restates
conversions for the conversion window). In the UI: Materialize -> "Open launchpad" -> `ops:
{google_ads: {config: {since: "2025-01-01", until: "2025-01-31"}}}` re-loads exactly that range (merge,
no duplicates) and leaves the incremental cursor alone.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from ingestion.google_ads import google_ads_pipeline, google_ads_source
from ingestion.google_ads.pipeline import DATASET
from ingestion.google_ads.source import TABLE_DESCRIPTIONS
from orchestration.defs.google_ads.resources import GoogleAdsApi, google_ads_api_resource
from orchestration.defs.meta_ads.assets import BackfillRange, RawTableTranslator
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.shared.sources import load_dlt_source

GROUP = "google_ads"


@dlt_assets(
    # the definition-time source only tells Dagster which tables exist; runs build their own from config
    dlt_source=google_ads_source(
        customer_id="0",
        client_id="resolved-at-run-time",
        client_secret="resolved-at-run-time",
        refresh_token="resolved-at-run-time",
    ),  # fmt: skip
    dlt_pipeline=google_ads_pipeline(),
    name="google_ads",
    pool=WAREHOUSE_POOL,
    dagster_dlt_translator=RawTableTranslator(DATASET, GROUP, TABLE_DESCRIPTIONS),
)
def google_ads_assets(
    context: dg.AssetExecutionContext,
    google_ads_dlt: DagsterDltResource,
    warehouse: Warehouse,
    google_ads_api: GoogleAdsApi,
    config: BackfillRange,
) -> Iterator[Any]:
    """Load campaigns, ad groups and their daily metrics into the `google_ads` schema (optional source:
    without GOOGLE_ADS_CUSTOMER_ID and the OAuth credentials it reports "not configured" and loads nothing)."""
    if config.since or config.until:
        context.log.info(f"google_ads: backfill {config.since or 'start date'}..{config.until or 'today'}")
    yield from load_dlt_source(
        context, warehouse, google_ads_api, google_ads_dlt,
        lambda settings: google_ads_source(**{**settings.source_kwargs(), "since": config.since, "until": config.until}),
        google_ads_pipeline, DATASET,
    )  # fmt: skip


defs = dg.Definitions(
    assets=[google_ads_assets],
    resources={"google_ads_dlt": DagsterDltResource(), "google_ads_api": google_ads_api_resource()},
)
