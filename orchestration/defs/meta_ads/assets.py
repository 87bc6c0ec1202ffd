"""`[meta_ads, campaigns|adsets|ads|ads_insights]`: the Meta dlt source as Dagster assets.

Backfills use run config, not partitions: each night re-pulls a 28-day window (Meta restates
conversions for 28 days), which a one-day partition cannot express, and `ingest_job` runs without a
partition key (the partitioned `nightly_job` passes the insights' run date, which these assets ignore).
In the UI: Materialize -> "Open launchpad" -> `ops: {meta_ads: {config: {since: "2025-01-01", until:
"2025-01-31"}}}` re-loads exactly that range (merge, no duplicates) and leaves the incremental cursor
alone; empty config = the normal incremental run with the 28-day re-pull window.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from pydantic import Field

from ingestion.meta_ads import meta_ads_source, meta_pipeline
from ingestion.meta_ads.pipeline import DATASET
from ingestion.meta_ads.source import TABLE_DESCRIPTIONS
from orchestration.defs.meta_ads.resources import MetaAdsApi, meta_ads_api_resource
from orchestration.defs.shared.resources import WAREHOUSE_POOL, Warehouse
from orchestration.defs.shared.sources import load_dlt_source

GROUP = "meta_ads"


class RawTableTranslator(DagsterDltTranslator):
    """Keys exactly `[dataset, table]` (= dbt's source keys), one group per source, no fake upstreams,
    and each table's own description from its source package (`TABLE_DESCRIPTIONS`), not the docstring
    of the multi-asset all of a source's tables share."""

    def __init__(self, dataset: str, group: str, descriptions: Mapping[str, str]) -> None:
        self.dataset, self.group, self.descriptions = dataset, group, descriptions

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        table = str(data.resource.table_name)
        if table not in self.descriptions:
            raise KeyError(f"{self.dataset}.{table} has no entry in its source's TABLE_DESCRIPTIONS")
        return spec.replace_attributes(
            key=dg.AssetKey([self.dataset, table]),
            group_name=self.group,
            deps=[],
            description=self.descriptions[table],
        )


class BackfillRange(dg.Config):
    """Optional date range (inclusive, YYYY-MM-DD); leave both empty for the incremental run."""

    since: str | None = Field(default=None, description="First day to (re)load; empty = incremental")
    until: str | None = Field(default=None, description="Last day to (re)load; empty = today")


@dlt_assets(
    # the definition-time source only tells Dagster which tables exist; runs build their own from config
    dlt_source=meta_ads_source(access_token="resolved-at-run-time", ad_account_id="0"),
    dlt_pipeline=meta_pipeline(),
    name="meta_ads",
    pool=WAREHOUSE_POOL,
    dagster_dlt_translator=RawTableTranslator(DATASET, GROUP, TABLE_DESCRIPTIONS),
)
def meta_ads_assets(
    context: dg.AssetExecutionContext,
    meta_ads_dlt: DagsterDltResource,
    warehouse: Warehouse,
    meta_ads_api: MetaAdsApi,
    config: BackfillRange,
) -> Iterator[Any]:
    """Load campaigns, ad sets, ads and daily ad insights into the `meta_ads` schema (optional source:
    without META_ACCESS_TOKEN and META_AD_ACCOUNT_ID it reports "not configured" and loads nothing)."""
    if config.since or config.until:
        context.log.info(f"meta_ads: backfill {config.since or 'start date'}..{config.until or 'today'}")
    yield from load_dlt_source(
        context, warehouse, meta_ads_api, meta_ads_dlt,
        lambda settings: meta_ads_source(**{**settings.source_kwargs(), "since": config.since, "until": config.until}),
        meta_pipeline, DATASET,
    )  # fmt: skip


defs = dg.Definitions(
    assets=[meta_ads_assets],
    # a domain-specific key: Definitions.merge rejects two different resource objects under one key
    resources={"meta_ads_dlt": DagsterDltResource(), "meta_ads_api": meta_ads_api_resource()},
)
