"""Run the Shopify source into the warehouse's `shopify` schema as the loader role, without Dagster."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from ingestion.common.pipelines import load, raw_pipeline
from ingestion.shopify.settings import ShopifySettings
from ingestion.shopify.source import shopify_source
from ingestion.warehouse import WarehouseSettings

PIPELINE_NAME = "shopify"
DATASET = "shopify"


def shopify_pipeline(
    warehouse: WarehouseSettings | None = None, pipeline_name: str = PIPELINE_NAME, progress: str = "log"
) -> dlt.Pipeline:
    """The dlt pipeline: postgres as `journey_loader`, dataset exactly `shopify`, state under `.local/dlt`."""
    return raw_pipeline(DATASET, pipeline_name, warehouse, progress)


def run_shopify_pipeline(
    settings: ShopifySettings | None = None, *, pipeline: dlt.Pipeline | None = None, **source_overrides: Any
) -> LoadInfo:
    """Load orders (+ line items, refunds), customers and products (+ variants);
    incremental on `updated_at` after the first run."""
    settings = settings or ShopifySettings.from_env()
    pipeline = pipeline or shopify_pipeline()
    return load(pipeline, shopify_source(**{**settings.source_kwargs(), **source_overrides}))
