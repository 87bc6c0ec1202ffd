"""Run the GA4 source into the warehouse's `ga4` schema as the loader role, without Dagster."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.common.pipelines import load, raw_pipeline
from ingestion.ga4.settings import GA4Settings
from ingestion.ga4.source import ga4_source
from ingestion.warehouse import WarehouseSettings

PIPELINE_NAME = "ga4"
DATASET = "ga4"


def ga4_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    """The dlt pipeline: postgres as `journey_loader`, dataset exactly `ga4`, state under `.local/dlt`."""
    return raw_pipeline(DATASET, pipeline_name, warehouse, progress)


def run_ga4_pipeline(
    settings: GA4Settings | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    pipeline: dlt.Pipeline | None = None,
    **source_overrides: Any,
) -> LoadInfo:
    """Load `daily_traffic` (+ `report_metadata`). `since`/`until` backfill a range; otherwise incremental
    with a re-pull window."""
    settings = settings or GA4Settings.from_env()
    pipeline = pipeline or ga4_pipeline()
    source = ga4_source(**{**settings.source_kwargs(), "since": since, "until": until, **source_overrides})
    return load(pipeline, source)
