"""Run the GA4 source into the warehouse's `ga4` schema as the loader role, without Dagster."""

from __future__ import annotations

import logging
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.ga4.settings import GA4Settings
from ingestion.ga4.source import ga4_source
from ingestion.warehouse import WarehouseSettings
from ingestion.warehouse.paths import local_dir

log = logging.getLogger(__name__)

PIPELINE_NAME = "ga4"
DATASET = "ga4"


def loader_credentials(warehouse: WarehouseSettings) -> dict[str, object]:
    """dlt postgres credentials for the loader role. dlt insists on a password; the embedded server
    trusts loopback logins, so a placeholder is sent there (and ignored by the server)."""
    parts = warehouse.parts("loader")
    password = parts["password"] or ("embedded-trust-auth" if warehouse.embedded else None)
    return {
        "host": parts["host"],
        "port": parts["port"],
        "username": parts["user"],
        "password": password,
        "database": parts["database"],
    }


def ga4_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    """The dlt pipeline: postgres as `journey_loader`, dataset exactly `ga4`, state under `.local/dlt`."""
    warehouse = warehouse or WarehouseSettings.from_env()
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=dlt.destinations.postgres(credentials=loader_credentials(warehouse)),
        dataset_name=DATASET,
        pipelines_dir=str(local_dir() / "dlt"),
        progress=progress,
    )


def run_ga4_pipeline(
    settings: GA4Settings | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    pipeline: dlt.Pipeline | None = None,
    **source_overrides: Any,
) -> LoadInfo:
    """Load `daily_traffic`. `since`/`until` backfill a range; otherwise incremental with a re-pull window."""
    settings = settings or GA4Settings.from_env()
    pipeline = pipeline or ga4_pipeline()
    source = ga4_source(**{**settings.source_kwargs(), "since": since, "until": until, **source_overrides})
    info = pipeline.run(source)
    info.raise_on_failed_jobs()
    log.info("ga4: %s", info)
    return info
