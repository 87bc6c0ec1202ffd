"""Meta Marketing API -> `meta_ads` schema (campaigns, adsets, ads, ads_insights), runnable without Dagster."""

from ingestion.meta_ads.pipeline import meta_pipeline, run_meta_pipeline
from ingestion.meta_ads.settings import MetaAdsSettings
from ingestion.meta_ads.source import meta_ads_source

__all__ = ["MetaAdsSettings", "meta_ads_source", "meta_pipeline", "run_meta_pipeline"]
