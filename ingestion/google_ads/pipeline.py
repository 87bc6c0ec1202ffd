"""Run the Google Ads source into the warehouse's `google_ads` schema as the loader role, without Dagster."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.common.pipelines import load, raw_pipeline
from ingestion.google_ads.settings import GoogleAdsSettings
from ingestion.google_ads.source import google_ads_source
from ingestion.warehouse import WarehouseSettings

PIPELINE_NAME = "google_ads"
DATASET = "google_ads"


def google_ads_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    """The dlt pipeline: postgres as `journey_loader`, dataset exactly `google_ads`, state under `.local/dlt`."""
    return raw_pipeline(DATASET, pipeline_name, warehouse, progress)


def run_google_ads_pipeline(
    settings: GoogleAdsSettings | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    pipeline: dlt.Pipeline | None = None,
    **source_overrides: Any,
) -> LoadInfo:
    """Load campaigns, ad groups and their daily metrics. `since`/`until` backfill a range; otherwise incremental."""
    settings = settings or GoogleAdsSettings.from_env()
    pipeline = pipeline or google_ads_pipeline()
    source = google_ads_source(
        **{**settings.source_kwargs(), "since": since, "until": until, **source_overrides}
    )
    return load(pipeline, source)
