"""Land a simulated shop in the raw schemas with the project's loaders (no Dagster), for the dbt tier.

Events: the COPY loader on the world's landing files. Shopify, Meta and GA4: the dlt pipelines against
their emulators (pipeline names of their own, so dlt state never mixes with the e2e tier's).
"""

from __future__ import annotations

import os
from pathlib import Path

from ingestion.warehouse import WarehouseSettings


def load_raw(world: Path, settings: WarehouseSettings) -> None:
    """Every raw schema of the contract, from one simulated shop."""
    from ingestion.events.load import load_landing_files
    from ingestion.ga4.pipeline import ga4_pipeline, run_ga4_pipeline
    from ingestion.ga4.settings import GA4Settings
    from ingestion.meta_ads.pipeline import meta_pipeline, run_meta_pipeline
    from ingestion.meta_ads.settings import MetaAdsSettings
    from ingestion.sandbox.emulators import running_emulator
    from ingestion.shopify import ShopifySettings, run_shopify_pipeline, shopify_pipeline

    with running_emulator("shopify", world) as (_, env, _faults):
        run_shopify_pipeline(
            ShopifySettings.from_env({**os.environ, **env}),
            pipeline=shopify_pipeline(settings, pipeline_name="shopify_dbt_tests"),
        )
    load_landing_files(world / "landing" / "events", settings)
    with running_emulator("meta", world) as (_, env, _faults):
        run_meta_pipeline(
            MetaAdsSettings.from_env({**os.environ, **env}),
            pipeline=meta_pipeline(settings, pipeline_name="meta_ads_dbt_tests"),
        )
    with running_emulator("ga4", world) as (_, env, _faults):
        run_ga4_pipeline(
            GA4Settings.from_env({**os.environ, **env}),
            pipeline=ga4_pipeline(settings, pipeline_name="ga4_dbt_tests"),
        )
