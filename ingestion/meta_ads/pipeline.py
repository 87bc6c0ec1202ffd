"""Run the Meta source into the warehouse's `meta_ads` schema as the loader role, without Dagster."""

from __future__ import annotations

import logging
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.meta_ads.settings import MetaAdsSettings
from ingestion.meta_ads.source import meta_ads_source
from ingestion.warehouse import WarehouseSettings
from ingestion.warehouse.paths import local_dir

log = logging.getLogger(__name__)

PIPELINE_NAME = "meta_ads"
DATASET = "meta_ads"


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


def meta_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    """The dlt pipeline: postgres as `journey_loader`, dataset exactly `meta_ads`, state under `.local/dlt`."""
    warehouse = warehouse or WarehouseSettings.from_env()
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=dlt.destinations.postgres(credentials=loader_credentials(warehouse)),
        dataset_name=DATASET,
        pipelines_dir=str(local_dir() / "dlt"),
        progress=progress,
    )


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
    info = pipeline.run(source)
    info.raise_on_failed_jobs()
    log.info("meta_ads: %s", info)
    return info
