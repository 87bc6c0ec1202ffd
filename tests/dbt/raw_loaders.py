"""Land a simulated shop in the raw schemas with the project's loaders (no Dagster), for the dbt tier.

Events: the COPY loader on the world's landing files. Shopify, Meta, Google Ads and GA4: the dlt pipelines against
their emulators, under pipeline names of their own per database: dlt keeps incremental state per
pipeline name (in the session's `.local/dlt`), so a second database loaded under the same name would
only receive what changed since the first load (the dbt, dashboards and ML-bench databases each need
the whole shop), and it never mixes with the e2e tier's state.
"""

from __future__ import annotations

import os
from pathlib import Path

from ingestion.warehouse import WarehouseSettings


def fresh(pipeline):
    """The pipeline without local state: the databases loaded here are new, so every load is a full one
    (dlt's `drop()` deletes the pipeline's working dir and state and returns a re-initialised one)."""
    return pipeline.drop()


def load_raw(world: Path, settings: WarehouseSettings) -> None:
    """Every raw schema of the contract, from one simulated shop."""
    from ingestion.events.load import load_landing_files
    from ingestion.ga4.pipeline import ga4_pipeline, run_ga4_pipeline
    from ingestion.ga4.settings import GA4Settings
    from ingestion.google_ads import GoogleAdsSettings, google_ads_pipeline, run_google_ads_pipeline
    from ingestion.meta_ads.pipeline import meta_pipeline, run_meta_pipeline
    from ingestion.meta_ads.settings import MetaAdsSettings
    from ingestion.sandbox.emulators import running_emulator
    from ingestion.shopify import ShopifySettings, run_shopify_pipeline, shopify_pipeline

    suffix = f"raw_{settings.database}"

    with running_emulator("shopify", world) as (_, env, _faults):
        run_shopify_pipeline(
            ShopifySettings.from_env({**os.environ, **env}),
            pipeline=fresh(shopify_pipeline(settings, pipeline_name=f"shopify_{suffix}")),
        )
    load_landing_files(world / "landing" / "events", settings)
    with running_emulator("meta", world) as (_, env, _faults):
        run_meta_pipeline(
            MetaAdsSettings.from_env({**os.environ, **env}),
            pipeline=fresh(meta_pipeline(settings, pipeline_name=f"meta_ads_{suffix}")),
        )
    with running_emulator("google_ads", world) as (_, env, _faults):
        run_google_ads_pipeline(
            GoogleAdsSettings.from_env({**os.environ, **env}),
            pipeline=fresh(google_ads_pipeline(settings, pipeline_name=f"google_ads_{suffix}")),
        )
    with running_emulator("ga4", world) as (_, env, _faults):
        run_ga4_pipeline(
            GA4Settings.from_env({**os.environ, **env}),
            pipeline=fresh(ga4_pipeline(settings, pipeline_name=f"ga4_{suffix}")),
        )
