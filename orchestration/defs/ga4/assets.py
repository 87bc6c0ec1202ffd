"""`[ga4, daily_traffic]` and `[ga4, report_metadata]`: the GA4 dlt source as Dagster assets, and the
`report_complete` check (orchestration/defs/ga4/checks.py) on the traffic table.

Backfills use run config (`since`/`until`), not partitions, for the same reason as the Meta assets (see
orchestration/defs/meta_ads/assets.py): each night re-pulls a 3-day window, not one day.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from ingestion.ga4 import ga4_pipeline, ga4_source
from ingestion.ga4.pipeline import DATASET
from ingestion.ga4.source import TABLE_DESCRIPTIONS
from orchestration.defs.ga4.checks import report_complete
from orchestration.defs.ga4.resources import GA4Api, ga4_api_resource
from orchestration.defs.meta_ads.assets import BackfillRange, RawTableTranslator
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.shared.sources import load_dlt_source

GROUP = "ga4"


@dlt_assets(
    # the definition-time source only tells Dagster which tables exist; runs build their own from config
    dlt_source=ga4_source(property_id="0", access_token="resolved-at-run-time"),
    dlt_pipeline=ga4_pipeline(),
    name="ga4",
    pool=WAREHOUSE_POOL,
    dagster_dlt_translator=RawTableTranslator(DATASET, GROUP, TABLE_DESCRIPTIONS),
)
def ga4_assets(
    context: dg.AssetExecutionContext,
    ga4_dlt: DagsterDltResource,
    warehouse: Warehouse,
    ga4_api: GA4Api,
    config: BackfillRange,
) -> Iterator[Any]:
    """Load the daily GA4 traffic report (and what GA4 said about each request) into the `ga4` schema
    (optional source: without GA4_PROPERTY_ID and credentials it reports "not configured" and loads
    nothing)."""
    if config.since or config.until:
        context.log.info(f"ga4: backfill {config.since or 'start date'}..{config.until or 'today'}")
    yield from load_dlt_source(
        context, warehouse, ga4_api, ga4_dlt,
        lambda settings: ga4_source(**{**settings.source_kwargs(), "since": config.since, "until": config.until}),
        ga4_pipeline, DATASET,
    )  # fmt: skip


defs = dg.Definitions(
    assets=[ga4_assets],
    asset_checks=[report_complete],
    # a domain-specific key: Definitions.merge rejects two different resource objects under one key
    resources={"ga4_dlt": DagsterDltResource(), "ga4_api": ga4_api_resource()},
)
