"""Run the Meta source into the warehouse's `meta_ads` schema as the loader role, without Dagster."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.common.pipelines import load, raw_pipeline
from ingestion.meta_ads.settings import MetaAdsSettings
from ingestion.meta_ads.source import meta_ads_source
from ingestion.warehouse import WarehouseSettings

PIPELINE_NAME = "meta_ads"
DATASET = "meta_ads"


def meta_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    """The dlt pipeline: postgres as `journey_loader`, dataset exactly `meta_ads`, state under `.local/dlt`."""
    return raw_pipeline(DATASET, pipeline_name, warehouse, progress)


def run_meta_pipeline(
    settings: MetaAdsSettings | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    pipeline: dlt.Pipeline | None = None,
    **source_overrides: Any,
) -> LoadInfo:
    """Load campaigns, ad sets, ads and insights. `since`/`until` backfill a range; otherwise incremental."""
    settings = settings or MetaAdsSettings.from_env()
    pipeline = pipeline or meta_pipeline()
    source = meta_ads_source(
        **{**settings.source_kwargs(), "since": since, "until": until, **source_overrides}
    )
    return load(pipeline, source)
