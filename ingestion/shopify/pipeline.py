"""Run the Shopify source into the warehouse's `shopify` schema as the loader role, without Dagster."""

from __future__ import annotations

import logging
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.meta_ads.pipeline import loader_credentials
from ingestion.shopify.settings import ShopifySettings
from ingestion.shopify.source import shopify_source
from ingestion.warehouse import WarehouseSettings
from ingestion.warehouse.paths import local_dir

log = logging.getLogger(__name__)

PIPELINE_NAME = "shopify"
DATASET = "shopify"


def shopify_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    """The dlt pipeline: postgres as `journey_loader`, dataset exactly `shopify`, state under `.local/dlt`."""
    warehouse = warehouse or WarehouseSettings.from_env()
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=dlt.destinations.postgres(credentials=loader_credentials(warehouse)),
        dataset_name=DATASET,
        pipelines_dir=str(local_dir() / "dlt"),
        progress=progress,
    )


def run_shopify_pipeline(
    settings: ShopifySettings | None = None, *, pipeline: dlt.Pipeline | None = None, **source_overrides: Any
) -> LoadInfo:
    """Load orders (+ line items, refunds), customers, products (+ variants) and imported order history;
    incremental on `updated_at` after the first run."""
    settings = settings or ShopifySettings.from_env()
    pipeline = pipeline or shopify_pipeline()
    info = pipeline.run(shopify_source(**{**settings.source_kwargs(), **source_overrides}))
    info.raise_on_failed_jobs()
    log.info("shopify: %s", info)
    return info
